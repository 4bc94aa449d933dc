#pragma once
// Router: maps (method, path) to a handler. Patterns are literal segments and `{name}` captures, e.g.
// "/v2/models/{model}/versions/{version}/infer". Routes are registered before the server starts and are
// read-only afterwards, so Dispatch is lock-free and safe from every I/O thread.
//
// Matching: exact (capture-free) paths through a hash map first, then patterns in registration order.
// A path that matches with another method answers 405 with an Allow header; no match answers 404.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "core/http/request.h"
#include "core/http/responder.h"

namespace core::http {

using Handler = std::function<void(Request& request, Responder responder)>;

class Router {
 public:
  // Fails (InvalidArgument) on a malformed pattern or a duplicate (method, pattern).
  absl::Status Add(Method method, std::string_view pattern, Handler handler);
  // Convenience for start-up code: CHECK-fails on error (patterns are constants in our code).
  Router& Get(std::string_view pattern, Handler handler);
  Router& Post(std::string_view pattern, Handler handler);

  // Calls the matching handler (filling request.param()) or answers 404/405 itself.
  void Dispatch(Request& request, Responder responder) const;

 private:
  struct Segment {
    std::string text;  // literal text, or the capture name
    bool capture = false;
  };
  struct Route {
    Method method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };
  static bool Match(const Route& route, std::string_view path, Request* request);
  std::string AllowedMethods(std::string_view path) const;

  std::vector<Route> routes_;
  // key: method byte + path, for capture-free patterns.
  absl::flat_hash_map<std::string, size_t> exact_;
};

std::string_view MethodName(Method m);
Method ParseMethod(std::string_view name);

}  // namespace core::http
