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
cp "$B/libdense4j_cpu.so" "$libs/col.so"      # this branch, default (column step off)
cp "$B/libdense4j_cpu.so" "$libs/col-on.so"   # the same, with D4J_COLUMN_STEP=1 at creation
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
# the 2-thread speed-up, default step and column step (column-step share and pool switches per row), 4 rounds each
run ref-default "$B/bench_cpu" --only ref --threads 1,2 --rounds 4
run ref-column env D4J_COLUMN_STEP=1 "$B/bench_cpu" --only ref --threads 1,2 --rounds 4
# us/step and phases (with the column step at 2 threads: forward = region A, weight grads = region B, which holds
# the loss, the input gradient, the update and the next rows' gather)
run train-column env D4J_COLUMN_STEP=1 "$B/bench_cpu" --only train --quick --threads 1,2
# whole steps A/B/C in one process, byte rows as the Java API: main, this branch (default), this branch (column step)
run ab-1thread "$B/bench_ab_libs" --epochs 4 --threads 1 "$libs/main.so" "$libs/col.so" "$libs/col-on.so@D4J_COLUMN_STEP=1"
run ab-2threads "$B/bench_ab_libs" --epochs 4 --threads 2 "$libs/main.so" "$libs/col.so" "$libs/col-on.so@D4J_COLUMN_STEP=1"
run ab-2threads-again "$B/bench_ab_libs" --epochs 4 --threads 2 "$libs/col-on.so@D4J_COLUMN_STEP=1" "$libs/col.so" "$libs/main.so"
# the column update on its own: two threads updating the two column halves vs the two row halves of the 784 x 128
# layer with Adam (modes 0 / 1; 4: only the parameters shared, 5: nothing shared), placement printed before each
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
run probe-after "$B/bench_cpu" --only probe
