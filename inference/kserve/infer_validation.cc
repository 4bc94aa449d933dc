#include "inference/kserve/infer_validation.h"

#include "fmt/format.h"

namespace inference {

absl::StatusOr<size_t> ValidateInput(const ModelConfig& config, size_t index, DataType datatype,
                                     const Shape& shape, int64_t* batch_rows) {
  const TensorConfig& want = config.inputs[index];
  if (datatype != want.datatype) {
    return absl::InvalidArgumentError(
        fmt::format("input '{}': datatype {} does not match the model's {}", want.name,
                    DataTypeName(datatype), DataTypeName(want.datatype)));
  }
  const bool batching = config.max_batch_size > 0;
  const size_t offset = batching ? 1 : 0;
  auto expected = [&] {
    return fmt::format("{}{}", batching ? "[-1]+" : "", want.dims.ToString());
  };
  if (shape.rank() != want.dims.rank() + offset) {
    return absl::InvalidArgumentError(
        fmt::format("input '{}': shape {} does not match the model's {}", want.name,
                    shape.ToString(), expected()));
  }
  for (size_t d = 0; d < shape.rank(); ++d) {
    if (shape[d] < 1) {
      return absl::InvalidArgumentError(
          fmt::format("input '{}': shape {} has a dimension < 1", want.name, shape.ToString()));
    }
  }
  for (size_t d = 0; d < want.dims.rank(); ++d) {
    if (want.dims[d] != -1 && want.dims[d] != shape[d + offset]) {
      return absl::InvalidArgumentError(
          fmt::format("input '{}': shape {} does not match the model's {}", want.name,
                      shape.ToString(), expected()));
    }
  }
  *batch_rows = batching ? shape[0] : 1;
  if (batching && shape[0] > config.max_batch_size) {
    return absl::InvalidArgumentError(
        fmt::format("input '{}': batch size {} exceeds max_batch_size {}", want.name, shape[0],
                    config.max_batch_size));
  }
  const double bytes =
      static_cast<double>(shape.elements()) * static_cast<double>(DataTypeBytes(datatype));
  if (bytes > static_cast<double>(kInferRequestBytesMax)) {
    return absl::InvalidArgumentError(fmt::format("input '{}': too large", want.name));
  }
  return static_cast<size_t>(bytes);
}

absl::StatusOr<int> PriorityLevel(const ModelConfig& config, int64_t priority) {
  if (priority == 0) return config.default_priority - 1;
  if (priority < 0 || priority > config.priority_levels) {
    return absl::InvalidArgumentError(
        fmt::format("priority {} not in [0, {}]", priority, config.priority_levels));
  }
  return static_cast<int>(priority - 1);
}

}  // namespace inference
