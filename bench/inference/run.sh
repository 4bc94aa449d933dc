#!/usr/bin/env bash
# Side-by-side inference serving (issue 4): the same TorchScript models served by
#   inprocess  libtorch in-process at the best batch size and layout: the physical limit
#   worker     infer-worker over gRPC (raw_input_contents) and REST (JSON), dynamic batching on
#   flask      Flask + torch.jit.load under Debian's gunicorn, 2 worker processes (flask_server.py)
# driven by one closed-loop load generator (infer_load) with batch-1 requests whose sample reply is
# checked against the reference output of scripts/make-models.
#
#   bench/inference/run.sh [BUILD_DIR]     (default build/; builds nothing: ninja -C BUILD_DIR
#                                           infer-worker infer_load inprocess_bench)
#   env: MODELS_DIR=models (scripts/make-models runs there if the models are missing)
#        DURATION_S=5 WARMUP_S=1 CONCURRENCY=1,16,64      MLP worker runs (gRPC and REST)
#        FLASK_CONCURRENCY=64                              MLP Flask runs
#        RESNET_CONCURRENCY=32 RESNET_DURATION_S=15 RESNET_WARMUP_S=5   ResNet-18 worker (gRPC)
#        INPROC_SECONDS=1 INPROC_LAYOUTS= (<instances>x<threads>,...; empty: every layout that
#        fits the cores) MLP_BATCHES=1,2,4,8,16,32,64 RESNET_BATCHES=1,2,4,8,16 (32 and 64 are
#        slower than 8 on this class of machine and beyond the worker's max_batch_size 16; they
#        take a minute more)
#        WORKER_HTTP_PORT=18600 WORKER_GRPC_PORT=18601 FLASK_PORT=18610 FLASK_WORKERS=2
#        FLASK_THREADS=4 (gthread threads per worker) FLASK_TORCH_THREADS=1
#        GUNICORN=/usr/bin/gunicorn INFER_WORKER=<BUILD_DIR>/inference/infer-worker
#        RESNET_INSTANCES= RESNET_THREADS= RESNET_MAX_BATCH= RESNET_PREFERRED= (e.g. 2, 1, 8, "4, 8"):
#        override the demo resnet18 config.yaml in the worker's private copy (experiments only)
#
# Prints one line per run,  <name> req/s=... p50_us=... p99_us=... errors=... rejected=...
# (in-process: <name> layout=IxT batch=B samples/s=..., then <name> best_batch=B samples/s=...
# layout=IxT), then ratios;
# the LAST line is `ratio: <worker REST / flask req/s, MLP, concurrency 64>`.
# Nothing is pinned: every server, and the load generator, share all cores, as on a real host; the
# load average is printed first because other work on the machine moves every figure.
# Servers listen on loopback, non-default ports, with their files under one temp dir removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${1:-build}
MODELS_DIR=$(realpath -m "${MODELS_DIR:-models}")
DURATION_S=${DURATION_S:-5}
WARMUP_S=${WARMUP_S:-1}
CONCURRENCY=${CONCURRENCY:-1,16,64}
FLASK_CONCURRENCY=${FLASK_CONCURRENCY:-64}
RESNET_CONCURRENCY=${RESNET_CONCURRENCY:-32}
RESNET_DURATION_S=${RESNET_DURATION_S:-15}
RESNET_WARMUP_S=${RESNET_WARMUP_S:-5}
INPROC_SECONDS=${INPROC_SECONDS:-1}
INPROC_LAYOUTS=${INPROC_LAYOUTS:-}
MLP_BATCHES=${MLP_BATCHES:-1,2,4,8,16,32,64}
RESNET_BATCHES=${RESNET_BATCHES:-1,2,4,8,16}
WORKER_HTTP_PORT=${WORKER_HTTP_PORT:-18600}
WORKER_GRPC_PORT=${WORKER_GRPC_PORT:-18601}
FLASK_PORT=${FLASK_PORT:-18610}
FLASK_WORKERS=${FLASK_WORKERS:-2}
FLASK_THREADS=${FLASK_THREADS:-4}
FLASK_TORCH_THREADS=${FLASK_TORCH_THREADS:-1}
GUNICORN=${GUNICORN:-/usr/bin/gunicorn}

LOAD="$BUILD_DIR/bench/infer_load"
INPROC="$BUILD_DIR/bench/inprocess_bench"
WORKER="${INFER_WORKER:-$BUILD_DIR/inference/infer-worker}"
for bin in "$LOAD" "$INPROC" "$WORKER"; do
  [ -x "$bin" ] || { echo "missing $bin: build first (ninja -C $BUILD_DIR infer-worker infer_load" \
    "inprocess_bench)" >&2; exit 2; }
done
[ -x "$GUNICORN" ] || {
  echo "$GUNICORN missing: apt-get install gunicorn python3-flask python3-torch" >&2
  exit 2
}

# --- Demo models (scripts/make-models: mlp, resnet18 and their reference tensors).
REF="$MODELS_DIR/reference"
have_models() {
  for m in mlp resnet18; do
    [ -f "$MODELS_DIR/repo/$m/1/model.pt" ] && [ -f "$MODELS_DIR/repo/$m/config.yaml" ] &&
      [ -f "$REF/$m.json" ] || return 1
  done
}
if ! have_models; then
  echo "making demo models in $MODELS_DIR (scripts/make-models)" >&2
  scripts/make-models --out "$MODELS_DIR" >&2
fi

TMP=$(mktemp -d /tmp/inference-bench.XXXXXX)
WORKER_PID=""
FLASK_PID=""
stop_pid() {  # stop_pid PID: SIGTERM, then wait for it
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  stop_pid "$WORKER_PID"
  stop_pid "$FLASK_PID"
  rm -rf "$TMP"
}
trap cleanup EXIT

declare -A REQ     # run name -> req/s (or samples/s for in-process best)
declare -A BEST    # in-process run name -> "batch B, layout IxT"
record() {  # record LINE...: print each result line and remember its throughput
  local line name
  while IFS= read -r line; do
    echo "$line"
    name=${line%% *}
    case $line in
      *" best_batch="*)
        REQ[$name]=$(sed -n 's/.* samples\/s=\([0-9.]*\).*/\1/p' <<<"$line")
        BEST[$name]=$(sed -n 's/.* best_batch=\([0-9]*\).* layout=\([0-9x]*\).*/batch \1, layout \2/p' \
          <<<"$line") ;;
      *" req/s="*) REQ[$name]=$(sed -n 's/.* req\/s=\([0-9.]*\).*/\1/p' <<<"$line") ;;
    esac
  done
}
run() {  # run COMMAND...: record its output; a failure is reported and the script goes on
  local out rc=0
  out=$("$@") || rc=$?
  record <<<"$out"
  [ "$rc" -ne 0 ] && echo "  ^ exit $rc: $*" >&2
  return 0
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, load average$(uptime | sed 's/.*load average://')"

# --- 1. The physical limit: the same TorchScript files in-process, best layout and batch size.
LAYOUTS=()
[ -n "$INPROC_LAYOUTS" ] && LAYOUTS=(--layouts "$INPROC_LAYOUTS")
run "$INPROC" --name inprocess-mlp --model-file "$MODELS_DIR/repo/mlp/1/model.pt" --dims 64 \
  --batch-sizes "$MLP_BATCHES" --seconds "$INPROC_SECONDS" "${LAYOUTS[@]}"
run "$INPROC" --name inprocess-resnet18 --model-file "$MODELS_DIR/repo/resnet18/1/model.pt" \
  --dims 3,224,224 --batch-sizes "$RESNET_BATCHES" --seconds "$INPROC_SECONDS" \
  --warmup-iterations 1 --iterations-min 2 "${LAYOUTS[@]}"

# --- 2. infer-worker on a private copy of the two models (the demo configs as built).
mkdir -p "$TMP/worker/repo"
cp -r "$MODELS_DIR/repo/mlp" "$MODELS_DIR/repo/resnet18" "$TMP/worker/repo/"
RESNET_CONFIG="$TMP/worker/repo/resnet18/config.yaml"  # not covered by the manifest
[ -n "${RESNET_INSTANCES:-}" ] && sed -i "s/^instances: .*/instances: $RESNET_INSTANCES/" "$RESNET_CONFIG"
[ -n "${RESNET_THREADS:-}" ] &&
  sed -i "s/^threads_per_instance: .*/threads_per_instance: $RESNET_THREADS/" "$RESNET_CONFIG"
[ -n "${RESNET_MAX_BATCH:-}" ] &&
  sed -i "s/^max_batch_size: .*/max_batch_size: $RESNET_MAX_BATCH/" "$RESNET_CONFIG"
[ -n "${RESNET_PREFERRED:-}" ] &&
  sed -i "s/preferred_batch_sizes: .*/preferred_batch_sizes: [$RESNET_PREFERRED]/" "$RESNET_CONFIG"
echo "# resnet18 worker config: $(grep -E '^(instances|threads_per_instance|max_batch_size):' \
  "$RESNET_CONFIG" | tr '\n' ' ')$(grep -o 'preferred_batch_sizes: .*' "$RESNET_CONFIG")"
"$WORKER" --repo "$TMP/worker/repo" --host 127.0.0.1 --http-port "$WORKER_HTTP_PORT" \
  --grpc-port "$WORKER_GRPC_PORT" --ready-file "$TMP/worker/ready.json" >"$TMP/worker/worker.log" 2>&1 &
WORKER_PID=$!
# infer_load's sample request waits (--wait-ready-s) until the model answers, and checks the answer.
run "$LOAD" --protocol grpc --port "$WORKER_GRPC_PORT" --model mlp --reference-dir "$REF" \
  --concurrency "$CONCURRENCY" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" \
  --wait-ready-s 60 --name worker-mlp-grpc
run "$LOAD" --protocol rest --port "$WORKER_HTTP_PORT" --model mlp --reference-dir "$REF" \
  --concurrency "$CONCURRENCY" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" \
  --wait-ready-s 60 --name worker-mlp-rest

batch_stats() {  # batch_stats MODEL -> "<sum> <count>" of the worker's batch size histogram
  curl -s "http://127.0.0.1:$WORKER_HTTP_PORT/metrics" | awk -v m="model=\"$1\"" '
    index($0, m) && /^inference_batch_size_sum/ { s = $NF }
    index($0, m) && /^inference_batch_size_count/ { c = $NF }
    END { print s + 0, c + 0 }'
}
read -r bs0 bc0 < <(batch_stats resnet18)
run "$LOAD" --protocol grpc --port "$WORKER_GRPC_PORT" --model resnet18 --reference-dir "$REF" \
  --concurrency "$RESNET_CONCURRENCY" --duration-s "$RESNET_DURATION_S" \
  --warmup-s "$RESNET_WARMUP_S" --wait-ready-s 60 --name worker-resnet18-grpc
[ -n "${REQ[worker-resnet18-grpc-c$RESNET_CONCURRENCY]:-}" ] || tail -20 "$TMP/worker/worker.log" >&2
read -r bs1 bc1 < <(batch_stats resnet18)
RESNET_MEAN_BATCH=$(awk -v s=$((bs1 - bs0)) -v c=$((bc1 - bc0)) \
  'BEGIN { if (c > 0) printf "%.1f", s / c; else print "n/a" }')
stop_pid "$WORKER_PID"
WORKER_PID=""

# --- 3. The peer: Flask under gunicorn, same model file, same REST infer path.
mkdir -p "$TMP/flask"
FLASK_MODELS="mlp=$MODELS_DIR/repo/mlp/1/model.pt" TORCH_THREADS="$FLASK_TORCH_THREADS" \
  "$GUNICORN" -w "$FLASK_WORKERS" -k gthread --threads "$FLASK_THREADS" -b "127.0.0.1:$FLASK_PORT" \
  --chdir "$PWD/bench/inference" --worker-tmp-dir "$TMP/flask" --log-level warning \
  flask_server:app >"$TMP/flask/gunicorn.log" 2>&1 &
FLASK_PID=$!
run "$LOAD" --protocol rest --port "$FLASK_PORT" --model mlp --reference-dir "$REF" \
  --concurrency "$FLASK_CONCURRENCY" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" \
  --wait-ready-s 60 --name flask-mlp-rest
[ -n "${REQ[flask-mlp-rest-c${FLASK_CONCURRENCY%%,*}]:-}" ] || tail -20 "$TMP/flask/gunicorn.log" >&2
stop_pid "$FLASK_PID"
FLASK_PID=""

# --- Ratios (req/s of batch-1 requests = samples/s).
ratio() {  # ratio A B -> A/B, or n/a when either run is missing
  local a=${REQ[$1]:-} b=${REQ[$2]:-}
  if [ -n "$a" ] && [ -n "$b" ]; then
    awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'
  else
    echo n/a
  fi
}
echo "mlp worker-grpc-c64/inprocess: $(ratio worker-mlp-grpc-c64 inprocess-mlp)" \
  "(in-process best: ${BEST[inprocess-mlp]:-n/a})"
echo "mlp worker-rest-c64/inprocess: $(ratio worker-mlp-rest-c64 inprocess-mlp)"
echo "mlp worker-grpc-c64/flask-c64: $(ratio worker-mlp-grpc-c64 flask-mlp-rest-c64)"
echo "resnet18 worker/inprocess: $(ratio "worker-resnet18-grpc-c$RESNET_CONCURRENCY" inprocess-resnet18)" \
  "(worker gRPC c$RESNET_CONCURRENCY, mean batch $RESNET_MEAN_BATCH; in-process best:" \
  "${BEST[inprocess-resnet18]:-n/a}; target >= 0.85)"
echo "# $(date -u +%FT%TZ) load average$(uptime | sed 's/.*load average://')"
echo "ratio: $(ratio worker-mlp-rest-c64 flask-mlp-rest-c64)"
