#pragma once
// ModelStreamInfer: the KServe/Triton bidirectional streaming extension, one reactor per stream.
//
// Every request read from the stream is handled by the kind of its model (config `kind`):
//  - stateless: one inference, one response (like ModelInfer, without the unary round trip).
//  - sequence:  a chunk of a stateful sequence. Parameters `sequence_id` (int64/uint64 or a
//               non-empty string), `sequence_start`, `sequence_end` (bool). The recurrent state
//               lives in the SequenceTable between chunks and is fed to the model's state input;
//               chunks of different sequences batch together (the states stacked along the batch
//               dimension by the dynamic batcher). Chunks of one sequence run one at a time, in
//               the order the stream sent them (a chunk waits in the stream while the previous one
//               of its sequence runs). One response per chunk.
//  - generator: a prompt (the token input, INT64 [n]) and `max_tokens`; the worker runs the
//               model's step greedily (argmax) and streams one response per generated token (output
//               `token`, INT64 [1]); the last carries the parameter `triton_final_response: true`.
//
// Errors: a bad request gets a response whose `error_message` is "<CODE>: <message>" (e.g.
// "INVALID_ARGUMENT: sequence_id 7: unknown sequence ...") with `infer_response` carrying the
// request's id, model name and sequence_id, and the stream stays open. The stream itself ends with
// OK when the client half-closes and everything was answered, or CANCELLED.
//
// Flow control (config `streaming.window`, per stream): the reactor stops reading when `window`
// requests are unanswered or `window` responses are queued; a generator submits its next step only
// while fewer than `window` responses are queued. One write is in flight at a time, so a slow
// reader holds at most ~2 x window responses in the worker, and the client's sends block in gRPC's
// HTTP/2 flow control.

#include <grpcpp/grpcpp.h>

#include "core/clock/clock.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "inference/kserve/stream_protocol.h"
#include "inference/repository/model_manager.h"

namespace inference {

class SequenceTables;

// Default window for a stream that has not used a model yet (the first model's config then rules).
inline constexpr size_t kStreamWindowDefault = 16;
// Default max_tokens of a generation request without the parameter.
inline constexpr int kMaxTokensDefault = 16;

// Creates the reactor of one ModelStreamInfer call; it deletes itself in OnDone().
grpc::ServerBidiReactor<ModelInferRequest, ModelStreamInferResponse>* NewStreamReactor(
    grpc::CallbackServerContext* ctx, ModelManager* manager, SequenceTables* sequences,
    core::Clock* clock);

}  // namespace inference
