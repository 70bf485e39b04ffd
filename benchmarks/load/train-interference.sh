#!/usr/bin/env bash
# Inference latency while a training job runs on the same server, against the same server idle.
#
#   benchmarks/load/train-interference.sh [FASHION_DIR]
#
# Starts `dense4j serve` with the training service (--cpus CPUS, --inference-reserve RESERVE, --job-nice NICE) on a
# scratch registry holding the reference network (784-128-10, trained one epoch), uploads Fashion-MNIST as a data
# set, then alternates ROUNDS times: wrk with 32 connections (batch-1 JSON V2 infer) on the idle server, then the
# same while a job trains the reference network (JOB_CPUS CPU threads, default 1: the job's kernels run on a private
# team of exactly that many, whatever the server's --threads; cancelled after the run). Prints each run, the medians
# of p50 / p99 and the ratio p99(training) / p99(idle), with the machine's load average before and after.
# NICE=idle puts the job's threads under SCHED_IDLE (serve --job-nice idle).
# Needs http/target/dense4j.jar (mvn -pl http -am package -DskipTests) and wrk. Only 127.0.0.1 is used.
set -euo pipefail
DATA=${1:-/usr/share/datasets/fashion-mnist}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
CPUS=${CPUS:-$(nproc)}
RESERVE=${RESERVE:-25%}
NICE=${NICE:-10}
JOB_CPUS=${JOB_CPUS:-1}
PORT=${PORT:-18182}
source "$(dirname "$0")/training-server.sh"

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); server --cpus $CPUS --inference-reserve $RESERVE --job-nice $NICE; job cpus $JOB_CPUS"
"${J[@]}" train --data "$DATA" --layers 128,10 --activations relu,softmax --epochs 1 --seed 1 -o "$WORK/ref.d4j" >/dev/null 2>&1
"${J[@]}" registry register --registry "$WORK/reg" --model ref --alias stable "$WORK/ref.d4j" >/dev/null
python3 - "$WORK" <<'PY'
import json, random, sys
random.seed(1)
row = [round(random.random(), 4) for _ in range(784)]
json.dump({"inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32", "data": row}]}, open(sys.argv[1] + "/json.body", "w"))
PY

start_server --registry "$WORK/reg" --state "$WORK/state.db" --cpus "$CPUS" --inference-reserve "$RESERVE" \
  --job-nice "$NICE"
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
BODY=$WORK/json.body wrk -t1 -c16 -d5s -s "$HERE/infer.lua" "$URL" >/dev/null # warm-up (JIT)

run() { BODY=$WORK/json.body wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$HERE/infer.lua" "$URL" | grep RESULT; }
declare -a IDLE_P50 IDLE_P99 TRAIN_P50 TRAIN_P99
for round in $(seq "$ROUNDS"); do
  line=$(run)
  IDLE_P50+=("$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")"); IDLE_P99+=("$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")")
  printf "round %d  idle      %s\n" "$round" "${line#RESULT }"
  id=$("${J[@]}" jobs submit "$WORK/job.json" 2>/dev/null)
  for _ in $(seq 300); do # until the job is past loading the data and into its first epoch
    "${J[@]}" jobs get "$id" 2>/dev/null | grep -q '"step"' && break; sleep 0.5
  done
  line=$(run)
  progress=$("${J[@]}" jobs get "$id" 2>/dev/null | python3 -c 'import json,sys; j=json.load(sys.stdin); p=j["progress"] or {}; print(j["state"], "epoch", p.get("epoch"), "step", p.get("step"), "/", p.get("steps"))')
  "${J[@]}" jobs cancel "$id" >/dev/null 2>&1 || true
  TRAIN_P50+=("$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")"); TRAIN_P99+=("$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")")
  printf "round %d  training  %s  (job: %s)\n" "$round" "${line#RESULT }" "$progress"
  for _ in $(seq 60); do "${J[@]}" jobs get "$id" 2>/dev/null | grep -q '"state" : "cancelled"' && break; sleep 0.5; done
done
python3 - "${IDLE_P50[*]}" "${IDLE_P99[*]}" "${TRAIN_P50[*]}" "${TRAIN_P99[*]}" <<'PY'
import statistics, sys
i50, i99, t50, t99 = [list(map(float, a.split())) for a in sys.argv[1:5]]
m = statistics.median
print(f"median p50 ms: idle {m(i50):.3f}, training {m(t50):.3f}; median p99 ms: idle {m(i99):.3f}, training {m(t99):.3f}; "
      f"p99 training/idle {m(t99) / m(i99):.2f}")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
