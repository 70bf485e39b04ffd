#!/usr/bin/env bash
# A/B of the dynamic batcher between two builds of the server jar: batch-1 binary KServe V2 infer requests (one
# 784-float row) with wrk -t2 --latency, batching on (the default), at concurrency 16 and 64; ROUNDS rounds of
# DURATION each, the two jars alternating, each on a fresh server (access log off) after a 3 s warm-up.
#
#   bash benchmarks/load/batcher-ab.sh JAR_A JAR_B MODEL_FILE
#
# Build the jars as ab-jars.sh says; MODEL_FILE is a saved 784-input model (e.g. the main job's). Only 127.0.0.1.
set -euo pipefail
A=${1:?usage: batcher-ab.sh JAR_A JAR_B MODEL_FILE}
B=${2:?usage: batcher-ab.sh JAR_A JAR_B MODEL_FILE}
MODEL_FILE=${3:?usage: batcher-ab.sh JAR_A JAR_B MODEL_FILE}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
PORT=${PORT:-18183}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
SERVER_PID=
cleanup() { [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

python3 - "$WORK" <<'PY'
import json, random, struct, sys
work, n = sys.argv[1], 784
random.seed(7)
row = [random.random() for _ in range(n)]
header = json.dumps({"inputs": [{"name": "input", "shape": [1, n], "datatype": "FP32",
                                  "parameters": {"binary_data_size": 4 * n}}],
                     "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}).encode()
open(f"{work}/bin.body", "wb").write(header + struct.pack(f"<{n}f", *row))
open(f"{work}/bin.len", "w").write(str(len(header)))
PY
URL=http://127.0.0.1:$PORT/v2/models/bench/infer
for round in $(seq 1 "$ROUNDS"); do
  for c in 16 64; do
    for jar in "$A" "$B"; do
      rm -rf "$WORK/reg"
      java -jar "$jar" registry register --registry "$WORK/reg" --model bench --alias stable "$MODEL_FILE" >/dev/null
      java -jar "$jar" serve --registry "$WORK/reg" --port "$PORT" --host 127.0.0.1 --no-access-log \
          >"$WORK/server.log" 2>&1 &
      SERVER_PID=$!
      for _ in $(seq 150); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/v2/health/ready" && break; sleep 0.2; done
      BODY=$WORK/bin.body HEADER_LEN=$(cat "$WORK/bin.len") wrk -t1 -c16 -d3s -s "$HERE/infer.lua" "$URL" >/dev/null
      line=$(BODY=$WORK/bin.body HEADER_LEN=$(cat "$WORK/bin.len") wrk -t2 -c"$c" -d"$DURATION" --latency \
          -s "$HERE/infer.lua" "$URL" | grep RESULT)
      kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
      printf "round %d  c=%-3d %-24s %s  (load %s)\n" "$round" "$c" "$(basename "$jar")" "${line#RESULT }" \
          "$(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
