#!/usr/bin/env bash
# The gateway's cost, side by side: the same infer-worker (MLP, REST, batch-1 JSON requests) reached
# (a) directly, (b) through infer-gateway, (c) through nginx as a reverse proxy with keep-alive
# upstreams. Load: infer_load (bench/loadgen http_load), concurrency 64.
#
#   bench/gateway/run.sh [BUILD_DIR]     (env: DURATION_S=10 WARMUP_S=2 CONCURRENCY=64 MODELS_DIR=models
#                                         ROUNDS=3)
#
# Pinning (2 cores): the worker on core 0; the proxy (gateway: 1 downstream + 1 upstream I/O thread;
# nginx: 1 worker process) and the load generator on core 1. Each round runs direct, gateway, nginx
# one after the other and prints req/s, p50, p99 per run and the round's gateway/nginx ratio (a pair
# run seconds apart, so a noisy moment on a shared machine hits both), with the CPU the proxy and
# the worker spent per request (from /proc/PID/stat; proxy_cpu is the proxy's share of a core).
# Last line `ratio: <gateway req/s / nginx req/s>`, the median over ROUNDS rounds.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${1:-build}
DURATION_S=${DURATION_S:-10}
WARMUP_S=${WARMUP_S:-2}
CONCURRENCY=${CONCURRENCY:-64}
ROUNDS=${ROUNDS:-3}
MODELS_DIR=${MODELS_DIR:-models}
WORKER="$BUILD_DIR/inference/infer-worker"
GATEWAY="$BUILD_DIR/inference/gateway/infer-gateway"
LOAD="$BUILD_DIR/bench/infer_load"
for bin in "$WORKER" "$GATEWAY" "$LOAD"; do
  [ -x "$bin" ] || { echo "missing $bin: ninja -C $BUILD_DIR infer-worker infer-gateway infer_load" >&2; exit 2; }
done
command -v nginx >/dev/null || { echo "nginx missing: run scripts/setup.sh" >&2; exit 2; }
if [ ! -f "$MODELS_DIR/repo/mlp/1/model.pt" ] || [ ! -f "$MODELS_DIR/reference/mlp.json" ]; then
  echo "making demo models in $MODELS_DIR" >&2
  /usr/bin/python3 scripts/make-models --skip-resnet --out "$MODELS_DIR" >&2
fi

TMP=$(mktemp -d /tmp/gateway-bench.XXXXXX)
WORKER_PORT=18600
GATEWAY_PORT=18601
NGINX_PORT=18602
PIDS=()
cleanup() {
  [ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$TMP/repo"
cp -r "$MODELS_DIR/repo/mlp" "$TMP/repo/"
taskset -c 0 "$WORKER" --repo "$TMP/repo" --host 127.0.0.1 --http-port "$WORKER_PORT" --grpc-port -1 \
  --http-threads 1 >"$TMP/worker.log" 2>&1 &
PIDS+=($!)

cat >"$TMP/gateway.yaml" <<YAML
host: 127.0.0.1
http_port: $GATEWAY_PORT
io_threads: 1
upstream_threads: 1
workers: {static: ["127.0.0.1:$WORKER_PORT"]}
qos: {inflight_per_endpoint_max: 1024}
YAML
taskset -c 1 "$GATEWAY" --config "$TMP/gateway.yaml" >"$TMP/gateway.log" 2>&1 &
PIDS+=($!)

cat >"$TMP/nginx.conf" <<NGINX
daemon on;
master_process on;
worker_processes 1;
worker_cpu_affinity 10;
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 65s;
  client_body_temp_path $TMP/body;
  proxy_temp_path $TMP/proxy;
  fastcgi_temp_path $TMP/fastcgi;
  uwsgi_temp_path $TMP/uwsgi;
  scgi_temp_path $TMP/scgi;
  upstream worker {
    server 127.0.0.1:$WORKER_PORT;
    keepalive 128;
    keepalive_requests 100000000;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://worker;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
}
NGINX
nginx -c "$TMP/nginx.conf" -p "$TMP"

echo "# $(date -u +%FT%TZ) $(nproc) cores, load average$(uptime | sed 's/.*load average://')"
declare -A REQ PROXY_PID
PROXY_PID[direct]=""
PROXY_PID[gateway]=${PIDS[1]}
PROXY_PID[nginx]=$(pgrep -P "$(cat "$TMP/nginx.pid")" | head -1)
TICKS_PER_S=$(getconf CLK_TCK)
cpu_ticks() {  # user + system clock ticks of a process (all its threads); 0 without one
  if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
    sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
  else
    echo 0
  fi
}
run() {  # run NAME PORT
  local out pid=${PROXY_PID[$1]} t0 t1 w0 w1 s0 s1
  t0=$(cpu_ticks "$pid"); w0=$(cpu_ticks "${PIDS[0]}"); s0=$(date +%s.%N)
  out=$(taskset -c 1 "$LOAD" --protocol rest --port "$2" --model mlp \
    --reference-dir "$MODELS_DIR/reference" --concurrency "$CONCURRENCY" --duration-s "$DURATION_S" \
    --warmup-s "$WARMUP_S" --wait-ready-s 60 --name "$1" </dev/null)
  t1=$(cpu_ticks "$pid"); w1=$(cpu_ticks "${PIDS[0]}"); s1=$(date +%s.%N)
  REQ[$1]=$(sed -n 's/.* req\/s=\([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  # CPU per request over the whole run (warm-up included; the rate is steady): the proxy's and the
  # worker's, so a proxy that wins only by taking a larger share of its core shows up.
  echo "$out $(awk -v t="$((t1 - t0))" -v w="$((w1 - w0))" -v hz="$TICKS_PER_S" -v s0="$s0" -v s1="$s1" \
    -v r="${REQ[$1]:-0}" 'BEGIN { s = s1 - s0; if (r > 0 && s > 0) printf "proxy_cpu=%.2f proxy_us_per_req=%.2f worker_us_per_req=%.2f", t / hz / s, t / hz / s * 1e6 / r, w / hz / s * 1e6 / r }')"
}
RATIOS=()
for round in $(seq 1 "$ROUNDS"); do
  echo "## round $round of $ROUNDS"
  run direct "$WORKER_PORT"
  run gateway "$GATEWAY_PORT"
  run nginx "$NGINX_PORT"
  r=$(awk -v g="${REQ[gateway]:-0}" -v n="${REQ[nginx]:-0}" 'BEGIN { if (n > 0) printf "%.3f", g / n; else print "0" }')
  echo "round $round gateway/nginx: $r"
  RATIOS+=("$r")
done
echo "gateway/nginx per round: ${RATIOS[*]}"
printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "ratio: %.3f\n", v[int((NR + 1) / 2)] }'
