#include "core/log/request_id.h"

#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>

namespace core::log {
namespace {

// Trivially constructible, so thread_local access needs no initialisation guard.
struct CurrentId {
  std::array<char, kRequestIdBytesMax> chars;
  size_t size;
};
thread_local CurrentId current_id = {};

struct Prng {
  uint64_t state;
  bool seeded;
};
thread_local Prng prng = {};

uint64_t Seed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == static_cast<ssize_t>(sizeof(seed))) {
    return seed;
  }
  // No entropy yet (very early boot): time and this thread's TLS address still differ per thread.
  const auto now_ns = std::chrono::steady_clock::now().time_since_epoch().count();
  return static_cast<uint64_t>(now_ns) ^ reinterpret_cast<uintptr_t>(&prng);
}

// SplitMix64: one add and three multiply-xorshifts per id; statistically strong enough for ids.
uint64_t NextRandom() {
  if (!prng.seeded) [[unlikely]] {
    prng.state = Seed();
    prng.seeded = true;
  }
  uint64_t z = (prng.state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

bool IsAllowed(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

}  // namespace

RequestId NewRequestId() {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t bits = NextRandom();
  RequestId id;
  for (size_t i = kNewRequestIdChars; i-- > 0;) {
    id.chars_[i] = kHex[bits & 0xf];
    bits >>= 4;
  }
  return id;
}

std::string_view CurrentRequestId() {
  return std::string_view(current_id.chars.data(), current_id.size);
}

RequestIdScope::RequestIdScope(std::string_view request_id) : previous_size_(current_id.size) {
  std::memcpy(previous_.data(), current_id.chars.data(), previous_size_);
  const size_t size = std::min(request_id.size(), kRequestIdBytesMax);
  for (size_t i = 0; i < size; ++i) {
    current_id.chars[i] = IsAllowed(request_id[i]) ? request_id[i] : '_';
  }
  current_id.size = size;
}

RequestIdScope::~RequestIdScope() {
  std::memcpy(current_id.chars.data(), previous_.data(), previous_size_);
  current_id.size = previous_size_;
}

}  // namespace core::log
