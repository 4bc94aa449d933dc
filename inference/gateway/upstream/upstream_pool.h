#pragma once
// UpstreamPool: the gateway's HTTP/1.1 client to its workers, on Boost.Asio + Beast.
//
// One UpstreamTarget per worker address keeps a bounded pool of keep-alive connections
// (connections_per_target_max, idle ones reused last-in first-out so few stay warm). Requests are
// asynchronous: no thread per request, no blocking; the pool runs `threads` I/O threads and a
// connection stays on the thread it was created on. Each request carries its own timeout (a timer
// that closes the connection when it fires).
//
// Failure classification, so the caller can decide about retrying elsewhere:
//   - `reached_worker` is false when no byte of a response arrived and the failure happened while
//     connecting, or because the pool was full: the worker cannot have started the request's work
//     in a way the client could observe, so retrying on another endpoint is safe (inference is
//     idempotent). A reused keep-alive connection that turns out to be closed by the worker is
//     retried once transparently on a fresh connection before anything is reported.
//   - a timeout is DeadlineExceeded with reached_worker = true (the worker may still be running
//   it).
//
// Thread safety: Send() may be called from any thread; `done` runs on a pool I/O thread, exactly
// once. A busy connection holds its target; an idle one is held by its target only, so dropping a
// target frees its idle connections, and the pool closes those of targets that outlive it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/gateway/endpoints/endpoint_set.h"

namespace inference::gateway {

inline constexpr size_t kUpstreamResponseBytesMax = 64 << 20;
inline constexpr int kUpstreamThreadsMax = 64;

struct UpstreamResponse {
  absl::Status status;          // OK when an HTTP response arrived (whatever its status code)
  bool reached_worker = false;  // see the header comment
  int http_status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;
  // The request's bytes, handed back unchanged (success or failure), so a caller that retries on
  // another endpoint needs no copy kept aside.
  std::string request;
};

using UpstreamCallback = std::function<void(UpstreamResponse&&)>;

class UpstreamPool;
namespace upstream_internal {
class Connection;
}

class UpstreamTarget {
 public:
  UpstreamTarget(UpstreamPool* pool, UpstreamAddress address) : pool_(pool), address_(address) {}
  const UpstreamAddress& address() const { return address_; }
  int connections() const;
  // Closes idle connections (the worker went away); busy ones close when they finish.
  void CloseIdle();

 private:
  friend class UpstreamPool;
  friend class upstream_internal::Connection;
  UpstreamPool* const pool_;
  const UpstreamAddress address_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<upstream_internal::Connection>> idle_;
  int connections_ = 0;
};

class UpstreamPool {
 public:
  struct Options {
    int threads = 1;
    int connections_per_target_max = 512;
    size_t response_bytes_max = kUpstreamResponseBytesMax;
  };
  static absl::StatusOr<std::unique_ptr<UpstreamPool>> Create(Options options);
  ~UpstreamPool();

  // Targets may outlive the pool (their idle connections are closed when it goes).
  std::shared_ptr<UpstreamTarget> NewTarget(const UpstreamAddress& address);
  // `request`: a complete HTTP/1.1 request (keep-alive). See the header comment for `done`.
  void Send(const std::shared_ptr<UpstreamTarget>& target, std::string request, int64_t timeout_ms,
            UpstreamCallback done);

  const Options& options() const { return options_; }
  struct Impl;

 private:
  explicit UpstreamPool(Options options);
  void Start(const std::shared_ptr<UpstreamTarget>& target,
             std::shared_ptr<upstream_internal::Connection> conn, std::string request,
             int64_t timeout_ms, UpstreamCallback done, bool retry_stale);
  friend class upstream_internal::Connection;

  const Options options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inference::gateway
