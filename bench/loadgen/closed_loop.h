// Closed-loop load: N connections, each sends one request, waits for its response, records the
// latency and sends the next (no pipelining unless a session packs several operations into one
// request). Runs a warm-up, then a measured window, then drains; or a fixed number of requests.
//
// The runner is protocol-agnostic: a Session speaks HTTP (http_load.h), RESP (resp_session.h) or
// anything else, and reports each finished request to its CompletionSink. Threads: the runner
// owns `threads` io_contexts (1 by default: on a small machine the server needs the other cores);
// connections are spread over them, each session lives on exactly one thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/loadgen/histogram.h"

namespace loadgen {

// Outcome of the operations carried by one request (a batch request carries several).
struct Counts {
  uint64_t ok = 0;
  uint64_t rejected = 0;  // a well-formed refusal by the server (e.g. 409 insufficient_stock)
  uint64_t errors = 0;    // transport errors, malformed or unexpected responses
  uint64_t total() const { return ok + rejected + errors; }
  Counts& operator+=(const Counts& o) {
    ok += o.ok;
    rejected += o.rejected;
    errors += o.errors;
    return *this;
  }
};

// Implemented by the runner, one per connection. Called on the session's io thread.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  // Exactly once per Session::Issue. `usable == false` retires the session (broken connection,
  // "Connection: close"): the runner issues nothing more on it; sessions do not reconnect.
  virtual void OnRequestDone(const Counts& ops, bool usable) = 0;
};

// One client connection. All methods are called on the session's io thread.
class Session {
 public:
  virtual ~Session() = default;
  // Opens the connection; calls `done` exactly once (may allocate: not on the measured path).
  virtual void Connect(std::function<void(absl::Status)> done) = 0;
  // Sends request number `seq` (unique across all connections of a run) and reports its result
  // through the sink. Precondition: connected, and the previous request has completed.
  virtual void Issue(uint64_t seq) = 0;
  // Cancels outstanding I/O; the session may still report to its sink once afterwards.
  virtual void Close() = 0;
};

using SessionFactory =
    std::function<std::unique_ptr<Session>(boost::asio::io_context& io, CompletionSink* sink)>;

struct LoadOptions {
  int connections = 64;
  int threads = 1;
  std::chrono::nanoseconds warmup{std::chrono::seconds(1)};
  std::chrono::nanoseconds duration{std::chrono::seconds(5)};
  // > 0: issue exactly this many requests (seq 0..requests_total-1), measure all of them, no
  // warm-up and no duration (used to seed and verify state through the same client).
  uint64_t requests_total = 0;
  // After the window closes, in-flight requests get this long before they count as errors.
  std::chrono::nanoseconds drain_timeout{std::chrono::seconds(10)};
};

struct LoadResult {
  Counts ops;             // operations completed inside the measured window
  uint64_t requests = 0;  // requests completed inside the measured window
  double seconds = 0;     // length of the measured window
  Histogram latency_ns;   // per request, inside the measured window
  int sessions_retired = 0;

  double ops_per_second() const { return seconds > 0 ? ops.total() / seconds : 0; }
  double requests_per_second() const { return seconds > 0 ? requests / seconds : 0; }
};

// Runs the load. Fails (Unavailable) if any connection cannot be opened.
absl::StatusOr<LoadResult> RunClosedLoop(const LoadOptions& options, const SessionFactory& factory);

// "<name> ops/s=... p50_us=... p99_us=... errors=..." (ops/s counts operations, not requests).
std::string FormatSummary(std::string_view name, const LoadResult& result);

}  // namespace loadgen
