#!/usr/bin/env bash
# A/B of the reference workload's 2-thread speed-up between two builds of the benchmarks jar (issue 11: 2 threads
# >= 1.6x faster than 1 thread on a quiet machine): ROUNDS rounds, the two jars alternating, each round one JVM per
# jar running `ReferenceWorkload <data> 5 32 1,2 --repeats 3 --no-torch`, with the VM's core-to-core round trip
# (bench_cpu --only probe: ~60-140 ns when the host places the two vCPUs near each other, ~410-440 ns far) read
# before each JVM and the pool's switches to serial counted from its trace (D4J_POOL_TRACE=1). Prints one line per
# run; compare the jars by the median over the rounds, and each round's figures with its probe readings. The probe
# is read again after each JVM: the host can move the vCPUs in the middle of a run (session 9: the placement went
# from near to far during one `1,2` run, which then looked like a near run at 1.18x), and only a run with both
# readings near (or both far) says which placement its figures belong to. Give the same jar twice to repeat one.
#   git stash; mvn -B -q -pl benchmarks -am install -DskipTests; cp benchmarks/target/benchmarks.jar /tmp/a.jar
#   git stash pop; mvn -B -q -pl benchmarks -am install -DskipTests; cp benchmarks/target/benchmarks.jar /tmp/b.jar
#   bash benchmarks/ab-threads.sh /tmp/a.jar /tmp/b.jar
set -euo pipefail
A=${1:?usage: ab-threads.sh JAR_A JAR_B [data-dir]}
B=${2:?usage: ab-threads.sh JAR_A JAR_B [data-dir]}
DATA=${3:-/usr/share/datasets/fashion-mnist}
ROUNDS=${ROUNDS:-4}
here=$(cd "$(dirname "$0")/.." && pwd)
PROBE=${PROBE:-$here/native/target/cmake-build/bench_cpu}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  for jar in "$A" "$B"; do
    probe=$([ -x "$PROBE" ] && "$PROBE" --only probe | awk '{print $(NF-1)}' || echo "?")
    D4J_POOL_TRACE=1 java -Dorg.bytedeco.javacpp.cachedir="$WORK/javacpp-$(basename "$jar")" -cp "$jar" \
        io.dense4j.bench.ReferenceWorkload "$DATA" 5 32 1,2 --repeats 3 --no-torch >"$WORK/out" 2>"$WORK/err"
    after=$([ -x "$PROBE" ] && "$PROBE" --only probe | awk '{print $(NF-1)}' || echo "?")
    one=$(awk -F'|' '$2 ~ /^ 1 $/ {print $3}' "$WORK/out")
    two=$(awk -F'|' '$2 ~ /^ 2 $/ {print $3}' "$WORK/out")
    hard=$(grep -c 'worker waited for its CPU -> serial' "$WORK/err" || true)
    soft=$(grep -c 'lost horizon -> serial\|serial faster -> serial' "$WORK/err" || true)
    echo "round $round $(basename "$jar"): 1 thread${one}s; 2 threads${two}s; probe ${probe} ns before, ${after} after; pool: $hard hard / $soft soft switches to serial; load $(cut -d' ' -f1 /proc/loadavg)"
  done
done
