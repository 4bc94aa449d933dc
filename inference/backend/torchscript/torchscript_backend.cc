#include "inference/backend/torchscript/torchscript_backend.h"

#include <ATen/Parallel.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <exception>
#include <mutex>
#include <vector>

#include "fmt/format.h"

namespace inference {
namespace {

std::optional<at::ScalarType> ToTorch(DataType t) {
  switch (t) {
    case DataType::kBool:
      return at::kBool;
    case DataType::kUint8:
      return at::kByte;
    case DataType::kInt8:
      return at::kChar;
    case DataType::kInt16:
      return at::kShort;
    case DataType::kInt32:
      return at::kInt;
    case DataType::kInt64:
      return at::kLong;
    case DataType::kFp32:
      return at::kFloat;
    case DataType::kFp64:
      return at::kDouble;
    case DataType::kInvalid:
      break;
  }
  return std::nullopt;
}

std::optional<DataType> FromTorch(at::ScalarType t) {
  switch (t) {
    case at::kBool:
      return DataType::kBool;
    case at::kByte:
      return DataType::kUint8;
    case at::kChar:
      return DataType::kInt8;
    case at::kShort:
      return DataType::kInt16;
    case at::kInt:
      return DataType::kInt32;
    case at::kLong:
      return DataType::kInt64;
    case at::kFloat:
      return DataType::kFp32;
    case at::kDouble:
      return DataType::kFp64;
    default:
      return std::nullopt;
  }
}

void InitTorchOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Quantized models need a quantized engine; Debian's build has onednn and qnnpack (no fbgemm).
    auto engines = at::globalContext().supportedQEngines();
    for (auto e : {at::QEngine::FBGEMM, at::QEngine::ONEDNN, at::QEngine::QNNPACK}) {
      if (std::find(engines.begin(), engines.end(), e) != engines.end()) {
        at::globalContext().setQEngine(e);
        break;
      }
    }
  });
}

class TorchScriptBackend final : public Backend {
 public:
  TorchScriptBackend(torch::jit::Module module, const ModelConfig& config)
      : module_(std::move(module)), threads_(config.threads_per_instance) {}

  void AttachToThread() override { at::set_num_threads(threads_); }

  absl::StatusOr<std::vector<Tensor>> Run(std::span<const TensorView> inputs) override {
    try {
      c10::InferenceMode guard;
      // The profiling graph executor re-specializes on every new batch shape; the module is already
      // frozen and optimized at load (which needs the optimizer on), so run it plainly: stable
      // latency from the first request. The flag is thread-local; the guard restores it.
      torch::jit::GraphOptimizerEnabledGuard plain(false);
      std::vector<torch::jit::IValue> args;
      args.reserve(inputs.size());
      for (const TensorView& in : inputs) {
        auto type = ToTorch(in.datatype);
        if (!type) return absl::InvalidArgumentError("unsupported input datatype");
        std::vector<int64_t> sizes(in.shape.dims().begin(), in.shape.dims().end());
        // from_blob never frees the memory; the caller keeps it alive (backend.h).
        args.emplace_back(torch::from_blob(const_cast<char*>(in.data), sizes,
                                           torch::TensorOptions().dtype(*type)));
      }
      torch::jit::IValue result = module_.forward(args);
      std::vector<at::Tensor> tensors;
      if (result.isTensor()) {
        tensors.push_back(result.toTensor());
      } else if (result.isTuple()) {
        for (const auto& e : result.toTupleRef().elements()) {
          if (!e.isTensor())
            return absl::InternalError("model returned a non-tensor tuple element");
          tensors.push_back(e.toTensor());
        }
      } else if (result.isTensorList()) {
        for (const at::Tensor& t : result.toTensorVector()) tensors.push_back(t);
      } else {
        return absl::InternalError("model returned neither a tensor nor a tuple of tensors");
      }
      std::vector<Tensor> out;
      out.reserve(tensors.size());
      for (at::Tensor& t : tensors) {
        if (t.is_mkldnn()) t = t.to_dense();
        if (t.is_quantized()) t = t.dequantize();
        t = t.contiguous();
        auto type = FromTorch(t.scalar_type());
        if (!type) return absl::InternalError("model output has an unsupported datatype");
        if (t.dim() > static_cast<int64_t>(kTensorDimsMax)) {
          return absl::InternalError("model output rank too large");
        }
        Tensor o;
        o.view.datatype = *type;
        o.view.shape = Shape(std::span<const int64_t>(t.sizes().data(), t.sizes().size()));
        o.view.data = static_cast<const char*>(t.data_ptr());
        o.view.bytes = t.nbytes();
        o.owner = std::make_shared<at::Tensor>(std::move(t));
        out.push_back(std::move(o));
      }
      return out;
    } catch (const std::exception& e) {
      return absl::InternalError(fmt::format("libtorch: {}", FirstLine(e.what())));
    }
  }

 private:
  static std::string FirstLine(const char* what) {
    std::string s(what);
    auto nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
  }

  torch::jit::Module module_;
  const int threads_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateTorchScriptBackend(const ModelConfig& config,
                                                                  const std::string& model_path) {
  InitTorchOnce();
  try {
    torch::jit::Module module = torch::jit::load(model_path, torch::kCPU);
    module.eval();
    torch::jit::Module optimized;
    try {
      optimized = torch::jit::optimize_for_inference(module);
    } catch (const std::exception&) {
      optimized = torch::jit::freeze(module);
    }
    return std::unique_ptr<Backend>(new TorchScriptBackend(std::move(optimized), config));
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return absl::InvalidArgumentError(
        fmt::format("{}: cannot load TorchScript: {}", model_path, what));
  }
}

}  // namespace inference
