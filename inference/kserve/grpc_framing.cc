#include "inference/kserve/grpc_framing.h"

#include <algorithm>
#include <cstring>

namespace inference {

namespace {

uint32_t ReadBigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

ptrdiff_t GrpcMessageReader::ReadWhole(
    const uint8_t* data, size_t size,
    const std::function<void(const uint8_t*, size_t)>& on_message) {
  size_t pos = 0;
  while (size - pos >= kGrpcPrefixBytes) {
    if (data[pos] != 0) {  // compressed: our clients never ask for compression
      error_ = Error::kCompressed;
      return -1;
    }
    const uint32_t length = ReadBigEndian32(data + pos + 1);
    if (length > message_bytes_max_) {
      error_ = Error::kTooLong;
      return -1;
    }
    if (size - pos - kGrpcPrefixBytes < length) break;
    on_message(data + pos + kGrpcPrefixBytes, length);
    pos += kGrpcPrefixBytes + length;
  }
  return static_cast<ptrdiff_t>(pos);
}

bool GrpcMessageReader::Feed(const uint8_t* data, size_t size,
                             const std::function<void(const uint8_t*, size_t)>& on_message) {
  if (error_ != Error::kNone) return false;
  if (partial_.empty()) {  // the common case: read in place, keep only an unfinished tail
    const ptrdiff_t used = ReadWhole(data, size, on_message);
    if (used < 0) return false;
    partial_.assign(reinterpret_cast<const char*>(data) + used, size - static_cast<size_t>(used));
    return true;
  }
  partial_.append(reinterpret_cast<const char*>(data), size);
  const ptrdiff_t used =
      ReadWhole(reinterpret_cast<const uint8_t*>(partial_.data()), partial_.size(), on_message);
  if (used < 0) return false;
  partial_.erase(0, static_cast<size_t>(used));
  return true;
}

GrpcRequestBody::Read GrpcRequestBody::ReadInto(uint8_t* buf, size_t length, size_t* n) {
  *n = std::min(length, out_.size() - sent_);
  std::memcpy(buf, out_.data() + sent_, *n);
  sent_ += *n;
  if (sent_ < out_.size()) return Read::kData;
  out_.clear();
  sent_ = 0;
  if (closed_) return Read::kEnd;
  return *n == 0 ? Read::kEmpty : Read::kData;
}

void AppendGrpcMessage(std::string_view message, std::string* out) {
  const auto n = static_cast<uint32_t>(message.size());
  const char prefix[kGrpcPrefixBytes] = {0, static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                                         static_cast<char>(n >> 8), static_cast<char>(n)};
  out->append(prefix, kGrpcPrefixBytes);
  out->append(message);
}

}  // namespace inference
