#!/usr/bin/env bash
# Session 10, column-parallel step (native/cpu/column_step.cpp) over panels: every figure of RESULTS.md "Session
# 10: panel layout" (and the column-update microbenchmark of "Session 10: column-parallel step"), for the lead to
# take on a quiet machine. Each command's output goes to OUT/<name>.txt with the time, the load average and the
# core-to-core round trip (bench_cpu --only probe: the host's placement of the two vCPUs, ~60-120 ns near, ~350-440
# ns far) before and after it. Run it more than once to see both placements (the host moves the vCPUs).
#   bash benchmarks/col10-check.sh [MAIN_LIB] [OUT]
# MAIN_LIB: a libdense4j_cpu.so built from main before the column step (the A of the A/B; default: built here from
# 3369958 into /tmp/panel10-main); the first column step (wip-col, 5b8688a) is built into /tmp/panel10-wip-col for the
# "same bits" check. Needs the native build (native/target/cmake-build, with OpenBLAS for bench_cpu) and the
# uncompressed Fashion-MNIST train IDX files in /tmp/fm (zcat /usr/share/datasets/fashion-mnist/*.gz).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
B=$here/native/target/cmake-build
OUT=${2:-$here/benchmarks/results/panel10}
mkdir -p "$OUT" /tmp/fm
for f in train-images-idx3-ubyte train-labels-idx1-ubyte; do
  [ -s /tmp/fm/$f ] || zcat /usr/share/datasets/fashion-mnist/$f.gz > /tmp/fm/$f
done
build_at() {  # commit, dir: that commit's CPU library
  local src=$2
  if [ ! -f $src/native/build/libdense4j_cpu.so ]; then
    rm -rf $src && mkdir -p $src
    git -C "$here" archive $1 native cmake | tar -x -C $src
    cmake -S $src/native -B $src/native/build -DCMAKE_BUILD_TYPE=Release -DD4J_OPENBLAS_DIR= >/dev/null
    CUDACXX=/bin/false cmake --build $src/native/build --target dense4j_cpu -j2 >/dev/null
  fi
}
MAIN_LIB=${1:-}
if [ -z "$MAIN_LIB" ]; then
  build_at 3369958 /tmp/panel10-main
  MAIN_LIB=/tmp/panel10-main/native/build/libdense4j_cpu.so
fi
build_at 5b8688a /tmp/panel10-wip-col
libs=$(mktemp -d)
trap 'rm -rf "$libs"' EXIT
cp "$MAIN_LIB" "$libs/main.so"
cp /tmp/panel10-wip-col/native/build/libdense4j_cpu.so "$libs/col.so"  # the first column step (column-owned rows)
cp "$B/libdense4j_cpu.so" "$libs/panel.so"   # this branch: default step unless D4J_COLUMN_STEP=1 at creation
. "$here/benchmarks/placement-run.sh"
export D4J_BENCH_IDX=/tmp/fm
run probe-before "$B/bench_cpu" --only probe
# the 2-thread speed-up (float rows), default step and column step, 4 rounds each, twice interleaved
for i in 1 2; do
  run ref-default-$i env D4J_COLUMN_STEP=0 "$B/bench_cpu" --only ref --threads 1,2 --rounds 4
  run ref-column-$i env D4J_COLUMN_STEP=1 "$B/bench_cpu" --only ref --threads 1,2 --rounds 4
done
# whole steps in one process, byte rows as the Java API: main, this branch (column step), this branch (default);
# "same bits" of the column step against wip-col's column mode (the panels change addresses, not arithmetic)
run ab-1thread "$B/bench_ab_libs" --epochs 6 --threads 1 "$libs/main.so" "$libs/panel.so@D4J_COLUMN_STEP=1" "$libs/panel.so"
run ab-2threads "$B/bench_ab_libs" --epochs 4 --threads 2 "$libs/main.so" "$libs/panel.so@D4J_COLUMN_STEP=1" "$libs/col.so@D4J_COLUMN_STEP=1"
run ab-2threads-again "$B/bench_ab_libs" --epochs 4 --threads 2 "$libs/col.so@D4J_COLUMN_STEP=1" "$libs/panel.so@D4J_COLUMN_STEP=1" "$libs/main.so"
run ab-2threads-floats "$B/bench_ab_libs" --floats --epochs 4 --threads 2 "$libs/main.so" "$libs/panel.so@D4J_COLUMN_STEP=1"
run ab-2threads-floats-again "$B/bench_ab_libs" --floats --epochs 4 --threads 2 "$libs/panel.so@D4J_COLUMN_STEP=1" "$libs/main.so"
# the first column step's update on its own (benchmarks/results/col10): column halves vs row halves of the 784 x 128
# layer with Adam (modes 0 / 1; 4: only the parameters shared, 5: nothing shared), placement printed before each
if [ "${WITH_MICRO:-0}" = 1 ]; then
  micro=$(mktemp -d)
  g++ -O3 -march=x86-64-v3 -fno-math-errno -ffp-contract=off -I"$here/native/cpu" -I"$here/native/include" -c \
      "$here/benchmarks/results/col10/column_update_microbench.cpp" -o "$micro/main.o"
  g++ -O3 -march=x86-64-v3 -fno-math-errno -ffp-contract=off -I"$here/native/cpu" -I"$here/native/include" -c \
      "$here/native/cpu/optimizer_step.cpp" -o "$micro/opt.o"
  g++ -O3 -mavx2 -mfma -mavx512f -mavx512vl -mavx512bw -mavx512dq -mprefer-vector-width=512 -ffp-contract=off \
      -fno-math-errno -I"$here/native/cpu" -I"$here/native/include" -c "$here/native/cpu/optimizer_avx512.cpp" -o "$micro/o512.o"
  g++ -O3 -march=x86-64-v3 -I"$here/native/cpu" -I"$here/native/include" -c \
      "$here/benchmarks/results/col10/column_update_microbench_stubs.cpp" -o "$micro/stub.o"
  g++ "$micro"/*.o -o "$micro/b" -lpthread
  run update-micro bash -c "for m in 0 1 4 5 0 1 4 5; do $B/bench_cpu --only probe | tail -1; $micro/b \$m; done"
  rm -rf "$micro"
fi
run probe-after "$B/bench_cpu" --only probe
