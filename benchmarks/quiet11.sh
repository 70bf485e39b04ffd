#!/usr/bin/env bash
# Session 11's figures for issue 11 (run alone, after `mvn -B install -DskipTests`): the column step in runs with
# the fused first-layer update, on by default, against main before it (25a0e82, its per-op default step and its
# two-region column step). Each command's output goes to OUT/<name>.txt, starting with the time, the load and the
# core-to-core probe (the host's placement of the two vCPUs: ~60-120 ns near, ~350-400 ns far; it moves them).
#   bash benchmarks/quiet11.sh [MAIN_LIB] [OUT]
# MAIN_LIB: libdense4j_cpu.so built from 25a0e82 (default: built here into /tmp/quiet11-main). Needs the native
# build (native/target/cmake-build) and the uncompressed Fashion-MNIST train IDX files in /tmp/fm.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
B=native/target/cmake-build
OUT=${2:-benchmarks/results/quiet11}
mkdir -p "$OUT" /tmp/fm
for f in train-images-idx3-ubyte train-labels-idx1-ubyte; do
  [ -s /tmp/fm/$f ] || zcat /usr/share/datasets/fashion-mnist/$f.gz > /tmp/fm/$f
done
MAIN_LIB=${1:-}
if [ -z "$MAIN_LIB" ]; then
  src=/tmp/quiet11-main
  if [ ! -f $src/native/build/libdense4j_cpu.so ]; then
    rm -rf $src && mkdir -p $src && git archive 25a0e82 native cmake | tar -x -C $src
    cmake -S $src/native -B $src/native/build -DCMAKE_BUILD_TYPE=Release -DD4J_OPENBLAS_DIR= >/dev/null
    CUDACXX=/bin/false cmake --build $src/native/build --target dense4j_cpu -j2 >/dev/null
  fi
  MAIN_LIB=$src/native/build/libdense4j_cpu.so
fi
libs=$(mktemp -d)
trap 'rm -rf "$libs"' EXIT
cp "$MAIN_LIB" "$libs/main.so"
cp "$B/libdense4j_cpu.so" "$libs/new.so"
export D4J_BENCH_IDX=/tmp/fm
W="java -Dorg.bytedeco.javacpp.cachedir=/tmp/quiet11-jc -cp benchmarks/target/benchmarks.jar io.dense4j.bench.ReferenceWorkload /usr/share/datasets/fashion-mnist 5 32"
. "$here/benchmarks/placement-run.sh"
for i in 1 2 3; do
  # main's default step, main's two-region column step, this build's default (column runs), this build's per-op step
  run ab-bytes-2t-$i $B/bench_ab_libs --epochs 4 --threads 2 "$libs/main.so" "$libs/main.so@D4J_COLUMN_STEP=1" "$libs/new.so" "$libs/new.so@D4J_COLUMN_STEP=0"
done
run ab-floats-2t $B/bench_ab_libs --floats --epochs 4 --threads 2 "$libs/main.so" "$libs/new.so" "$libs/new.so@D4J_COLUMN_STEP=0"
run ab-bytes-1t $B/bench_ab_libs --epochs 4 --threads 1 "$libs/main.so" "$libs/new.so" "$libs/new.so@D4J_COLUMN_STEP=0"
run java-12-a $W 1,2 --repeats 3 --no-torch
run java-12-unset env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $W 1,2 --repeats 3 --no-torch
run java-torch1 $W 1 --repeats 3 --torch-openblas
run native-ref $B/bench_cpu --only ref --threads 1,2 --rounds 8
run native-collapse $B/bench_cpu --only collapse --threads 1,2
run java-12-b $W 1,2 --repeats 3 --no-torch
echo done
