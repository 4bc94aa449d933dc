#!/usr/bin/env bash
# Sets up the machine, builds (Release) and starts the services on embedded defaults (no external server):
#   stockd       inventory reservation service, journal under ./data/stockd   (HTTP :8080, gRPC :9090)
#   infer-gateway the inference gateway (HTTP :8000) with two supervised infer-worker processes on
#                the demo model repository ./models/repo (built by scripts/make-models on first run)
# Services whose binaries are not part of this build are skipped. Ctrl-C stops everything gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release

pids=()
stop() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

if [ -x build/inventory/stockd ]; then
  mkdir -p data/stockd
  build/inventory/stockd --data-dir data/stockd --http-port "${STOCKD_HTTP_PORT:-8080}" \
    --grpc-port "${STOCKD_GRPC_PORT:-9090}" &
  pids+=($!)
  echo "stockd: try  curl -s -XPOST localhost:${STOCKD_HTTP_PORT:-8080}/v1/skus/apple/adjust -d '{\"delta\":10,\"op_id\":\"seed-1\"}'"
fi

if [ -x build/inference/infer-worker ] && [ -x build/inference/gateway/infer-gateway ]; then
  [ -d models/repo ] || /usr/bin/python3 scripts/make-models --out models
  port=${GATEWAY_HTTP_PORT:-8000}
  build/inference/gateway/infer-gateway --worker-binary build/inference/infer-worker \
    --repo models/repo --workers 2 --http-port "$port" &
  pids+=($!)
  # One MLP row (64 features) as a KServe v2 REST request.
  data=$(seq -s, 0.01 0.01 0.64)
  echo "infer-gateway: try  curl -s localhost:$port/v2/models/mlp/infer -H 'X-QoS-Level: gold'" \
    "-d '{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,64],\"data\":[$data]}]}'"
fi

if [ ${#pids[@]} -eq 0 ]; then
  echo "no service binaries in this build yet; starting the core HTTP demo server on :8080"
  build/bench/http_bench_server --port 8080 &
  pids+=($!)
  echo "try  curl -s localhost:8080/"
fi
echo "running; Ctrl-C to stop"
wait -n "${pids[@]}" || true
