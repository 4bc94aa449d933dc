# Sourced by bench/streaming/*.sh (from the repository root, after `set -euo pipefail`): the binaries,
# the demo models, and the worker + gateway pair every streaming benchmark runs against.
#   stream_bench_init BUILD_DIR [LOAD_BUILD_DIR]   sets WORKER, GATEWAY, LOAD, MODELS_DIR, STREAMS,
#                                                   REQUESTS, MAX_TOKENS; makes the models if missing
#   stream_servers_start PORT_BASE                  worker on core 0 (HTTP PORT_BASE, gRPC +1), gateway
#                                                   on core 1 (HTTP +2, gRPC +3), both ready; sets
#                                                   WORKER_HTTP WORKER_GRPC GATEWAY_HTTP GATEWAY_GRPC
#                                                   WORKER_PID GATEWAY_PID TMP; stopped and TMP
#                                                   removed on exit.
# WORKER_ARGS / GATEWAY_ARGS (env) pass extra flags to the two servers.
# GATEWAY_YAML (env) is appended to the gateway's config, e.g. GATEWAY_YAML="streaming: {sse_upstream:
# grpc}" to measure SSE over the gRPC C++ upstream instead of the default nghttp2 one.
# UPSTREAM (env) is how the gateway reaches the worker's gRPC: `unix` (default) over a Unix socket,
# as the gateway reaches the workers it spawns (its default deployment: workers on its own host), or
# `tcp` over loopback TCP, as it reaches a static worker on another host. Clients always use TCP:
# the direct load reaches the worker on its TCP port, which the worker serves besides the socket.

stream_bench_init() {
  local build_dir=$1 load_dir=${2:-$1}
  STREAMS=${STREAMS:-32}
  REQUESTS=${REQUESTS:-40}
  MAX_TOKENS=${MAX_TOKENS:-64}
  MODELS_DIR=${MODELS_DIR:-models}
  WORKER="$build_dir/inference/infer-worker"
  GATEWAY="$build_dir/inference/gateway/infer-gateway"
  LOAD="$load_dir/inference/infer-stream-load"
  local bin
  for bin in "$WORKER" "$GATEWAY" "$LOAD"; do
    [ -x "$bin" ] || { echo "missing $bin: ninja -C $build_dir infer-worker infer-gateway infer-stream-load" >&2; exit 2; }
  done
  if [ ! -f "$MODELS_DIR/stream-repo/gru_gen/1/MANIFEST.json" ]; then
    echo "making demo models in $MODELS_DIR" >&2
    /usr/bin/python3 scripts/make-models --skip-resnet --out "$MODELS_DIR" >&2
  fi
}

STREAM_PIDS=()
stream_servers_stop() {
  local p
  for p in "${STREAM_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${TMP:-}" ] && rm -rf "$TMP"
}

stream_servers_start() {
  local base=$1
  WORKER_HTTP=$base
  WORKER_GRPC=$((base + 1))
  GATEWAY_HTTP=$((base + 2))
  GATEWAY_GRPC=$((base + 3))
  TMP=$(mktemp -d /tmp/streaming-bench.XXXXXX)
  trap stream_servers_stop EXIT
  local upstream
  case "${UPSTREAM:=unix}" in
    unix) upstream="unix:$TMP/worker.grpc.sock" ;;
    tcp) upstream="127.0.0.1:$WORKER_GRPC" ;;
    *) echo "UPSTREAM=$UPSTREAM: expected unix or tcp" >&2; exit 2 ;;
  esac
  taskset -c 0 "$WORKER" ${WORKER_ARGS:-} --repo "$MODELS_DIR/stream-repo" --host 127.0.0.1 \
    --http-port "$WORKER_HTTP" --grpc-port "$WORKER_GRPC" --grpc-unix-socket "$TMP/worker.grpc.sock" \
    >"$TMP/worker.log" 2>&1 &
  WORKER_PID=$!
  STREAM_PIDS+=($WORKER_PID)
  cat >"$TMP/gateway.yaml" <<YAML
host: 127.0.0.1
http_port: $GATEWAY_HTTP
grpc_port: $GATEWAY_GRPC
workers:
  static: ["127.0.0.1:$WORKER_HTTP"]
  static_grpc: ["$upstream"]
${GATEWAY_YAML:-}
YAML
  taskset -c 1 "$GATEWAY" ${GATEWAY_ARGS:-} --config "$TMP/gateway.yaml" >"$TMP/gateway.log" 2>&1 &
  GATEWAY_PID=$!
  STREAM_PIDS+=($GATEWAY_PID)
  local _
  for _ in $(seq 1 300); do
    stream_ready "$WORKER_HTTP" && stream_ready "$GATEWAY_HTTP" && break
    sleep 0.1
  done
  stream_ready "$WORKER_HTTP" || { echo "worker not ready:"; cat "$TMP/worker.log"; exit 1; }
  stream_ready "$GATEWAY_HTTP" || { echo "gateway not ready:"; cat "$TMP/gateway.log"; exit 1; }
}

stream_ready() { curl -sf -o /dev/null "http://127.0.0.1:$1/v2/health/ready"; }
