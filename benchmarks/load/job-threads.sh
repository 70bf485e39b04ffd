#!/usr/bin/env bash
# Epoch time of a training job by the CPU threads it asks for (its private thread team), side by side.
#
#   benchmarks/load/job-threads.sh [FASHION_DIR]
#
# Starts `dense4j serve` with the training service (--cpus CPUS, no inference reserve, --job-nice 0) on a scratch
# registry, uploads Fashion-MNIST, then runs the reference job (784-128 relu-10 softmax, Adam 1e-3, batch 32,
# EPOCHS epochs) ROUNDS times with each count in COUNTS, interleaved (1, 2, 1, 2, ...), one job at a time. Prints
# each run's epoch seconds and the job's cpu_threads counters, then per count the median epoch time and its ratio
# to the first count. The weights do not depend on the count (JobServiceTest checks that). Needs
# http/target/dense4j.jar (mvn -pl http -am package -DskipTests). Only 127.0.0.1 is used.
set -euo pipefail
DATA=${1:-/usr/share/datasets/fashion-mnist}
ROUNDS=${ROUNDS:-3}
EPOCHS=${EPOCHS:-2}
COUNTS=${COUNTS:-1 2}
CPUS=${CPUS:-$(nproc)}
PORT=${PORT:-18183}
source "$(dirname "$0")/training-server.sh"

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); server --cpus $CPUS; counts $COUNTS; $EPOCHS epochs a job"
mkdir -p "$WORK/reg"
start_server --registry "$WORK/reg" --state "$WORK/state.db" --cpus "$CPUS" --inference-reserve 0 --job-nice 0 \
  --train-token bench-train
SHA=$("${J[@]}" datasets upload "$DATA" --name fashion 2>/dev/null)

declare -A TIMES
for round in $(seq "$ROUNDS"); do
  for n in $COUNTS; do
    cat >"$WORK/job.json" <<JOB
{"type": "train", "name": "threads $n", "dataset": {"sha256": "$SHA"},
 "config": {"model": {"class_name": "Sequential", "config_version": 2,
                      "layers": [{"type": "dense", "units": 128, "activation": "relu"},
                                 {"type": "dense", "units": 10, "activation": "softmax"}],
                      "compile_config": {"optimizer": {"type": "adam", "learning_rate": 0.001},
                                         "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}},
            "fit": {"epochs": $EPOCHS, "batch_size": 32, "seed": 42}},
 "resources": {"cpus": $n}}
JOB
    id=$("${J[@]}" jobs submit "$WORK/job.json" 2>/dev/null)
    for _ in $(seq 1200); do
      # curl, not `dense4j jobs get`: a JVM started every half second takes a core from the job being timed
      state=$(curl -sf -H "Authorization: Bearer bench-train" "$DENSE4J_SERVER/v1/jobs/$id" |
              python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
      [[ $state == succeeded || $state == failed || $state == cancelled ]] && break; sleep 0.5
    done
    line=$("${J[@]}" jobs get "$id" 2>/dev/null | python3 -c '
import json, statistics, sys
j = json.load(sys.stdin); r = j.get("result") or {}
secs = [e["seconds"] for e in r.get("epochs", [])]
print(j["state"], statistics.median(secs) if secs else "nan", json.dumps(r.get("cpu_threads")))')
    read -r state secs threads <<<"$line"
    printf "round %d  cpus %s  %s  median epoch %.2f s  %s\n" "$round" "$n" "$state" "$secs" "$threads"
    TIMES[$n]="${TIMES[$n]:-} $secs"
  done
done
python3 - "$COUNTS" "$(for n in $COUNTS; do printf '%s;' "${TIMES[$n]}"; done)" <<'PY'
import statistics, sys
counts = sys.argv[1].split()
times = [list(map(float, t.split())) for t in sys.argv[2].rstrip(";").split(";")]
base = statistics.median(times[0])
for n, t in zip(counts, times):
    m = statistics.median(t)
    print(f"cpus {n}: median epoch {m:.2f} s over {len(t)} jobs, {base / m:.2f}x the {counts[0]}-thread job")
PY
