#include "inference/gateway/endpoints/endpoint_set.h"

#include <map>
#include <string>

#include "fmt/format.h"
#include "gtest/gtest.h"

namespace inference::gateway {
namespace {

class EndpointSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EndpointSet::Options o;
    o.breaker.window_ms = 1000;
    o.breaker.min_requests_in_window = 5;
    o.breaker.consecutive_failures_open = 3;
    o.breaker.open_duration_ms = 500;
    o.eject_consecutive_failures = 100;  // tests of ejection lower it
    auto set = EndpointSet::Create(o, &clock_, 42);
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
    for (int i = 0; i < 3; ++i) {
      auto e = set_->Add(fmt::format("w{}", i), {false, "127.0.0.1", uint16_t(9000 + i)}, "");
      ASSERT_TRUE(e.ok());
      (*e)->ready = true;
      (*e)->latency_ewma_us = 1000;
      eps_.push_back(*e);
    }
  }
  std::map<std::string, int> Spread(int n) {
    std::map<std::string, int> counts;
    for (int i = 0; i < n; ++i) {
      auto e = set_->Pick();
      EXPECT_TRUE(e.ok());
      counts[(*e)->name()]++;
      set_->RecordResult(**e, true, (*e)->latency_ewma_us.load());
    }
    return counts;
  }

  core::FakeClock clock_;
  std::unique_ptr<EndpointSet> set_;
  std::vector<EndpointPtr> eps_;
};

TEST_F(EndpointSetTest, ParsesAddresses) {
  EXPECT_EQ(UpstreamAddress::Parse("unix:/tmp/w.sock")->host, "/tmp/w.sock");
  EXPECT_EQ(UpstreamAddress::Parse("127.0.0.1:8000")->port, 8000);
  EXPECT_FALSE(UpstreamAddress::Parse("127.0.0.1").ok());
  EXPECT_FALSE(UpstreamAddress::Parse("h:99999").ok());
}

TEST_F(EndpointSetTest, SlowEndpointGetsLessTraffic) {
  eps_[2]->latency_ewma_us = 20000;  // 20x slower
  auto counts = Spread(3000);
  EXPECT_LT(counts["w2"], 3000 / 10);
  EXPECT_GT(counts["w0"], 1000);
}

TEST_F(EndpointSetTest, BusyEndpointGetsLessTraffic) {
  eps_[0]->queue_depth = 50;
  auto counts = Spread(3000);
  EXPECT_LT(counts["w0"], 3000 / 10);
}

TEST_F(EndpointSetTest, NotReadyAndDrainingAreSkipped) {
  eps_[0]->ready = false;
  eps_[1]->draining = true;
  auto counts = Spread(100);
  EXPECT_EQ(counts["w2"], 100);
  eps_[2]->ready = false;
  EXPECT_EQ(set_->Pick().status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(EndpointSetTest, ExcludeGivesAnotherEndpoint) {
  for (int i = 0; i < 100; ++i) {
    auto e = set_->Pick({}, {}, eps_[1].get());
    ASSERT_TRUE(e.ok());
    EXPECT_NE(e->get(), eps_[1].get());
    set_->RecordResult(**e, true, 1000);
  }
}

TEST_F(EndpointSetTest, BreakerOpensHalfOpensAndCloses) {
  using State = core::CircuitBreaker::State;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(eps_[0]->breaker().Allow());
    set_->RecordResult(*eps_[0], false, 0);
  }
  EXPECT_EQ(eps_[0]->breaker().state(), State::kOpen);
  auto counts = Spread(300);
  EXPECT_EQ(counts["w0"], 0);
  clock_.AdvanceMs(500);
  EXPECT_EQ(eps_[0]->breaker().state(), State::kHalfOpen);
  // A probe eventually goes to w0; its success closes the breaker.
  for (int i = 0; i < 300 && eps_[0]->breaker().state() != State::kClosed; ++i) Spread(1);
  EXPECT_EQ(eps_[0]->breaker().state(), State::kClosed);
}

TEST_F(EndpointSetTest, VersionFilter) {
  eps_[1]->SetVersions(
      {std::string("mlp\0"
                   "2",
                   5)});
  EXPECT_TRUE(set_->AnyHasVersion("mlp", "2"));
  EXPECT_FALSE(set_->AnyHasVersion("mlp", "3"));
  for (int i = 0; i < 20; ++i) {
    auto e = set_->Pick("mlp", "2");
    ASSERT_TRUE(e.ok());
    EXPECT_EQ((*e)->name(), "w1");
    set_->RecordResult(**e, true, 1000);
  }
}

TEST(EndpointSetEjectionTest, EjectsAfterConsecutiveFailuresWithinShare) {
  core::FakeClock clock;
  EndpointSet::Options o;
  o.breaker.consecutive_failures_open = 0;
  o.breaker.min_requests_in_window = 1000;
  o.eject_consecutive_failures = 2;
  o.ejection_ms = 1000;
  o.ejection_share_max = 0.5;
  auto set = *EndpointSet::Create(o, &clock, 1);
  std::vector<EndpointPtr> eps;
  for (int i = 0; i < 2; ++i) {
    eps.push_back(*set->Add(fmt::format("w{}", i), {false, "h", 1}, ""));
    eps.back()->ready = true;
  }
  set->RecordResult(*eps[0], false, 0);
  set->RecordResult(*eps[0], false, 0);
  EXPECT_GT(eps[0]->ejected_until_ns.load(), clock.NowNs());
  for (int i = 0; i < 20; ++i) EXPECT_EQ((*set->Pick())->name(), "w1");
  // The second endpoint cannot be ejected too: that would exceed the share.
  set->RecordResult(*eps[1], false, 0);
  set->RecordResult(*eps[1], false, 0);
  EXPECT_LE(eps[1]->ejected_until_ns.load(), clock.NowNs());
  clock.AdvanceMs(1001);
  EXPECT_TRUE(set->Pick().ok());
}

}  // namespace
}  // namespace inference::gateway
