#!/usr/bin/env bash
# What a new ModelStreamInfer call per generation costs the time to first token: the servers as
# bench/streaming/run.sh starts them, then infer-stream-load (h2 client) with one call per stream and
# with a call per generation (--call-per-generation, how the gateway's SSE endpoint calls its worker),
# directly and through the gateway, and SSE for comparison. ROUNDS rounds, interleaved.
#
#   bench/streaming/call_setup.sh [BUILD_DIR]   (env: STREAMS=32 REQUESTS=60 MAX_TOKENS=64 ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/streaming/servers.sh
REQUESTS=${REQUESTS:-60}
ROUNDS=${ROUNDS:-2}
stream_bench_init "${1:-build}"
stream_servers_start 18750
load() {
  taskset -c 1 "$LOAD" --streams "$STREAMS" --requests "$REQUESTS" --max-tokens "$MAX_TOKENS" "$@" | tail -1
}
load --target "127.0.0.1:$WORKER_GRPC" >/dev/null  # warm-up
for _ in $(seq 1 "$ROUNDS"); do
  echo "direct, a call per stream       $(load --target "127.0.0.1:$WORKER_GRPC")"
  echo "direct, a call per generation   $(load --target "127.0.0.1:$WORKER_GRPC" --call-per-generation)"
  echo "gateway, a call per stream      $(load --target "127.0.0.1:$GATEWAY_GRPC")"
  echo "gateway, a call per generation  $(load --target "127.0.0.1:$GATEWAY_GRPC" --call-per-generation)"
  echo "gateway SSE                     $(load --sse "127.0.0.1:$GATEWAY_HTTP")"
done
