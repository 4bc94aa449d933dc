#pragma once
// Response: what a handler sends back. Owns its body so it can cross threads (a handler may complete on a
// worker thread); the server writes header and body with one gathered write, without copying the body.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace core::http {

inline constexpr std::string_view kContentTypeJson = "application/json";
inline constexpr std::string_view kContentTypeText = "text/plain; charset=utf-8";
inline constexpr std::string_view kContentTypePrometheus = "text/plain; version=0.0.4; charset=utf-8";

struct Response {
  int status = 200;
  std::string body;
  // Must outlive the write: a literal or one of the constants above (the common case), or point into
  // `owned_content_type`.
  std::string_view content_type = kContentTypeJson;
  std::string owned_content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, usually empty
  bool close = false;  // force "Connection: close" after this response

  static Response Json(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Response Text(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = kContentTypeText;
    return r;
  }
  Response& WithHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// "OK", "Not Found", ... for the status codes we use; "Unknown" otherwise.
std::string_view ReasonPhrase(int status);

}  // namespace core::http
