#pragma once
// Little-endian fixed-width binary encoding used by the journal payloads and snapshots.
// Header-only: these are a handful of memcpy calls on the writer's hot path.
//
// WireReader never reads past its input: every getter returns false once the input is exhausted or
// a length is out of range, so decoding a corrupt file fails cleanly (DataLoss), never crashes.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace inventory::wire {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "journal format is little-endian");

inline void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
inline void PutU32(std::string* out, uint32_t v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}
inline void PutU64(std::string* out, uint64_t v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}
inline void PutI64(std::string* out, int64_t v) { PutU64(out, static_cast<uint64_t>(v)); }
// u16 length + bytes; callers keep strings below 64 KiB (ids are <= kIdBytesMax).
inline void PutString(std::string* out, std::string_view s) {
  const uint16_t n = static_cast<uint16_t>(s.size());
  out->append(reinterpret_cast<const char*>(&n), sizeof(n));
  out->append(s.data(), s.size());
}

class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}
  bool GetU8(uint8_t* v) { return Get(v, sizeof(*v)); }
  bool GetU32(uint32_t* v) { return Get(v, sizeof(*v)); }
  bool GetU64(uint64_t* v) { return Get(v, sizeof(*v)); }
  bool GetI64(int64_t* v) { return Get(v, sizeof(*v)); }
  bool GetString(std::string* s) {
    uint16_t n;
    if (!Get(&n, sizeof(n)) || in_.size() < n) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool empty() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }

 private:
  bool Get(void* v, size_t n) {
    if (in_.size() < n) return false;
    std::memcpy(v, in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  std::string_view in_;
};

}  // namespace inventory::wire
