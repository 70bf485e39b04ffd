#!/usr/bin/env bash
# Inference latency while a training job runs on the same server, against the same server idle.
#
#   benchmarks/load/train-interference.sh [FASHION_DIR]
#
# Starts `dense4j serve` with the training service (--cpus CPUS, --inference-reserve RESERVE, and --job-nice NICE
# when NICE is set, else the server's default, idle; SERVE_OPTS: more serve options) on a scratch registry holding the
# reference network (784-128-10, trained one epoch), uploads Fashion-MNIST as a data set, and warms up: inference at
# the measured shape for WARMUP (15s), then the first job of this JVM, whose window is measured and reported apart
# ("cold": the JIT compiling the training path), then inference again for WARMUP. Then it alternates ROUNDS times:
# wrk with 32 connections (batch-1 JSON V2 infer) on the idle server, then the same while a new job trains the
# reference network (JOB_CPUS CPU threads, default 1: the job's kernels run on a private team of exactly that many;
# measured once it is past loading the data, cancelled after). Prints each window with the server's CPU seconds in
# it by thread group (thread-cpu.py), the medians of p50 / p99 and the ratio p99(training) / p99(idle) (and the worst
# round's, and the cold window's against the median idle), with the machine's load average before and after.
# SERVER_JAVA_OPTS / LOGS (training-server.sh) keep the server's GC log for gc-windows.py; train-interference-ab.sh
# runs several settings interleaved.
# Needs http/target/dense4j.jar (mvn -pl http -am package -DskipTests) and wrk. Only 127.0.0.1 is used.
set -euo pipefail
DATA=${1:-/usr/share/datasets/fashion-mnist}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
CPUS=${CPUS:-$(nproc)}
RESERVE=${RESERVE:-25%}
NICE=${NICE:-}
WARMUP=${WARMUP:-15s}
JOB_CPUS=${JOB_CPUS:-1}
PORT=${PORT:-18182}
source "$(dirname "$0")/training-server.sh"

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); server --cpus $CPUS --inference-reserve $RESERVE --job-nice ${NICE:-(default)} ${SERVE_OPTS:-}; job cpus $JOB_CPUS"
"${J[@]}" train --data "$DATA" --layers 128,10 --activations relu,softmax --epochs 1 --seed 1 -o "$WORK/ref.d4j" >/dev/null 2>&1
"${J[@]}" registry register --registry "$WORK/reg" --model ref --alias stable "$WORK/ref.d4j" >/dev/null
python3 - "$WORK" <<'PY'
import json, random, sys
random.seed(1)
row = [round(random.random(), 4) for _ in range(784)]
json.dump({"inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32", "data": row}]}, open(sys.argv[1] + "/json.body", "w"))
PY

start_server --registry "$WORK/reg" --state "$WORK/state.db" --cpus "$CPUS" --inference-reserve "$RESERVE" \
  ${NICE:+--job-nice "$NICE"} ${SERVE_OPTS:-}
SHA=$("${J[@]}" datasets upload "$DATA" --name fashion 2>/dev/null)
cat >"$WORK/job.json" <<EOF
{"type": "train", "name": "interference", "dataset": {"sha256": "$SHA"},
 "config": {"model": {"class_name": "Sequential", "config_version": 2,
                      "layers": [{"type": "dense", "units": 128, "activation": "relu"},
                                 {"type": "dense", "units": 10, "activation": "softmax"}],
                      "compile_config": {"optimizer": {"type": "adam", "learning_rate": 0.001},
                                         "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}},
            "fit": {"epochs": 1000, "batch_size": 32, "seed": 42}},
 "resources": {"cpus": $JOB_CPUS}}
EOF
URL=http://127.0.0.1:$PORT/v2/models/ref/infer

# one measured window; the server's CPU time by thread group in it goes to $WORK/window.cpu (read outside the window)
run() {
  "$HERE/thread-cpu.py" snapshot "$SERVER_PID" "$WORK/before.json"
  echo "$(date -u +%T.%N | cut -c1-12) window start" >>"$WORK/logs/windows.txt"
  BODY=$WORK/json.body wrk -t"$THREADS" -c"$CONNECTIONS" -d"${1:-$DURATION}" --latency -s "$HERE/infer.lua" "$URL" | grep RESULT
  echo "$(date -u +%T.%N | cut -c1-12) window end" >>"$WORK/logs/windows.txt"
  "$HERE/thread-cpu.py" snapshot "$SERVER_PID" "$WORK/after.json"
  "$HERE/thread-cpu.py" diff "$WORK/before.json" "$WORK/after.json" >"$WORK/window.cpu"
}
p50() { sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$1"; }
p99() { sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$1"; }

# One window while a new job trains: submitted, measured once it is into its first epoch (past loading the data),
# cancelled after. Sets LINE (wrk's result) and prints it with the job's progress and the window's CPU use.
train_window() {
  local label=$1 id progress
  id=$("${J[@]}" jobs submit "$WORK/job.json" 2>/dev/null)
  for _ in $(seq 300); do
    "${J[@]}" jobs get "$id" 2>/dev/null | grep -q '"step"' && break; sleep 0.5
  done
  LINE=$(run)
  progress=$("${J[@]}" jobs get "$id" 2>/dev/null | python3 -c 'import json,sys; j=json.load(sys.stdin); p=j["progress"] or {}; print(j["state"], "epoch", p.get("epoch"), "step", p.get("step"), "/", p.get("steps"))')
  "${J[@]}" jobs cancel "$id" >/dev/null 2>&1 || true
  printf "%-16s %s  (job: %s)\n" "$label" "${LINE#RESULT }" "$progress"
  echo "                 $(cat "$WORK/window.cpu")"
  for _ in $(seq 60); do "${J[@]}" jobs get "$id" 2>/dev/null | grep -q '"state" : "cancelled"' && break; sleep 0.5; done
}

# Warm-up, reported but outside the medians: inference at the measured load until the JIT has compiled its path,
# then the first training job of this JVM (it compiles the training path and the job machinery: the "cold" window,
# what a server's first job costs inference once).
run "$WARMUP" >/dev/null
echo "warm-up          inference $WARMUP: $(cat "$WORK/window.cpu")"
train_window "cold (1st job)"
COLD_P99=$(p99 "$LINE")
# the first job's code shares methods with inference: the JIT recompiles some of them; the idle windows are measured
# after that settles, like the training ones
run "$WARMUP" >/dev/null
echo "warm-up          inference $WARMUP after the first job: $(cat "$WORK/window.cpu")"

declare -a IDLE_P50 IDLE_P99 TRAIN_P50 TRAIN_P99
for round in $(seq "$ROUNDS"); do
  line=$(run)
  IDLE_P50+=("$(p50 "$line")"); IDLE_P99+=("$(p99 "$line")")
  printf "round %d  idle     %s\n" "$round" "${line#RESULT }"
  echo "                 $(cat "$WORK/window.cpu")"
  train_window "round $round  training"
  TRAIN_P50+=("$(p50 "$LINE")"); TRAIN_P99+=("$(p99 "$LINE")")
done
python3 - "${IDLE_P50[*]}" "${IDLE_P99[*]}" "${TRAIN_P50[*]}" "${TRAIN_P99[*]}" "$COLD_P99" <<'PY'
import statistics, sys
i50, i99, t50, t99 = [list(map(float, a.split())) for a in sys.argv[1:5]]
cold = float(sys.argv[5])
m = statistics.median
print(f"median p50 ms: idle {m(i50):.3f}, training {m(t50):.3f}; median p99 ms: idle {m(i99):.3f}, training {m(t99):.3f}; "
      f"p99 training/idle {m(t99) / m(i99):.2f} (worst round {max(t / i for t, i in zip(t99, i99)):.2f}); "
      f"cold first job: p99 {cold:.3f}, /idle {cold / m(i99):.2f}")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
