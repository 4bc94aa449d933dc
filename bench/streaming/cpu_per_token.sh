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
BUILD_DIR=${1:-build}
LOAD_DIR=${2:-$BUILD_DIR}
STREAMS=${STREAMS:-32}
REQUESTS=${REQUESTS:-100}
MAX_TOKENS=${MAX_TOKENS:-64}
MODELS_DIR=${MODELS_DIR:-models}
WORKER="$BUILD_DIR/inference/infer-worker"
GATEWAY="$BUILD_DIR/inference/gateway/infer-gateway"
LOAD="$LOAD_DIR/inference/infer-stream-load"
for bin in "$WORKER" "$GATEWAY" "$LOAD"; do
  [ -x "$bin" ] || { echo "missing $bin" >&2; exit 2; }
done
[ -f "$MODELS_DIR/stream-repo/gru_gen/1/MANIFEST.json" ] ||
  /usr/bin/python3 scripts/make-models --skip-resnet --out "$MODELS_DIR" >&2
TMP=$(mktemp -d /tmp/stream-cpu.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
taskset -c 0 "$WORKER" --repo "$MODELS_DIR/stream-repo" --host 127.0.0.1 --http-port 18710 \
  --grpc-port 18711 >"$TMP/worker.log" 2>&1 &
PIDS+=($!)
cat >"$TMP/gateway.yaml" <<YAML
host: 127.0.0.1
http_port: 18712
grpc_port: 18713
workers:
  static: ["127.0.0.1:18710"]
  static_grpc: ["127.0.0.1:18711"]
YAML
taskset -c 1 "$GATEWAY" --config "$TMP/gateway.yaml" >"$TMP/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=($GATEWAY_PID)
for _ in $(seq 1 300); do
  curl -sf -o /dev/null http://127.0.0.1:18710/v2/health/ready &&
    curl -sf -o /dev/null http://127.0.0.1:18712/v2/health/ready && break
  sleep 0.1
done
"$LOAD" --target 127.0.0.1:18713 --streams 4 --requests 2 >/dev/null  # warm-up
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for run in "direct-grpc --target 127.0.0.1:18711" "gateway-grpc --target 127.0.0.1:18713" \
           "gateway-sse --sse 127.0.0.1:18712"; do
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
