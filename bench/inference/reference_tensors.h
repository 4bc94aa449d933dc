// The reference tensors scripts/make-models writes next to the demo repository:
//   <dir>/<model>.json         {"datatype": "FP32", "input_shape": [N, ...], "output_shape": [N,
//   ...]} <dir>/<model>.input.bin    N rows of raw little-endian FP32 input
//   <dir>/<model>.output.bin   the output the model computed for them
// The load generators send one row as a batch-1 request and check a sample reply against the
// matching output row.
//
// Thread safety: immutable after Load(); share freely.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace infer_bench {

// Reference files larger than this are refused (ResNet-18 with 2 rows is 1.2 MB).
inline constexpr int64_t kReferenceBytesMax = int64_t{256} << 20;

class ReferenceTensors {
 public:
  // InvalidArgument if the files are missing, malformed, not FP32 or sized unlike their shapes.
  static absl::StatusOr<ReferenceTensors> Load(const std::string& dir, const std::string& model);

  int64_t rows() const { return input_shape_.front(); }
  // Shape of a batch-1 request: [1, dims...].
  std::vector<int64_t> RowInputShape() const;
  std::vector<int64_t> RowOutputShape() const;
  // Precondition: row < rows().
  std::span<const float> InputRow(int64_t row) const;
  std::span<const float> OutputRow(int64_t row) const;

 private:
  std::vector<int64_t> input_shape_;
  std::vector<int64_t> output_shape_;
  std::vector<float> input_;
  std::vector<float> output_;
};

// OK if `got` has the size of `want` and every element is within atol + rtol * |want|
// (batched execution and the worker's graph optimizations change the last bits); otherwise
// DataLoss naming the first mismatching element.
absl::Status CompareTensors(std::span<const float> got, std::span<const float> want,
                            double atol = 1e-3, double rtol = 1e-3);

}  // namespace infer_bench
