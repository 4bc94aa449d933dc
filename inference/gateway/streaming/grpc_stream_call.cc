// The gRPC half of StreamProxy: one GrpcStreamCall per client ModelStreamInfer call (see
// stream_proxy.h for the routing and flow-control contract).

#include <algorithm>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "inference/gateway/proxy/infer_request_wire.h"
#include "inference/gateway/proxy/proxy_util.h"
#include "inference/gateway/proxy/trace_context.h"
#include "inference/gateway/proxy/upstream_stream.h"
#include "inference/gateway/streaming/stream_internal.h"
#include "inference/gateway/streaming/stream_proxy.h"
#include "inference/gateway/upstream/grpc_upstream.h"
#include "inference/gateway/upstream/stats_poller.h"
#include "spdlog/spdlog.h"

namespace inference::gateway {
namespace {

using stream_internal::ResolveVersion;

constexpr size_t kSequenceIdBytesMax = 256;

// What the gateway reads of a request to route it.
struct SequenceParams {
  bool present = false;
  std::string key;      // "i:<n>" or "s:<text>"
  std::string display;  // as the worker names it in errors
  bool start = false;
  bool end = false;
};

// Reads sequence_id / sequence_start / sequence_end; an error text (worker style) when malformed.
std::optional<std::string> ReadSequenceParams(const ModelInferRequest& req, SequenceParams* out) {
  const auto& params = req.parameters();
  auto flag = [&](const char* name, bool* value) -> std::optional<std::string> {
    auto it = params.find(name);
    if (it == params.end()) return std::nullopt;
    if (it->second.parameter_choice_case() != InferParameter::kBoolParam) {
      return fmt::format("INVALID_ARGUMENT: parameter {}: expected a bool", name);
    }
    *value = it->second.bool_param();
    return std::nullopt;
  };
  if (auto e = flag("sequence_start", &out->start)) return e;
  if (auto e = flag("sequence_end", &out->end)) return e;
  auto it = params.find("sequence_id");
  if (it == params.end()) {
    if (out->start || out->end) {
      return std::string(
          "INVALID_ARGUMENT: sequence_id: required with sequence_start / "
          "sequence_end");
    }
    return std::nullopt;
  }
  const InferParameter& id = it->second;
  switch (id.parameter_choice_case()) {
    case InferParameter::kInt64Param:
      out->display = std::to_string(id.int64_param());
      out->key = "i:" + out->display;
      break;
    case InferParameter::kUint64Param:
      out->display = std::to_string(id.uint64_param());
      out->key = "i:" + out->display;
      break;
    case InferParameter::kStringParam:
      if (id.string_param().empty() || id.string_param().size() > kSequenceIdBytesMax) {
        return fmt::format(
            "INVALID_ARGUMENT: sequence_id: expected a non-empty string of at most {} bytes",
            kSequenceIdBytesMax);
      }
      out->display = "'" + id.string_param() + "'";
      out->key = "s:" + id.string_param();
      break;
    default:
      return std::string("INVALID_ARGUMENT: sequence_id: expected an integer or a string");
  }
  out->present = true;
  return std::nullopt;
}

// Whether `e` is still one of the gateway's endpoints (a crashed worker's is removed, and its
// replacement is a new endpoint without the old one's sequences).
bool Listed(const EndpointSet& set, const EndpointPtr& e) {
  const std::shared_ptr<const EndpointList> list = set.snapshot();
  return std::find(list->begin(), list->end(), e) != list->end();
}

// Raw both ways: a client request is parsed (to route it) and forwarded as the client's own bytes
// plus a suffix of the fields the gateway sets (proxy/infer_request_wire.h); a worker's response is
// forwarded as the bytes it sent.
class GrpcStreamCall final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                             public UpstreamStream::Sink {
 public:
  GrpcStreamCall(StreamProxy* proxy, grpc::CallbackServerContext* ctx, QosLevel qos)
      : proxy_(proxy),
        ctx_(ctx),
        qos_(qos),
        user_id_(ClientMetadata(ctx, "x-user-id")),
        pinned_(ClientMetadata(ctx, "x-model-version")),
        trace_(TraceContext::FromHeader(ClientMetadata(ctx, "traceparent"))),
        window_(proxy->options().window) {
    proxy_->metrics()->Streams(GatewayMetrics::StreamProtocol::kGrpc).Inc();
    ctx_->AddInitialMetadata("traceparent", trace_.Header());
    StartRead(&read_msg_);
  }

  ~GrpcStreamCall() override {
    proxy_->metrics()->Streams(GatewayMetrics::StreamProtocol::kGrpc).Dec();
  }

  void OnReadDone(bool ok) override {
    Actions a;
    {
      std::lock_guard lock(mu_);
      reading_ = false;
      if (!ok) {
        read_closed_ = true;
        for (Upstream& u : upstreams_) u.stream->CloseWrites();
      } else if (!finished_ && !cancelled_ && !failure_) {
        request_.Clear();
        if (ParseFromByteBuffer(read_msg_, &request_)) {
          HandleRequestLocked(request_);
        } else {
          RespondErrorLocked(request_, "INVALID_ARGUMENT: the message is not a ModelInferRequest");
        }
        if (read_waiting_ == nullptr) read_paused_ = true;  // resumed below when there is room
      } else {
        read_closed_ = true;  // ending: read no more
      }
      DecideLocked(&a);
    }
    Run(a);
  }

  void OnWriteDone(bool ok) override {
    Actions a;
    {
      std::lock_guard lock(mu_);
      write_in_flight_ = false;
      queue_.pop_front();
      if (!ok) {
        CancelLocked();
      } else {
        while (!paused_.empty() && queue_.size() < window_) {
          paused_.back()->Resume();
          paused_.pop_back();
        }
      }
      DecideLocked(&a);
    }
    Run(a);
  }

  void OnCancel() override {
    Actions a;
    {
      std::lock_guard lock(mu_);
      CancelLocked();
      DecideLocked(&a);
    }
    Run(a);
  }

  void OnDone() override { delete this; }

  // ---- UpstreamStream::Sink (gRPC client threads) ----

  bool OnUpstreamResponse(UpstreamStream* from, grpc::ByteBuffer* response) override {
    Actions a;
    bool more = true;
    {
      std::lock_guard lock(mu_);
      if (cancelled_ || finished_) return true;  // drained; the call is being cancelled
      proxy_->metrics()->StreamResponses(GatewayMetrics::StreamProtocol::kGrpc).Inc();
      queue_.emplace_back();
      queue_.back().Swap(response);
      if (queue_.size() >= window_) {
        paused_.push_back(from);
        more = false;
      }
      DecideLocked(&a);
    }
    Run(a);
    return more;
  }

  void OnUpstreamWritable(UpstreamStream* from) override {
    Actions a;
    {
      std::lock_guard lock(mu_);
      if (read_waiting_ != from) return;
      read_waiting_ = nullptr;
      read_paused_ = true;
      DecideLocked(&a);
    }
    Run(a);
  }

  void OnUpstreamDone(UpstreamStream* from, const grpc::Status& status) override {
    Actions a;
    {
      std::lock_guard lock(mu_);
      auto it = std::find_if(upstreams_.begin(), upstreams_.end(),
                             [from](const Upstream& u) { return u.stream.get() == from; });
      if (it == upstreams_.end()) return;  // impossible: every upstream is listed until done
      Upstream u = std::move(*it);
      upstreams_.erase(it);
      std::erase(paused_, from);
      if (read_waiting_ == from) {
        read_waiting_ = nullptr;
        read_paused_ = true;
      }
      const bool expected = status.ok() && read_closed_;
      proxy_->endpoints()->RecordStreamResult(
          *u.endpoint, expected || cancelled_ || !stream_internal::StreamEndpointFault(status));
      if (!expected && !cancelled_ && !failure_) {
        proxy_->metrics()->stream_upstream_failures().Inc();
        const std::string detail = status.ok()
                                       ? std::string("it finished the stream before the client did")
                                       : fmt::format("{} ({})", status.error_message(),
                                                     static_cast<int>(status.error_code()));
        failure_ = grpc::Status(
            grpc::StatusCode::UNAVAILABLE,
            fmt::format("worker {} ended the stream: {}; the state of its sequences is lost: "
                        "restart them with sequence_start",
                        u.endpoint->name(), detail));
        spdlog::warn("grpc stream {}: {}", trace_.trace_id, failure_->error_message());
        for (Upstream& other : upstreams_) other.stream->Cancel();
      }
      DecideLocked(&a);
    }
    Run(a);
  }

 private:
  struct Upstream {
    EndpointPtr endpoint;
    std::shared_ptr<UpstreamStream> stream;
  };

  void CancelLocked() {
    if (cancelled_) return;
    cancelled_ = true;
    paused_.clear();
    read_waiting_ = nullptr;
    if (!write_in_flight_) queue_.clear();
    for (Upstream& u : upstreams_) u.stream->Cancel();
  }

  // An error response for `req` (worker style: "CODE: message"); the stream stays open.
  void RespondErrorLocked(const ModelInferRequest& req, std::string message) {
    ModelStreamInferResponse r;
    r.set_error_message(std::move(message));
    ModelInferResponse* ir = r.mutable_infer_response();
    ir->set_model_name(req.model_name());
    ir->set_id(req.id());
    auto it = req.parameters().find("sequence_id");
    if (it != req.parameters().end()) (*ir->mutable_parameters())["sequence_id"] = it->second;
    queue_.push_back(SerializeToByteBuffer(r));
    proxy_->metrics()->StreamResponses(GatewayMetrics::StreamProtocol::kGrpc).Inc();
  }

  // The upstream to `endpoint`, opened on first use; nullptr (and an error response) when the
  // endpoint has no gRPC target.
  Upstream* UpstreamToLocked(const EndpointPtr& endpoint) {
    for (Upstream& u : upstreams_) {
      if (u.endpoint == endpoint) return &u;
    }
    GrpcUpstream* grpc = TransportOf(*endpoint)->grpc.get();
    if (grpc == nullptr) return nullptr;
    std::unique_ptr<grpc::ClientContext> c = grpc::ClientContext::FromCallbackServerContext(*ctx_);
    c->AddMetadata("traceparent", trace_.Header());
    upstreams_.push_back({endpoint, UpstreamStream::Start(grpc, std::move(c), this,
                                                          proxy_->options().upstream_write_queue)});
    return &upstreams_.back();
  }

  // The live upstream this stream already uses that can serve `version` of `model`, if any.
  Upstream* ReusableLocked(std::string_view model, std::string_view version) {
    for (Upstream& u : upstreams_) {
      const Endpoint& e = *u.endpoint;
      if (!e.ready.load(std::memory_order_relaxed) || e.draining.load(std::memory_order_relaxed))
        continue;
      if (version.empty() || e.HasVersion(model, version)) return &u;
    }
    return nullptr;
  }

  // `req` is read_msg_ parsed.
  void HandleRequestLocked(const ModelInferRequest& req) {
    const std::string& model = req.model_name();
    if (model.empty()) {
      RespondErrorLocked(req, "INVALID_ARGUMENT: model_name: required");
      return;
    }
    SequenceParams seq;
    if (auto error = ReadSequenceParams(req, &seq)) {
      RespondErrorLocked(req, std::move(*error));
      return;
    }
    const int64_t now_ns = proxy_->clock()->NowNs();
    std::string_view pinned = req.model_version();
    if (pinned.empty()) pinned = pinned_;
    std::string version;
    EndpointPtr endpoint;
    Upstream* target = nullptr;
    std::string key;
    if (seq.present && !seq.start) {
      key = SequenceAffinity::Key(model, seq.key);
      std::optional<SequenceAffinity::Entry> bound = proxy_->affinity().Find(key, now_ns);
      if (!bound) {
        RespondErrorLocked(req, fmt::format("INVALID_ARGUMENT: sequence_id {}: unknown sequence "
                                            "(not started with sequence_start through this "
                                            "gateway, ended, or idle too long)",
                                            seq.display));
        return;
      }
      endpoint = bound->endpoint.lock();
      if (endpoint != nullptr && !Listed(*proxy_->endpoints(), endpoint)) endpoint = nullptr;
      if (endpoint == nullptr) {
        RespondErrorLocked(
            req, fmt::format("UNAVAILABLE: sequence_id {}: its worker {} is gone and its state "
                             "with it: restart the sequence with sequence_start",
                             seq.display, bound->endpoint_name));
        if (seq.end) proxy_->affinity().Erase(key);
        return;
      }
      version = pinned.empty() ? bound->version : std::string(pinned);
    } else {
      absl::StatusOr<std::string> v =
          ResolveVersion(proxy_->endpoints(), proxy_->routing(), model, pinned, user_id_);
      if (!v.ok()) {
        RespondErrorLocked(req, fmt::format("NOT_FOUND: {}", std::string(v.status().message())));
        return;
      }
      version = *std::move(v);
      target = ReusableLocked(model, version);
      if (target != nullptr) {
        endpoint = target->endpoint;
      } else {
        absl::StatusOr<EndpointPtr> picked =
            proxy_->endpoints()->PickForVersion(model, version, nullptr);
        if (!picked.ok()) {
          RespondErrorLocked(
              req, fmt::format("UNAVAILABLE: {}", std::string(picked.status().message())));
          return;
        }
        endpoint = *std::move(picked);
      }
      if (seq.present) {
        key = SequenceAffinity::Key(model, seq.key);
        if (absl::Status s = proxy_->affinity().Bind(key, endpoint, version, now_ns); !s.ok()) {
          if (target == nullptr) proxy_->endpoints()->RecordStreamResult(*endpoint, true);
          RespondErrorLocked(req, fmt::format("RESOURCE_EXHAUSTED: {}", std::string(s.message())));
          return;
        }
      }
    }
    if (target == nullptr) target = UpstreamToLocked(endpoint);
    if (target == nullptr) {
      RespondErrorLocked(
          req, fmt::format("UNAVAILABLE: endpoint {} has no gRPC address", endpoint->name()));
      return;
    }
    if (seq.end) proxy_->affinity().Erase(key);
    // The client's bytes, then the version routing chose (unless the message names one) and the
    // QoS priority, which override the client's on the worker's side (a protobuf merge).
    const std::string suffix = InferRequestSuffix(
        req.model_version().empty() ? std::string_view(version) : std::string_view(),
        WorkerPriority(qos_), 0);
    endpoint->requests.fetch_add(1, std::memory_order_relaxed);
    UpstreamStream* stream = target->stream.get();
    switch (stream->Write(WithSuffix(read_msg_, suffix))) {
      case UpstreamStream::WriteResult::kQueued:
        break;
      case UpstreamStream::WriteResult::kFull:
        read_waiting_ = stream;  // OnUpstreamWritable resumes reading
        break;
      case UpstreamStream::WriteResult::kEnded:
        // The worker's stream ended: OnUpstreamDone (already or soon) fails the call.
        break;
    }
  }

  // ---- completion (mu_ held in DecideLocked) ----

  struct Actions {
    const grpc::ByteBuffer* write = nullptr;
    bool more_queued = false;  // another response waits behind `write`: let gRPC coalesce
    bool read = false;
    std::optional<grpc::Status> finish;
  };

  void DecideLocked(Actions* a) {
    if (!write_in_flight_ && !queue_.empty() && !cancelled_ && !finished_) {
      write_in_flight_ = true;
      a->write = &queue_.front();  // deque: stays put while others are pushed behind it
      a->more_queued = queue_.size() > 1;
    }
    if (read_paused_ && !reading_ && !read_closed_ && !cancelled_ && !failure_ &&
        read_waiting_ == nullptr && queue_.size() < window_) {
      read_paused_ = false;
      reading_ = true;
      a->read = true;
    }
    const bool reads_over = read_closed_ || cancelled_ || failure_.has_value();
    if (!finished_ && reads_over && upstreams_.empty() && !write_in_flight_ &&
        (queue_.empty() || cancelled_)) {
      finished_ = true;
      if (cancelled_) {
        a->finish = grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
      } else {
        a->finish = failure_.value_or(grpc::Status::OK);
      }
    }
  }

  // Starts the write before the read before the finish; touches nothing after the last.
  void Run(const Actions& a) {
    if (a.write != nullptr) {
      // More queued: the next write follows at once (OnWriteDone), so gRPC may hold this one and
      // send both together (fewer frames and syscalls per response).
      StartWrite(a.write,
                 a.more_queued ? grpc::WriteOptions().set_buffer_hint() : grpc::WriteOptions());
    }
    if (a.read) StartRead(&read_msg_);
    if (a.finish) Finish(*a.finish);
  }

  StreamProxy* const proxy_;
  grpc::CallbackServerContext* const ctx_;
  const QosLevel qos_;
  const std::string user_id_;
  const std::string pinned_;
  const TraceContext trace_;
  const size_t window_;
  grpc::ByteBuffer read_msg_;  // owned by the read in flight
  ModelInferRequest request_;  // read_msg_ parsed (under mu_)

  std::mutex mu_;
  std::vector<Upstream> upstreams_;         // one per worker used, until its OnUpstreamDone
  std::deque<grpc::ByteBuffer> queue_;      // serialized responses; front is being written
  std::vector<UpstreamStream*> paused_;     // upstreams whose reads wait for queue space
  UpstreamStream* read_waiting_ = nullptr;  // client reads wait for this upstream's queue
  std::optional<grpc::Status> failure_;     // a worker failed: finish with this
  bool write_in_flight_ = false;
  bool reading_ = true;  // the constructor's read
  bool read_paused_ = false;
  bool read_closed_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
};

}  // namespace

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamProxy::NewGrpcStream(
    grpc::CallbackServerContext* ctx, QosLevel qos) {
  return new GrpcStreamCall(this, ctx, qos);
}

}  // namespace inference::gateway
