#include "inference/backend/tensor.h"

#include "core/log/check.h"
#include "fmt/format.h"

namespace inference {

std::optional<DataType> ParseDataType(std::string_view name) {
  if (name == "FP32") return DataType::kFp32;
  if (name == "INT64") return DataType::kInt64;
  if (name == "INT32") return DataType::kInt32;
  if (name == "FP64") return DataType::kFp64;
  if (name == "UINT8") return DataType::kUint8;
  if (name == "INT8") return DataType::kInt8;
  if (name == "INT16") return DataType::kInt16;
  if (name == "BOOL") return DataType::kBool;
  return std::nullopt;
}

std::string_view DataTypeName(DataType type) {
  switch (type) {
    case DataType::kBool:
      return "BOOL";
    case DataType::kUint8:
      return "UINT8";
    case DataType::kInt8:
      return "INT8";
    case DataType::kInt16:
      return "INT16";
    case DataType::kInt32:
      return "INT32";
    case DataType::kInt64:
      return "INT64";
    case DataType::kFp32:
      return "FP32";
    case DataType::kFp64:
      return "FP64";
    case DataType::kInvalid:
      break;
  }
  return "INVALID";
}

size_t DataTypeBytes(DataType type) {
  switch (type) {
    case DataType::kBool:
    case DataType::kUint8:
    case DataType::kInt8:
      return 1;
    case DataType::kInt16:
      return 2;
    case DataType::kInt32:
    case DataType::kFp32:
      return 4;
    case DataType::kInt64:
    case DataType::kFp64:
      return 8;
    case DataType::kInvalid:
      break;
  }
  return 0;
}

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims)) {}

Shape::Shape(std::span<const int64_t> dims) {
  CORE_CHECK(dims.size() <= kTensorDimsMax) << "rank " << dims.size();
  for (int64_t d : dims) dims_[rank_++] = d;
}

bool Shape::Append(int64_t dim) {
  if (rank_ == kTensorDimsMax) return false;
  dims_[rank_++] = dim;
  return true;
}

int64_t Shape::elements() const {
  int64_t n = 1;
  for (size_t i = 0; i < rank_; ++i) n *= dims_[i];
  return n;
}

std::string Shape::ToString() const {
  std::string s = "[";
  for (size_t i = 0; i < rank_; ++i) {
    if (i) s.push_back(',');
    s += fmt::format("{}", dims_[i]);
  }
  s.push_back(']');
  return s;
}

}  // namespace inference
