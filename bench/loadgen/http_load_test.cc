// Drives RunHttpLoad against the core HTTP server on an ephemeral port.
#include "bench/loadgen/http_load.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>

#include "core/http/server.h"

namespace loadgen {
namespace {

class HttpLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Post("/echo", [](core::http::Request& req, core::http::Responder responder) {
      responder.Send(
          core::http::Response::Json(req.body == "bad" ? 409 : 201, std::string(req.body)));
    });
    core::http::ServerOptions o;
    o.host = "127.0.0.1";
    auto server = core::http::HttpServer::Create(o, &router_);
    ASSERT_TRUE(server.ok());
    server_ = std::move(*server);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override { server_->Shutdown(); }

  core::http::Router router_;
  std::unique_ptr<core::http::HttpServer> server_;
};

TEST_F(HttpLoadTest, FixedCountSendsEachSeqOnceAndClassifies) {
  HttpLoadOptions o;
  o.port = server_->port();
  o.load.connections = 8;
  o.load.requests_total = 500;
  std::mutex mu;
  std::set<std::string> bodies;
  auto r = RunHttpLoad(
      o,
      [&](uint64_t seq, std::string* out) {
        AppendHttpRequest(out, "POST", "127.0.0.1", "/echo",
                          seq % 10 == 0 ? std::string("bad") : std::to_string(seq));
      },
      [&](uint64_t seq, int status, std::string_view body) {
        std::lock_guard<std::mutex> lock(mu);
        if (status == 409) return Counts{.rejected = 1};
        if (status != 201 || body != std::to_string(seq)) return Counts{.errors = 1};
        bodies.insert(std::string(body));
        return Counts{.ok = 1};
      });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->requests, 500u);
  EXPECT_EQ(r->ops.ok, 450u);
  EXPECT_EQ(r->ops.rejected, 50u);
  EXPECT_EQ(r->ops.errors, 0u);
  EXPECT_EQ(bodies.size(), 450u);
  EXPECT_EQ(r->latency_ns.count(), 500u);
}

TEST_F(HttpLoadTest, TimedRunReportsThroughput) {
  HttpLoadOptions o;
  o.port = server_->port();
  o.load.connections = 4;
  o.load.warmup = std::chrono::milliseconds(50);
  o.load.duration = std::chrono::milliseconds(200);
  std::string req;
  AppendHttpRequest(&req, "POST", "127.0.0.1", "/echo", R"({"x":1})");
  auto r = RunHttpLoad(o, [&](uint64_t, std::string* out) { out->assign(req); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->ops.ok, 0u);
  EXPECT_EQ(r->ops.errors, 0u);
  EXPECT_GT(r->ops_per_second(), 0);
  EXPECT_GT(r->latency_ns.Quantile(0.99), 0u);
}

TEST_F(HttpLoadTest, UnreachablePortIsUnavailable) {
  HttpLoadOptions o;
  o.port = 1;  // nothing listens on port 1
  o.load.connections = 2;
  o.load.requests_total = 1;
  auto r = RunHttpLoad(o, [&](uint64_t, std::string* out) {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace loadgen
