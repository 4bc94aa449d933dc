// Issue 3 integration test (a): 64 concurrent clients reserve one hot SKU (stock 1000) while
// another client confirms and cancels; stockd is killed with SIGKILL mid-load several times and
// restarted on the same data directory. Clients retry an operation with the same id until they get
// a definitive answer, so every reservation the server applied is eventually acknowledged. At the
// end every acknowledged reservation is present in the state we were told, nothing is oversold, and
// available + reserved + sold == 1000.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/inventory/stockd_fixture.h"

namespace inventory::testing {
namespace {

using core::http::testing::ClientResponse;
using core::http::testing::TestClient;

constexpr int kClients = 64;
constexpr int kStock = 1000;
constexpr int kKills = 3;

// Sends one request, reconnecting and retrying until the server gives an HTTP answer that is not
// 503 (journal) or 429 (queue). Once the request has been sent it may have been applied, so it is
// retried to a definitive answer even after `stop`; nullopt only when `stop` is set before it was
// ever sent, or (a test failure) when no connection can be made for kReconnectMs.
constexpr int64_t kReconnectMs = 30'000;
std::optional<ClientResponse> Definitive(StockdProcess& server, std::unique_ptr<TestClient>& client,
                                         std::string_view method, const std::string& target,
                                         const std::string& body, const std::atomic<bool>& stop) {
  bool sent = false;
  std::optional<std::chrono::steady_clock::time_point> refused_since;
  while (true) {
    if (!client) {
      if (!sent && stop.load()) return std::nullopt;
      auto c = server.TryClient();
      if (!c.ok()) {  // the server is restarting
        const auto now = std::chrono::steady_clock::now();
        if (!refused_since) refused_since = now;
        if (now - *refused_since > std::chrono::milliseconds(kReconnectMs)) {
          ADD_FAILURE() << method << " " << target << ": no connection for " << kReconnectMs
                        << " ms: " << c.status();
          return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      refused_since.reset();
      client = *std::move(c);
    }
    sent = true;
    auto r = client->Request(method, target, body);
    if (!r.ok()) {
      client.reset();
      continue;
    }
    if (r->status == 503 || r->status == 429) continue;
    return std::move(*r);
  }
}

TEST(StockdKill9Test, AcknowledgedReservationsSurviveKill9AndNothingIsOversold) {
  StockdProcess server;
  ASSERT_TRUE(server.Start());
  {
    auto c = server.Client();
    ASSERT_TRUE(c);
    auto r = c->Post("/v1/skus/hot/adjust", R"({"delta":1000,"op_id":"seed"})");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }

  std::atomic<bool> stop{false};
  std::atomic<int> reserve_acks{0};
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> to_settle;            // acknowledged, not yet confirmed/cancelled
  std::map<std::string, std::string> expected;  // reservation id -> state we were told
  std::atomic<int> insufficient{0};

  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      std::unique_ptr<TestClient> client;
      for (int n = 0; !stop.load(); ++n) {
        const std::string id = fmt::format("c{}-{}", t, n);
        const std::string body = fmt::format(
            R"({{"reservation_id":"{}","items":[{{"sku":"hot","qty":1}}],"ttl_ms":600000}})", id);
        auto r = Definitive(server, client, "POST", "/v1/reservations", body, stop);
        if (!r) return;
        if (r->status == 201 || r->status == 200) {
          std::lock_guard<std::mutex> lock(mu);
          expected[id] = "PENDING";
          to_settle.push_back(id);
          cv.notify_one();
          ++reserve_acks;
        } else {
          ASSERT_EQ(r->status, 409) << r->body;
          ASSERT_NE(r->body.find("insufficient_stock"), std::string::npos) << r->body;
          ++insufficient;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));  // sold out: ease off
        }
      }
    });
  }
  std::thread settler([&] {
    std::unique_ptr<TestClient> client;
    for (int n = 0;; ++n) {
      std::string id;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !to_settle.empty() || stop.load(); });
        if (to_settle.empty()) return;
        id = to_settle.front();
        to_settle.pop_front();
      }
      const bool confirm = n % 2 == 0;
      auto r = Definitive(server, client, "POST",
                          fmt::format("/v1/reservations/{}/{}", id, confirm ? "confirm" : "cancel"),
                          "", stop);
      if (!r) return;
      ASSERT_EQ(r->status, 200) << id << ": " << r->body;
      std::lock_guard<std::mutex> lock(mu);
      expected[id] = confirm ? "CONFIRMED" : "CANCELLED";
    }
  });

  // Kill mid-load, several times, at growing acknowledgement counts.
  for (int k = 1; k <= kKills; ++k) {
    const int target = k * 250;
    while (reserve_acks.load() < target) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server.Kill9();
    ASSERT_TRUE(server.Start()) << server.Log();
  }
  while (reserve_acks.load() < (kKills + 1) * 250) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop.store(true);
  cv.notify_all();
  for (auto& t : clients) t.join();
  settler.join();

  // Verify through a fresh connection.
  auto c = server.Client();
  ASSERT_TRUE(c);
  int pending = 0, confirmed = 0, cancelled = 0;
  for (const auto& [id, state] : expected) {
    auto r = c->Get("/v1/reservations/" + id);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << id << " lost: " << r->body;
    auto json = nlohmann::json::parse(r->body);
    EXPECT_EQ(json["state"], state) << id;
    pending += state == "PENDING";
    confirmed += state == "CONFIRMED";
    cancelled += state == "CANCELLED";
  }
  auto sku = c->Get("/v1/skus/hot");
  ASSERT_TRUE(sku.ok());
  auto s = nlohmann::json::parse(sku->body);
  const int64_t available = s["available"], reserved = s["reserved"], sold = s["sold"];
  EXPECT_GE(available, 0);
  EXPECT_EQ(available + reserved + sold, kStock);
  // Every reservation the server applied was acknowledged (clients retry the same id until it is),
  // so the totals match the acknowledgements exactly.
  EXPECT_EQ(reserved, pending);
  EXPECT_EQ(sold, confirmed);
  EXPECT_LE(pending + confirmed, kStock);  // never oversold
  std::printf(
      "acknowledged reservations: %zu (pending %d, confirmed %d, cancelled %d), "
      "insufficient_stock answers %d, kills %d\n",
      expected.size(), pending, confirmed, cancelled, insufficient.load(), kKills);
  // Graceful stop flushes and exits 0; a restart after it sees the same state.
  EXPECT_EQ(server.Terminate(), 0) << server.Log();
  ASSERT_TRUE(server.Start());
  c = server.Client();
  auto again = c->Get("/v1/skus/hot");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->body, sku->body);
}

}  // namespace
}  // namespace inventory::testing
