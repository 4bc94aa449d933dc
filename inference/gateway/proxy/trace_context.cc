#include "inference/gateway/proxy/trace_context.h"

#include <random>

#include "fmt/format.h"

namespace inference::gateway {
namespace {

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

std::string RandomHex(size_t chars) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  while (out.size() < chars) out.append(fmt::format("{:016x}", rng()));
  out.resize(chars);
  if (AllZero(out)) out.back() = '1';
  return out;
}

}  // namespace

bool IsValidTraceparent(std::string_view h) {
  if (h.size() != 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return false;
  const std::string_view version = h.substr(0, 2), trace = h.substr(3, 32),
                         parent = h.substr(36, 16), flags = h.substr(53, 2);
  return IsHex(version) && version != "ff" && IsHex(trace) && !AllZero(trace) && IsHex(parent) &&
         !AllZero(parent) && IsHex(flags);
}

TraceContext TraceContext::FromHeader(std::string_view header) {
  TraceContext t;
  if (IsValidTraceparent(header)) {
    t.trace_id = std::string(header.substr(3, 32));
    t.flags = std::string(header.substr(53, 2));
    t.continued = true;
  } else {
    t.trace_id = RandomHex(32);
  }
  t.span_id = RandomHex(16);
  return t;
}

std::string TraceContext::Header() const {
  return fmt::format("00-{}-{}-{}", trace_id, span_id, flags);
}

}  // namespace inference::gateway
