#!/usr/bin/env bash
# Load benchmark of the inference server with wrk on loopback (Debian: apt-get install wrk).
#
#   benchmarks/load/run.sh MODEL_FILE [FEATURES]
#
# Registers MODEL_FILE (a saved .d4j model, e.g. the trained reference model) in a scratch registry,
# then for dynamic batching on and off starts `dense4j serve`, and drives batch-1 JSON and binary
# infer requests at concurrency 1, 16 and 64, printing one line per run (requests/s, p50, p99).
# Needs http/target/dense4j.jar (mvn -pl http -am package -DskipTests). Only 127.0.0.1 is used.
#
#   ACCESS_LOG_AB=ROUNDS benchmarks/load/run.sh MODEL_FILE [FEATURES]
#
# instead compares the access log on (the default) and off: JSON, batch 1, concurrency 64, batching on,
# the two servers alternating ROUNDS times; prints each run, the medians and their ratio.
set -euo pipefail
MODEL_FILE=${1:?usage: run.sh MODEL_FILE [FEATURES]}
FEATURES=${2:-784}
DURATION=${DURATION:-15s}
THREADS=${THREADS:-2}
PORT=${PORT:-18181}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
JAR=$ROOT/http/target/dense4j.jar
WORK=$(mktemp -d)
SERVER_PID=
cleanup() { [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

java -jar "$JAR" registry register --registry "$WORK/reg" --model bench --alias stable "$MODEL_FILE" >/dev/null

# request bodies: one row of FEATURES values in [0,1), JSON and binary (JSON header + raw FP32 LE)
python3 - "$FEATURES" "$WORK" <<'PY'
import json, random, struct, sys
n, work = int(sys.argv[1]), sys.argv[2]
row = [round(random.random(), 4) for _ in range(n)]
with open(f"{work}/json.body", "w") as f:
    json.dump({"inputs": [{"name": "input", "shape": [1, n], "datatype": "FP32", "data": row}]}, f)
header = json.dumps({"inputs": [{"name": "input", "shape": [1, n], "datatype": "FP32",
                                  "parameters": {"binary_data_size": 4 * n}}],
                     "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}).encode()
with open(f"{work}/bin.body", "wb") as f:
    f.write(header + struct.pack(f"<{n}f", *row))
with open(f"{work}/bin.len", "w") as f:
    f.write(str(len(header)))
PY

start_server() {
  java -jar "$JAR" serve --registry "$WORK/reg" --port "$PORT" "${ACCESS_LOG_FLAG[@]}" "$@" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && return 0
    sleep 0.2
  done
  echo "server did not start:"; cat "$WORK/server.log"; exit 1
}

stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

URL=http://127.0.0.1:$PORT/v2/models/bench/infer
ACCESS_LOG_FLAG=(--no-access-log)

if [[ -n ${ACCESS_LOG_AB:-} ]]; then
  declare -A RATES=([on]="" [off]="")
  for round in $(seq "$ACCESS_LOG_AB"); do
    for log in on off; do
      if [[ $log == on ]]; then ACCESS_LOG_FLAG=(); else ACCESS_LOG_FLAG=(--no-access-log); fi
      start_server
      BODY=$WORK/json.body wrk -t1 -c16 -d3s -s "$HERE/infer.lua" "$URL" >/dev/null # warm-up (JIT)
      line=$(BODY=$WORK/json.body HEADER_LEN= wrk -t"$THREADS" -c64 -d"$DURATION" --latency -s "$HERE/infer.lua" "$URL" | grep RESULT)
      stop_server
      rate=$(sed -E "s/.*rps=([0-9.]+).*/\1/" <<<"$line")
      RATES[$log]+="$rate "
      printf "round %d  access-log %-3s  json c64  %s  (server log %s lines)\n" "$round" "$log" "${line#RESULT }" \
        "$(wc -l <"$WORK/server.log")"
    done
  done
  python3 - "${RATES[on]}" "${RATES[off]}" <<'PY'
import statistics, sys
on, off = [list(map(float, a.split())) for a in sys.argv[1:3]]
print(f"median req/s: access log on {statistics.median(on):.0f}, off {statistics.median(off):.0f}, "
      f"on/off {statistics.median(on) / statistics.median(off):.3f}")
PY
  exit 0
fi
printf "%-10s %-7s %5s  %s\n" batching format conc result
for mode in on off; do
  if [[ $mode == on ]]; then start_server; else start_server --no-batching; fi
  BODY=$WORK/json.body wrk -t1 -c16 -d3s -s "$HERE/infer.lua" "$URL" >/dev/null # warm-up (JIT)
  for format in json binary; do
    for c in 1 16 64; do
      t=$(( c < THREADS ? c : THREADS ))
      if [[ $format == json ]]; then body=$WORK/json.body; hl=; else body=$WORK/bin.body; hl=$(cat "$WORK/bin.len"); fi
      line=$(BODY=$body HEADER_LEN=$hl wrk -t"$t" -c"$c" -d"$DURATION" --latency -s "$HERE/infer.lua" "$URL" | grep RESULT)
      printf "%-10s %-7s %5d  %s\n" "$mode" "$format" "$c" "${line#RESULT }"
    done
  done
  stop_server
done
