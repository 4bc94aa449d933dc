#include "core/health/health.h"

#include "core/http/json.h"

namespace core {

void Health::AddCheck(std::string name, Check check) {
  std::lock_guard<std::mutex> lock(mu_);
  checks_.emplace_back(std::move(name), std::move(check));
}

bool Health::Evaluate(std::string* body) const {
  bool ok = ready();
  std::string checks = "{";
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool first = true;
    for (const auto& [name, check] : checks_) {
      absl::Status s = check();
      if (!first) checks.push_back(',');
      first = false;
      http::AppendJsonString(&checks, name);
      checks.push_back(':');
      if (s.ok()) {
        checks.append("\"ok\"");
      } else {
        ok = false;
        http::AppendJsonString(&checks, std::string(s.message()));
      }
    }
  }
  checks.push_back('}');
  *body = std::string("{\"status\":\"") + (ok ? "ready" : "not_ready") + "\",\"checks\":" + checks +
          "}";
  return ok;
}

void RegisterHealthRoutes(http::Router& router, const Health* health) {
  router.Get("/healthz", [](http::Request&, http::Responder rsp) {
    rsp.Send(http::Response::Json(200, "{\"status\":\"ok\"}"));
  });
  router.Get("/readyz", [health](http::Request&, http::Responder rsp) {
    std::string body;
    bool ok = health->Evaluate(&body);
    rsp.Send(http::Response::Json(ok ? 200 : 503, std::move(body)));
  });
}

void RegisterMetricsRoute(http::Router& router, const Registry* registry) {
  router.Get("/metrics", [registry](http::Request&, http::Responder rsp) {
    http::Response r;
    r.status = 200;
    r.content_type = Registry::kTextContentType;
    registry->WriteText(&r.body);
    rsp.Send(std::move(r));
  });
}

}  // namespace core
