#include "core/http/router.h"

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "fmt/format.h"
#include "fmt/ranges.h"
#include "core/http/json.h"

namespace core::http {
namespace {

std::string ExactKey(Method m, std::string_view path) {
  std::string key;
  key.reserve(path.size() + 1);
  key.push_back(static_cast<char>(m));
  key.append(path);
  return key;
}

}  // namespace

void Responder::Abandon() {
  if (auto sink = std::move(sink_)) {
    sink->SendResponse(JsonError(500, "internal", "handler returned without a response"));
  }
}

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kGet: return "GET";
    case Method::kHead: return "HEAD";
    case Method::kPost: return "POST";
    case Method::kPut: return "PUT";
    case Method::kDelete: return "DELETE";
    case Method::kPatch: return "PATCH";
    case Method::kOptions: return "OPTIONS";
    default: return "OTHER";
  }
}

Method ParseMethod(std::string_view name) {
  if (name == "GET") return Method::kGet;
  if (name == "POST") return Method::kPost;
  if (name == "HEAD") return Method::kHead;
  if (name == "PUT") return Method::kPut;
  if (name == "DELETE") return Method::kDelete;
  if (name == "PATCH") return Method::kPatch;
  if (name == "OPTIONS") return Method::kOptions;
  return Method::kOther;
}

absl::Status Router::Add(Method method, std::string_view pattern, Handler handler) {
  if (pattern.empty() || pattern[0] != '/') {
    return absl::InvalidArgumentError(fmt::format("route pattern must start with '/': {}", pattern));
  }
  Route route{method, std::string(pattern), {}, std::move(handler)};
  bool has_capture = false;
  std::string_view rest = pattern.substr(1);
  while (true) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      route.segments.push_back({std::string(seg.substr(1, seg.size() - 2)), true});
      has_capture = true;
    } else if (seg.find_first_of("{}") != std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("malformed capture in pattern: {}", pattern));
    } else {
      route.segments.push_back({std::string(seg), false});
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  size_t captures = 0;
  for (const auto& s : route.segments) captures += s.capture;
  if (captures > kPathParamsMax) {
    return absl::InvalidArgumentError(fmt::format("too many captures in pattern: {}", pattern));
  }
  for (const auto& r : routes_) {
    if (r.method == method && r.pattern == pattern) {
      return absl::InvalidArgumentError(
          fmt::format("duplicate route {} {}", MethodName(method), pattern));
    }
  }
  if (!has_capture) exact_.emplace(ExactKey(method, pattern), routes_.size());
  routes_.push_back(std::move(route));
  return absl::OkStatus();
}

Router& Router::Get(std::string_view pattern, Handler handler) {
  absl::Status s = Add(Method::kGet, pattern, std::move(handler));
  if (!s.ok()) {
    std::cerr << "FATAL: " << s << "\n";
    std::abort();
  }
  return *this;
}

Router& Router::Post(std::string_view pattern, Handler handler) {
  absl::Status s = Add(Method::kPost, pattern, std::move(handler));
  if (!s.ok()) {
    std::cerr << "FATAL: " << s << "\n";
    std::abort();
  }
  return *this;
}

bool Router::Match(const Route& route, std::string_view path, Request* request) {
  if (path.empty() || path[0] != '/') return false;
  std::string_view rest = path.substr(1);
  if (request) request->ClearParams();
  for (size_t i = 0; i < route.segments.size(); ++i) {
    size_t slash = rest.find('/');
    const bool last = i + 1 == route.segments.size();
    if (last != (slash == std::string_view::npos)) return false;
    std::string_view seg = rest.substr(0, slash);
    const Segment& s = route.segments[i];
    if (s.capture) {
      if (seg.empty()) return false;
      if (request) request->AddParam(s.text, seg);
    } else if (seg != s.text) {
      return false;
    }
    if (!last) rest.remove_prefix(slash + 1);
  }
  return true;
}

std::string Router::AllowedMethods(std::string_view path) const {
  std::vector<std::string_view> methods;
  for (const auto& r : routes_) {
    if (Match(r, path, nullptr)) methods.push_back(MethodName(r.method));
  }
  return fmt::format("{}", fmt::join(methods, ", "));
}

void Router::Dispatch(Request& request, Responder responder) const {
  Method m = request.method == Method::kHead ? Method::kGet : request.method;
  if (!exact_.empty()) {
    // Hot path: avoid building a key string for short paths by using a stack buffer.
    char buf[256];
    if (request.path.size() + 1 <= sizeof(buf)) {
      buf[0] = static_cast<char>(m);
      std::memcpy(buf + 1, request.path.data(), request.path.size());
      auto it = exact_.find(absl::string_view(buf, request.path.size() + 1));
      if (it != exact_.end()) {
        routes_[it->second].handler(request, std::move(responder));
        return;
      }
    }
  }
  for (const auto& r : routes_) {
    if (r.method == m && Match(r, request.path, &request)) {
      r.handler(request, std::move(responder));
      return;
    }
  }
  request.ClearParams();
  std::string allowed = AllowedMethods(request.path);
  if (!allowed.empty()) {
    Response resp = JsonError(405, "method_not_allowed",
                              fmt::format("{} is not allowed on {}; allowed: {}",
                                          request.method_name, request.path, allowed));
    resp.headers.emplace_back("Allow", std::move(allowed));
    responder.Send(std::move(resp));
    return;
  }
  responder.Send(JsonError(404, "not_found", fmt::format("no route for {}", request.path)));
}

}  // namespace core::http
