// /metrics served by the real HTTP server, fetched over a socket and checked by the real
// `promtool check metrics` (Debian package `prometheus`). Never skips: no promtool is a failure.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/health/health.h"
#include "core/http/server.h"
#include "core/http/testing/test_client.h"
#include "core/metrics/process_metrics.h"
#include "gtest/gtest.h"

namespace core {
namespace {

TEST(MetricsEndpoint, ServedOverHttpAndAcceptedByPromtool) {
  ASSERT_EQ(::access("/usr/bin/promtool", X_OK), 0) << "promtool missing: run scripts/setup.sh";
  Registry registry;
  RegisterProcessMetrics(registry);
  auto& requests = registry.AddCounter("http_requests_total", "HTTP requests by route and code.",
                                       {"route", "code"});
  requests.WithLabels({"/v1/reservations", "201"}).Inc(3);
  requests.WithLabels({"/v1/skus/{sku}", "404"}).Inc();
  auto& latency = registry.AddHistogram("http_request_duration_seconds", "Request latency.",
                                        {"route"}, DefaultLatencyBucketsSeconds());
  latency.WithLabels({"/v1/reservations"}).Observe(0.0012);
  registry.AddGauge("reservations_pending", "Reservations waiting for confirm or cancel.").Set(7);

  http::Router router;
  Health health;
  RegisterHealthRoutes(router, &health);
  RegisterMetricsRoute(router, &registry);
  http::ServerOptions options;
  options.host = "127.0.0.1";
  auto server = http::HttpServer::Create(options, &router);
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE((*server)->Start().ok());
  auto client = http::testing::TestClient::Connect("127.0.0.1", (*server)->port());
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Get("/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r->body.find("http_requests_total{route=\"/v1/reservations\",code=\"201\"} 3"),
            std::string::npos)
      << r->body;
  (*server)->Shutdown();

  std::string path = "/tmp/metrics_endpoint_" + std::to_string(::getpid()) + ".txt";
  std::ofstream(path) << r->body;
  std::string cmd = "/usr/bin/promtool check metrics < " + path + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), pipe)) output += buf;
  int rc = ::pclose(pipe);
  ::unlink(path.c_str());
  EXPECT_EQ(rc, 0) << "promtool said:\n" << output << "\nmetrics:\n" << r->body;
  EXPECT_EQ(output, "");
}

}  // namespace
}  // namespace core
