#!/usr/bin/env bash
# Session 12's figures for issue 11 (run alone, after `mvn -B install -DskipTests`): the column step with guards
# between what different cores write (net_state.h GUARD_FLOATS; b0 and W1 in each block's panel), against main
# before it (5e78273). Each command's output goes to OUT/<name>.txt, starting with the time, the load and the
# core-to-core probe (the host's placement of the two vCPUs: ~60-160 ns near, ~350-460 ns far; it moves them).
#   bash benchmarks/quiet12.sh [MAIN_DIR] [OUT]
# MAIN_DIR: a checkout of 5e78273 built with `mvn -B install -DskipTests` (its native library and benchmarks jar);
# without it, main's library is built here into /tmp/quiet12-main and the Java runs of main are left out. Needs the
# native build (native/target/cmake-build) and the uncompressed Fashion-MNIST train IDX files in /tmp/fm.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
B=native/target/cmake-build
OUT=${2:-benchmarks/results/quiet12}
mkdir -p "$OUT" /tmp/fm
for f in train-images-idx3-ubyte train-labels-idx1-ubyte; do
  [ -s /tmp/fm/$f ] || zcat /usr/share/datasets/fashion-mnist/$f.gz > /tmp/fm/$f
done
MAIN_DIR=${1:-}
libs=$(mktemp -d)
trap 'rm -rf "$libs"' EXIT
if [ -n "$MAIN_DIR" ]; then
  cp "$MAIN_DIR/native/target/cmake-build/libdense4j_cpu.so" "$libs/main.so"
else
  src=/tmp/quiet12-main
  if [ ! -f $src/native/build/libdense4j_cpu.so ]; then
    rm -rf $src && mkdir -p $src && git archive 5e78273 native cmake | tar -x -C $src
    cmake -S $src/native -B $src/native/build -DCMAKE_BUILD_TYPE=Release -DD4J_OPENBLAS_DIR= >/dev/null
    CUDACXX=/bin/false cmake --build $src/native/build --target dense4j_cpu -j2 >/dev/null
  fi
  cp $src/native/build/libdense4j_cpu.so "$libs/main.so"
fi
cp "$B/libdense4j_cpu.so" "$libs/new.so"
export D4J_BENCH_IDX=/tmp/fm
# the reference workload through the Java API of the build whose benchmarks jar follows
REF="io.dense4j.bench.ReferenceWorkload /usr/share/datasets/fashion-mnist 5 32"
JC=-Dorg.bytedeco.javacpp.cachedir=/tmp/quiet12-jc
NEW_JAR=benchmarks/target/benchmarks.jar
. "$here/benchmarks/placement-run.sh"
run neighbours $B/bench_neighbours
for i in 1 2 3; do
  run ab-bytes-2t-$i $B/bench_ab_libs --epochs 4 --threads 2 "$libs/main.so" "$libs/new.so"
done
run ab-floats-2t $B/bench_ab_libs --floats --epochs 4 --threads 2 "$libs/main.so" "$libs/new.so"
run ab-bytes-1t $B/bench_ab_libs --epochs 4 --threads 1 "$libs/main.so" "$libs/new.so"
for i in 1 2 3; do
  [ -n "$MAIN_DIR" ] && run java-main-$i java $JC-main -cp "$MAIN_DIR/$NEW_JAR" $REF 1,2 --repeats 3 --no-torch
  run java-new-$i java $JC-new -cp $NEW_JAR $REF 1,2 --repeats 3 --no-torch
done
run java-new-unset env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE java $JC-new -cp $NEW_JAR $REF 1,2 --repeats 3 --no-torch
run java-torch java $JC-new -cp $NEW_JAR $REF 1 --repeats 3 --torch-openblas
run native-ref $B/bench_cpu --only ref --threads 1,2 --rounds 8
run native-collapse $B/bench_cpu --only collapse --threads 1,2
echo done
