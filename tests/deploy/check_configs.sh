#!/usr/bin/env bash
# Starts each binary with its example config from deploy/ (ports, data and runtime paths redirected
# to a temp dir by flags, which win over the file), waits for the ready file, then stops it with
# SIGTERM and expects exit 0. Also checks that a misspelt key is refused at start-up.
#   check_configs.sh <source dir> <stockd> <infer-gateway>
set -euo pipefail
src=$1 stockd=$2 gateway=$3
tmp=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

wait_ready() {  # pid file
  for _ in $(seq 1 200); do
    [ -s "$2" ] && return 0
    kill -0 "$1" 2>/dev/null || { echo "FAIL: process exited before ready"; return 1; }
    sleep 0.05
  done
  echo "FAIL: no ready file $2"; return 1
}
stop_ok() {  # pid name
  kill -TERM "$1"
  local rc=0
  wait "$1" || rc=$?
  [ "$rc" -eq 0 ] || { echo "FAIL: $2 exited $rc on SIGTERM"; return 1; }
  echo "ok: $2 started with its deploy config and stopped cleanly"
}

"$stockd" --config "$src/deploy/stockd.yaml" --data-dir "$tmp/journal" --http-port 0 --grpc-port 0 \
  --ready-file "$tmp/stockd.json" &
pid=$!
wait_ready "$pid" "$tmp/stockd.json"
stop_ok "$pid" stockd

sed "s|runtime_dir: .*|runtime_dir: $tmp/run|" "$src/deploy/gateway.yaml" > "$tmp/gateway.yaml"
"$gateway" --config "$tmp/gateway.yaml" --http-port 0 --worker 127.0.0.1:9 \
  --routing "$src/deploy/routing.yaml" --ready-file "$tmp/gateway.json" &
pid=$!
wait_ready "$pid" "$tmp/gateway.json"
stop_ok "$pid" infer-gateway

printf 'journal:\n  fsyncc: always\n' > "$tmp/bad.yaml"
if "$stockd" --config "$tmp/bad.yaml" --data-dir "$tmp/j2" > "$tmp/err" 2>&1; then
  echo "FAIL: stockd accepted a misspelt key"; exit 1
fi
grep -q "fsyncc" "$tmp/err" || { echo "FAIL: stockd error does not name the key:"; cat "$tmp/err"; exit 1; }
printf 'qos: {bronze_shed_att: 0.5}\n' > "$tmp/bad.yaml"
if "$gateway" --config "$tmp/bad.yaml" --worker 127.0.0.1:9 > "$tmp/err" 2>&1; then
  echo "FAIL: infer-gateway accepted a misspelt key"; exit 1
fi
grep -q "bronze_shed_att" "$tmp/err" || { echo "FAIL: gateway error does not name the key:"; cat "$tmp/err"; exit 1; }
echo "ok: misspelt keys refused with the key named"
