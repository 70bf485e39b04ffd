#!/usr/bin/env bash
# A/B of the HTTP layer between two builds of the server jar: keep-alive GET /v2/health/live with wrk (-t2 -c64),
# ROUNDS rounds of DURATION each, the two jars alternating, each on a fresh server with an empty registry and no
# access log, after a 3 s warm-up. Used for the lingering close (every HTTP/1.1 connection goes through its endpoint):
#   git stash; git checkout <before> -- http/src/main && mvn -q -pl http package -Dmaven.test.skip=true
#   cp http/target/dense4j.jar /tmp/before.jar; (restore, build again) cp http/target/dense4j.jar /tmp/after.jar
#   bash benchmarks/load/ab-jars.sh /tmp/before.jar /tmp/after.jar
set -euo pipefail
A=${1:?usage: ab-jars.sh JAR_A JAR_B}
B=${2:?usage: ab-jars.sh JAR_A JAR_B}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
PORT=${PORT:-18182}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  for jar in "$A" "$B"; do
    rm -rf "$WORK/reg"; mkdir -p "$WORK/reg"
    java -Dorg.bytedeco.javacpp.cachedir="$WORK/javacpp" -jar "$jar" serve --registry="$WORK/reg" --port="$PORT" \
        --host=127.0.0.1 --no-access-log >"$WORK/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/v2/health/live" && break; sleep 0.5; done
    wrk -t1 -c16 -d3s "http://127.0.0.1:$PORT/v2/health/live" >/dev/null
    rps=$(wrk -t2 -c64 -d"$DURATION" "http://127.0.0.1:$PORT/v2/health/live" | awk '/Requests\/sec/ {print $2}')
    echo "round $round $(basename "$jar"): $rps req/s (load $(cut -d' ' -f1 /proc/loadavg))"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
