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

// Record encoding with one size check per record instead of one per field (the writer encodes every
// journalled operation and, in snapshots, every reservation): Extend() grows `out` by the record's
// exact size, then the Store* calls fill it with constant-size copies and return the next position.
inline char* Extend(std::string* out, size_t n) {
  const size_t old = out->size();
  out->resize(old + n);
  return out->data() + old;
}
inline char* StoreU8(char* p, uint8_t v) {
  *p = static_cast<char>(v);
  return p + 1;
}
inline char* StoreU32(char* p, uint32_t v) {
  std::memcpy(p, &v, sizeof(v));
  return p + sizeof(v);
}
inline char* StoreU64(char* p, uint64_t v) {
  std::memcpy(p, &v, sizeof(v));
  return p + sizeof(v);
}
inline char* StoreI64(char* p, int64_t v) { return StoreU64(p, static_cast<uint64_t>(v)); }
// Same layout as PutString.
inline constexpr size_t StringBytes(std::string_view s) { return sizeof(uint16_t) + s.size(); }
inline char* StoreString(char* p, std::string_view s) {
  const uint16_t n = static_cast<uint16_t>(s.size());
  std::memcpy(p, &n, sizeof(n));
  std::memcpy(p + sizeof(n), s.data(), s.size());
  return p + sizeof(n) + s.size();
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
