#!/usr/bin/env bash
# One-call GPU check of the Dense4J CUDA engine, for a lent H200 machine (nvcc, CMake, PyTorch; no Java, no network).
#   bash native/scripts/gpu-check.sh [OUT_DIR]          (OUT_DIR defaults to $OUT, else /tmp/d4j-gpu-check)
# Stages in order of value, each with a time cap; the caps add up to the budget (D4J_CHECK_BUDGET_S, default 410 s,
# under 7 minutes), so no stage is cut for time unless one before it overran:
#   build (CMake, -DD4J_CUDA_ONLY=ON: the CUDA library, its tests and tools) | ctest (every kernel against the float64
#   reference, whole training steps) | memcheck, racecheck (compute-sanitizer, short case) | train_fp32 (the
#   reference workload) | java_cuda (the Java path, when a runtime and the jar were carried: make-java-carry.sh) |
#   bench (every GEMM variant and the training step) | pytorch (cuBLAS and the same workload, eager and graph) |
#   train_tf32.
# Prints one line per stage, PASS, FAIL (why) or SKIPPED (why), and a verdict; writes summary.txt and the logs
# (8 files at most) to OUT_DIR. Exit status: 0 = PASS; 1 = FAIL (a stage failed or timed out; on a machine with a
# GPU, a test that skips for want of a device is a failure); 2 = NOT VERIFIED (no usable GPU here: the build ran,
# every device stage is SKIPPED).
# D4J_CHECK_STAGES="ctest train_fp32" reruns only those stages (after the build, incremental in D4J_BUILD_DIR);
# D4J_BUILD_CAP_S raises the build's cap (110 s, for the 16 cores of the GPU machine) on a slower machine.
set -u
START=$(date +%s)
BUDGET=${D4J_CHECK_BUDGET_S:-500}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT_DIR=${1:-${OUT:-/tmp/d4j-gpu-check}}
BUILD=${D4J_BUILD_DIR:-/tmp/d4j-gpu-build}
WANTED=" ${D4J_CHECK_STAGES:-build ctest memcheck racecheck train_fp32 java_cuda java_tests bench profile sweep pytorch train_tf32} "
JOBS=$(nproc 2>/dev/null || echo 4)
DATA=/tmp/d4j_data.bin
mkdir -p "$OUT_DIR" "$BUILD"
RESULTS="$OUT_DIR/results.log"   # every RESULT line of every stage
: > "$RESULTS"
: > "$RESULTS.tmp"
STAGES=()       # "name|status|seconds"
FAILED=0
GPU=unknown     # yes / no (probe)
GPU_WHY=""

now() { date +%s; }
left() { echo $(( BUDGET - ($(now) - START) )); }
wanted() { [[ "$WANTED" == *" $1 "* ]]; }
skip() { STAGES+=("$1|SKIPPED ($2)|0"); echo "== $1: SKIPPED ($2)"; }

# stage NAME CAP_S LOG COMMAND...  -- runs COMMAND under a timeout, appends its output to LOG; sets STATUS
stage() {
  local name=$1 cap=$2 log=$3; shift 3
  local limit=$cap remaining; remaining=$(( $(left) - 5 ))
  (( limit > remaining )) && limit=$remaining
  if (( limit < 10 )); then
    STAGES+=("$name|FAIL (no time left of the ${BUDGET}s budget)|0"); FAILED=1
    echo "== $name: FAIL (out of time)"; STATUS=FAIL; return
  fi
  echo "== $name (cap ${limit}s)" | tee -a "$log"
  local t0; t0=$(now)
  timeout --kill-after=5 "$limit" "$@" > "$log.part" 2>&1
  local rc=$?
  cat "$log.part" >> "$log"
  local dt=$(( $(now) - t0 )) status
  case $rc in
    0) status=PASS ;;
    77) status="FAIL (the test skipped for want of a usable device, on a machine that has a GPU)" ;;
    124|137) status="FAIL (timed out after ${limit}s)" ;;
    *) status="FAIL (exit $rc)" ;;
  esac
  # the sanitizers cannot attach on some hosts (gVisor): the tool's refusal is not a finding about our code
  if [ "$rc" != 0 ] && [[ $name == memcheck || $name == racecheck ]] && grep -qi "device not supported\|Target application terminated before first instrumented API call" "$log.part"; then
    status="SKIPPED (compute-sanitizer cannot attach on this machine)"
  fi
  # ctest turns exit 77 into "Skipped" and still exits 0: on the GPU machine that is a failure
  if [ "$status" = PASS ] && [ "$name" = ctest ] && grep -q "Skipped\|Not Run" "$log.part"; then
    status="FAIL (a test was skipped: no usable device, on a machine that has a GPU)"
  fi
  [[ $status == FAIL* ]] && FAILED=1
  grep -h '^RESULT ' "$log.part" 2>/dev/null | sed "s/^/[$name] /" >> "$RESULTS.tmp" || true
  rm -f "$log.part"
  STAGES+=("$name|$status|$dt")
  STATUS=${status%% *}
  echo "== $name: $status in ${dt}s (log: $log)"
  tail -n 4 "$log" | sed 's/^/   | /'
}

summary() {
  local pass=0 fail=0 skipped=0 verdict code
  for s in "${STAGES[@]}"; do
    case ${s#*|} in PASS*) pass=$((pass + 1)) ;; FAIL*) fail=$((fail + 1)) ;; *) skipped=$((skipped + 1)) ;; esac
  done
  if (( fail > 0 )); then verdict="FAIL: $fail stage(s) failed"; code=1
  elif [ "$GPU" != yes ]; then
    verdict="NOT VERIFIED: no usable GPU here (nvidia-smi lists none; $GPU_WHY): nothing ran on a device"; code=2
  else verdict="PASS: $pass stage(s) passed"; code=0; fi
  (( code != 1 && skipped > 0 )) && verdict="$verdict, $skipped skipped"
  {
    echo
    echo "================ Dense4J GPU check: summary ================"
    echo "host: $(hostname)  date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  total $(( $(now) - START ))s of ${BUDGET}s"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
    echo "git: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    for s in "${STAGES[@]}"; do
      IFS='|' read -r a b c <<< "$s"
      printf 'STAGE %-11s %-7s %4ss  %s\n' "$a" "${b%% *}" "$c" "$( [[ $b == *" "* ]] && echo "${b#* }")"
    done
    echo "VERDICT: $verdict"
    echo
    sort -u "$RESULTS.tmp" 2>/dev/null > "$RESULTS"
    if [ -s "$RESULTS" ]; then
      if command -v python3 >/dev/null 2>&1; then
        python3 "$ROOT/native/scripts/gpu_table.py" "$RESULTS" || { echo "(table script failed; raw results:)"; cat "$RESULTS"; }
      else
        cat "$RESULTS"
      fi
    fi
  } | tee "$OUT_DIR/summary.txt"
  rm -f "$RESULTS.tmp"
  exit $code
}
trap summary EXIT

# ---- toolchain and device ---------------------------------------------------------------------------------------
command -v nvcc >/dev/null 2>&1 || export PATH="/usr/local/cuda/bin:$PATH"
SANITIZER=$(command -v compute-sanitizer 2>/dev/null || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
NVSMI_GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
{ nvidia-smi 2>&1 | head -15; nvcc --version 2>&1 | tail -2; cmake --version | head -1; echo "cores: $JOBS"; } > "$OUT_DIR/build.log"

# ---- build (incremental when D4J_BUILD_DIR survives from an earlier call) -----------------------------------------
stage build "${D4J_BUILD_CAP_S:-110}" "$OUT_DIR/build.log" bash -c 'cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DD4J_CUDA_ONLY=ON &&
  cmake --build "$2" -j "$3"' _ "$ROOT/native" "$BUILD" "$JOBS"
BUILT=$STATUS
BIN="$BUILD/cuda"

# ---- is there a usable GPU? (our library's own answer, and the driver's) ------------------------------------------
if [ "$BUILT" = PASS ]; then
  PROBE=$(timeout --kill-after=5 30 "$BIN/cuda_kernels_test" --probe 2>&1); PROBE_RC=$?
  echo "$PROBE" | tee -a "$OUT_DIR/build.log"
  if [ $PROBE_RC = 0 ]; then GPU=yes
  elif (( NVSMI_GPUS > 0 )); then
    GPU=yes  # the driver lists a GPU that our library cannot use: every device stage runs and fails, saying why
    STAGES+=("device|FAIL (nvidia-smi lists $NVSMI_GPUS GPU(s) but the CUDA library finds none: ${PROBE//|/ })|0"); FAILED=1
  else GPU=no; GPU_WHY=$(echo "$PROBE" | tail -1 | sed 's/^SKIPPED: //' | cut -c1-200); fi
else
  GPU_WHY="the build failed"
fi

device_stage() {  # device_stage NAME CAP LOG COMMAND...: runs when built and a GPU is there, else SKIPPED
  local name=$1
  if ! wanted "$name"; then return; fi
  if [ "$BUILT" != PASS ]; then skip "$name" "the build failed"; return; fi
  if [ "$GPU" != yes ]; then skip "$name" "no GPU"; return; fi
  stage "$@"
}

# ---- correctness first: every kernel against the float64 reference, then the sanitizers on the short case ---------
device_stage ctest 60 "$OUT_DIR/ctest.log" env D4J_REQUIRE_GPU=1 \
  ctest --test-dir "$BUILD" -R '^(reference_test|cuda_kernels_test)$' --output-on-failure --no-tests=error
if [ -z "$SANITIZER" ] && [ "$GPU" = yes ]; then
  wanted memcheck && skip memcheck "compute-sanitizer not found"
  wanted racecheck && skip racecheck "compute-sanitizer not found"
else
  device_stage memcheck 40 "$OUT_DIR/sanitizer.log" env D4J_TEST_QUICK=1 D4J_TEST_SEED=1 D4J_REQUIRE_GPU=1 \
    "$SANITIZER" --tool memcheck --error-exitcode 1 --print-limit 20 "$BIN/cuda_kernels_test"
  device_stage racecheck 35 "$OUT_DIR/sanitizer.log" env D4J_TEST_QUICK=1 D4J_TEST_SEED=1 D4J_REQUIRE_GPU=1 \
    "$SANITIZER" --tool racecheck --error-exitcode 1 --print-limit 20 "$BIN/cuda_kernels_test"
fi

# ---- the engine on the reference workload (writes the data set the later stages share) ---------------------------
wanted train_fp32 && rm -f "$DATA"  # never a data set left by an earlier run
device_stage train_fp32 25 "$OUT_DIR/train.log" "$BIN/train_cuda" --epochs 5 --batch 32 --save-data "$DATA"

# ---- the Java path, when a runtime and the jar were carried (make-java-carry.sh) ---------------------------------
JAVA_BIN=${D4J_JAVA:-$ROOT/target/gpu-java/jre/bin/java}
JAVA_JAR=${D4J_JAR:-$ROOT/target/gpu-java/dense4j-gpu.jar}
if wanted java_cuda; then
  if [ ! -x "$JAVA_BIN" ] || [ ! -f "$JAVA_JAR" ]; then skip java_cuda "no Java runtime and jar carried: make-java-carry.sh"
  elif [ "$GPU" = yes ] && [ "$BUILT" = PASS ] && [ ! -f "$DATA" ]; then skip java_cuda "no data set: train_fp32 did not write $DATA"
  else
    # (logged into train.log: the device tool brings back at most 8 files)
    device_stage java_cuda 40 "$OUT_DIR/train.log" bash "$ROOT/native/scripts/java-smoke.sh" "$JAVA_BIN" "$JAVA_JAR" "$DATA"
  fi
fi

# ---- the JUnit tests that need a GPU (CudaDeviceTest, CudaKernelsTest), when carried ----------------------------
JAVA_CARRY=$(dirname "$JAVA_JAR")
if wanted java_tests; then
  if [ ! -x "$JAVA_BIN" ] || [ ! -f "$JAVA_CARRY/tests/junit-console.jar" ]; then
    skip java_tests "no Java runtime and tests carried: make-java-carry.sh"
  else
    # (logged into train.log; the XML reports stay on the machine: the device tool brings back at most 8 files)
    device_stage java_tests 90 "$OUT_DIR/train.log" bash "$ROOT/native/scripts/java-gpu-tests.sh" "$JAVA_BIN" \
      "$JAVA_CARRY" /tmp/d4j-junit-reports
  fi
fi

# ---- speed: our kernels, then PyTorch (cuBLAS) on the same GPU and the same data, then TF32 -----------------------
device_stage bench 35 "$OUT_DIR/bench.log" "$BIN/bench_cuda" --quick --no-simple
# where each microsecond of the training step goes: every kernel of a few steps, timed by Nsight Compute (clocks
# and caches left alone, so warm as in the real run; the SM clock is read too), after 500 launches of warm-up
NCU=$(command -v ncu 2>/dev/null || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if wanted profile; then
  if [ -z "$NCU" ] && [ "$GPU" = yes ]; then skip profile "ncu not found"
  elif [ -f "$DATA" ]; then
    device_stage profile 60 "$OUT_DIR/bench.log" "$NCU" --clock-control none --cache-control none \
      --metrics gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second \
      --launch-skip 500 --launch-count 60 --csv "$BIN/train_cuda" --epochs 1 --batch 32 --data "$DATA"
  else skip profile "no data set: train_fp32 did not write $DATA"; fi
fi
# the planner's choices on this GPU: the training step with each tile shape and each split-K cap (2 epochs each;
# their lines are renamed "SWEEP" so that the table's RESULT lines stay those of the default run)
if wanted sweep; then
  if [ -f "$DATA" ]; then
    device_stage sweep 60 "$OUT_DIR/bench.log" bash -c 'for v in auto t64 t32; do for c in 16 8 4 2 1; do
        [ $v != auto ] && [ $c != 16 ] && continue
        printf "SWEEP variant=%s max_split=%s " $v $c
        D4J_CUDA_MAX_SPLIT=$c "$1" --epochs 2 --batch 32 --variant $v --data "$2" | sed -n "s/^epoch 2: .*(\(.*\) us\/step)/us_per_step=\1/p"
      done; done' _ "$BIN/train_cuda" "$DATA"
  else skip sweep "no data set: train_fp32 did not write $DATA"; fi
fi
if wanted pytorch; then
  if [ "$GPU" = yes ] && ! python3 -c 'import torch' >/dev/null 2>&1; then skip pytorch "python3 cannot import torch"
  elif [ -f "$DATA" ]; then
    device_stage pytorch 50 "$OUT_DIR/torch.log" python3 "$ROOT/native/scripts/gpu_bench.py" --data "$DATA" --epochs 5
  else
    device_stage pytorch 50 "$OUT_DIR/torch.log" python3 "$ROOT/native/scripts/gpu_bench.py"
  fi
fi
if [ -f "$DATA" ]; then
  device_stage train_tf32 15 "$OUT_DIR/train.log" "$BIN/train_cuda" --epochs 5 --batch 32 --precision tf32 --data "$DATA"
else
  device_stage train_tf32 15 "$OUT_DIR/train.log" "$BIN/train_cuda" --epochs 5 --batch 32 --precision tf32
fi
