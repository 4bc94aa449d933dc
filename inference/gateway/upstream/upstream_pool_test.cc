#include "inference/gateway/upstream/upstream_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "core/http/router.h"
#include "core/http/server.h"
#include "core/http/testing/test_client.h"
#include "fmt/format.h"

namespace inference::gateway {
namespace {

using core::http::HttpServer;
using core::http::Request;
using core::http::Responder;
using core::http::Response;
using core::http::Router;

std::string Get(const std::string& target) {
  return fmt::format("GET {} HTTP/1.1\r\nHost: worker\r\n\r\n", target);
}

// A worker stand-in: a real HTTP server on loopback. GET /hold answers only on Release().
class Worker {
 public:
  Worker() {
    router_.Get("/echo",
                [](Request&, Responder r) { r.Send(Response::Json(200, R"({"ok":true})")); });
    router_.Get("/hold", [this](Request&, Responder r) {
      std::lock_guard<std::mutex> lock(mu_);
      held_.push_back(std::move(r));
      held_cv_.notify_all();
    });
    auto s = HttpServer::Create({.host = "127.0.0.1", .io_threads = 1}, &router_);
    EXPECT_TRUE(s.ok());
    server_ = std::move(*s);
    EXPECT_TRUE(server_->Start().ok());
  }
  uint16_t port() const { return server_->port(); }
  // Waits for at least one held request, then answers them all.
  void Release() {
    std::unique_lock<std::mutex> lock(mu_);
    held_cv_.wait(lock, [this] { return !held_.empty(); });
    for (auto& r : held_) r.Send(Response::Json(200, R"({"held":true})"));
    held_.clear();
  }

 private:
  Router router_;
  std::mutex mu_;
  std::condition_variable held_cv_;
  std::vector<Responder> held_;
  std::unique_ptr<HttpServer> server_;
};

std::shared_ptr<UpstreamTarget> TargetOf(UpstreamPool& pool, const Worker& worker) {
  return pool.NewTarget(*UpstreamAddress::Parse(fmt::format("127.0.0.1:{}", worker.port())));
}

// One request from this (unattached) thread, waited for.
UpstreamResponse Call(UpstreamPool& pool, const std::shared_ptr<UpstreamTarget>& target,
                      const std::string& path) {
  std::promise<UpstreamResponse> p;
  pool.Send(target, Get(path), 5000, [&p](UpstreamResponse&& r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

TEST(UpstreamPoolTest, OffThreadCallsRunOnThePoolsThreadsAndReuseConnections) {
  Worker worker;
  auto pool = UpstreamPool::Create({.threads = 2});
  ASSERT_TRUE(pool.ok());
  auto target = TargetOf(**pool, worker);
  for (int i = 0; i < 20; ++i) {
    UpstreamResponse r = Call(**pool, target, "/echo");
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.http_status, 200);
    EXPECT_EQ(r.body, R"({"ok":true})");
    EXPECT_EQ(r.request, Get("/echo"));  // handed back for a retry
  }
  // Sequential calls alternate between the two pool threads: one warm connection each at most.
  EXPECT_LE(target->connections(), 2);
  // Idle connections do not keep their target alive (no cycle: ASan's leak check sees it).
  std::weak_ptr<UpstreamTarget> weak = target;
  target.reset();
  EXPECT_TRUE(weak.expired());
}

TEST(UpstreamPoolTest, ATargetMayOutliveThePool) {
  Worker worker;
  auto pool = UpstreamPool::Create({.threads = 1});
  ASSERT_TRUE(pool.ok());
  auto target = TargetOf(**pool, worker);
  ASSERT_TRUE(Call(**pool, target, "/echo").status.ok());
  ASSERT_EQ(target->connections(), 1);
  pool->reset();  // closes the idle connection while its io_context still exists
  EXPECT_EQ(target->connections(), 0);
}

TEST(UpstreamPoolTest, StaleKeepAliveConnectionIsRetriedOnAFreshOne) {
  auto worker = std::make_unique<Worker>();
  auto pool = UpstreamPool::Create({.threads = 1});
  ASSERT_TRUE(pool.ok());
  auto target = TargetOf(**pool, *worker);
  ASSERT_TRUE(Call(**pool, target, "/echo").status.ok());
  ASSERT_EQ(target->connections(), 1);
  // The worker goes away: the kept connection is dead and nothing listens; the failure is reported
  // as not having reached the worker (safe to retry elsewhere).
  worker.reset();
  UpstreamResponse r = Call(**pool, target, "/echo");
  EXPECT_FALSE(r.status.ok());
  EXPECT_FALSE(r.reached_worker) << r.status;
  EXPECT_EQ(target->connections(), 0);
}

TEST(UpstreamPoolTest, PoolFullIsReportedWithoutReachingTheWorker) {
  Worker worker;
  auto pool = UpstreamPool::Create({.threads = 1, .connections_per_target_max = 1});
  ASSERT_TRUE(pool.ok());
  auto target = TargetOf(**pool, worker);
  // The first call holds the only connection until the worker releases it.
  std::promise<UpstreamResponse> p1, p2;
  (*pool)->Send(target, Get("/hold"), 5000,
                [&p1](UpstreamResponse&& r) { p1.set_value(std::move(r)); });
  (*pool)->Send(target, Get("/echo"), 5000,
                [&p2](UpstreamResponse&& r) { p2.set_value(std::move(r)); });
  UpstreamResponse r2 = p2.get_future().get();
  EXPECT_TRUE(absl::IsResourceExhausted(r2.status)) << r2.status;
  EXPECT_FALSE(r2.reached_worker);
  worker.Release();
  UpstreamResponse r1 = p1.get_future().get();
  EXPECT_TRUE(r1.status.ok()) << r1.status;
  EXPECT_EQ(r1.body, R"({"held":true})");
}

}  // namespace
}  // namespace inference::gateway
