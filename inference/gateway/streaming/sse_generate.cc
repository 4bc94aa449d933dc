// The SSE half of StreamProxy: POST /v2/models/{m}/generate_stream (see stream_proxy.h).

#include <charconv>
#include <cstring>
#include <utility>

#include "core/http/json.h"
#include "core/log/request_id.h"
#include "fmt/format.h"
#include "inference/gateway/proxy/proxy_util.h"
#include "inference/gateway/proxy/trace_context.h"
#include "inference/gateway/proxy/upstream_stream.h"
#include "inference/gateway/streaming/sse_upstream.h"
#include "inference/gateway/streaming/stream_internal.h"
#include "inference/gateway/streaming/stream_proxy.h"
#include "inference/gateway/upstream/grpc_upstream.h"
#include "inference/gateway/upstream/stats_poller.h"
#include "inference/kserve/stream_protocol.h"
#include "inference/kserve/stream_response_view.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace inference::gateway {

using core::http::Request;
using core::http::Responder;
using core::http::Response;
using core::http::SseStream;

namespace {

std::string LowerCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "invalid_argument";
    case grpc::StatusCode::NOT_FOUND:
      return "not_found";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "resource_exhausted";
    case grpc::StatusCode::UNAVAILABLE:
      return "unavailable";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "deadline_exceeded";
    case grpc::StatusCode::CANCELLED:
      return "cancelled";
    default:
      return "internal";
  }
}

template <typename T>
void AppendValues(std::string* out, std::string_view raw) {
  const size_t n = raw.size() / sizeof(T);
  char digits[32];
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
    if (i > 0) out->push_back(',');
    if constexpr (std::is_floating_point_v<T>) {
      fmt::format_to(std::back_inserter(*out), "{}", static_cast<double>(v));
    } else {
      const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), v);
      out->append(digits, end);
    }
  }
}

// "name":[values] for each output of `r` (raw contents; typed contents are not used by workers).
void AppendOutputs(std::string* out, const StreamResponseView& r) {
  for (size_t i = 0; i < r.outputs.size(); ++i) {
    const OutputTensorView& o = r.outputs[i];
    if (i > 0) out->push_back(',');
    core::http::AppendJsonString(out, o.name);
    out->append(":[");
    if (i < r.raw_output_contents.size()) {
      const std::string_view raw = r.raw_output_contents[i];
      const std::string_view t = o.datatype;
      if (t == "INT64") {
        AppendValues<int64_t>(out, raw);
      } else if (t == "INT32") {
        AppendValues<int32_t>(out, raw);
      } else if (t == "FP32") {
        AppendValues<float>(out, raw);
      } else if (t == "FP64") {
        AppendValues<double>(out, raw);
      } else if (t == "UINT8" || t == "BOOL") {
        AppendValues<uint8_t>(out, raw);
      }
    }
    out->push_back(']');
  }
}

}  // namespace

class StreamProxy::SseCall final : public SseUpstream::User {
 public:
  SseCall(StreamProxy* proxy, std::shared_ptr<SseStream> sse, ModelInferRequest request,
          std::string version, TraceContext trace, int64_t start_ns)
      : proxy_(proxy),
        sse_(std::move(sse)),
        request_(std::move(request)),
        request_bytes_(request_.SerializeAsString()),
        version_(std::move(version)),
        trace_(std::move(trace)),
        start_ns_(start_ns),
        last_progress_ns_(start_ns) {
    prefix_ = Prefix();
    proxy_->metrics()->Streams(GatewayMetrics::StreamProtocol::kSse).Inc();
  }
  ~SseCall() override { proxy_->metrics()->Streams(GatewayMetrics::StreamProtocol::kSse).Dec(); }

  // Sends the request to a picked endpoint; false (nothing started) when none can take it.
  bool TryStartLocked() {
    absl::StatusOr<EndpointPtr> picked =
        proxy_->endpoints()->PickForVersion(request_.model_name(), version_, nullptr);
    if (!picked.ok()) {
      last_pick_error_ = std::string(picked.status().message());
      return false;
    }
    endpoint_ = *std::move(picked);
    GrpcUpstream* grpc = TransportOf(*endpoint_)->grpc.get();
    if (grpc == nullptr) {
      proxy_->endpoints()->RecordStreamResult(*endpoint_, true);
      last_pick_error_ = fmt::format("endpoint {} has no gRPC address", endpoint_->name());
      endpoint_ = nullptr;
      return false;
    }
    endpoint_->requests.fetch_add(1, std::memory_order_relaxed);
    // An idle call to the picked worker if the pool has one (no call set-up on the way to the
    // first token), else a new call.
    std::shared_ptr<SseUpstream> upstream = proxy_->TakeIdleUpstream(endpoint_);
    const bool reused = upstream != nullptr && upstream->Begin(self_weak_.lock(), request_bytes_);
    if (!reused) {
      H2StreamClient* h2 = TransportOf(*endpoint_)->h2.get();
      upstream = SseUpstream::Open(endpoint_, grpc, h2, trace_.Header());
      proxy_->TrackUpstream(upstream);
      if (!upstream->Begin(self_weak_.lock(), request_bytes_)) {
        // Ended at once (the worker went away): the watchdog's fallback retries the pick.
        proxy_->endpoints()->RecordStreamResult(*endpoint_, false);
        last_pick_error_ = fmt::format("the call to {} ended at once", endpoint_->name());
        endpoint_ = nullptr;
        return false;
      }
    }
    proxy_->metrics()->SseUpstreamCalls(reused).Inc();
    upstream_ = std::move(upstream);
    last_progress_ns_ = proxy_->clock()->NowNs();
    return true;
  }

  void StartWatching() {
    std::weak_ptr<SseCall> weak = self_weak_;
    sse_->SetOnDrain([weak] {
      if (auto self = weak.lock()) self->OnDrain();
    });
  }

  void set_self(const std::shared_ptr<SseCall>& self) { self_weak_ = self; }
  std::mutex& mu() { return mu_; }

  // Watchdog tick: client gone, keep-alives, fallback timeout, retries of the pick.
  void Tick(int64_t now_ns) {
    std::lock_guard lock(mu_);
    if (done_) return;
    if (sse_->closed()) {
      EndLocked();
      return;
    }
    if (upstream_ == nullptr && TryStartLocked()) {
      // Tokens will say whether it recovered; the fallback goes on until the first one.
    }
    if (paused_) last_progress_ns_ = now_ns;  // a slow reader, not a stalled worker
    const StreamingOptions& o = proxy_->options();
    if (now_ns - start_ns_ >= o.sse_timeout_ms * 1'000'000) {
      SendErrorLocked(
          "deadline_exceeded",
          fmt::format("the generation took longer than {} ms (streaming.sse_timeout_ms)",
                      o.sse_timeout_ms));
      EndLocked();
      return;
    }
    const bool waiting = upstream_ == nullptr;
    const bool stalled = now_ns - last_progress_ns_ >= o.stall_ms * 1'000'000;
    if (fallback_since_ns_ == 0 && (waiting || stalled)) {
      fallback_since_ns_ = now_ns;
      fallback_reason_ = waiting ? "unavailable" : "stall";
      proxy_->metrics()->StreamFallbacks(fallback_reason_).Inc();
      last_keepalive_ns_ = 0;
    }
    if (fallback_since_ns_ == 0) return;
    const int64_t waited_ms = (now_ns - fallback_since_ns_) / 1'000'000;
    if (waited_ms >= o.fallback_max_ms) {
      proxy_->metrics()->stream_fallback_timeouts().Inc();
      const std::string message =
          waiting ? fmt::format(
                        "no worker could take the request for {} ms ({}); gave up "
                        "(streaming.fallback_max_ms {})",
                        waited_ms, last_pick_error_, o.fallback_max_ms)
                  : fmt::format(
                        "no token from worker {} for {} ms; gave up "
                        "(streaming.stall_ms {} + fallback_max_ms {})",
                        endpoint_ != nullptr ? endpoint_->name() : "?",
                        (now_ns - last_progress_ns_) / 1'000'000, o.stall_ms, o.fallback_max_ms);
      SendErrorLocked(waiting ? "unavailable" : "stalled", message);
      EndLocked();
      return;
    }
    const int64_t period_ns = o.keepalive_ms * 1'000'000;
    if (last_keepalive_ns_ == 0 || now_ns - last_keepalive_ns_ >= period_ns) {
      // On the configured cadence (ticks are coarser than the period; no drift).
      last_keepalive_ns_ = last_keepalive_ns_ == 0 || now_ns - last_keepalive_ns_ >= 2 * period_ns
                               ? now_ns
                               : last_keepalive_ns_ + period_ns;
      std::string data = prefix_;
      data.append(
          fmt::format(",\"delta\":{{}},\"keepalive\":true,\"reason\":\"{}\",\"waited_ms\":{}}}",
                      fallback_reason_, waited_ms));
      sse_->Send(data, "keepalive");
      proxy_->metrics()->stream_keepalives().Inc();
    }
  }

  // Done and no upstream left to report: the watchdog may drop it.
  bool Finished() {
    std::lock_guard lock(mu_);
    return done_ && (upstream_ == nullptr || upstream_done_);
  }

  void Cancel() {
    std::lock_guard lock(mu_);
    if (!done_) {
      SendErrorLocked("unavailable", "the gateway is shutting down");
      EndLocked();
    }
  }

  // ---- SseUpstream::User ----

  bool OnUpstreamResponse(std::string_view bytes, bool readable) override {
    std::lock_guard lock(mu_);
    if (done_) return true;
    const int64_t now_ns = proxy_->clock()->NowNs();
    StreamResponseView r;  // views into `bytes`
    if (!readable || !ReadStreamResponse(bytes, &r)) {
      SendErrorLocked("internal", "the worker sent a malformed ModelStreamInferResponse");
      EndLocked();
      return true;
    }
    if (!r.error_message.empty()) {
      SendErrorLocked(LowerCode(stream_internal::CodeOf(r.error_message)), r.error_message);
      EndLocked();
      return true;
    }
    if (responses_ == 0 && version_.empty() && !r.model_version.empty()) {
      version_ = std::string(r.model_version);  // the version the worker chose
      prefix_ = Prefix();
    }
    if (responses_ == 0) {
      proxy_->metrics()->SseFirstToken().Observe(static_cast<double>(now_ns - start_ns_) / 1e9);
    }
    std::string& data = scratch_;
    data.assign(prefix_);
    data.append(",\"index\":");
    char digits[24];
    data.append(digits, std::to_chars(digits, digits + sizeof(digits), responses_++).ptr);
    data.append(",\"delta\":{");
    AppendOutputs(&data, r);
    data.append("}}");
    last_progress_ns_ = now_ns;
    fallback_since_ns_ = 0;  // tokens flow (again)
    proxy_->metrics()->StreamResponses(GatewayMetrics::StreamProtocol::kSse).Inc();
    if (!sse_->Send(data)) {
      EndLocked();  // the client went away (or overflowed the bound): stop the worker
      return true;
    }
    if (r.final) {
      std::string final_event = prefix_;
      fmt::format_to(std::back_inserter(final_event), ",\"responses\":{}}}", responses_);
      sse_->Send(final_event, "final");
      sse_->Close();
      done_ = true;
      // Nothing more is due on the call: it goes back to the pool for the next generation.
      upstream_done_ = true;
      proxy_->endpoints()->RecordStreamResult(*endpoint_, true);
      upstream_->Release(/*idle=*/true);
      proxy_->ReturnIdleUpstream(upstream_);
      return true;
    }
    if (sse_->buffered_bytes() > proxy_->options().sse_pause_bytes) {
      paused_ = true;  // OnDrain resumes
      return false;
    }
    return true;
  }

  void OnUpstreamDone(const grpc::Status& status) override {
    std::lock_guard lock(mu_);
    if (upstream_done_) return;  // released already
    upstream_done_ = true;
    proxy_->endpoints()->RecordStreamResult(
        *endpoint_, status.ok() || cancelled_ || !stream_internal::StreamEndpointFault(status));
    if (done_) return;
    proxy_->metrics()->stream_upstream_failures().Inc();
    const std::string message =
        status.ok()
            ? fmt::format("worker {} ended the stream before the final response", endpoint_->name())
            : fmt::format("worker {} ended the stream: {}", endpoint_->name(),
                          status.error_message());
    SendErrorLocked(status.ok() ? "internal" : LowerCode(status.error_code()), message);
    EndLocked();
  }

 private:
  void OnDrain() {
    std::lock_guard lock(mu_);
    if (sse_->closed()) {
      EndLocked();
      return;
    }
    if (paused_ && upstream_ != nullptr) {
      paused_ = false;
      upstream_->Resume();
    }
  }

  std::string Prefix() const {
    std::string p = "{\"id\":";
    core::http::AppendJsonString(&p, request_.id());
    p.append(",\"model_name\":");
    core::http::AppendJsonString(&p, request_.model_name());
    p.append(",\"model_version\":");
    core::http::AppendJsonString(&p, version_);
    return p;
  }

  void SendErrorLocked(std::string_view code, std::string_view message) {
    std::string data = "{\"error\":";
    core::http::AppendJsonString(&data, message);
    data.append(",\"code\":");
    core::http::AppendJsonString(&data, code);
    data.append(",\"id\":");
    core::http::AppendJsonString(&data, request_.id());
    data.push_back('}');
    sse_->Send(data, "error");
    spdlog::warn("sse generate {} {}: {}", trace_.trace_id, request_.model_name(), message);
  }

  // Closes the client stream and stops the worker (idempotent).
  void EndLocked() {
    if (done_) return;
    done_ = true;
    sse_->Close();
    if (upstream_ != nullptr && !upstream_done_) {
      // Cancelled, not failed: not the worker's fault.
      cancelled_ = true;
      upstream_done_ = true;
      proxy_->endpoints()->RecordStreamResult(*endpoint_, true);
      upstream_->Release(/*idle=*/false);
    }
  }

  StreamProxy* const proxy_;
  const std::shared_ptr<SseStream> sse_;
  const ModelInferRequest request_;
  const std::string request_bytes_;  // request_ serialized, for each upstream attempt
  std::string version_;              // "" until the worker names the version it chose
  const TraceContext trace_;
  const int64_t start_ns_;
  std::string prefix_;   // {"id":..,"model_name":..,"model_version":..
  std::string scratch_;  // one event's data, reused
  std::weak_ptr<SseCall> self_weak_;

  std::mutex mu_;
  EndpointPtr endpoint_;
  std::shared_ptr<SseUpstream> upstream_;
  std::string last_pick_error_;
  int64_t last_progress_ns_;
  int64_t fallback_since_ns_ = 0;
  int64_t last_keepalive_ns_ = 0;
  const char* fallback_reason_ = "";
  int64_t responses_ = 0;
  bool paused_ = false;
  bool cancelled_ = false;
  bool upstream_done_ = false;
  bool done_ = false;
};

namespace {

// Builds the upstream request from the JSON body; an error response when malformed.
std::optional<Response> ParseGenerateBody(std::string_view body, std::string_view model,
                                          ModelInferRequest* out) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded()) return JsonError(400, "invalid_argument", "body: not valid JSON", "body");
  if (!doc.is_object()) {
    return JsonError(400, "invalid_argument", "body: expected a JSON object", "body");
  }
  out->set_model_name(std::string(model));
  for (auto& [key, value] : doc.items()) {
    if (key == "id") {
      if (!value.is_string())
        return JsonError(400, "invalid_argument", "id: expected a string", "id");
      out->set_id(value.get<std::string>());
      continue;
    }
    if (key == "parameters") {
      if (!value.is_object()) {
        return JsonError(400, "invalid_argument", "parameters: expected an object", "parameters");
      }
      for (auto& [name, v] : value.items()) {
        const std::string field = "parameters." + name;
        InferParameter& p = (*out->mutable_parameters())[name];
        if (v.is_boolean()) {
          p.set_bool_param(v.get<bool>());
        } else if (v.is_number_integer()) {
          p.set_int64_param(v.get<int64_t>());
        } else if (v.is_number()) {
          p.set_double_param(v.get<double>());
        } else if (v.is_string()) {
          p.set_string_param(v.get<std::string>());
        } else {
          return JsonError(400, "invalid_argument",
                           field + ": expected a boolean, number or string", field);
        }
      }
      continue;
    }
    if (!value.is_array() || value.empty()) {
      return JsonError(400, "invalid_argument",
                       key + ": expected a non-empty array of numbers (an input tensor)", key);
    }
    bool all_integers = true;
    for (const auto& v : value) {
      if (!v.is_number()) {
        return JsonError(400, "invalid_argument", key + ": expected numbers only", key);
      }
      all_integers = all_integers && v.is_number_integer();
    }
    auto* in = out->add_inputs();
    in->set_name(key);
    in->add_shape(static_cast<int64_t>(value.size()));
    std::string* raw = out->add_raw_input_contents();
    if (all_integers) {
      in->set_datatype("INT64");
      raw->resize(value.size() * sizeof(int64_t));
      for (size_t i = 0; i < value.size(); ++i) {
        const int64_t v = value[i].get<int64_t>();
        std::memcpy(raw->data() + i * sizeof(v), &v, sizeof(v));
      }
    } else {
      in->set_datatype("FP32");
      raw->resize(value.size() * sizeof(float));
      for (size_t i = 0; i < value.size(); ++i) {
        const float v = value[i].get<float>();
        std::memcpy(raw->data() + i * sizeof(v), &v, sizeof(v));
      }
    }
  }
  if (out->inputs_size() == 0) {
    return JsonError(400, "invalid_argument",
                     "body: no input tensor (e.g. {\"token\": [1, 2, 3], \"parameters\": "
                     "{\"max_tokens\": 16}})",
                     "body");
  }
  return std::nullopt;
}

}  // namespace

void StreamProxy::GenerateSse(Request& req, Responder responder) {
  const int64_t start_ns = clock_->NowNs();
  TraceContext trace = TraceContext::FromHeader(req.header("traceparent"));
  core::log::RequestIdScope scope(trace.trace_id);
  const std::string_view model = req.param("model");
  absl::StatusOr<QosLevel> qos = ParseQos(req.header("X-QoS-Level"));
  if (!qos.ok()) {
    responder.Send(JsonError(400, "invalid_argument",
                             fmt::format("X-QoS-Level: {}", std::string(qos.status().message())),
                             "X-QoS-Level"));
    return;
  }
  ModelInferRequest request;
  if (auto error = ParseGenerateBody(req.body, model, &request)) {
    responder.Send(*std::move(error));
    return;
  }
  std::string_view pinned = req.param("version");
  if (pinned.empty()) pinned = req.header("X-Model-Version");
  absl::StatusOr<std::string> version =
      stream_internal::ResolveVersion(endpoints_, routing_, model, pinned, req.header("X-User-Id"));
  if (!version.ok()) {
    responder.Send(JsonError(404, "not_found", std::string(version.status().message())));
    return;
  }
  if (!version->empty()) request.set_model_version(*version);
  (*request.mutable_parameters())["priority"].set_int64_param(WorkerPriority(*qos));

  Response head;
  if (!version->empty()) head.WithHeader("X-Model-Version", *version);
  head.WithHeader("traceparent", trace.Header());
  std::shared_ptr<SseStream> sse = responder.StartSse(std::move(head));
  if (sse == nullptr) return;
  auto call = std::make_shared<SseCall>(this, std::move(sse), std::move(request),
                                        *std::move(version), trace, start_ns);
  call->set_self(call);
  call->StartWatching();  // before the first response can pause the upstream
  {
    std::lock_guard call_lock(call->mu());
    call->TryStartLocked();  // else the watchdog's fallback retries the pick
  }
  {
    std::lock_guard lock(mu_);
    sse_calls_.push_back(call);
  }
  cv_.notify_one();
}

std::shared_ptr<SseUpstream> StreamProxy::TakeIdleUpstream(const EndpointPtr& endpoint) {
  std::lock_guard lock(pool_mu_);
  // Newest first: the least likely to be closed for idleness.
  for (size_t i = idle_upstreams_.size(); i-- > 0;) {
    if (idle_upstreams_[i]->endpoint() != endpoint) continue;
    std::shared_ptr<SseUpstream> u = std::move(idle_upstreams_[i]);
    idle_upstreams_.erase(idle_upstreams_.begin() + static_cast<ptrdiff_t>(i));
    if (u->Reusable()) return u;  // else it ended while idle: dropped
  }
  return nullptr;
}

void StreamProxy::ReturnIdleUpstream(std::shared_ptr<SseUpstream> upstream) {
  std::shared_ptr<SseUpstream> evicted;
  {
    std::lock_guard lock(pool_mu_);
    if (stop_pool_) {
      evicted = std::move(upstream);
    } else {
      upstream->set_idle_since_ns(clock_->NowNs());
      idle_upstreams_.push_back(std::move(upstream));
      if (idle_upstreams_.size() > options_.sse_upstream_idle_max) {
        evicted = std::move(idle_upstreams_.front());
        idle_upstreams_.erase(idle_upstreams_.begin());
      }
    }
  }
  if (evicted != nullptr) evicted->Close();
}

void StreamProxy::TrackUpstream(const std::shared_ptr<SseUpstream>& upstream) {
  std::lock_guard lock(pool_mu_);
  if (upstreams_.size() >= 64 && upstreams_.size() % 64 == 0) {
    std::erase_if(upstreams_, [](const std::weak_ptr<SseUpstream>& w) { return w.expired(); });
  }
  upstreams_.push_back(upstream);
}

void StreamProxy::SweepIdleUpstreams(int64_t now_ns) {
  std::vector<std::shared_ptr<SseUpstream>> closing;
  {
    std::lock_guard lock(pool_mu_);
    const int64_t idle_ns = options_.sse_upstream_idle_ms * 1'000'000;
    std::erase_if(idle_upstreams_, [&](std::shared_ptr<SseUpstream>& u) {
      if (!u->Reusable()) return true;  // its worker ended it
      if (now_ns - u->idle_since_ns() < idle_ns) return false;
      closing.push_back(std::move(u));
      return true;
    });
  }
  for (const auto& u : closing) u->Close();
}

void StreamProxy::WatchdogLoop() {
  const int64_t tick_ms =
      std::clamp<int64_t>(std::min(options_.stall_ms, options_.keepalive_ms) / 4, 5, 50);
  std::vector<std::shared_ptr<SseCall>> calls;
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(tick_ms));
    if (stop_) break;
    calls = sse_calls_;
    lock.unlock();
    const int64_t now_ns = clock_->NowNs();
    for (const auto& c : calls) c->Tick(now_ns);
    calls.clear();
    SweepIdleUpstreams(now_ns);
    lock.lock();
    std::erase_if(sse_calls_, [](const std::shared_ptr<SseCall>& c) { return c->Finished(); });
  }
}

void StreamProxy::Stop() {
  std::vector<std::shared_ptr<SseCall>> calls;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    calls = sse_calls_;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  for (const auto& c : calls) c->Cancel();
  std::vector<std::shared_ptr<SseUpstream>> open;
  {
    std::lock_guard lock(pool_mu_);
    stop_pool_ = true;
    idle_upstreams_.clear();
    for (const auto& w : upstreams_) {
      if (auto u = w.lock()) open.push_back(std::move(u));
    }
  }
  for (const auto& u : open) u->Close();
  open.clear();
  // The ended calls report back quickly; wait (bounded) so none outlives the proxy.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    bool calls_left = false, upstreams_left = false;
    {
      std::lock_guard lock(mu_);
      std::erase_if(sse_calls_, [](const std::shared_ptr<SseCall>& c) { return c->Finished(); });
      calls_left = !sse_calls_.empty();
    }
    {
      std::lock_guard lock(pool_mu_);
      std::erase_if(upstreams_, [](const std::weak_ptr<SseUpstream>& w) { return w.expired(); });
      upstreams_left = !upstreams_.empty();
    }
    if (!calls_left && !upstreams_left) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace inference::gateway
