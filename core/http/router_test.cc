#include "core/http/router.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace core::http {
namespace {

// Captures what a handler (or the router itself) sends.
class CaptureSink : public ResponseSink {
 public:
  void SendResponse(Response&& response) override { last = std::move(response); ++count; }
  std::shared_ptr<SseStream> StartSse(Response&&) override { return nullptr; }
  Response last;
  int count = 0;
};

Request MakeRequest(Method m, std::string_view path) {
  Request r;
  r.method = m;
  r.method_name = MethodName(m);
  r.path = path;
  r.target = path;
  return r;
}

TEST(Router, ExactAndCaptureRoutes) {
  Router router;
  std::string seen;
  router.Get("/healthz", [&](Request&, Responder rsp) {
    seen = "health";
    rsp.Send(Response::Json(200, "{}"));
  });
  router.Post("/v1/skus/{sku}/adjust", [&](Request& req, Responder rsp) {
    seen = std::string(req.param("sku"));
    rsp.Send(Response::Json(200, "{}"));
  });
  router.Get("/v2/models/{model}/versions/{version}", [&](Request& req, Responder rsp) {
    seen = std::string(req.param("model")) + "@" + std::string(req.param("version"));
    rsp.Send(Response::Json(200, "{}"));
  });
  auto sink = std::make_shared<CaptureSink>();

  Request a = MakeRequest(Method::kGet, "/healthz");
  router.Dispatch(a, Responder(sink));
  EXPECT_EQ(seen, "health");

  Request b = MakeRequest(Method::kPost, "/v1/skus/abc-1/adjust");
  router.Dispatch(b, Responder(sink));
  EXPECT_EQ(seen, "abc-1");

  Request c = MakeRequest(Method::kGet, "/v2/models/resnet/versions/3");
  router.Dispatch(c, Responder(sink));
  EXPECT_EQ(seen, "resnet@3");
  EXPECT_EQ(sink->count, 3);
  EXPECT_EQ(sink->last.status, 200);
}

TEST(Router, NotFoundAndMethodNotAllowed) {
  Router router;
  router.Post("/v1/skus/{sku}/adjust", [](Request&, Responder rsp) { rsp.Send(Response()); });
  auto sink = std::make_shared<CaptureSink>();

  Request missing = MakeRequest(Method::kGet, "/nope");
  router.Dispatch(missing, Responder(sink));
  EXPECT_EQ(sink->last.status, 404);
  EXPECT_NE(sink->last.body.find("\"error\":\"not_found\""), std::string::npos);

  Request wrong = MakeRequest(Method::kGet, "/v1/skus/x/adjust");
  router.Dispatch(wrong, Responder(sink));
  EXPECT_EQ(sink->last.status, 405);
  ASSERT_EQ(sink->last.headers.size(), 1u);
  EXPECT_EQ(sink->last.headers[0].second, "POST");

  // Segment counts must match exactly; empty captures do not match.
  Request longer = MakeRequest(Method::kPost, "/v1/skus/x/adjust/more");
  router.Dispatch(longer, Responder(sink));
  EXPECT_EQ(sink->last.status, 404);
  Request empty = MakeRequest(Method::kPost, "/v1/skus//adjust");
  router.Dispatch(empty, Responder(sink));
  EXPECT_EQ(sink->last.status, 404);
}

TEST(Router, RejectsBadPatternsAndDuplicates) {
  Router router;
  EXPECT_FALSE(router.Add(Method::kGet, "no-slash", nullptr).ok());
  EXPECT_FALSE(router.Add(Method::kGet, "/a/{b", nullptr).ok());
  EXPECT_TRUE(router.Add(Method::kGet, "/a/{b}", nullptr).ok());
  EXPECT_FALSE(router.Add(Method::kGet, "/a/{b}", nullptr).ok());
  EXPECT_TRUE(router.Add(Method::kPost, "/a/{b}", nullptr).ok());
}

TEST(Router, AbandonedResponderSends500) {
  Router router;
  router.Get("/forgets", [](Request&, Responder) {});
  auto sink = std::make_shared<CaptureSink>();
  Request r = MakeRequest(Method::kGet, "/forgets");
  router.Dispatch(r, Responder(sink));
  EXPECT_EQ(sink->count, 1);
  EXPECT_EQ(sink->last.status, 500);
}

TEST(Request, QueryParams) {
  Request r;
  r.query = "a=1&bb=two&flag";
  EXPECT_EQ(r.query_param("a"), "1");
  EXPECT_EQ(r.query_param("bb"), "two");
  EXPECT_EQ(r.query_param("flag"), "");
  EXPECT_EQ(r.query_param("zz").data(), nullptr);
}

}  // namespace
}  // namespace core::http
