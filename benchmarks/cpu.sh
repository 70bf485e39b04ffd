#!/usr/bin/env bash
# Every CPU figure of issue 11 in one command, for both OpenBLAS kernel families: the environment as set
# (OPENBLAS_CORETYPE=Haswell on our machines: AVX2 kernels) and with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset
# in this command only (OpenBLAS picks its kernels for the CPU, AVX-512 here); then Dense4J's own AVX2 kernels
# forced (D4J_CPU_ISA=avx2: what an AVX2-only server runs). Dense4J itself uses no OpenBLAS (since issue 10):
# the setting changes only the yardstick (sgemm peak, bare sgemm columns, PyTorch's BLAS).
#   native bench_input_grad: the two forms of our input-gradient kernel next to OpenBLAS sgemm, one thread;
#   native bench_cpu: sgemm peak at 1 and 2 threads; ops at the reference shapes; epochs of 784-128-10 and
#     784-1024-1024-10 at batch 32 and 256, 1 and 2 threads, with GFLOP/s, % of peak, floor, phase shares;
#     inference (1 row p50/p99, 32 and 256 rows);
#   native bench_cpu --only ref: the reference network at 1 and 2 threads interleaved (7 rounds of one epoch):
#     the 2-thread speed-up side by side, with the pool's switches to serial (0 expected on a quiet machine);
#   native bench_step_floor: the one-thread floor of the reference step op by op (FMA peak, Adam's divider, the
#     batch gather from DRAM in 4 KB and 2 MB pages) next to the engine's step and its phase shares;
#   Java ReferenceWorkload: the reference workload on Fashion-MNIST (5 epochs, batch 32) at 1 and 2 threads,
#     median of 3, accuracy, Sequential.predict latency (1 row p50/p99, 256 rows), and PyTorch 1.13 with the same
#     OpenBLAS (LD_PRELOAD) at the same thread counts in the same run.
# The Dense4J AVX2 kernels (D4J_CPU_ISA=avx2) get bench_cpu, the interleaved speed-up and the Java workload too.
# Build first (repository root):
#   mvn -B install -DskipTests -pl native,java-api -am && mvn -B package -DskipTests -pl benchmarks -am
# Run from the repository root, on a quiet machine (check uptime): benchmarks/cpu.sh   (~12 minutes on 2 cores)
# Output: benchmarks/results/cpu-<part>.md (also printed). PyTorch needs python3-torch (apt-get install python3-torch);
# without it the PyTorch column says so and the rest runs.
# benchmarks/cpu.sh --quick: a short check that every part runs (1 epoch, 1 repeat, fewer rounds, no PyTorch; 5 min at load 8-12),
#   written to benchmarks/results/quick/ so that the real figures are not overwritten. Its numbers are not results.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bench=${D4J_BENCH_CPU:-$root/native/target/cmake-build/bench_cpu}
input_grad_bench=$(dirname "$bench")/bench_input_grad
input_grad_args=()
floor_bench=$(dirname "$bench")/bench_step_floor
floor_args=(--rounds 5)
jar=$here/target/benchmarks.jar
data=${D4J_DATA:-/usr/share/datasets/fashion-mnist}
out=$here/results
native_args=(--threads 1,2 --epochs 3)
java_args=(5 32 1,2 --repeats 3 --torch-openblas)
ref_args=(--only ref --threads 1,2 --rounds 7)
if [ "${1:-}" = --quick ]; then
  out=$here/results/quick
  native_args=(--threads 1,2 --quick)
  input_grad_args=(--quick)
  floor_args=(--rounds 1)
  java_args=(1 32 1,2 --repeats 1 --no-torch)
  ref_args=(--only ref --threads 1,2 --rounds 2)
elif [ $# -gt 0 ]; then
  echo "usage: benchmarks/cpu.sh [--quick]"; exit 2
fi
mkdir -p "$out"
for b in "$bench" "$input_grad_bench" "$floor_bench"; do
  [ -x "$b" ] || { echo "missing $b: build first (see the top of this script)"; exit 1; }
done
[ -f "$jar" ] || { echo "missing $jar: build first (see the top of this script)"; exit 1; }
export JAVA_TOOL_OPTIONS="-Dorg.bytedeco.javacpp.cachedir=$root/target/javacpp-cache ${JAVA_TOOL_OPTIONS:-}"

run() {  # run LABEL COMMAND...: output to the terminal and to results/cpu-LABEL.md
  local label=$1
  shift
  { echo "# $label: $*"; echo; echo "uptime: $(uptime)"; echo; "$@"; } 2>&1 | tee "$out/cpu-$label.md"
}

for family in set unset; do
  if [ "$family" = set ]; then pre=(env); else pre=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE); fi
  run "input-grad-openblas-env-$family" "${pre[@]}" "$input_grad_bench" "${input_grad_args[@]}"
  run "native-openblas-env-$family" "${pre[@]}" "$bench" "${native_args[@]}"
  run "speedup-openblas-env-$family" "${pre[@]}" "$bench" "${ref_args[@]}"
  run "java-openblas-env-$family" "${pre[@]}" java -cp "$jar" io.dense4j.bench.ReferenceWorkload "$data" "${java_args[@]}"
done
run step-floor "$floor_bench" "${floor_args[@]}"  # our kernels only: the OpenBLAS setting does not change it
run native-d4j-avx2-kernels env D4J_CPU_ISA=avx2 "$bench" "${native_args[@]}"
run speedup-d4j-avx2-kernels env D4J_CPU_ISA=avx2 "$bench" "${ref_args[@]}"
java_avx2_args=("${java_args[@]}")
java_avx2_args[${#java_avx2_args[@]}-1]=--no-torch  # PyTorch's side does not depend on our kernels
run java-d4j-avx2-kernels env D4J_CPU_ISA=avx2 java -cp "$jar" io.dense4j.bench.ReferenceWorkload "$data" "${java_avx2_args[@]}"
