#pragma once
// Tensor vocabulary shared by the protocol code, the batcher and the backends. Free of any model
// runtime (no libtorch, no OpenCV) so the gateway can use it without linking one.
//
//  DataType    KServe v2 datatype ("FP32", "INT64", ...).
//  Shape       dims inline (at most kTensorDimsMax), no allocation.
//  TensorView  a non-owning view: datatype, shape and a pointer to row-major, densely packed bytes.
//  Tensor      a view plus a shared owner keeping the bytes alive (what backends return).

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace inference {

inline constexpr size_t kTensorDimsMax = 8;

enum class DataType : uint8_t {
  kInvalid,
  kBool,
  kUint8,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp32,
  kFp64
};

// "FP32" -> kFp32 ...; nullopt for names we do not serve (BYTES, FP16, BF16, unsigned > 8 bits).
std::optional<DataType> ParseDataType(std::string_view name);
std::string_view DataTypeName(DataType type);
size_t DataTypeBytes(DataType type);

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::span<const int64_t> dims);  // CHECK: at most kTensorDimsMax dims

  size_t rank() const { return rank_; }
  int64_t operator[](size_t i) const { return dims_[i]; }
  int64_t& operator[](size_t i) { return dims_[i]; }
  std::span<const int64_t> dims() const { return {dims_.data(), rank_}; }
  // false (and unchanged) when already kTensorDimsMax dims.
  bool Append(int64_t dim);
  // Product of the dims (1 for rank 0). Precondition: no negative dims.
  int64_t elements() const;
  std::string ToString() const;  // "[1,64]"

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (size_t i = 0; i < a.rank_; ++i) {
      if (a.dims_[i] != b.dims_[i]) return false;
    }
    return true;
  }

 private:
  std::array<int64_t, kTensorDimsMax> dims_{};
  size_t rank_ = 0;
};

struct TensorView {
  DataType datatype = DataType::kInvalid;
  Shape shape;
  const char* data = nullptr;
  size_t bytes = 0;  // == shape.elements() * DataTypeBytes(datatype)
};

struct Tensor {
  TensorView view;
  std::shared_ptr<const void> owner;  // keeps view.data alive; may be null for static data
};

}  // namespace inference
