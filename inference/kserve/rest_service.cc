#include "inference/kserve/rest_service.h"

#include <memory>
#include <mutex>
#include <vector>

#include "core/http/json.h"
#include "fmt/format.h"
#include "inference/batcher/infer_request.h"
#include "inference/kserve/infer_validation.h"
#include "inference/kserve/rest_codec.h"
#include "simdjson.h"

namespace inference {
namespace {

using core::http::Request;
using core::http::Responder;
using core::http::Response;

// Memory of finished RestInferCall objects, reused by the next request: a call (with its inline
// decode storage, ~4.5 KiB) is allocated on an I/O thread and freed on an execution thread, which
// malloc's per-thread caches do not serve. Bounded: beyond kRestCallPoolMax free blocks, memory
// goes back to the heap.
inline constexpr size_t kRestCallPoolMax = 512;

class RestCallPool {
 public:
  RestCallPool() { free_.reserve(kRestCallPoolMax); }

  void* Allocate(size_t bytes) {
    {
      std::lock_guard lock(mu_);
      if (!free_.empty() && bytes == block_bytes_) {
        void* p = free_.back();
        free_.pop_back();
        return p;
      }
    }
    return ::operator new(bytes);
  }
  void Free(void* p, size_t bytes) {
    {
      std::lock_guard lock(mu_);
      if (block_bytes_ == 0) block_bytes_ = bytes;
      if (bytes == block_bytes_ && free_.size() < kRestCallPoolMax) {
        free_.push_back(p);
        return;
      }
    }
    ::operator delete(p);
  }

 private:
  std::mutex mu_;
  size_t block_bytes_ = 0;   // sizeof(RestInferCall); set by the first Free
  std::vector<void*> free_;  // reserved up front: Free never allocates
};

RestCallPool& CallPool() {
  static RestCallPool* pool = new RestCallPool();  // never destroyed: calls may outlive main
  return *pool;
}

// One REST inference in flight: owns the decoded tensors and the Responder; answers on Complete().
// Allocated from CallPool() (a plain new/delete otherwise; the object is constructed fresh).
class RestInferCall final : public InferRequest {
 public:
  static void* operator new(size_t bytes) { return CallPool().Allocate(bytes); }
  static void operator delete(void* p, size_t bytes) { CallPool().Free(p, bytes); }

  RestInferCall(Responder responder, VersionLease lease)
      : responder_(std::move(responder)), lease_(std::move(lease)) {}

  void Complete(const absl::Status& status, std::span<const TensorView> outputs) override {
    if (!status.ok()) {
      responder_.Send(KServeError(status));
      return;
    }
    const ModelConfig& config = lease_->config();
    std::string body;
    size_t estimate = 128;
    for (const auto& o : outputs) estimate += 64 + static_cast<size_t>(o.shape.elements()) * 14;
    body.reserve(estimate);
    AppendInferResponse(&body, config.name, lease_->version_string(), decoded.id, config, outputs,
                        std::span<const int>(decoded.outputs.data(), decoded.output_count));
    responder_.Send(Response::Json(200, std::move(body)));
  }

  DecodedInferRequest decoded;

 private:
  Responder responder_;
  VersionLease lease_;
};

void AppendTensorMetadata(std::string* out, const TensorConfig& t, bool batching) {
  out->append("{\"name\":");
  core::http::AppendJsonString(out, t.name);
  out->append(fmt::format(",\"datatype\":\"{}\",\"shape\":[", DataTypeName(t.datatype)));
  bool first = true;
  if (batching) {
    out->append("-1");
    first = false;
  }
  for (int64_t d : t.dims.dims()) {
    if (!first) out->push_back(',');
    first = false;
    out->append(std::to_string(d));
  }
  out->append("]}");
}

}  // namespace

Response KServeError(const absl::Status& status) {
  std::string body = "{\"error\":";
  core::http::AppendJsonString(&body, std::string(status.message()));
  body.append(",\"code\":\"");
  body.append(core::http::ErrorCodeName(status.code()));
  body.append("\"}");
  return Response::Json(core::http::HttpStatusFromStatus(status), std::move(body));
}

KServeRestService::KServeRestService(ModelManager* manager, WorkerMetrics* metrics,
                                     core::Clock* clock)
    : manager_(manager), metrics_(metrics), clock_(clock) {}

void KServeRestService::Register(core::http::Router* router) {
  router->Get("/v2", [](Request&, Responder r) {
    r.Send(Response::Json(200, fmt::format("{{\"name\":\"{}\",\"version\":\"{}\",\"extensions\":["
                                           "\"model_repository\",\"statistics\"]}}",
                                           kServerName, kServerVersion)));
  });
  router->Get("/v2/health/live",
              [](Request&, Responder r) { r.Send(Response::Json(200, "{\"live\":true}")); });
  router->Get("/v2/health/ready", [this](Request&, Responder r) {
    const bool ready = manager_->ready();
    r.Send(Response::Json(ready ? 200 : 503, ready ? "{\"ready\":true}" : "{\"ready\":false}"));
  });
  auto metadata = [this](Request& req, Responder r) { Metadata(req, std::move(r)); };
  router->Get("/v2/models/{model}", metadata);
  router->Get("/v2/models/{model}/versions/{version}", metadata);
  auto ready = [this](Request& req, Responder r) { ModelReady(req, std::move(r)); };
  router->Get("/v2/models/{model}/ready", ready);
  router->Get("/v2/models/{model}/versions/{version}/ready", ready);
  auto infer = [this](Request& req, Responder r) { Infer(req, std::move(r)); };
  router->Post("/v2/models/{model}/infer", infer);
  router->Post("/v2/models/{model}/versions/{version}/infer", infer);

  auto index = [this](Request& req, Responder r) {
    bool ready_only = req.query_param("ready") == "true";
    if (!req.body.empty()) {
      simdjson::ondemand::parser parser;
      simdjson::padded_string body(req.body);
      auto doc = parser.iterate(body);
      bool flag = false;
      if (!doc["ready"].get_bool().get(flag)) ready_only = flag;
    }
    std::string out = "[";
    bool first = true;
    for (const auto& e : manager_->Index(ready_only)) {
      if (!first) out.push_back(',');
      first = false;
      out.append("{\"name\":");
      core::http::AppendJsonString(&out, e.name);
      out.append(",\"version\":");
      core::http::AppendJsonString(&out, e.version);
      out.append(",\"state\":");
      core::http::AppendJsonString(&out, e.state);
      out.append(",\"reason\":");
      core::http::AppendJsonString(&out, e.reason);
      out.push_back('}');
    }
    out.push_back(']');
    r.Send(Response::Json(200, std::move(out)));
  };
  router->Get("/v2/repository/index", index);
  router->Post("/v2/repository/index", index);
  router->Post("/v2/repository/models/{model}/load", [this](Request& req, Responder r) {
    auto shared = std::make_shared<Responder>(std::move(r));
    manager_->Load(std::string(req.param("model")), [shared](absl::Status s) {
      shared->Send(s.ok() ? Response::Json(200, "{}") : KServeError(s));
    });
  });
  router->Post("/v2/repository/models/{model}/unload", [this](Request& req, Responder r) {
    auto shared = std::make_shared<Responder>(std::move(r));
    manager_->Unload(std::string(req.param("model")), [shared](absl::Status s) {
      shared->Send(s.ok() ? Response::Json(200, "{}") : KServeError(s));
    });
  });
  router->Get("/v2/stats",
              [this](Request&, Responder r) { r.Send(Response::Json(200, StatsJson(*metrics_))); });
}

std::string KServeRestService::StatsJson(const WorkerMetrics& metrics) {
  std::string out = "{\"models\":[";
  uint64_t depth = 0;
  int64_t in_flight = 0;
  bool first = true;
  for (const auto& m : metrics.Models()) {
    if (!first) out.push_back(',');
    first = false;
    depth += m->queue_depth();
    in_flight += m->in_flight();
    out.append("{\"name\":");
    core::http::AppendJsonString(&out, m->model());
    out.append(fmt::format(
        ",\"version\":\"{}\",\"queue_depth\":{},\"in_flight\":{},"
        "\"latency_ewma_us\":{:.1f},\"queue_capacity\":{}}}",
        m->version(), m->queue_depth(), m->in_flight(), m->latency_ewma_us(), m->queue_capacity()));
  }
  const ProcessUsage usage = ReadProcessUsage();
  out.append(
      fmt::format("],\"queue_depth\":{},\"in_flight\":{},\"cpu_seconds\":{:.3f},\"rss_bytes\":{}}}",
                  depth, in_flight, usage.cpu_seconds, usage.rss_bytes));
  return out;
}

void KServeRestService::Metadata(Request& req, Responder r) {
  auto lease = manager_->Acquire(req.param("model"), req.param("version"));
  if (!lease.ok()) {
    r.Send(KServeError(lease.status()));
    return;
  }
  const ModelConfig& c = (*lease)->config();
  std::string out = "{\"name\":";
  core::http::AppendJsonString(&out, c.name);
  out.append(",\"versions\":[");
  bool first = true;
  for (int64_t v : manager_->ReadyVersions(c.name)) {
    if (!first) out.push_back(',');
    first = false;
    out.append(fmt::format("\"{}\"", v));
  }
  out.append("],\"platform\":");
  core::http::AppendJsonString(&out, c.platform);
  for (const auto* list : {&c.inputs, &c.outputs}) {
    out.append(list == &c.inputs ? ",\"inputs\":[" : ",\"outputs\":[");
    for (size_t i = 0; i < list->size(); ++i) {
      if (i) out.push_back(',');
      AppendTensorMetadata(&out, (*list)[i], c.max_batch_size > 0);
    }
    out.push_back(']');
  }
  out.push_back('}');
  r.Send(Response::Json(200, std::move(out)));
}

void KServeRestService::ModelReady(Request& req, Responder r) {
  auto lease = manager_->Acquire(req.param("model"), req.param("version"));
  if (!lease.ok() && absl::IsNotFound(lease.status()) && req.param("version").empty()) {
    r.Send(KServeError(lease.status()));
    return;
  }
  std::string body = "{\"name\":";
  core::http::AppendJsonString(&body, req.param("model"));
  body.append(lease.ok() ? ",\"ready\":true}" : ",\"ready\":false}");
  r.Send(Response::Json(lease.ok() ? 200 : 503, std::move(body)));
}

void KServeRestService::Infer(Request& req, Responder responder) {
  const int64_t start_ns = clock_->NowNs();
  absl::StatusOr<VersionLease> lease = manager_->Acquire(req.param("model"), req.param("version"));
  if (!lease.ok()) {
    responder.Send(KServeError(lease.status()));
    return;
  }
  ServedVersion* version = lease->get();
  const ModelConfig& config = version->config();
  auto call = std::make_unique<RestInferCall>(std::move(responder), *std::move(lease));
  call->start_ns = start_ns;
  absl::Status s = DecodeInferRequest(core::http::PaddedBody(req), config, &call->decoded);
  absl::StatusOr<int> level =
      s.ok() ? PriorityLevel(config, call->decoded.priority) : absl::StatusOr<int>(s);
  if (!level.ok()) {
    version->metrics()->RecordRequest(false, clock_->NowNs() - start_ns, 0);
    call->Complete(level.status(), {});
    return;
  }
  for (size_t i = 0; i < config.inputs.size(); ++i) call->set_input(i, call->decoded.inputs[i]);
  call->batch_rows = call->decoded.batch_rows;
  call->priority_level = *level;
  if (call->decoded.timeout_us > 0) call->deadline_ns = start_ns + call->decoded.timeout_us * 1000;
  version->batcher().Submit(std::move(call));
}

}  // namespace inference
