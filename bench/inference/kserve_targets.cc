#include "bench/inference/kserve_targets.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "bench/loadgen/grpc_load.h"
#include "bench/loadgen/http_load.h"
#include "core/status/status_macros.h"
#include "inference/grpc_predict_v2.pb.h"

namespace infer_bench {
namespace {

constexpr char kModelInferMethod[] = "/inference.GRPCInferenceService/ModelInfer";
constexpr auto kRetryInterval = std::chrono::milliseconds(100);

std::string ShapeJson(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ","));
}

// The HTTP request (head + KServe v2 JSON body), rendered once: every request is the same.
std::string RenderRestRequest(const TargetOptions& o, const ReferenceTensors& ref) {
  std::string body =
      fmt::format(R"({{"inputs":[{{"name":"{}","datatype":"FP32","shape":{},"data":[)",
                  o.input_name, ShapeJson(ref.RowInputShape()));
  bool first = true;
  for (float v : ref.InputRow(o.row)) {
    if (!first) body.push_back(',');
    first = false;
    fmt::format_to(std::back_inserter(body), "{}", v);  // shortest round-trip form
  }
  fmt::format_to(std::back_inserter(body), R"(]}}],"outputs":[{{"name":"{}"}}]}})", o.output_name);
  std::string request;
  loadgen::AppendHttpRequest(&request, "POST", o.host, fmt::format("/v2/models/{}/infer", o.model),
                             body);
  return request;
}

// The serialized ModelInferRequest with the row as raw_input_contents.
grpc::ByteBuffer RenderGrpcRequest(const TargetOptions& o, const ReferenceTensors& ref) {
  inference::ModelInferRequest req;
  req.set_model_name(o.model);
  auto* in = req.add_inputs();
  in->set_name(o.input_name);
  in->set_datatype("FP32");
  for (int64_t d : ref.RowInputShape()) in->add_shape(d);
  req.add_outputs()->set_name(o.output_name);
  const std::span<const float> row = ref.InputRow(o.row);
  req.add_raw_input_contents()->assign(reinterpret_cast<const char*>(row.data()), row.size_bytes());
  grpc::Slice slice(req.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

absl::Status CheckRestReply(const TargetOptions& o, const ReferenceTensors& ref, int status,
                            std::string_view body) {
  if (status != 200) {
    return absl::UnavailableError(fmt::format("HTTP {}: {}", status, body.substr(0, 200)));
  }
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("outputs") || !j["outputs"].is_array()) {
    return absl::DataLossError(
        fmt::format("reply is not a KServe v2 response: {}", body.substr(0, 200)));
  }
  for (const auto& out : j["outputs"]) {
    if (out.value("name", "") != o.output_name) continue;
    if (out.value("datatype", "") != "FP32")
      return absl::DataLossError("output datatype is not FP32");
    if (!out.contains("shape") ||
        out["shape"].get<std::vector<int64_t>>() != ref.RowOutputShape()) {
      return absl::DataLossError(fmt::format("output shape {} != {}",
                                             out.value("shape", nlohmann::json()).dump(),
                                             ShapeJson(ref.RowOutputShape())));
    }
    std::vector<float> data;
    for (const auto& v : out["data"]) {
      if (!v.is_number()) return absl::DataLossError("output data is not numeric");
      data.push_back(v.get<float>());
    }
    return CompareTensors(data, ref.OutputRow(o.row));
  }
  return absl::DataLossError(fmt::format("reply has no output {}", o.output_name));
}

absl::Status CheckGrpcReply(const TargetOptions& o, const ReferenceTensors& ref,
                            const grpc::Status& status, const grpc::ByteBuffer& reply) {
  if (!status.ok()) {
    const std::string what =
        fmt::format("gRPC {}: {}", static_cast<int>(status.error_code()), status.error_message());
    return status.error_code() == grpc::StatusCode::NOT_FOUND ||
                   status.error_code() == grpc::StatusCode::UNAVAILABLE
               ? absl::UnavailableError(what)
               : absl::DataLossError(what);
  }
  std::vector<grpc::Slice> slices;
  if (!reply.Dump(&slices).ok()) return absl::DataLossError("unreadable reply");
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  inference::ModelInferResponse resp;
  if (!resp.ParseFromString(bytes)) return absl::DataLossError("reply is not a ModelInferResponse");
  for (int i = 0; i < resp.outputs_size(); ++i) {
    const auto& out = resp.outputs(i);
    if (out.name() != o.output_name) continue;
    if (out.datatype() != "FP32") return absl::DataLossError("output datatype is not FP32");
    std::vector<int64_t> shape(out.shape().begin(), out.shape().end());
    if (shape != ref.RowOutputShape()) {
      return absl::DataLossError(
          fmt::format("output shape {} != {}", ShapeJson(shape), ShapeJson(ref.RowOutputShape())));
    }
    std::vector<float> data;
    if (i < resp.raw_output_contents_size()) {
      const std::string& raw = resp.raw_output_contents(i);
      data.resize(raw.size() / sizeof(float));
      std::memcpy(data.data(), raw.data(), data.size() * sizeof(float));
    } else {
      data.assign(out.contents().fp32_contents().begin(), out.contents().fp32_contents().end());
    }
    return CompareTensors(data, ref.OutputRow(o.row));
  }
  return absl::DataLossError(fmt::format("reply has no output {}", o.output_name));
}

// One request through the same driver as the load; the reply's verdict lands in *verdict.
absl::Status VerifyOnce(const TargetOptions& o, const ReferenceTensors& ref) {
  absl::Status verdict = absl::UnavailableError("no reply");
  loadgen::LoadOptions one;
  one.connections = 1;
  one.requests_total = 1;
  one.drain_timeout = std::chrono::seconds(30);
  absl::StatusOr<loadgen::LoadResult> r;
  if (o.protocol == Protocol::kRest) {
    const std::string request = RenderRestRequest(o, ref);
    loadgen::HttpLoadOptions h;
    h.host = o.host;
    h.port = o.port;
    h.load = one;
    r = loadgen::RunHttpLoad(
        h, [&](uint64_t, std::string* out) { out->assign(request); },
        [&](uint64_t, int status, std::string_view body) {
          verdict = CheckRestReply(o, ref, status, body);
          return verdict.ok() ? loadgen::Counts{.ok = 1} : loadgen::Counts{.errors = 1};
        });
  } else {
    const grpc::ByteBuffer request = RenderGrpcRequest(o, ref);
    loadgen::GrpcLoadOptions g;
    g.target = fmt::format("{}:{}", o.host, o.port);
    g.method = kModelInferMethod;
    g.channels = 1;
    g.connect_timeout = std::chrono::milliseconds(500);
    g.call_timeout = std::chrono::milliseconds(30000);
    g.load = one;
    r = loadgen::RunGrpcLoad(
        g, [&](uint64_t, grpc::ByteBuffer* out) { *out = request; },
        [&](uint64_t, const grpc::Status& status, const grpc::ByteBuffer& reply) {
          verdict = CheckGrpcReply(o, ref, status, reply);
          return verdict.ok() ? loadgen::Counts{.ok = 1} : loadgen::Counts{.errors = 1};
        });
  }
  if (!r.ok()) return absl::UnavailableError(r.status().message());
  return verdict;
}

}  // namespace

absl::Status VerifySample(const TargetOptions& options, const ReferenceTensors& ref,
                          std::chrono::milliseconds wait) {
  if (options.row < 0 || options.row >= ref.rows()) {
    return absl::InvalidArgumentError(fmt::format("row {} not in the reference", options.row));
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    absl::Status s = VerifyOnce(options, ref);
    // Only "not there yet" is retried: a wrong answer is final.
    if (s.ok() || !absl::IsUnavailable(s) || std::chrono::steady_clock::now() >= deadline) {
      return s;
    }
    std::this_thread::sleep_for(kRetryInterval);
  }
}

absl::StatusOr<loadgen::LoadResult> RunLoad(const TargetOptions& o, const ReferenceTensors& ref) {
  if (o.row < 0 || o.row >= ref.rows()) {
    return absl::InvalidArgumentError(fmt::format("row {} not in the reference", o.row));
  }
  const auto classify_http = [](uint64_t, int status, std::string_view) {
    if (status >= 200 && status < 300) return loadgen::Counts{.ok = 1};
    if (status == 429) return loadgen::Counts{.rejected = 1};
    return loadgen::Counts{.errors = 1};
  };
  if (o.protocol == Protocol::kRest) {
    const std::string request = RenderRestRequest(o, ref);
    loadgen::HttpLoadOptions h;
    h.host = o.host;
    h.port = o.port;
    h.load = o.load;
    return loadgen::RunHttpLoad(
        h, [&](uint64_t, std::string* out) { out->assign(request); }, classify_http);
  }
  const grpc::ByteBuffer request = RenderGrpcRequest(o, ref);
  loadgen::GrpcLoadOptions g;
  g.target = fmt::format("{}:{}", o.host, o.port);
  g.method = kModelInferMethod;
  g.channels = o.grpc_channels;
  g.call_timeout = o.grpc_call_timeout;
  g.load = o.load;
  return loadgen::RunGrpcLoad(g, [&](uint64_t, grpc::ByteBuffer* out) { *out = request; });
}

}  // namespace infer_bench
