#pragma once
// Blocking Server-Sent Events client for tests and load generators: POSTs one request, then hands
// out the events of a text/event-stream answer one at a time with their arrival time, so callers
// can check intervals (keep-alives) and read slowly on purpose (back-pressure).
//
// Thread safety: one SseClient per thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace core::http::testing {

struct SseEvent {
  std::string event;  // "" for the default ("message") event
  std::string data;   // data lines joined by '\n'
  std::chrono::steady_clock::time_point at;
};

class SseClient {
 public:
  struct Options {
    int timeout_ms = 10'000;       // connect + response head
    int receive_buffer_bytes = 0;  // SO_RCVBUF when > 0 (small: a slow reader pushes back sooner)
  };
  // Connects to host:port, sends POST `target` with `body` (JSON) and `headers`, reads the head.
  static absl::StatusOr<std::unique_ptr<SseClient>> Post(
      const std::string& host, uint16_t port, std::string_view target, std::string_view body,
      const std::vector<std::pair<std::string, std::string>>& headers, Options options);
  static absl::StatusOr<std::unique_ptr<SseClient>> Post(
      const std::string& host, uint16_t port, std::string_view target, std::string_view body,
      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Post(host, port, target, body, headers, Options{});
  }
  ~SseClient();

  int status() const { return status_; }
  std::string header(const std::string& lower_name) const {
    auto it = headers_.find(lower_name);
    return it == headers_.end() ? "" : it->second;
  }
  // The whole body of a response that is not an event stream (an error answer).
  absl::StatusOr<std::string> ReadBody(int timeout_ms);

  // The next event; nullopt when the stream ended (ended() true) or `timeout_ms` passed.
  std::optional<SseEvent> Next(int timeout_ms);
  bool ended() const { return ended_; }

 private:
  SseClient() = default;
  // Reads more bytes into raw_ (false on close or timeout).
  bool Fill(int timeout_ms);
  // Moves complete chunks of raw_ into decoded_.
  void Decode();

  int fd_ = -1;
  int status_ = 0;
  std::map<std::string, std::string> headers_;
  bool chunked_ = false;
  std::string raw_;      // bytes after the head, not yet de-chunked
  std::string decoded_;  // event-stream text not yet split into events
  bool ended_ = false;
};

}  // namespace core::http::testing
