#include "inference/kserve/grpc_service.h"

#include <chrono>
#include <cstring>

#include "fmt/format.h"
#include "inference/batcher/infer_request.h"
#include "inference/kserve/grpc_stream.h"
#include "inference/kserve/infer_validation.h"
#include "inference/kserve/rest_service.h"

namespace inference {

absl::Status PrepareGrpcInputs(const ModelInferRequest& msg, const ModelConfig& config,
                               int skip_input, int skip_output, InferRequest* into,
                               std::vector<char>* converted, GrpcOutputSelection* sel) {
  const int n = msg.inputs_size();
  const bool raw = msg.raw_input_contents_size() > 0;
  if (raw && msg.raw_input_contents_size() != n) {
    return absl::InvalidArgumentError(
        fmt::format("{} raw_input_contents for {} inputs", msg.raw_input_contents_size(), n));
  }
  if (skip_input >= 0) {
    for (const auto& in : msg.inputs()) {
      if (config.InputIndex(in.name()) == skip_input) {
        return absl::InvalidArgumentError(fmt::format(
            "input '{}' is the model's recurrent state: the worker keeps and feeds it", in.name()));
      }
    }
  }
  const size_t wanted = config.inputs.size() - (skip_input >= 0 ? 1 : 0);
  if (n != static_cast<int>(wanted)) {
    return absl::InvalidArgumentError(
        fmt::format("model '{}' takes {} input(s), request has {}", config.name, wanted, n));
  }
  std::array<bool, kModelTensorsMax> seen{};
  // Bytes needed for conversions, so the buffer is sized once and views stay valid.
  size_t convert_bytes = 0;
  struct Plan {
    int index;
    DataType type;
    Shape shape;
    size_t bytes;
  };
  std::array<Plan, kModelTensorsMax> plans;
  for (int i = 0; i < n; ++i) {
    const auto& in = msg.inputs(i);
    int idx = config.InputIndex(in.name());
    if (idx < 0) return absl::InvalidArgumentError(fmt::format("unknown input '{}'", in.name()));
    if (seen[static_cast<size_t>(idx)]) {
      return absl::InvalidArgumentError(fmt::format("input '{}' given twice", in.name()));
    }
    seen[static_cast<size_t>(idx)] = true;
    auto type = ParseDataType(in.datatype());
    if (!type)
      return absl::InvalidArgumentError(fmt::format("unsupported datatype '{}'", in.datatype()));
    if (in.shape_size() > static_cast<int>(kTensorDimsMax)) {
      return absl::InvalidArgumentError("shape: too many dimensions");
    }
    Shape shape(std::span<const int64_t>(in.shape().data(), static_cast<size_t>(in.shape_size())));
    int64_t rows = 1;
    auto bytes = ValidateInput(config, static_cast<size_t>(idx), *type, shape, &rows);
    if (!bytes.ok()) return bytes.status();
    if (i == 0) {
      into->batch_rows = rows;
    } else if (rows != into->batch_rows) {
      return absl::InvalidArgumentError("inputs disagree on the batch size");
    }
    plans[static_cast<size_t>(i)] = {idx, *type, shape, *bytes};
    convert_bytes += (*bytes + 7) & ~size_t{7};
  }
  (*converted).resize(convert_bytes);
  size_t offset = 0;
  for (int i = 0; i < n; ++i) {
    const Plan& p = plans[static_cast<size_t>(i)];
    const auto& in = msg.inputs(i);
    const std::string& name = in.name();
    const size_t elements = static_cast<size_t>(p.shape.elements());
    const size_t width = DataTypeBytes(p.type);
    const char* data = nullptr;
    char* scratch = (*converted).data() + offset;
    offset += (p.bytes + 7) & ~size_t{7};
    if (raw) {
      const std::string& bytes = msg.raw_input_contents(i);
      if (bytes.size() != p.bytes) {
        return absl::InvalidArgumentError(
            fmt::format("input '{}': {} raw bytes, shape {} of {} needs {}", name, bytes.size(),
                        p.shape.ToString(), DataTypeName(p.type), p.bytes));
      }
      data = bytes.data();
      if (reinterpret_cast<uintptr_t>(data) % width != 0) {  // realign (rare)
        std::memcpy(scratch, data, p.bytes);
        data = scratch;
      }
    } else {
      const auto& c = in.contents();
      auto check = [&](int count) -> absl::Status {
        if (static_cast<size_t>(count) != elements) {
          return absl::InvalidArgumentError(fmt::format("input '{}': {} values, shape {} needs {}",
                                                        name, count, p.shape.ToString(), elements));
        }
        return absl::OkStatus();
      };
      absl::Status s;
      switch (p.type) {
        case DataType::kFp32:
          s = check(c.fp32_contents_size());
          data = reinterpret_cast<const char*>(c.fp32_contents().data());
          break;
        case DataType::kFp64:
          s = check(c.fp64_contents_size());
          data = reinterpret_cast<const char*>(c.fp64_contents().data());
          break;
        case DataType::kInt64:
          s = check(c.int64_contents_size());
          data = reinterpret_cast<const char*>(c.int64_contents().data());
          break;
        case DataType::kInt32:
          s = check(c.int_contents_size());
          data = reinterpret_cast<const char*>(c.int_contents().data());
          break;
        case DataType::kInt16:
        case DataType::kInt8:
          s = check(c.int_contents_size());
          for (size_t e = 0; s.ok() && e < elements; ++e) {
            const int32_t v = c.int_contents(static_cast<int>(e));
            if (p.type == DataType::kInt8) {
              scratch[e] = static_cast<char>(static_cast<int8_t>(v));
            } else {
              const int16_t v16 = static_cast<int16_t>(v);
              std::memcpy(scratch + 2 * e, &v16, 2);
            }
          }
          data = scratch;
          break;
        case DataType::kUint8:
          s = check(c.uint_contents_size());
          for (size_t e = 0; s.ok() && e < elements; ++e) {
            scratch[e] =
                static_cast<char>(static_cast<uint8_t>(c.uint_contents(static_cast<int>(e))));
          }
          data = scratch;
          break;
        case DataType::kBool:
          s = check(c.bool_contents_size());
          for (size_t e = 0; s.ok() && e < elements; ++e) {
            scratch[e] = c.bool_contents(static_cast<int>(e)) ? 1 : 0;
          }
          data = scratch;
          break;
        case DataType::kInvalid:
          s = absl::InvalidArgumentError("unsupported datatype");
      }
      if (!s.ok()) return s;
    }
    into->set_input(static_cast<size_t>(p.index), TensorView{p.type, p.shape, data, p.bytes});
  }
  for (const auto& o : msg.outputs()) {
    int idx = config.OutputIndex(o.name());
    if (idx < 0) return absl::InvalidArgumentError(fmt::format("unknown output '{}'", o.name()));
    if (idx == skip_output) {
      return absl::InvalidArgumentError(
          fmt::format("output '{}' is the model's recurrent state: the worker keeps it", o.name()));
    }
    if (sel->count == kModelTensorsMax) return absl::InvalidArgumentError("too many outputs");
    sel->outputs[sel->count++] = idx;
  }
  if (sel->count == 0) {
    for (size_t k = 0; k < config.outputs.size(); ++k) {
      if (static_cast<int>(k) != skip_output) sel->outputs[sel->count++] = static_cast<int>(k);
    }
  }
  int64_t priority = 0;
  if (auto it = msg.parameters().find("priority"); it != msg.parameters().end()) {
    priority = it->second.int64_param();
  }
  auto level = PriorityLevel(config, priority);
  if (!level.ok()) return level.status();
  into->priority_level = *level;
  return absl::OkStatus();
}

namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* ctx, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// One gRPC inference in flight. Input views point into the request message (alive until Finish) or
// into `converted_` for datatypes that need conversion or realignment.
class GrpcInferCall final : public InferRequest {
 public:
  GrpcInferCall(grpc::ServerUnaryReactor* reactor, const ModelInferRequest* request,
                ModelInferResponse* response, VersionLease lease)
      : reactor_(reactor), request_(request), response_(response), lease_(std::move(lease)) {}

  void Complete(const absl::Status& status, std::span<const TensorView> outputs) override {
    if (!status.ok()) {
      reactor_->Finish(ToGrpcStatus(status));
      return;
    }
    const ModelConfig& config = lease_->config();
    response_->set_model_name(config.name);
    response_->set_model_version(lease_->version_string());
    if (!request_->id().empty()) response_->set_id(request_->id());
    for (size_t s = 0; s < selection_.count; ++s) {
      const size_t k = static_cast<size_t>(selection_.outputs[s]);
      const TensorView& t = outputs[k];
      auto* out = response_->add_outputs();
      out->set_name(config.outputs[k].name);
      out->set_datatype(std::string(DataTypeName(t.datatype)));
      for (int64_t d : t.shape.dims()) out->add_shape(d);
      response_->add_raw_output_contents()->assign(t.data, t.bytes);
    }
    reactor_->Finish(grpc::Status::OK);
  }

  absl::Status Prepare(const ModelConfig& config) {
    return PrepareGrpcInputs(*request_, config, -1, -1, this, &converted_, &selection_);
  }

 private:
  grpc::ServerUnaryReactor* const reactor_;
  const ModelInferRequest* const request_;
  ModelInferResponse* const response_;
  VersionLease lease_;
  std::vector<char> converted_;
  GrpcOutputSelection selection_;
};

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

SequenceTable* SequenceTables::Get(const std::string& model) {
  std::lock_guard lock(mu_);
  auto it = tables_.find(model);
  if (it == tables_.end()) {
    it = tables_.emplace(model, std::make_unique<SequenceTable>(clock_)).first;
  }
  return it->second.get();
}

void SequenceTables::ClearAll() {
  std::lock_guard lock(mu_);
  for (auto& [name, table] : tables_) table->Clear();
}

GrpcInferenceService::GrpcInferenceService(ModelManager* manager, core::Clock* clock)
    : manager_(manager), clock_(clock), sequences_(clock) {}

grpc::ServerBidiReactor<ModelInferRequest, ModelStreamInferResponse>*
GrpcInferenceService::ModelStreamInfer(grpc::CallbackServerContext* ctx) {
  return NewStreamReactor(ctx, manager_, &sequences_, clock_);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ServerLive(grpc::CallbackServerContext* ctx,
                                                           const ServerLiveRequest*,
                                                           ServerLiveResponse* resp) {
  resp->set_live(true);
  return Finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ServerReady(grpc::CallbackServerContext* ctx,
                                                            const ServerReadyRequest*,
                                                            ServerReadyResponse* resp) {
  resp->set_ready(manager_->ready());
  return Finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelReady(grpc::CallbackServerContext* ctx,
                                                           const ModelReadyRequest* req,
                                                           ModelReadyResponse* resp) {
  auto lease = manager_->Acquire(req->name(), req->version());
  if (!lease.ok() && absl::IsNotFound(lease.status()) && req->version().empty()) {
    return Finish(ctx, ToGrpcStatus(lease.status()));
  }
  resp->set_ready(lease.ok());
  return Finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ServerMetadata(grpc::CallbackServerContext* ctx,
                                                               const ServerMetadataRequest*,
                                                               ServerMetadataResponse* resp) {
  resp->set_name(std::string(kServerName));
  resp->set_version(std::string(kServerVersion));
  resp->add_extensions("model_repository");
  resp->add_extensions("statistics");
  return Finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelMetadata(grpc::CallbackServerContext* ctx,
                                                              const ModelMetadataRequest* req,
                                                              ModelMetadataResponse* resp) {
  auto lease = manager_->Acquire(req->name(), req->version());
  if (!lease.ok()) return Finish(ctx, ToGrpcStatus(lease.status()));
  const ModelConfig& c = (*lease)->config();
  resp->set_name(c.name);
  for (int64_t v : manager_->ReadyVersions(c.name)) resp->add_versions(std::to_string(v));
  resp->set_platform(c.platform);
  for (const auto* list : {&c.inputs, &c.outputs}) {
    for (const TensorConfig& t : *list) {
      auto* m = list == &c.inputs ? resp->add_inputs() : resp->add_outputs();
      m->set_name(t.name);
      m->set_datatype(std::string(DataTypeName(t.datatype)));
      if (c.max_batch_size > 0) m->add_shape(-1);
      for (int64_t d : t.dims.dims()) m->add_shape(d);
    }
  }
  return Finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelInfer(grpc::CallbackServerContext* ctx,
                                                           const ModelInferRequest* req,
                                                           ModelInferResponse* resp) {
  const int64_t start_ns = clock_->NowNs();
  auto lease = manager_->Acquire(req->model_name(), req->model_version());
  if (!lease.ok()) return Finish(ctx, ToGrpcStatus(lease.status()));
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  ServedVersion* version = lease->get();
  auto call = std::make_unique<GrpcInferCall>(reactor, req, resp, *std::move(lease));
  call->start_ns = start_ns;
  absl::Status s = call->Prepare(version->config());
  if (!s.ok()) {
    version->metrics()->RecordRequest(false, clock_->NowNs() - start_ns, 0);
    call->Complete(s, {});
    return reactor;
  }
  int64_t timeout_us = 0;
  if (auto it = req->parameters().find("timeout"); it != req->parameters().end()) {
    timeout_us = it->second.int64_param();
  }
  if (timeout_us > 0) call->deadline_ns = start_ns + timeout_us * 1000;
  const auto deadline = ctx->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    const int64_t left_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                deadline - std::chrono::system_clock::now())
                                .count();
    const int64_t d = start_ns + std::max<int64_t>(left_ns, 1);
    call->deadline_ns = call->deadline_ns == 0 ? d : std::min(call->deadline_ns, d);
  }
  version->batcher().Submit(std::move(call));
  return reactor;
}

grpc::ServerUnaryReactor* GrpcInferenceService::RepositoryIndex(grpc::CallbackServerContext* ctx,
                                                                const RepositoryIndexRequest* req,
                                                                RepositoryIndexResponse* resp) {
  for (const auto& e : manager_->Index(req->ready())) {
    auto* m = resp->add_models();
    m->set_name(e.name);
    m->set_version(e.version);
    m->set_state(e.state);
    m->set_reason(e.reason);
  }
  return Finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GrpcInferenceService::RepositoryModelLoad(
    grpc::CallbackServerContext* ctx, const RepositoryModelLoadRequest* req,
    RepositoryModelLoadResponse*) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  manager_->Load(req->model_name(),
                 [reactor](absl::Status s) { reactor->Finish(ToGrpcStatus(s)); });
  return reactor;
}

grpc::ServerUnaryReactor* GrpcInferenceService::RepositoryModelUnload(
    grpc::CallbackServerContext* ctx, const RepositoryModelUnloadRequest* req,
    RepositoryModelUnloadResponse*) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  manager_->Unload(req->model_name(),
                   [reactor](absl::Status s) { reactor->Finish(ToGrpcStatus(s)); });
  return reactor;
}

grpc::ServerUnaryReactor* GrpcLoadReportService::Stats(grpc::CallbackServerContext* ctx,
                                                       const WorkerStatsRequest*,
                                                       WorkerStatsResponse* resp) {
  uint64_t depth = 0, in_flight = 0;
  for (const auto& m : metrics_->Models()) {
    auto* e = resp->add_models();
    e->set_name(m->model());
    e->set_version(m->version());
    e->set_queue_depth(m->queue_depth());
    e->set_in_flight(static_cast<uint64_t>(std::max<int64_t>(0, m->in_flight())));
    e->set_latency_ewma_us(m->latency_ewma_us());
    e->set_queue_capacity(m->queue_capacity());
    depth += e->queue_depth();
    in_flight += e->in_flight();
  }
  resp->set_queue_depth(depth);
  resp->set_in_flight(in_flight);
  const ProcessUsage usage = ReadProcessUsage();
  resp->set_cpu_seconds(usage.cpu_seconds);
  resp->set_rss_bytes(usage.rss_bytes);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace inference
