#include "bench/inference/reference_tensors.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/status/status_macros.h"

namespace infer_bench {
namespace {

int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<std::vector<float>> ReadFloats(const std::string& path, int64_t count) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::InvalidArgumentError(fmt::format("cannot open {}", path));
  const int64_t bytes = static_cast<int64_t>(in.tellg());
  if (bytes != count * static_cast<int64_t>(sizeof(float))) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {} bytes, the shape says {}", path, bytes, count * sizeof(float)));
  }
  std::vector<float> v(count);
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(v.data()), bytes)) {
    return absl::InvalidArgumentError(fmt::format("cannot read {}", path));
  }
  return v;
}

absl::StatusOr<std::vector<int64_t>> ReadShape(const nlohmann::json& j, const char* key,
                                               const std::string& path) {
  std::vector<int64_t> shape;
  if (!j.contains(key) || !j[key].is_array() || j[key].empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: {} missing", path, key));
  }
  int64_t elements = 1;
  for (const auto& d : j[key]) {
    if (!d.is_number_integer() || d.get<int64_t>() <= 0) {
      return absl::InvalidArgumentError(fmt::format("{}: bad {}", path, key));
    }
    shape.push_back(d.get<int64_t>());
    elements *= shape.back();
    if (elements * static_cast<int64_t>(sizeof(float)) > kReferenceBytesMax) {
      return absl::InvalidArgumentError(fmt::format("{}: {} too large", path, key));
    }
  }
  return shape;
}

}  // namespace

absl::StatusOr<ReferenceTensors> ReferenceTensors::Load(const std::string& dir,
                                                        const std::string& model) {
  const std::string meta_path = fmt::format("{}/{}.json", dir, model);
  std::ifstream meta_in(meta_path);
  if (!meta_in) return absl::InvalidArgumentError(fmt::format("cannot open {}", meta_path));
  nlohmann::json meta = nlohmann::json::parse(meta_in, nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded() || !meta.is_object()) {
    return absl::InvalidArgumentError(fmt::format("{}: malformed JSON", meta_path));
  }
  if (meta.value("datatype", "") != "FP32") {
    return absl::InvalidArgumentError(fmt::format("{}: only FP32 references", meta_path));
  }
  ReferenceTensors r;
  ASSIGN_OR_RETURN(r.input_shape_, ReadShape(meta, "input_shape", meta_path));
  ASSIGN_OR_RETURN(r.output_shape_, ReadShape(meta, "output_shape", meta_path));
  if (r.input_shape_.front() != r.output_shape_.front()) {
    return absl::InvalidArgumentError(fmt::format("{}: input and output rows differ", meta_path));
  }
  ASSIGN_OR_RETURN(
      r.input_, ReadFloats(fmt::format("{}/{}.input.bin", dir, model), Elements(r.input_shape_)));
  ASSIGN_OR_RETURN(r.output_, ReadFloats(fmt::format("{}/{}.output.bin", dir, model),
                                         Elements(r.output_shape_)));
  return r;
}

std::vector<int64_t> ReferenceTensors::RowInputShape() const {
  std::vector<int64_t> s = input_shape_;
  s.front() = 1;
  return s;
}

std::vector<int64_t> ReferenceTensors::RowOutputShape() const {
  std::vector<int64_t> s = output_shape_;
  s.front() = 1;
  return s;
}

std::span<const float> ReferenceTensors::InputRow(int64_t row) const {
  const size_t n = input_.size() / rows();
  return std::span<const float>(input_).subspan(row * n, n);
}

std::span<const float> ReferenceTensors::OutputRow(int64_t row) const {
  const size_t n = output_.size() / rows();
  return std::span<const float>(output_).subspan(row * n, n);
}

absl::Status CompareTensors(std::span<const float> got, std::span<const float> want, double atol,
                            double rtol) {
  if (got.size() != want.size()) {
    return absl::DataLossError(
        fmt::format("output has {} elements, the reference {}", got.size(), want.size()));
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (!(diff <= atol + rtol * std::fabs(want[i]))) {
      return absl::DataLossError(
          fmt::format("output[{}] = {}, reference {} (|diff| {:.3g})", i, got[i], want[i], diff));
    }
  }
  return absl::OkStatus();
}

}  // namespace infer_bench
