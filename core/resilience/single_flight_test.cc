#include "core/resilience/single_flight.h"

#include <atomic>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace core {
namespace {

using Flight = SingleFlight<std::string, int>;

// Blocks until `n` callers wait on `key`'s in-flight call. Awaits the condition (yielding), no
// sleeps.
void AwaitWaiters(const Flight& flight, const std::string& key, size_t n) {
  while (flight.waiters(key) < n) std::this_thread::yield();
}

// Runs kCallers concurrent Do() calls for one key; the function blocks until every other caller has
// joined the call, so all of them must share its one result.
std::vector<Flight::Result> RunConcurrentCallers(Flight& flight, std::atomic<int>& invocations,
                                                 absl::StatusOr<int> outcome) {
  constexpr int kCallers = 16;
  std::vector<Flight::Result> results(kCallers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      results[i] = flight.Do("model-a", [&]() -> absl::StatusOr<int> {
        invocations.fetch_add(1);
        AwaitWaiters(flight, "model-a", kCallers - 1);
        return outcome;
      });
    });
  }
  for (auto& thread : threads) thread.join();
  return results;
}

TEST(SingleFlightTest, ConcurrentCallersShareOneCall) {
  Flight flight;
  std::atomic<int> invocations{0};
  const std::vector<Flight::Result> results = RunConcurrentCallers(flight, invocations, 42);
  EXPECT_EQ(invocations.load(), 1);
  for (const Flight::Result& result : results) {
    ASSERT_NE(result, nullptr);
    EXPECT_EQ(result, results[0]);  // The very same result object.
    ASSERT_TRUE(result->ok());
    EXPECT_EQ(**result, 42);
  }
  EXPECT_EQ(flight.in_flight(), 0u);
}

TEST(SingleFlightTest, ErrorsAreSharedToo) {
  Flight flight;
  std::atomic<int> invocations{0};
  const std::vector<Flight::Result> results =
      RunConcurrentCallers(flight, invocations, absl::UnavailableError("backend down"));
  EXPECT_EQ(invocations.load(), 1);
  for (const Flight::Result& result : results) {
    ASSERT_NE(result, nullptr);
    EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(result->status().message(), "backend down");
  }
}

TEST(SingleFlightTest, KeyIsForgottenAfterCompletion) {
  Flight flight;
  int invocations = 0;
  auto fn = [&invocations]() -> absl::StatusOr<int> { return ++invocations; };
  EXPECT_EQ(**flight.Do("k", fn), 1);
  EXPECT_EQ(flight.in_flight(), 0u);
  EXPECT_EQ(**flight.Do("k", fn), 2);
  EXPECT_EQ(invocations, 2);
}

TEST(SingleFlightTest, DifferentKeysRunIndependently) {
  Flight flight;
  std::promise<void> release_a;
  std::shared_future<void> a_released = release_a.get_future().share();
  std::promise<void> a_started;
  Flight::Result a_result;
  std::thread a_thread([&] {
    a_result = flight.Do("a", [&]() -> absl::StatusOr<int> {
      a_started.set_value();
      a_released.wait();
      return 1;
    });
  });
  a_started.get_future().wait();
  // "a" is in flight and blocked; "b" must not wait for it.
  EXPECT_EQ(flight.in_flight(), 1u);
  Flight::Result b_result = flight.Do("b", []() -> absl::StatusOr<int> { return 2; });
  EXPECT_EQ(**b_result, 2);
  release_a.set_value();
  a_thread.join();
  EXPECT_EQ(**a_result, 1);
}

TEST(SingleFlightTest, ThrowingFunctionReleasesWaiters) {
  Flight flight;
  Flight::Result waiter_result;
  std::promise<void> leader_started;
  std::thread leader([&] {
    EXPECT_THROW(flight.Do("k",
                           [&]() -> absl::StatusOr<int> {
                             leader_started.set_value();
                             AwaitWaiters(flight, "k", 1);
                             throw std::runtime_error("boom");
                           }),
                 std::runtime_error);
  });
  leader_started.get_future().wait();
  waiter_result = flight.Do("k", []() -> absl::StatusOr<int> { return 7; });
  leader.join();
  ASSERT_NE(waiter_result, nullptr);
  EXPECT_EQ(waiter_result->status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(flight.in_flight(), 0u);
  EXPECT_EQ(**flight.Do("k", []() -> absl::StatusOr<int> { return 7; }), 7);
}

}  // namespace
}  // namespace core
