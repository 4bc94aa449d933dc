#!/usr/bin/env bash
# Side-by-side: nginx vs the core HTTP server, one core each, same 32-byte JSON body.
#
#   bench/http_vs_nginx.sh [BUILD_DIR]      (env: DURATION_S=5 ROUNDS=3 CONNECTIONS=64)
#
# Both servers are pinned to core 0 with one worker / one I/O thread; wrk is pinned to core 1 with one
# thread and 64 connections. Runs alternate (nginx, ours, nginx, ours, ...) so drift hits both equally.
# Prints req/s and p99 per run, the medians, and as the last line `ratio: <ours/nginx req/s>` (median of
# the per-round ratios).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
DURATION_S=${DURATION_S:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
SERVER_BIN="$BUILD_DIR/bench/http_bench_server"
[ -x "$SERVER_BIN" ] || { echo "missing $SERVER_BIN: build first (scripts/build.sh)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk missing: run scripts/setup.sh" >&2; exit 2; }
command -v nginx >/dev/null || { echo "nginx missing: run scripts/setup.sh" >&2; exit 2; }

BODY='{"status":"ok","service":"core"}'
TMP=$(mktemp -d)
NGINX_PORT=18480
OURS_PORT=18481
cleanup() {
  [ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  [ -n "${OURS_PID:-}" ] && kill "$OURS_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

cat > "$TMP/nginx.conf" <<NGINX
daemon on;
master_process on;
worker_processes 1;
worker_cpu_affinity 01;
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
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      default_type application/json;
      return 200 '$BODY';
    }
  }
}
NGINX
taskset -c 0 nginx -c "$TMP/nginx.conf" -p "$TMP"
taskset -c 0 "$SERVER_BIN" --port "$OURS_PORT" --io-threads 1 > "$TMP/ours.log" 2>&1 &
OURS_PID=$!

wait_port() {
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$1/" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "server on port $1 did not start" >&2
  exit 1
}
wait_port $NGINX_PORT
wait_port $OURS_PORT
[ "$(curl -s "http://127.0.0.1:$NGINX_PORT/")" = "$BODY" ] || { echo "nginx body mismatch" >&2; exit 1; }
[ "$(curl -s "http://127.0.0.1:$OURS_PORT/")" = "$BODY" ] || { echo "our body mismatch" >&2; exit 1; }

# run PORT -> "rps p99_us"
run() {
  local out
  out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION_S}s" --latency "http://127.0.0.1:$1/")
  local rps p99 errors
  rps=$(awk '/Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [ -n "$errors" ] && echo "  wrk reported: $errors" >&2
  # Normalise p99 to microseconds.
  p99_us=$(awk -v v="$p99" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); print v + 0 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); print v * 1000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000000 }
    else print v }')
  echo "$rps $p99_us"
}

# warm-up
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d1s "http://127.0.0.1:$NGINX_PORT/" >/dev/null
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d1s "http://127.0.0.1:$OURS_PORT/" >/dev/null

ratios=(); nginx_rps=(); ours_rps=(); nginx_p99=(); ours_p99=()
for r in $(seq 1 "$ROUNDS"); do
  read -r n_rps n_p99 < <(run $NGINX_PORT)
  read -r o_rps o_p99 < <(run $OURS_PORT)
  printf 'round %d: nginx %10.0f req/s p99 %7.0f us | ours %10.0f req/s p99 %7.0f us\n' \
    "$r" "$n_rps" "$n_p99" "$o_rps" "$o_p99"
  nginx_rps+=("$n_rps"); ours_rps+=("$o_rps"); nginx_p99+=("$n_p99"); ours_p99+=("$o_p99")
  ratios+=("$(awk -v a="$o_rps" -v b="$n_rps" 'BEGIN { printf "%.3f", a / b }')")
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m_n=$(median "${nginx_rps[@]}"); m_o=$(median "${ours_rps[@]}")
p_n=$(median "${nginx_p99[@]}"); p_o=$(median "${ours_p99[@]}")
printf 'median: nginx %.0f req/s p99 %.0f us | ours %.0f req/s p99 %.0f us\n' "$m_n" "$p_n" "$m_o" "$p_o"
printf 'p99 ratio (ours/nginx): %s\n' "$(awk -v a="$p_o" -v b="$p_n" 'BEGIN { printf "%.3f", a / b }')"
echo "ratio: $(median "${ratios[@]}")"
