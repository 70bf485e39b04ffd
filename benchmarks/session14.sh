#!/usr/bin/env bash
# Session 14's experiment for issue 11, tried and not kept: the pool judging its parallel tries after a hard back-off
# every ms (results/session14/early-judgement.patch) against main without it. Run alone, in a checkout with the patch
# applied (`git apply benchmarks/results/session14/early-judgement.patch`) and built with
# `mvn -B install -DskipTests`. Each command's output goes to OUT/<name>.txt, starting with the time, the load and the
# core-to-core probe (placement-run.sh).
#   bash benchmarks/session14.sh MAIN_DIR [OUT]
# MAIN_DIR: a checkout of main without the patch (bbacc4e then), built with `mvn -B install -DskipTests`. Needs the
# uncompressed Fashion-MNIST train IDX files in /tmp/fm (as quiet12.sh makes them).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
B=native/target/cmake-build
MAIN_B=$1/native/target/cmake-build
OUT=${2:-benchmarks/results/session14}
mkdir -p "$OUT" /tmp/fm
for f in train-images-idx3-ubyte train-labels-idx1-ubyte; do
  [ -s /tmp/fm/$f ] || zcat /usr/share/datasets/fashion-mnist/$f.gz > /tmp/fm/$f
done
libs=$(mktemp -d)
spinner=
trap 'rm -rf "$libs"; [ -n "$spinner" ] && kill $spinner' EXIT
cp "$MAIN_B/libdense4j_cpu.so" "$libs/main.so"
cp "$B/libdense4j_cpu.so" "$libs/new.so"
export D4J_BENCH_IDX=/tmp/fm
. "$here/benchmarks/placement-run.sh"
# quiet: the same steps side by side (must not lose anything where no core is taken)
for i in 1 2 3; do
  run ab-bytes-2t-$i $B/bench_ab_libs --epochs 4 --threads 2 "$libs/main.so" "$libs/new.so"
done
# no collapse, main's build and this one alternately: bench_cpu's own spinning process in its "yes" rows
for i in 1 2 3; do
  run collapse-main-$i "$MAIN_B/bench_cpu" --only collapse --threads 1,2
  run collapse-new-$i $B/bench_cpu --only collapse --threads 1,2
done
# the same with one more process spinning for the whole section: one other process in the "no" rows, two in "yes"
perl -e 'while (1) {}' &
spinner=$!
for i in 1 2 3; do
  run spin-collapse-main-$i "$MAIN_B/bench_cpu" --only collapse --threads 1,2
  run spin-collapse-new-$i $B/bench_cpu --only collapse --threads 1,2
done
# the reference workload through the Java API (5 epochs, medians of 3 fits at 1 and 2 threads), main's jar and
# this one alternately, with the spinner still running, then quiet
REF="io.dense4j.bench.ReferenceWorkload /usr/share/datasets/fashion-mnist 5 32 1,2 --repeats 3 --no-torch"
for i in 1 2 3; do
  run java-spin-main-$i java -Dorg.bytedeco.javacpp.cachedir=/tmp/s14-jc-main -cp "$1/benchmarks/target/benchmarks.jar" $REF
  run java-spin-new-$i java -Dorg.bytedeco.javacpp.cachedir=/tmp/s14-jc-new -cp benchmarks/target/benchmarks.jar $REF
done
kill $spinner
spinner=
for i in 1 2 3; do
  run java-main-$i java -Dorg.bytedeco.javacpp.cachedir=/tmp/s14-jc-main -cp "$1/benchmarks/target/benchmarks.jar" $REF
  run java-new-$i java -Dorg.bytedeco.javacpp.cachedir=/tmp/s14-jc-new -cp benchmarks/target/benchmarks.jar $REF
done
# the same steps side by side once more, and the same library twice (what the A/B's noise is)
cp "$libs/main.so" "$libs/main2.so"
run ab-bytes-2t-more bash -c "for i in \$(seq 10); do $B/bench_ab_libs --epochs 4 --threads 2 $libs/main.so $libs/new.so | grep '^B '; done"
run ab-null-2t bash -c "for i in \$(seq 10); do $B/bench_ab_libs --epochs 4 --threads 2 $libs/main.so $libs/main2.so | grep '^B '; done"
