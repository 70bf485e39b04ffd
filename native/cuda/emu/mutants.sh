#!/usr/bin/env bash
# Proof that the CPU execution harness fails when a kernel's logic is wrong: each mutant below breaks one thing in a
# throwaway copy of native/ (never in the working tree), builds cuda_kernels_emu_test there and runs it; every mutant
# must make it fail. Not part of ctest (each mutant is a rebuild); run it by hand after changing the harness:
#   bash native/cuda/emu/mutants.sh [NAME...]        (prints one line per mutant: CAUGHT or MISSED; exit 1 if missed)
# The unmutated copy runs first with the same seed (D4J_TEST_SEED, default 1) and must pass.
# Needs python3 (for the edits), cmake and g++.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
NATIVE=$(cd "$HERE/../.." && pwd)
WORK=${D4J_MUTANT_DIR:-/tmp/d4j-mutants}
JOBS=${D4J_MUTANT_JOBS:-2}

# name|file (under native/)|python expression over s (the file text) that must change it
MUTANTS=(
  "mma_a_fragment|cuda/gemm_kernels.cuh|s.replace('a[1] = __float_as_uint(as[(kk + t4) * SA + mb + 8]);', 'a[1] = __float_as_uint(as[(kk + t4 + 4) * SA + mb]);', 1)"
  "mma_b_fragment|cuda/gemm_kernels.cuh|s.replace('b[ni][1] = __float_as_uint(bs[(kk + t4 + 4) * SB + nb]);', 'b[ni][1] = __float_as_uint(bs[(kk + t4) * SB + nb]);', 1)"
  "rotated_store|cuda/gemm_kernels.cuh|s.replace('t[(kq + r) * S + col] = cv(e);', 't[(kq + j) * S + col] = cv(e);', 1)"
  "splitk_sum|cuda/gemm_kernels.cuh|s.replace('for (unsigned z = 0; z < gridDim.z; ++z)', 'for (unsigned z = 1; z < gridDim.z; ++z)', 1)"
  "missing_barrier|cuda/gemm_kernels.cuh|s.replace('if (next) ld.store(As[cur ^ 1], Bs[cur ^ 1]);\n            __syncthreads();', 'if (next) ld.store(As[cur ^ 1], Bs[cur ^ 1]);', 1)"
  "warp_sum|cuda/reduce.cuh|s.replace('for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);\n    return v;\n}\n__device__ __forceinline__ float', 'for (int o = 16; o > 1; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);\n    return v;\n}\n__device__ __forceinline__ float', 1)"
  "epilogue_bias|cuda/gemm_kernels.cuh|s.replace('if (e.bias) v += __ldg(e.bias + c);', 'if (e.bias) v += __ldg(e.bias + r % p.N);', 1)"
  "grid_rows_on_y|cuda/gemm_kernels.cuh|s.replace('dim3 grid(pl.tiles_m, pl.tiles_n, pl.splits);', 'dim3 grid(pl.tiles_n, pl.tiles_m, pl.splits);', 1).replace('m0 = (int)blockIdx.x * BM;\n    n0 = (int)blockIdx.y * BN;', 'm0 = (int)blockIdx.y * BM;\n    n0 = (int)blockIdx.x * BN;', 1)"
  "no_sync_on_failure|cuda/net.cu|s.replace('    cudaStreamSynchronize(n->stream);\n    return cuda_fail(e, what);', '    return cuda_fail(e, what);', 1)"
  "adam_bias_correction|cuda/optimizers.cu|s.replace('const float step_size = (float)((double)lr / st->bc1);', 'const float step_size = lr;', 1)"
  "dropout_epilogue_step|cuda/gemm_kernels.cuh|s.replace('dropout_key(p.ep.st->seed, p.ep.st->step, p.ep.layer)', 'dropout_key(p.ep.st->seed, p.ep.st->step + 1, p.ep.layer)', 1)"
  "dropout_hash_counter|include/dense4j_dropout.h|s.replace('splitmix64(key + element)', 'splitmix64(key ^ element)', 1)"
)

build_and_run() {  # build_and_run DIR: builds the copy in DIR, runs the test with a fixed seed; sets rc
  if ! { cmake -S "$1/cuda/emu" -B "$1/build" -DCMAKE_BUILD_TYPE=Release -DD4J_CPU_ARCH=x86-64-v3 \
           -DCMAKE_CXX_STANDARD=17 && cmake --build "$1/build" -j "$JOBS" --target cuda_kernels_emu_test; } \
         > "$1/build.log" 2>&1; then
    rc=build; return
  fi
  D4J_TEST_SEED=${D4J_TEST_SEED:-1} timeout 600 "$1/build/cuda_kernels_emu_test" > "$1/run.log" 2>&1
  rc=$?
}

# The unmutated copy must pass with the same seed, else a "caught" mutant proves nothing.
rm -rf "$WORK/baseline"; mkdir -p "$WORK/baseline"; cp -r "$NATIVE/cuda" "$NATIVE/include" "$NATIVE/reference" "$WORK/baseline/"
build_and_run "$WORK/baseline"
if [ "$rc" != 0 ]; then
  echo "BASELINE: the unmutated harness does not pass (rc $rc; see $WORK/baseline): fix that first"; exit 2
fi
echo "BASELINE: passes ($(tail -1 "$WORK/baseline/run.log"))"

want=" ${*:-} "
missed=0
for m in "${MUTANTS[@]}"; do
  IFS='|' read -r name file expr <<< "$m"
  [ "$want" != "  " ] && [[ "$want" != *" $name "* ]] && continue
  dir="$WORK/$name"
  rm -rf "$dir"; mkdir -p "$dir"
  cp -r "$NATIVE/cuda" "$NATIVE/include" "$NATIVE/reference" "$dir/"
  if ! python3 - "$dir/$file" "$expr" <<'PY'
import sys
path, expr = sys.argv[1], sys.argv[2]
s = open(path).read()
t = eval(expr)
if t == s:
    sys.exit("mutation did not apply to " + path)
open(path, "w").write(t)
PY
  then echo "MUTANT $name: NOT APPLIED (the source changed: update mutants.sh)"; missed=1; continue; fi
  build_and_run "$dir"
  if [ "$rc" = build ]; then echo "MUTANT $name: CAUGHT (does not compile; see $dir/build.log)"; continue; fi
  fails=$(grep -c '^FAIL' "$dir/run.log"); problems=$(grep -c '^EMULATOR PROBLEM' "$dir/run.log")
  if [ $rc != 0 ]; then
    echo "MUTANT $name: CAUGHT (exit $rc, $fails failed checks, $problems harness problems; first: $(grep -m1 '^FAIL\|^EMULATOR PROBLEM' "$dir/run.log" | cut -c1-110))"
  else
    echo "MUTANT $name: MISSED (the harness passed; see $dir/run.log)"; missed=1
  fi
done
exit $missed
