#!/usr/bin/env bash
# Session 10, column-parallel step (native/cpu/column_step.cpp): every figure of RESULTS.md "Session 10:
# column-parallel step", for the lead to take on a quiet machine. Each command's output goes to OUT/<name>.txt with the
# time, the load average and the core-to-core round trip (bench_cpu --only probe: the host's placement of the two
# vCPUs, ~60-110 ns near, ~350-440 ns far) before and after it.
#   bash benchmarks/col10-check.sh [MAIN_LIB] [OUT]
# MAIN_LIB: a libdense4j_cpu.so built from main before the column step (the A of the A/B; default: built here from
# 9075b9f into /tmp/col10-main). Needs the native build (native/target/cmake-build, with OpenBLAS for bench_cpu) and
# the uncompressed Fashion-MNIST train IDX files in /tmp/fm (zcat /usr/share/datasets/fashion-mnist/*.gz).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
B=$here/native/target/cmake-build
OUT=${2:-$here/benchmarks/results/col10}
mkdir -p "$OUT" /tmp/fm
for f in train-images-idx3-ubyte train-labels-idx1-ubyte; do
  [ -s /tmp/fm/$f ] || zcat /usr/share/datasets/fashion-mnist/$f.gz > /tmp/fm/$f
done
MAIN_LIB=${1:-}
if [ -z "$MAIN_LIB" ]; then
  src=/tmp/col10-main
  if [ ! -f $src/native/build/libdense4j_cpu.so ]; then
    rm -rf $src && mkdir -p $src
    git -C "$here" archive 9075b9f native cmake | tar -x -C $src
    cmake -S $src/native -B $src/native/build -DCMAKE_BUILD_TYPE=Release -DD4J_OPENBLAS_DIR= >/dev/null
    CUDACXX=/bin/false cmake --build $src/native/build --target dense4j_cpu -j2 >/dev/null
  fi
  MAIN_LIB=$src/native/build/libdense4j_cpu.so
fi
libs=$(mktemp -d)
trap 'rm -rf "$libs"' EXIT
cp "$MAIN_LIB" "$libs/main.so"
cp "$B/libdense4j_cpu.so" "$libs/col.so"
probe() { "$B/bench_cpu" --only probe | tail -1; }
run() {  # name, command...
  local name=$1; shift
  {
    echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg); before: $(probe)"
    echo "# \$ $*"
    "$@" 2>&1
    echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg); after: $(probe)"
  } | tee "$OUT/$name.txt"
}
export D4J_BENCH_IDX=/tmp/fm
run probe-before "$B/bench_cpu" --only probe
# the 2-thread speed-up (column step share and pool switches per row), 4 rounds interleaved
run ref "$B/bench_cpu" --only ref --threads 1,2 --rounds 4
run ref-trace env D4J_POOL_TRACE=1 "$B/bench_cpu" --only ref --threads 1,2 --rounds 2
# us/step and phases (at 2 threads the column step: forward = region A, weight grads = region B, which holds the
# loss, the input gradient, the update and the next rows' gather)
run train "$B/bench_cpu" --only train --quick --threads 1,2
# the step A/B against main's library, byte rows as the Java API: 1 thread (must not be slower), then 2 threads
run ab-1thread "$B/bench_ab_libs" --epochs 4 --threads 1 "$libs/main.so" "$libs/col.so"
run ab-1thread-again "$B/bench_ab_libs" --epochs 4 --threads 1 "$libs/col.so" "$libs/main.so"
run ab-2threads "$B/bench_ab_libs" --epochs 4 --threads 2 "$libs/main.so" "$libs/col.so"
run ab-2threads-again "$B/bench_ab_libs" --epochs 4 --threads 2 "$libs/col.so" "$libs/main.so"
run ab-1thread-env-unset env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$B/bench_ab_libs" --epochs 4 --threads 1 "$libs/main.so" "$libs/col.so"
run step-floor "$B/bench_step_floor"
run probe-after "$B/bench_cpu" --only probe
