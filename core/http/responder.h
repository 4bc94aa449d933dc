#pragma once
// Responder: the handle a handler uses to answer one request, now or later, from any thread.
//
// Contract:
//  - Exactly one of Send() / StartSse() is called, once. A Responder destroyed without either
//    sends a 500, so a client is never left hanging by a handler bug.
//  - Send() may be called from any thread. On the connection's I/O thread the response is
//    written at once; from another thread it is posted to the I/O thread (the Response is moved,
//    never copied).
//  - The request's views (see request.h) stay valid until Send() is called or, after StartSse(),
//    until the stream is closed (a keep-alive connection then reads its next request into the
//    same buffer).

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "core/http/response.h"

namespace core::http {

// An open Server-Sent Events stream (text/event-stream). Thread-safe: any thread may call its
// methods. Writes are buffered up to a bound; Send() returns false (and writes nothing) when the
// buffer is full or the client has gone, so a producer can apply back-pressure instead of growing
// memory without bound.
class SseStream {
 public:
  virtual ~SseStream() = default;
  // Queues one event: "event: <event>\n" (when non-empty) then one "data: " line per line of
  // `data`.
  virtual bool Send(std::string_view data, std::string_view event = {}) = 0;
  // Queues an SSE comment line (": <text>"), e.g. a keep-alive.
  virtual bool SendComment(std::string_view text) = 0;
  // Ends the stream (terminating chunk); a keep-alive connection then serves its next request.
  virtual void Close() = 0;
  virtual bool closed() const = 0;  // true once closed by us or by the client
  virtual size_t buffered_bytes() const = 0;
  // Called (on the I/O thread) whenever the buffer drains to zero, and once when the stream closes.
  virtual void SetOnDrain(std::function<void()> on_drain) = 0;
};

class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  virtual void SendResponse(Response&& response) = 0;
  virtual std::shared_ptr<SseStream> StartSse(Response&& head) = 0;
};

class Responder {
 public:
  Responder() = default;
  explicit Responder(std::shared_ptr<ResponseSink> sink) : sink_(std::move(sink)) {}
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&& other) noexcept {
    if (this != &other) {
      Abandon();
      sink_ = std::move(other.sink_);
    }
    return *this;
  }
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder() { Abandon(); }

  void Send(Response&& response) {
    if (auto sink = std::move(sink_)) sink->SendResponse(std::move(response));
  }
  // Starts an SSE response; `head` may carry extra headers (its body is ignored).
  std::shared_ptr<SseStream> StartSse(Response&& head = Response()) {
    if (auto sink = std::move(sink_)) return sink->StartSse(std::move(head));
    return nullptr;
  }
  bool pending() const { return sink_ != nullptr; }

 private:
  void Abandon();
  std::shared_ptr<ResponseSink> sink_;
};

}  // namespace core::http
