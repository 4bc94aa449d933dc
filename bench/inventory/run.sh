#!/usr/bin/env bash
# Side-by-side inventory reservations: stockd (durable group commit) vs Redis 7 + Lua (appendonly,
# appendfsync everysec) vs PostgreSQL 15 (fsync on, synchronous_commit on).
#
#   bench/inventory/run.sh [BUILD_DIR]   (env: STOCKD_ARGS="" PEERS_SCHEDULER=other DURATION_S=5 WARMUP_S=1 CONNECTIONS=64 BATCH=64
#                                         SKUS=100000 WORKLOADS="hot uniform" TARGETS="..." ROUNDS=3
#                                         LARGE_BATCH=1024 LARGE_TARGETS="...")
#
# Every server is pinned to core 0 and the load generator (inventory_load, one io thread) to core 1,
# like bench/http_vs_nginx.sh. Same 64 connections for all; the batch targets (stockd /v1/batch
# over HTTP, stockd Batch over gRPC) and "pipelined" (Redis) carry BATCH reservations per request.
# "-compact" stockd targets ask for the failures-only reply ("results":"failures" /
# BATCH_RESULTS_FAILURES: every op applied and journalled alike, only failed ops listed). Then the
# hot SKU once more with LARGE_BATCH reservations per request for LARGE_TARGETS (the batch-path
# acceptance figure; LARGE_BATCH=0 skips it). Each run seeds its own stock, verifies afterwards that
# nothing was oversold and prints
#   <name> ops/s=... p50_us=... p99_us=... errors=... oversold=... (ops = reservations)
# then the ratios; the LAST line is `ratio: <stockd single-op / redis-lua single-op, hot SKU>`, the
# median over ROUNDS alternating stockd / Redis pairs (the first pair is the main table's run), so
# one noisy moment on a shared machine does not decide it.
# All servers listen on loopback, non-default ports, with data under one temp dir removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${1:-build}
DURATION_S=${DURATION_S:-5}
WARMUP_S=${WARMUP_S:-1}
CONNECTIONS=${CONNECTIONS:-64}
BATCH=${BATCH:-64}
SKUS=${SKUS:-100000}
ROUNDS=${ROUNDS:-3}
WORKLOADS=${WORKLOADS:-hot uniform}
TARGETS=${TARGETS:-stockd-http stockd-batch stockd-batch-compact stockd-grpc-batch stockd-grpc-batch-compact redis-lua redis-lua-pipelined postgres}
LARGE_BATCH=${LARGE_BATCH:-1024}
LARGE_TARGETS=${LARGE_TARGETS:-stockd-batch stockd-batch-compact stockd-grpc-batch stockd-grpc-batch-compact}
REDIS_PORT=${REDIS_PORT:-18637}
PG_PORT=${PG_PORT:-18543}
STOCKD_HTTP_PORT=${STOCKD_HTTP_PORT:-18580}
STOCKD_GRPC_PORT=${STOCKD_GRPC_PORT:-18590}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

LOAD="$BUILD_DIR/bench/inventory_load"
STOCKD="${STOCKD:-$BUILD_DIR/inventory/stockd}"
[ -x "$LOAD" ] || { echo "missing $LOAD: build first (ninja -C $BUILD_DIR inventory_load)" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server missing: run scripts/setup.sh" >&2; exit 2; }
[ -x "$PG_BIN/postgres" ] || { echo "PostgreSQL 15 missing ($PG_BIN): run scripts/setup.sh" >&2; exit 2; }
HAVE_STOCKD=1
if [ ! -x "$STOCKD" ]; then
  echo "warning: $STOCKD not built: stockd runs skipped" >&2
  HAVE_STOCKD=0
fi

TMP=$(mktemp -d /tmp/inventory-bench.XXXXXX)
chmod 755 "$TMP"
REDIS_PID=""
STOCKD_PID=""
PG_STARTED=0
# PostgreSQL refuses to run as root: run it (and initdb) as the postgres user.
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then AS_PG=(runuser -u postgres --); fi

cleanup() {
  [ -n "$STOCKD_PID" ] && kill "$STOCKD_PID" 2>/dev/null || true
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true
  if [ "$PG_STARTED" = 1 ]; then
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$TMP/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

wait_for() {  # wait_for DESCRIPTION COMMAND...
  local what=$1; shift
  for _ in $(seq 1 200); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "$what did not start" >&2
  exit 1
}

# The peers run under the kernel's default scheduling policy, as their users run them; PEERS_SCHEDULER=batch
# runs them under SCHED_BATCH like stockd's default (--scheduler), to compare like with like.
PEER_SCHED=()
case "${PEERS_SCHEDULER:-other}" in
  other) ;;
  batch) PEER_SCHED=(chrt -b 0) ;;
  *) echo "PEERS_SCHEDULER: expected other or batch" >&2; exit 2 ;;
esac

needs() { [[ " $TARGETS " == *" $1 "* ]] || { [ "$LARGE_BATCH" -gt 0 ] && [[ " $LARGE_TARGETS " == *" $1 "* ]]; }; }

# --- Redis 7: AOF with fsync every second (the usual "durable enough" setting), no RDB snapshots.
if needs redis-lua || needs redis-lua-pipelined; then
  mkdir -p "$TMP/redis"
  "${PEER_SCHED[@]}" taskset -c 0 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$TMP/redis" \
    --appendonly yes --appendfsync everysec --save '' --daemonize no \
    --logfile "$TMP/redis/redis.log" &
  REDIS_PID=$!
  wait_for "redis-server" redis-cli -p "$REDIS_PORT" ping
fi

# --- PostgreSQL 15: fresh cluster, durable commits (fsync, synchronous_commit, full_page_writes).
if needs postgres; then
  mkdir -p "$TMP/pg" "$TMP/pgsock"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$TMP/pg" "$TMP/pgsock"
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$TMP/pg" -U bench -A trust --no-sync >"$TMP/initdb.log" 2>&1 \
    || { cat "$TMP/initdb.log" >&2; exit 1; }
  PG_STARTED=1
  "${PEER_SCHED[@]}" "${AS_PG[@]}" taskset -c 0 "$PG_BIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg/server.log" -w start -o \
    "-p $PG_PORT -k $TMP/pgsock -c listen_addresses=127.0.0.1 -c max_connections=200 \
     -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=256MB \
     -c max_wal_size=4GB -c checkpoint_timeout=15min" >/dev/null
fi
PG_CONNINFO="host=127.0.0.1 port=$PG_PORT user=bench dbname=postgres"

# --- stockd: a fresh process and data dir per run, so every run starts from the same empty state.
STOCKD_DIR=""
start_stockd() {
  local dir="$TMP/stockd-$1"
  STOCKD_DIR=$dir
  mkdir -p "$dir/data"
  taskset -c 0 "$STOCKD" ${STOCKD_ARGS:-} --data-dir "$dir/data" --http-port "$STOCKD_HTTP_PORT" \
    --grpc-port "$STOCKD_GRPC_PORT" --ready-file "$dir/ready.json" >"$dir/stockd.log" 2>&1 &
  STOCKD_PID=$!
  wait_for "stockd (see $dir/stockd.log)" test -s "$dir/ready.json"
}
stop_stockd() {
  kill "$STOCKD_PID" 2>/dev/null || true
  wait "$STOCKD_PID" 2>/dev/null || true
  STOCKD_PID=""
  # A batch run leaves up to ~1 GB of journal, segments and snapshots: remove them (the log stays)
  # so the temp dir does not grow by gigabytes over the whole run.
  rm -rf "$STOCKD_DIR/data"
}

declare -A OPS
run_one() {  # run_one TARGET WORKLOAD [BATCH [LABEL]]: OPS[LABEL] (default TARGET-WORKLOAD)
  local target=$1 workload=$2 batch=${3:-$BATCH} label=${4:-$1-$2} port=0 extra=()
  case $target in
    stockd-*) port=$STOCKD_HTTP_PORT; extra=(--grpc-port "$STOCKD_GRPC_PORT") ;;
    redis-*) port=$REDIS_PORT ;;
    postgres) extra=(--pg "$PG_CONNINFO") ;;
  esac
  [ "$workload" = uniform ] && extra+=(--skus "$SKUS")
  local line rc=0
  line=$(taskset -c 1 "$LOAD" --target "$target" --workload "$workload" --port "$port" \
    --connections "$CONNECTIONS" --batch "$batch" --duration-s "$DURATION_S" \
    --warmup-s "$WARMUP_S" --run-tag "$label" --name "$label" "${extra[@]}") || rc=$?
  echo "$line"
  [ "$rc" -ne 0 ] && echo "  ^ $target $workload: exit $rc (3 = oversold or inconsistent)" >&2
  OPS[$label]=$(sed -n 's/.* ops\/s=\([0-9.]*\).*/\1/p' <<<"$line")
}

n=0
for workload in $WORKLOADS; do
  for target in $TARGETS; do
    if [[ $target == stockd-* ]]; then
      [ "$HAVE_STOCKD" = 1 ] || continue
      n=$((n + 1))
      start_stockd "$n"
      run_one "$target" "$workload"
      stop_stockd
    else
      run_one "$target" "$workload"
    fi
  done
done

# The batch path once more with large batches, hot SKU only (the >= 500k reservations/s figure).
if [ "$LARGE_BATCH" -gt 0 ] && [[ " $WORKLOADS " == *" hot "* ]]; then
  for target in $LARGE_TARGETS; do
    [[ $target == stockd-* ]] || { run_one "$target" hot "$LARGE_BATCH" "$target-hot-b$LARGE_BATCH"; continue; }
    [ "$HAVE_STOCKD" = 1 ] || continue
    n=$((n + 1))
    start_stockd "$n"
    run_one "$target" hot "$LARGE_BATCH" "$target-hot-b$LARGE_BATCH"
    stop_stockd
  done
fi

ratio() {  # ratio A B -> A/B or n/a
  local a=${OPS[$1]:-} b=${OPS[$2]:-}
  if [ -n "$a" ] && [ -n "$b" ]; then
    awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'
  else
    echo n/a
  fi
}
for workload in $WORKLOADS; do
  echo "ratios ($workload): stockd-http/redis-lua $(ratio stockd-http-$workload redis-lua-$workload)" \
    "stockd-batch/redis-lua-pipelined $(ratio stockd-batch-$workload redis-lua-pipelined-$workload)" \
    "stockd-batch-compact/stockd-batch $(ratio stockd-batch-compact-$workload stockd-batch-$workload)" \
    "stockd-grpc-batch-compact/stockd-grpc-batch" \
    "$(ratio stockd-grpc-batch-compact-$workload stockd-grpc-batch-$workload)" \
    "stockd-http/postgres $(ratio stockd-http-$workload postgres-$workload)" \
    "redis-lua/postgres $(ratio redis-lua-$workload postgres-$workload)"
done
# Best batch path on the hot SKU (durable; acceptance: >= 500000 reservations/s).
best_label="" best_ops=0
for label in "${!OPS[@]}"; do
  [[ $label == stockd-batch* || $label == stockd-grpc-batch* ]] || continue
  [[ $label == *-hot || $label == *-hot-b* ]] || continue
  if awk -v a="${OPS[$label]:-0}" -v b="$best_ops" 'BEGIN { exit !(a > b) }'; then
    best_label=$label best_ops=${OPS[$label]}
  fi
done
[ -n "$best_label" ] && echo "batch path, hot SKU, best: $best_label $best_ops reservations/s (acceptance: >= 500000)"
# Hot single-op pair, alternated ROUNDS times in all; the acceptance ratio is the median.
if [[ " $WORKLOADS " == *" hot "* ]] && needs stockd-http && needs redis-lua && [ "$HAVE_STOCKD" = 1 ]; then
  pair_ratios=("$(ratio stockd-http-hot redis-lua-hot)")
  for ((round = 2; round <= ROUNDS; round++)); do
    n=$((n + 1))
    start_stockd "$n"
    run_one stockd-http hot
    stop_stockd
    run_one redis-lua hot
    pair_ratios+=("$(ratio stockd-http-hot redis-lua-hot)")
  done
  echo "hot single-op ratios per round: ${pair_ratios[*]}"
  echo "ratio: $(printf '%s\n' "${pair_ratios[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
else
  echo "ratio: $(ratio stockd-http-hot redis-lua-hot)"
fi
