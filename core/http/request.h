#pragma once
// Request: a parsed HTTP/1.1 request as seen by a handler.
//
// Lifetime rule (zero-copy): every string_view in a Request (method, target, path, query, header names and
// values, body, path parameters) points into the connection's read buffer. The views stay valid until the
// handler's Responder has sent the response (or the connection closes); the buffer is not read into, moved
// or compacted while a request is being handled. A handler that completes on another thread must copy what
// it needs to keep beyond that point.
//
// Padding: the body is followed by at least kBodyPaddingBytes readable bytes (contents unspecified), so it
// can be handed to simdjson without a copy (see json.h: PaddedBody).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <strings.h>

namespace core::http {

inline constexpr size_t kHeadersMax = 64;          // more fields -> 431
inline constexpr size_t kPathParamsMax = 8;        // per route pattern
inline constexpr size_t kBodyPaddingBytes = 64;    // >= simdjson::SIMDJSON_PADDING

enum class Method : uint8_t { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

struct Header {
  std::string_view name;
  std::string_view value;
};

class Request {
 public:
  Method method = Method::kOther;
  std::string_view method_name;
  std::string_view target;  // path + optional "?query", as sent
  std::string_view path;    // percent-encoding left as is
  std::string_view query;   // without the '?'
  std::string_view body;
  bool keep_alive = true;

  // Case-insensitive lookup; empty view when absent.
  std::string_view header(std::string_view name) const {
    for (size_t i = 0; i < header_count_; ++i) {
      const auto& h = headers_[i];
      if (h.name.size() == name.size() &&
          ::strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
        return h.value;
      }
    }
    return {};
  }
  size_t header_count() const { return header_count_; }
  const Header& header_at(size_t i) const { return headers_[i]; }

  // Path parameter captured by the route pattern ("/v1/skus/{sku}" -> param("sku")); empty when absent.
  std::string_view param(std::string_view name) const {
    for (size_t i = 0; i < param_count_; ++i) {
      if (params_[i].name == name) return params_[i].value;
    }
    return {};
  }

  // Value of a query-string parameter (no percent-decoding); empty when absent.
  std::string_view query_param(std::string_view name) const;

  // Bytes readable after body.end() (>= kBodyPaddingBytes for bodies the server hands out).
  size_t body_padding_bytes() const { return body_padding_bytes_; }

  // Filled by the server/router.
  bool AddHeader(std::string_view name, std::string_view value) {
    if (header_count_ == kHeadersMax) return false;
    headers_[header_count_++] = {name, value};
    return true;
  }
  bool AddParam(std::string_view name, std::string_view value) {
    if (param_count_ == kPathParamsMax) return false;
    params_[param_count_++] = {name, value};
    return true;
  }
  void ClearParams() { param_count_ = 0; }
  void set_body_padding_bytes(size_t n) { body_padding_bytes_ = n; }
  // Cheap reset for reuse on a connection: the header/param arrays are not cleared, only their counts.
  void Reset() {
    method = Method::kOther;
    method_name = target = path = query = body = {};
    keep_alive = true;
    header_count_ = param_count_ = body_padding_bytes_ = 0;
  }

 private:
  std::array<Header, kHeadersMax> headers_{};
  std::array<Header, kPathParamsMax> params_{};
  size_t header_count_ = 0;
  size_t param_count_ = 0;
  size_t body_padding_bytes_ = 0;
};

inline std::string_view Request::query_param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace core::http
