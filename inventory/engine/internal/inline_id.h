#pragma once
// InlineId: an immutable id string (reservation ids) stored inside the object up to kInlineBytes
// bytes, on the heap beyond. The engine's reservation table keys its nodes by it: with std::string,
// any id over 15 bytes (UUIDs, order numbers) cost a second allocation per reservation and a second
// cache miss on every lookup and rehash; typical ids fit in the node itself here.
//
// Converts implicitly to std::string_view; IdHash/IdEq hash and compare through that view, so a
// table keyed by InlineId is looked up with std::string_view or std::string as well
// (heterogeneous lookup).

#include <cstdint>
#include <cstring>
#include <string_view>

#include "absl/hash/hash.h"
#include "core/log/check.h"

namespace inventory::internal {

class InlineId {
 public:
  static constexpr size_t kInlineBytes = 46;  // sizeof(InlineId) == 48

  explicit InlineId(std::string_view s) : size_(static_cast<uint16_t>(s.size())) {
    CORE_CHECK(s.size() <= UINT16_MAX);
    char* dst = bytes_;
    if (!is_inline()) {
      dst = new char[s.size()];
      std::memcpy(bytes_, &dst, sizeof(dst));
    }
    if (!s.empty()) std::memcpy(dst, s.data(), s.size());
  }
  InlineId(const InlineId& other) : InlineId(other.view()) {}
  InlineId& operator=(const InlineId&) = delete;  // keys are const
  ~InlineId() {
    if (!is_inline()) delete[] heap();
  }

  std::string_view view() const { return {is_inline() ? bytes_ : heap(), size_}; }
  operator std::string_view() const { return view(); }  // NOLINT: a key usable as a view
  size_t size() const { return size_; }

 private:
  bool is_inline() const { return size_ <= kInlineBytes; }
  char* heap() const {
    char* p;
    std::memcpy(&p, bytes_, sizeof(p));
    return p;
  }

  char bytes_[kInlineBytes];  // the id, or (when longer) a pointer to it
  uint16_t size_;
};
static_assert(sizeof(InlineId) == 48);
static_assert(InlineId::kInlineBytes < UINT16_MAX);

struct IdHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return absl::Hash<std::string_view>{}(s); }
};
struct IdEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

}  // namespace inventory::internal
