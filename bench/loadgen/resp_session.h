// Closed-loop Redis load over RESP on the same asio loop as http_load.h: requests are rendered into
// a reused buffer (optionally several commands = a pipeline), replies are parsed with hiredis'
// reader. Using the same engine for every system keeps the client cost comparable.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "bench/loadgen/closed_loop.h"

namespace loadgen {

// Renders request `seq` (one or more RESP commands) into `*out` (cleared beforehand); returns the
// number of replies to wait for (>= 1). Called on the connection's io thread.
using RespRequestRenderer = std::function<int(uint64_t seq, std::string* out)>;
// Classifies reply `index` (0-based within the request) of request `seq`.
using RespReplyClassifier = std::function<Counts(uint64_t seq, int index, const redisReply& reply)>;

// Appends one command as a RESP array of bulk strings.
void AppendRespCommand(std::string* out, std::span<const std::string_view> args);

struct RespLoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  LoadOptions load;
};

absl::StatusOr<LoadResult> RunRespLoad(const RespLoadOptions& options,
                                       const RespRequestRenderer& render,
                                       const RespReplyClassifier& classify);

}  // namespace loadgen
