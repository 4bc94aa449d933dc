#pragma once
// Request ids for log correlation.
//
//   const core::log::RequestId rid = core::log::NewRequestId();   // or taken from X-Request-Id
//   core::log::RequestIdScope scope(rid.view());
//   spdlog::info("reserving");   // ... [rid=9f86d081884c7d65] reserving
//
// The current id is thread-local: a scope covers the code that runs on this thread until the scope
// ends. Work handed to another thread must open its own scope there with the same id. Scopes nest;
// ending one restores the id that was current before it.
//
// Cost: NewRequestId() is a thread-local PRNG step and a hex encode (no lock, no allocation);
// RequestIdScope copies at most kRequestIdBytesMax bytes into thread-local storage (no allocation).
//
// Thread safety: everything here touches only the calling thread's state.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace core::log {

// Longer ids (e.g. from a client's X-Request-Id header) are truncated to this.
inline constexpr size_t kRequestIdBytesMax = 64;
// Length of ids made by NewRequestId(): 64 random bits in lower-case hex.
inline constexpr size_t kNewRequestIdChars = 16;

// A generated id held inline, so making one never allocates.
class RequestId {
 public:
  std::string_view view() const { return std::string_view(chars_.data(), chars_.size()); }
  std::string ToString() const { return std::string(view()); }

 private:
  friend RequestId NewRequestId();
  std::array<char, kNewRequestIdChars> chars_{};
};

// A fresh 16-hex-char id from a per-thread PRNG seeded once per thread from the OS. Unique enough
// to correlate log lines (64 bits), not a secret: never use it as a token.
RequestId NewRequestId();

// The id current on this thread, or "" when none. The view is valid until the innermost scope on
// this thread ends.
std::string_view CurrentRequestId();

// Sets the current request id for its lifetime (RAII). Bytes outside [A-Za-z0-9._:-] are replaced
// by
// '_' so that a client-supplied id can never break a log line (newlines, quotes, escapes), and ids
// are truncated to kRequestIdBytesMax. An empty id means "no request id" within the scope.
// Must be destroyed on the thread that created it, in reverse order of creation (stack discipline).
class RequestIdScope {
 public:
  explicit RequestIdScope(std::string_view request_id);
  ~RequestIdScope();
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;

 private:
  std::array<char, kRequestIdBytesMax> previous_;
  size_t previous_size_;
};

}  // namespace core::log
