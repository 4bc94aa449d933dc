#pragma once
// The SSE side of infer-stream-load: every stream of the load is a closed loop of POSTs to the
// gateway's generate_stream endpoint, each answered by a chunked text/event-stream response, on a
// keep-alive HTTP/1.1 connection (or a new connection per POST). One thread drives every stream
// with non-blocking sockets on epoll and feeds the bytes it reads to Beast's response parser. The
// load generator shares a core with the gateway it measures; an Asio client spent most of its CPU
// per token in composed-operation and executor machinery (about 1.2 us per token, against 0.7 us
// for the nghttp2 client in h2_stream_load.h), so that cost lowered the gateway's figure.

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace inference {

// Bytes of HTTP framing (a status line and headers, a chunk header or trailer) held back while
// they are incomplete; more is an error.
inline constexpr size_t kSseUnparsedBytesMax = 64 << 10;

// Reads one HTTP/1.1 response carrying an event stream, from bytes fed as they arrive (cut
// anywhere), and classifies its events: "\n\n"-terminated blocks; one starting "data: " is a token,
// "event: final" marks the generation's last event, "event: error" a failed generation; comments
// (": ...", keep-alives) and other blocks are ignored. A status other than 200 fails the response
// as soon as its header is read. Not thread-safe; not movable (the parser holds a reference to the
// chunk callback).
class SseResponseReader {
 public:
  enum class Progress { kMore, kDone, kFailed };

  // on_token runs inside Feed for every token event, in order.
  SseResponseReader(size_t event_bytes_max, std::function<void()> on_token);
  SseResponseReader(const SseResponseReader&) = delete;
  SseResponseReader& operator=(const SseResponseReader&) = delete;

  // Expects a new response: a fresh parser, events and held-back bytes dropped.
  void Start();
  // Parses these bytes of the response. kDone once it ended with them; kFailed (and nothing more
  // is read until Start) on malformed HTTP, a non-200 status, an event longer than
  // event_bytes_max, framing longer than kSseUnparsedBytesMax, or bytes past the response's end
  // (no request is pipelined, so none may follow it).
  Progress Feed(std::string_view bytes);
  // The connection closed: kDone when that ends the response (no length, no chunking), otherwise
  // kFailed.
  Progress FeedEof();

  bool final_event() const { return final_; }
  bool error_event() const { return error_; }
  // After kDone: whether the server keeps the connection open for the next request.
  bool keep_alive() const { return keep_alive_; }
  // After kFailed: why.
  const std::string& failure() const { return failure_; }

 private:
  using Parser = boost::beast::http::response_parser<boost::beast::http::empty_body>;
  using ChunkCallback =
      std::function<size_t(uint64_t, boost::beast::string_view, boost::beast::error_code&)>;

  size_t OnChunk(std::string_view data, boost::beast::error_code& ec);
  // Classifies the complete blocks at the front of `text`; returns the bytes they take.
  size_t SplitEvents(std::string_view text);
  Progress Fail(std::string why);

  const size_t event_bytes_max_;
  const std::function<void()> on_token_;
  ChunkCallback on_chunk_;  // referenced by parser_
  std::optional<Parser> parser_;
  std::string unparsed_;  // framing bytes the parser needs more of
  std::string events_;    // event-stream text of an unfinished block
  Progress progress_ = Progress::kFailed;
  bool status_checked_ = false;
  bool final_ = false;
  bool error_ = false;
  bool keep_alive_ = false;
  std::string failure_;
};

struct SseStreamLoadOptions {
  std::string host;  // numeric address or name
  uint16_t port = 0;
  std::string target;   // "/v2/models/<model>/generate_stream"
  std::string api_key;  // "Authorization: Bearer <key>" when set
  int streams = 1;
  int requests = 1;
  // A new connection for every POST ("Connection: close"), instead of one keep-alive connection
  // per stream.
  bool new_connection = false;
  size_t event_bytes_max = 4 << 20;  // an unfinished event longer than this fails its stream
  // The JSON body of generation `request` of stream `stream`.
  std::function<std::string(int stream, int request)> make_body;
  // Called (on the calling thread) when a stream stops on a failure, with the reason; optional.
  std::function<void(int stream, std::string_view why)> on_stream_failed;
};

struct SseStreamLoadResult {
  int64_t tokens = 0;  // token events read
  // Generations that failed: an error event or no final event in a complete response (the stream
  // goes on), or a failed connection, malformed HTTP or a status other than 200 (the stream stops:
  // its remaining generations are not run).
  int errors = 0;
  std::vector<double> ttft_ms;  // per generation with a token: request sent -> first token read
};

// Runs the closed loop on the calling thread and returns when every stream has run its requests or
// stopped on a failure. InvalidArgument on bad options or a host that does not resolve; Internal
// when epoll fails. A server that stops answering without closing the connection stalls the run
// (as it would stall a client).
absl::StatusOr<SseStreamLoadResult> RunSseStreamLoad(const SseStreamLoadOptions& options);

}  // namespace inference
