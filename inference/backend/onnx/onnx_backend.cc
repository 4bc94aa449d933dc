#include "inference/backend/onnx/onnx_backend.h"

#include <exception>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <vector>

#include "fmt/format.h"

namespace inference {
namespace {

std::string FirstLine(const char* what) {
  std::string s(what);
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

class OnnxBackend final : public Backend {
 public:
  OnnxBackend(cv::dnn::Net net, const ModelConfig& config)
      : net_(std::move(net)), threads_(config.threads_per_instance) {
    for (const auto& in : config.inputs) input_names_.push_back(in.name);
    for (const auto& out : config.outputs) output_names_.push_back(out.name);
  }

  void AttachToThread() override { cv::setNumThreads(threads_); }

  absl::StatusOr<std::vector<Tensor>> Run(std::span<const TensorView> inputs) override {
    try {
      for (size_t i = 0; i < inputs.size(); ++i) {
        const TensorView& in = inputs[i];
        if (in.datatype != DataType::kFp32)
          return absl::InvalidArgumentError("ONNX backend: FP32 only");
        std::vector<int> sizes;
        for (int64_t d : in.shape.dims()) sizes.push_back(static_cast<int>(d));
        // A header over the caller's bytes: OpenCV does not copy or free it.
        cv::Mat blob(static_cast<int>(sizes.size()), sizes.data(), CV_32F,
                     const_cast<char*>(in.data));
        net_.setInput(blob, input_names_[i]);
      }
      std::vector<cv::Mat> outs;
      net_.forward(outs, output_names_);
      std::vector<Tensor> result;
      result.reserve(outs.size());
      for (cv::Mat& m : outs) {
        if (m.type() != CV_32F) return absl::InternalError("ONNX backend: non-FP32 output");
        if (!m.isContinuous()) m = m.clone();
        Tensor t;
        t.view.datatype = DataType::kFp32;
        for (int d = 0; d < m.dims; ++d) t.view.shape.Append(m.size[d]);
        t.view.data = reinterpret_cast<const char*>(m.data);
        t.view.bytes = m.total() * m.elemSize();
        t.owner = std::make_shared<cv::Mat>(m);  // shares the reference-counted buffer
        result.push_back(std::move(t));
      }
      return result;
    } catch (const std::exception& e) {
      return absl::InternalError(fmt::format("OpenCV dnn: {}", FirstLine(e.what())));
    }
  }

 private:
  cv::dnn::Net net_;
  const int threads_;
  std::vector<std::string> input_names_;
  std::vector<std::string> output_names_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateOnnxBackend(const ModelConfig& config,
                                                           const std::string& model_path) {
  for (const auto* list : {&config.inputs, &config.outputs}) {
    for (const auto& t : *list) {
      if (t.datatype != DataType::kFp32) {
        return absl::InvalidArgumentError(
            fmt::format("{}: the ONNX backend serves FP32 tensors only ({} is {})", config.name,
                        t.name, DataTypeName(t.datatype)));
      }
    }
  }
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(model_path);
    if (net.empty()) return absl::InvalidArgumentError(model_path + ": empty network");
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return std::unique_ptr<Backend>(new OnnxBackend(std::move(net), config));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        fmt::format("{}: cannot load ONNX: {}", model_path, FirstLine(e.what())));
  }
}

}  // namespace inference
