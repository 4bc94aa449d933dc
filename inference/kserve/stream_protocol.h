#pragma once
// Names of the ModelStreamInfer protocol that the worker, the gateway and the load tool share. A
// header of constants only, so the tool and the gateway need not include the worker's stream reactor.

namespace inference {

// The full gRPC method name of the bidirectional streaming call.
inline constexpr char kModelStreamInferMethod[] = "/inference.GRPCInferenceService/ModelStreamInfer";
// The response parameter (bool) that marks the last response of a request on a stream.
inline constexpr char kFinalResponseParameter[] = "triton_final_response";
// Output name of generated tokens.
inline constexpr char kGeneratedTokenOutput[] = "token";

}  // namespace inference
