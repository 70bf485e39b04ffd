#!/usr/bin/env bash
# One-call GPU check of the Dense4J CUDA engine, for a lent H200 machine (nvcc, CMake, PyTorch; no Java, no network).
#   bash native/scripts/gpu-check.sh [OUT_DIR]          (OUT_DIR defaults to $OUT, else /tmp/d4j-gpu-check)
# Stages, each with its own time limit inside an overall budget (D4J_CHECK_BUDGET_S, default 450 s < 8 min):
#   build (CMake, CUDA library + tests + tools; the CPU library too when D4J_OPENBLAS_DIR points at an extracted
#   OpenBLAS preset, else -DD4J_CUDA_ONLY=ON) | ctest | bench_cuda | train_cuda (reference workload, FP32 and
#   TF32) | PyTorch: cuBLAS GEMMs and the same workload eager and CUDA-graph captured | optionally the Java path
#   (java-smoke.sh: CLI train --device cuda and single-row predict latency, when a runtime and the jar were carried:
#   D4J_JAVA, D4J_JAR, default target/gpu-java/ from make-java-carry.sh) | compute-sanitizer memcheck and racecheck
#   on the short test case. A failing stage is reported and the next one still runs;
#   the summary table is always printed and written to OUT_DIR/summary.txt (logs beside it, 7 files).
set -u
START=$(date +%s)
BUDGET=${D4J_CHECK_BUDGET_S:-450}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT_DIR=${1:-${OUT:-/tmp/d4j-gpu-check}}
BUILD=${D4J_BUILD_DIR:-/tmp/d4j-gpu-build}
JOBS=$(nproc 2>/dev/null || echo 4)
mkdir -p "$OUT_DIR" "$BUILD"
RESULTS="$OUT_DIR/results.log"   # every RESULT line of every stage
: > "$RESULTS"
STAGES=()

now() { date +%s; }
left() { echo $(( BUDGET - ($(now) - START) )); }

# stage NAME LIMIT_S LOG COMMAND...  -- runs COMMAND with a timeout, appends its output to LOG
stage() {
  local name=$1 limit=$2 log=$3; shift 3
  local remaining; remaining=$(( $(left) - 15 ))
  (( limit > remaining )) && limit=$remaining
  if (( limit < 10 )); then
    STAGES+=("$name|SKIPPED (out of time)|0"); echo "== $name: skipped, out of time"; return 124
  fi
  echo "== $name (limit ${limit}s)" | tee -a "$log"
  local t0; t0=$(now)
  timeout --kill-after=5 "$limit" "$@" > "$log.part" 2>&1
  local rc=$?
  cat "$log.part" >> "$log"
  local dt=$(( $(now) - t0 ))
  local status
  case $rc in
    0) status=PASS ;;
    77) status="SKIPPED (no GPU)" ;;
    124|137) status="TIMEOUT after ${limit}s" ;;
    *) status="FAIL (exit $rc)" ;;
  esac
  grep -h '^RESULT ' "$log.part" 2>/dev/null | sed "s/^/[$name] /" >> "$RESULTS.tmp" || true
  rm -f "$log.part"
  STAGES+=("$name|$status|$dt")
  echo "== $name: $status in ${dt}s (log: $log)"
  tail -n 5 "$log" | sed 's/^/   | /'
  return $rc
}

summary() {
  {
    echo
    echo "================ Dense4J GPU check: summary ================"
    echo "host: $(hostname)  date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  total $(( $(now) - START ))s of ${BUDGET}s"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
    echo "git: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    printf '%-28s %-28s %6s\n' stage status seconds
    for s in "${STAGES[@]}"; do IFS='|' read -r a b c <<< "$s"; printf '%-28s %-28s %6s\n' "$a" "$b" "$c"; done
    echo
    sort -u "$RESULTS.tmp" 2>/dev/null > "$RESULTS"
    if command -v python3 >/dev/null 2>&1; then
      python3 "$ROOT/native/scripts/gpu_table.py" "$RESULTS" || { echo "(table script failed; raw results:)"; cat "$RESULTS"; }
    else
      cat "$RESULTS"
    fi
  } | tee "$OUT_DIR/summary.txt"
  rm -f "$RESULTS.tmp"
}
trap summary EXIT
: > "$RESULTS.tmp"

# ---- toolchain -------------------------------------------------------------------------------------------------
command -v nvcc >/dev/null 2>&1 || export PATH="/usr/local/cuda/bin:$PATH"
SANITIZER=$(command -v compute-sanitizer 2>/dev/null || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
{ nvidia-smi 2>&1 | head -15; nvcc --version 2>&1 | tail -2; cmake --version | head -1; } > "$OUT_DIR/build.log"

# ---- build -----------------------------------------------------------------------------------------------------
CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Release)
if [ -n "${D4J_OPENBLAS_DIR:-}" ] && [ -f "${D4J_OPENBLAS_DIR}/include/cblas.h" ]; then
  CMAKE_ARGS+=(-DD4J_OPENBLAS_DIR="$D4J_OPENBLAS_DIR")
else
  CMAKE_ARGS+=(-DD4J_CUDA_ONLY=ON)
fi
# (timeout cannot run shell functions: the build is one bash -c)
stage build 240 "$OUT_DIR/build.log" bash -c 'cmake -S "$1" -B "$2" "${@:4}" && cmake --build "$2" -j "$3"' _ \
  "$ROOT/native" "$BUILD" "$JOBS" "${CMAKE_ARGS[@]}"
BUILT=$?
BIN="$BUILD/cuda"

if (( BUILT == 0 )); then
  # ---- native tests ------------------------------------------------------------------------------------------
  stage ctest 150 "$OUT_DIR/ctest.log" ctest --test-dir "$BUILD" --output-on-failure
  # ---- our kernels, then our engine on the reference workload -------------------------------------------------
  stage bench_cuda 90 "$OUT_DIR/bench.log" "$BIN/bench_cuda"
  stage train_cuda_fp32 60 "$OUT_DIR/train.log" "$BIN/train_cuda" --epochs 5 --batch 32 --save-data /tmp/d4j_data.bin
  stage train_cuda_tf32 60 "$OUT_DIR/train.log" "$BIN/train_cuda" --epochs 5 --batch 32 --precision tf32 --data /tmp/d4j_data.bin
fi
# ---- PyTorch (cuBLAS) on the same GPU: GEMMs and the same workload, eager and graph-captured ---------------------
if [ -f /tmp/d4j_data.bin ]; then
  stage pytorch 150 "$OUT_DIR/torch.log" python3 "$ROOT/native/scripts/gpu_bench.py" --data /tmp/d4j_data.bin --epochs 5
else
  stage pytorch 120 "$OUT_DIR/torch.log" python3 "$ROOT/native/scripts/gpu_bench.py"
fi
# ---- optional: the Java path through the CLI, when a Java runtime and the jar were carried (make-java-carry.sh) --
JAVA_BIN=${D4J_JAVA:-$ROOT/target/gpu-java/jre/bin/java}
JAVA_JAR=${D4J_JAR:-$ROOT/target/gpu-java/dense4j-gpu.jar}
if [ -x "$JAVA_BIN" ] && [ -f "$JAVA_JAR" ] && [ -f /tmp/d4j_data.bin ]; then
  # (logged into train.log: the device tool brings back a bounded number of files)
  stage java_cuda 60 "$OUT_DIR/train.log" bash "$ROOT/native/scripts/java-smoke.sh" "$JAVA_BIN" "$JAVA_JAR" /tmp/d4j_data.bin
else
  STAGES+=("java_cuda|SKIPPED (no java/jar carried)|0")
fi
# ---- compute-sanitizer on the short case -------------------------------------------------------------------------
if (( BUILT == 0 )) && [ -n "$SANITIZER" ]; then
  stage memcheck 100 "$OUT_DIR/sanitizer.log" env D4J_TEST_QUICK=1 D4J_TEST_SEED=1 \
    "$SANITIZER" --tool memcheck --error-exitcode 1 --print-limit 20 "$BIN/cuda_kernels_test"
  stage racecheck 100 "$OUT_DIR/sanitizer.log" env D4J_TEST_QUICK=1 D4J_TEST_SEED=1 \
    "$SANITIZER" --tool racecheck --error-exitcode 1 --print-limit 20 "$BIN/cuda_kernels_test"
elif (( BUILT == 0 )); then
  STAGES+=("compute-sanitizer|NOT FOUND|0")
fi
exit 0
