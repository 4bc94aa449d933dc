#!/usr/bin/env bash
# The gateway's CPU per streamed token, over whole load runs: starts the servers as
# bench/streaming/run.sh does (worker on core 0, gateway on core 1), runs infer-stream-load through
# the gateway over gRPC and over SSE (load generator on core 1), and divides the gateway's
# utime+stime (/proc/<pid>/stat) by the tokens delivered. Also prints the load generator's own CPU
# per token (/usr/bin/time), direct and through the gateway.
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
  before=$(cpu_ticks "$GATEWAY_PID")
  out=$({ /usr/bin/time -f "client_cpu_s %U %S" taskset -c 1 "$LOAD" "$@" --streams "$STREAMS" \
          --requests "$REQUESTS" --max-tokens "$MAX_TOKENS"; } 2>&1)
  after=$(cpu_ticks "$GATEWAY_PID")
  tokens=$(sed -n 's/.*tokens \([0-9]*\) in.*/\1/p' <<<"$out")
  tps=$(sed -n 's/.*tokens_per_s=\([0-9]*\).*/\1/p' <<<"$out")
  client=$(sed -n 's/^client_cpu_s \([0-9.]*\) \([0-9.]*\)/\1 \2/p' <<<"$out")
  ticks=$(getconf CLK_TCK)
  awk -v n="$name" -v tps="$tps" -v t="$tokens" -v g=$((after - before)) -v hz="$ticks" -v c="$client" 'BEGIN {
    split(c, cc, " ")
    gw = n == "direct-grpc" ? "-" : sprintf("%.2f", g / hz * 1e6 / t)
    printf "%-13s tokens/s=%s gateway_us_per_token=%s client_us_per_token=%.2f\n", n, tps, gw, (cc[1] + cc[2]) * 1e6 / t
  }'
done
