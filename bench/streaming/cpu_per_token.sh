#!/usr/bin/env bash
# CPU per streamed token, over whole load runs: starts the servers as bench/streaming/run.sh does
# (worker on core 0, gateway on core 1), runs infer-stream-load directly and through the gateway over
# gRPC and over SSE (load generator on core 1), and divides each process's utime+stime
# (/proc/<pid>/stat for the worker and the gateway, /usr/bin/time for the load generator) by the
# tokens delivered. Also prints the 2-core budget those costs allow (see docs/benchmarks.md).
#
#   bench/streaming/cpu_per_token.sh [BUILD_DIR] [LOAD_BUILD_DIR]
#     (env: STREAMS=32 REQUESTS=100 MAX_TOKENS=64 MODELS_DIR=models)
# LOAD_BUILD_DIR (default BUILD_DIR) picks the infer-stream-load binary, so two builds can be
# compared with the same client.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/streaming/servers.sh
REQUESTS=${REQUESTS:-100}
stream_bench_init "${1:-build}" "${2:-}"
stream_servers_start 18710
"$LOAD" --target "127.0.0.1:$GATEWAY_GRPC" --streams 4 --requests 2 >/dev/null  # warm-up
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for run in "direct-grpc --target 127.0.0.1:$WORKER_GRPC" "gateway-grpc --target 127.0.0.1:$GATEWAY_GRPC" \
           "gateway-sse --sse 127.0.0.1:$GATEWAY_HTTP"; do
  set -- $run
  name=$1; shift
  gw_before=$(cpu_ticks "$GATEWAY_PID")
  wk_before=$(cpu_ticks "$WORKER_PID")
  out=$({ /usr/bin/time -f "client_cpu_s %U %S" taskset -c 1 "$LOAD" "$@" --streams "$STREAMS" \
          --requests "$REQUESTS" --max-tokens "$MAX_TOKENS"; } 2>&1)
  gw=$(( $(cpu_ticks "$GATEWAY_PID") - gw_before ))
  wk=$(( $(cpu_ticks "$WORKER_PID") - wk_before ))
  tokens=$(sed -n 's/.*tokens \([0-9]*\) in.*/\1/p' <<<"$out")
  tps=$(sed -n 's/.*tokens_per_s=\([0-9]*\).*/\1/p' <<<"$out")
  client=$(sed -n 's/^client_cpu_s \([0-9.]*\) \([0-9.]*\)/\1 \2/p' <<<"$out")
  ticks=$(getconf CLK_TCK)
  # Budget: the worker has core 0, the gateway and the client share core 1, so tokens/s is at most
  # min(1 / worker, 1 / (gateway + client)); with no pinning at all, 2 / (worker + gateway + client).
  awk -v n="$name" -v tps="$tps" -v t="$tokens" -v g="$gw" -v w="$wk" -v hz="$ticks" -v c="$client" 'BEGIN {
    split(c, cc, " ")
    wu = w / hz * 1e6 / t; gu = g / hz * 1e6 / t; cu = (cc[1] + cc[2]) * 1e6 / t
    if (n == "direct-grpc") gu = 0
    pinned = 1e6 / (wu > gu + cu ? wu : gu + cu); pooled = 2e6 / (wu + gu + cu)
    printf "%-13s tokens/s=%s worker_us_per_token=%.2f gateway_us_per_token=%s client_us_per_token=%.2f budget_pinned=%.0f budget_2cores=%.0f\n",
      n, tps, wu, n == "direct-grpc" ? "-" : sprintf("%.2f", gu), cu, pinned, pooled
  }'
done
