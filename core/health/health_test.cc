#include "core/health/health.h"

#include <memory>

#include "gtest/gtest.h"

namespace core {
namespace {

class CaptureSink : public http::ResponseSink {
 public:
  void SendResponse(http::Response&& r) override { last = std::move(r); }
  std::shared_ptr<http::SseStream> StartSse(http::Response&&) override { return nullptr; }
  http::Response last;
};

http::Response Probe(const http::Router& router, std::string_view path) {
  auto sink = std::make_shared<CaptureSink>();
  http::Request req;
  req.method = http::Method::kGet;
  req.path = path;
  router.Dispatch(req, http::Responder(sink));
  return sink->last;
}

TEST(Health, LivenessAlwaysOk) {
  Health health;
  http::Router router;
  RegisterHealthRoutes(router, &health);
  auto r = Probe(router, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"status\":\"ok\"}");
}

TEST(Health, ReadinessFollowsFlagAndChecks) {
  Health health;
  http::Router router;
  RegisterHealthRoutes(router, &health);
  bool journal_ok = true;
  health.AddCheck("journal", [&] {
    return journal_ok ? absl::OkStatus() : absl::UnavailableError("disk \"full\"");
  });
  auto r = Probe(router, "/readyz");
  EXPECT_EQ(r.status, 503);  // not marked ready yet
  EXPECT_EQ(r.body, "{\"status\":\"not_ready\",\"checks\":{\"journal\":\"ok\"}}");
  health.SetReady(true);
  r = Probe(router, "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"status\":\"ready\",\"checks\":{\"journal\":\"ok\"}}");
  journal_ok = false;
  r = Probe(router, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "{\"status\":\"not_ready\",\"checks\":{\"journal\":\"disk \\\"full\\\"\"}}");
}

}  // namespace
}  // namespace core
