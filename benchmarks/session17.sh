#!/usr/bin/env bash
# Session 17: issue 11's thread goals measured again on this session's host, main's build, no engine change.
#   bash benchmarks/session17.sh BUILT_DIR [OUT]
# BUILT_DIR: a clean clone built by `.ci/run` (or `mvn -B install -DskipTests`): its bench_cpu and benchmarks.jar are
# run. Each command's output goes to OUT/<name>.txt, headed by the time, the load and the core-to-core probe
# (placement-run.sh). Run it alone on the machine.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
B=$1/native/target/cmake-build
JAR=$1/benchmarks/target/benchmarks.jar
OUT=${2:-$here/benchmarks/results/session17}
mkdir -p "$OUT"
spinner=
trap '[ -n "$spinner" ] && kill $spinner' EXIT
. "$here/benchmarks/placement-run.sh"
REF="io.dense4j.bench.ReferenceWorkload /usr/share/datasets/fashion-mnist 5 32"
J="java -Dorg.bytedeco.javacpp.cachedir=/tmp/s17-jc -cp $JAR"
# quiet: 1 and 2 threads (medians of 3 fits each), three times; collapse bench between them
for i in 1 2 3; do
  run java-$i $J $REF 1,2 --repeats 3 --no-torch
  run collapse-$i "$B/bench_cpu" --only collapse --threads 1,2
done
# the other kernel family's environment (both variables unset in this command only)
run java-unset env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $J $REF 1,2 --repeats 3 --no-torch
# one other process holding a core for the whole fit: 1, 2 and 4 threads
perl -e 'while (1) {}' &
spinner=$!
for i in 1 2; do
  run java-spin-$i $J $REF 1,2,4 --repeats 3 --no-torch
done
kill $spinner
spinner=
