#pragma once
// W3C Trace Context (traceparent) for the gateway: "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex
// flags>". An incoming valid header is continued (same trace id and flags, a new parent id for the
// gateway's hop); a missing or invalid one starts a new trace. The trace id is also the request id
// in the gateway's log lines.
//
// Thread safety: values; NewTrace/Continue use a thread-local PRNG.

#include <string>
#include <string_view>

namespace inference::gateway {

struct TraceContext {
  std::string trace_id;  // 32 lower-case hex
  std::string span_id;   // 16 lower-case hex, the gateway's hop
  std::string flags = "01";
  bool continued = false;  // true when taken from a valid incoming header

  // Parses `header` (may be empty) and makes the context for the gateway's hop.
  static TraceContext FromHeader(std::string_view header);
  // The traceparent to send to the worker.
  std::string Header() const;
};

bool IsValidTraceparent(std::string_view header);

}  // namespace inference::gateway
