#!/usr/bin/env bash
# Streaming through the gateway, side by side in one run: the same infer-worker (gru_gen, the demo
# GRU character generator, streamed token by token) reached
#   (a) directly over gRPC ModelStreamInfer,
#   (b) through infer-gateway over gRPC ModelStreamInfer,
#   (c) through infer-gateway over SSE (POST /v2/models/gru_gen/generate_stream),
# with the same load: infer-stream-load, STREAMS concurrent streams (default 32), each running
# REQUESTS generations of MAX_TOKENS tokens one after the other.
#
#   bench/streaming/run.sh [BUILD_DIR]   (env: WORKER_ARGS="" GATEWAY_ARGS="" STREAMS=32 REQUESTS=40 MAX_TOKENS=64 MODELS_DIR=models
#                                         ROUNDS=3 UPSTREAM=unix|tcp CLIENT=h2|grpc)
#
# UPSTREAM (bench/streaming/servers.sh): the gateway reaches the worker over a Unix socket by
# default, as it reaches the workers it spawns; UPSTREAM=tcp measures a worker on loopback TCP.
#
# CLIENT: the load generator's gRPC client (infer-stream-load --client): h2 (nghttp2, the default)
# or grpc (gRPC C++, about five times its CPU per token on the core it shares with the gateway).
#
# Pinning (2 cores), as bench/gateway/run.sh: the worker on core 0; the gateway and the load
# generator on core 1 (in the direct runs the load generator has core 1 to itself).
# Each configuration runs ROUNDS times, interleaved (a b c a b c ...), and the best round of each
# counts, so a noisy neighbour on these 2-core machines hurts all three alike. Prints tokens/s and
# time-to-first-token p50 per configuration, the ratios, and last `ratio: <gateway tokens/s / direct
# tokens/s>` for the slower of the two gateway paths.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/streaming/servers.sh
ROUNDS=${ROUNDS:-3}
stream_bench_init "${1:-build}"
stream_servers_start 18700

load() {
  taskset -c 1 "$LOAD" --streams "$STREAMS" --requests "$REQUESTS" --max-tokens "$MAX_TOKENS" "$@" | tail -1
}
# Warm-up (connections, the model's first runs).
"$LOAD" --target "127.0.0.1:$WORKER_GRPC" --streams 4 --requests 2 >/dev/null
"$LOAD" --target "127.0.0.1:$GATEWAY_GRPC" --streams 4 --requests 2 >/dev/null
"$LOAD" --sse "127.0.0.1:$GATEWAY_HTTP" --streams 4 --requests 2 >/dev/null

declare -A BEST_TPS BEST_TTFT
field() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$2"; }
run() {  # name, load args...
  local name=$1; shift
  local line errors tps ttft
  line=$(load "$@")
  errors=$(field errors "$line")
  [ "$errors" = "0" ] || { echo "$name: $errors errors ($line)" >&2; exit 1; }
  tps=$(field tokens_per_s "$line")
  ttft=$(field ttft_p50_ms "$line")
  printf '  round %-14s %10.0f tokens/s  TTFT p50 %7.3f ms\n' "$name" "$tps" "$ttft"
  if [ -z "${BEST_TPS[$name]:-}" ] || awk -v a="$tps" -v b="${BEST_TPS[$name]}" 'BEGIN{exit !(a>b)}'; then
    BEST_TPS[$name]=$tps
  fi
  if [ -z "${BEST_TTFT[$name]:-}" ] || awk -v a="$ttft" -v b="${BEST_TTFT[$name]}" 'BEGIN{exit !(a<b)}'; then
    BEST_TTFT[$name]=$ttft
  fi
}
echo "streaming: $STREAMS streams x $REQUESTS generations x $MAX_TOKENS tokens, gru_gen, $ROUNDS rounds, gateway upstream $UPSTREAM, gRPC client ${CLIENT:-h2}"
for _ in $(seq 1 "$ROUNDS"); do
  run direct-grpc --client "${CLIENT:-h2}" --target "127.0.0.1:$WORKER_GRPC"
  run gateway-grpc --client "${CLIENT:-h2}" --target "127.0.0.1:$GATEWAY_GRPC"
  run gateway-sse --sse "127.0.0.1:$GATEWAY_HTTP"
done
echo "best of $ROUNDS:"
for name in direct-grpc gateway-grpc gateway-sse; do
  printf '%-14s %10.0f tokens/s  TTFT p50 %7.3f ms\n' "$name" "${BEST_TPS[$name]}" "${BEST_TTFT[$name]}"
done
awk -v d="${BEST_TPS[direct-grpc]}" -v g="${BEST_TPS[gateway-grpc]}" -v s="${BEST_TPS[gateway-sse]}" \
    -v td="${BEST_TTFT[direct-grpc]}" -v tg="${BEST_TTFT[gateway-grpc]}" -v ts="${BEST_TTFT[gateway-sse]}" 'BEGIN {
  printf "ratio gateway-grpc / direct: %.3f (TTFT p50 %+.3f ms)\n", g / d, tg - td
  printf "ratio gateway-sse  / direct: %.3f (TTFT p50 %+.3f ms)\n", s / d, ts - td
  m = g < s ? g : s
  printf "ratio: %.3f\n", m / d
}'
