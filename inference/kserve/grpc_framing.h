#pragma once
// gRPC's message framing on HTTP/2 DATA (the "Length-Prefixed-Message" of the gRPC over HTTP/2
// spec): each message is a 1-byte compressed flag, a 4-byte big-endian length, then the message.
// Shared by the nghttp2 clients (the load tool's and the gateway's upstream client).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace inference {

inline constexpr size_t kGrpcPrefixBytes = 5;

// Splits the DATA bytes of one gRPC call into its messages. Bytes may arrive cut anywhere.
// Not thread-safe (one per call, used by the thread that reads the call).
class GrpcMessageReader {
 public:
  enum class Error { kNone, kCompressed, kTooLong };

  explicit GrpcMessageReader(size_t message_bytes_max) : message_bytes_max_(message_bytes_max) {}

  // Calls on_message(data, size) for every message completed by these bytes, in order; false
  // (and nothing more is read) on a compressed message or one longer than message_bytes_max.
  bool Feed(const uint8_t* data, size_t size,
            const std::function<void(const uint8_t*, size_t)>& on_message);

  // Bytes of an unfinished message held back (0 between messages).
  size_t pending() const { return partial_.size(); }
  // Why Feed returned false (kNone until it has).
  Error error() const { return error_; }

 private:
  // Reads whole messages from data; returns the bytes consumed, or -1 when malformed (error_ set).
  ptrdiff_t ReadWhole(const uint8_t* data, size_t size,
                      const std::function<void(const uint8_t*, size_t)>& on_message);

  const size_t message_bytes_max_;
  std::string partial_;
  Error error_ = Error::kNone;
};

// Appends `message` to `out` with its gRPC length prefix (uncompressed).
void AppendGrpcMessage(std::string_view message, std::string* out);

// The request side of one gRPC call, for an HTTP/2 library that pulls a stream's body as it can
// send it (nghttp2's data provider): framed messages waiting to go out, then the half-close.
// Not thread-safe (one per call, used by the thread that drives the call).
class GrpcRequestBody {
 public:
  enum class Read {
    kData,   // bytes were copied (maybe none), more may follow
    kEnd,    // the body is closed and these were its last bytes: end the stream
    kEmpty,  // nothing waits and the body is open: defer until Append or Close
  };

  // Queues `message`, framed (uncompressed).
  void Append(std::string_view message) { AppendGrpcMessage(message, &out_); }
  // No message after those queued: the stream ends once they are read.
  void Close() { closed_ = true; }
  bool closed() const { return closed_; }
  // Copies up to `length` waiting bytes into `buf`, *n of them.
  Read ReadInto(uint8_t* buf, size_t length, size_t* n);

 private:
  std::string out_;  // framed messages not yet read (from sent_)
  size_t sent_ = 0;
  bool closed_ = false;
};

}  // namespace inference
