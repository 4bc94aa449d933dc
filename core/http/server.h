#pragma once
// HttpServer: an HTTP/1.1 server on Boost.Asio with Beast's parser, built for throughput on few
// cores.
//
// Model: N I/O threads, each running its own io_context; one acceptor hands connections round-robin
// to them, and a connection lives on one thread for its whole life (no locks on the request path).
// Requests are parsed in place (zero-copy, see request.h), dispatched to the Router, and answered
// through a Responder that may complete on any thread. Keep-alive and pipelining are supported;
// responses on one connection are sent in request order (a connection handles one request at a
// time).
//
// Limits (each answered with a JSON error body, then the connection is closed):
//   header_bytes_max -> 431, body_bytes_max -> 413, connections_max -> 503,
//   read_timeout_ms (a started request not complete in time; slow-loris) -> 408,
//   idle_timeout_ms (keep-alive connection with no request) -> closed silently,
//   malformed request -> 400.
//
// TLS: with tls_cert_file and tls_key_file set (PEM), every connection is TLS (Asio's OpenSSL
// stream, handshake bounded by read_timeout_ms); Create() loads and checks both files. Without them
// the plain path is unchanged (one null check per I/O call).
//
// Shutdown(): stops accepting, lets in-flight requests finish (up to the grace period), closes idle
// connections, then stops the I/O threads. Thread safety: Start/Shutdown from one controlling
// thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/http/router.h"

namespace core::http {

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 0;             // 0: pick a free port (see HttpServer::port())
  std::string unix_socket_path;  // when set, listen on this Unix socket instead of TCP
  int io_threads = 1;
  size_t header_bytes_max = 16 * 1024;
  size_t body_bytes_max = 4 * 1024 * 1024;
  int connections_max = 10000;
  int idle_timeout_ms = 60000;
  int read_timeout_ms = 10000;
  int shutdown_grace_ms = 10000;
  size_t sse_buffer_bytes_max = 1 << 20;  // per SSE stream
  // An I/O thread of a SCHED_BATCH process switches itself to SCHED_OTHER while it has an SSE
  // stream open, and back once it has had none for sse_preempt_linger_ms. Under SCHED_BATCH a
  // woken thread does not preempt, so each event handed to the I/O thread waited for the running
  // thread's slice (200-700 us at 32 streams, docs/benchmarks.md); unary traffic, which batches
  // better without preemption, keeps the process policy. 0 disables the switch.
  int sse_preempt_linger_ms = 1000;
  // The thread that sends an SSE stream's first event writes it to the socket itself when the
  // I/O thread has nothing to write for the stream (non-blocking; what the socket does not take,
  // the I/O thread writes), so the time to first event includes no hand-off to a busy I/O thread.
  // Later events go through the I/O thread, which coalesces them. Plaintext only (TLS state
  // belongs to the I/O thread).
  bool sse_direct_first_event = true;
  int backlog = 1024;
  std::string tls_cert_file;  // PEM certificate chain; with tls_key_file: serve HTTPS
  std::string tls_key_file;   // PEM private key
};

class HttpServer {
 public:
  // Validates options (InvalidArgument naming the field; for TLS, also unreadable, malformed or
  // mismatched certificate/key files). `router` must outlive the server.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(ServerOptions options,
                                                            const Router* router);
  ~HttpServer();

  // Binds and starts the I/O threads. Unavailable when the address cannot be bound.
  absl::Status Start();
  uint16_t port() const { return bound_port_; }
  // Graceful stop; idempotent. Returns once every I/O thread has exited.
  void Shutdown();

  int connections() const;

  struct Impl;
  struct Tls;

 private:
  HttpServer(ServerOptions options, const Router* router);
  ServerOptions options_;
  const Router* router_;
  uint16_t bound_port_ = 0;
  std::shared_ptr<Tls> tls_;  // null: plain TCP
  std::unique_ptr<Impl> impl_;
};

}  // namespace core::http
