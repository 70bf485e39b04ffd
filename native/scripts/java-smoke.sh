#!/usr/bin/env bash
# The Java CUDA path on the GPU machine (a stage of gpu-check.sh; needs what make-java-carry.sh packs):
#   java-smoke.sh JAVA JAR DATA_BIN
# Turns train_cuda's data set (DATA_BIN, "D4JDATA1": 60000 + 10000 MNIST-shaped uint8 rows) into an MNIST-layout IDX
# directory, then through the CLI: trains the reference workload on cuda (784-128-10, Adam 1e-3, batch 32, 5 epochs,
# evaluated on the 10000 test rows), and times single-row Model.predict from Java on cuda (issue 3 goal: < 30 us).
# Prints its RESULT lines (for gpu_table.py) whatever happens, then exits non-zero if a step failed. Needs bash,
# python3 with numpy, date and sed (no bc: the GPU machine may not have it).
set -uo pipefail
JAVA=$1 JAR=$2 BIN=$3
IDX=${D4J_JAVA_IDX:-/tmp/d4j_idx}
MODEL=/tmp/d4j_java.d4j
CACHE=-Dorg.bytedeco.javacpp.cachedir=${D4J_JAVACPP_CACHE:-/tmp/d4j-javacpp-cache}  # native libraries unpacked here
rc=0
python3 - "$BIN" "$IDX" <<'PY' || rc=1
import os, struct, sys
import numpy as np
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
with open(src, "rb") as f:
    assert f.read(8) == b"D4JDATA1", "not a train_cuda data file"
    n_tr, n_te, w, _ = (int(v) for v in np.frombuffer(f.read(16), dtype=np.int32))
    assert w == 784, w
    xtr = f.read(n_tr * w); ytr = np.frombuffer(f.read(n_tr * 4), dtype=np.int32)
    xte = f.read(n_te * w); yte = np.frombuffer(f.read(n_te * 4), dtype=np.int32)
for split, x, y, n in (("train", xtr, ytr, n_tr), ("t10k", xte, yte, n_te)):
    with open(f"{dst}/{split}-images-idx3-ubyte", "wb") as o:
        o.write(struct.pack(">IIII", 0x803, n, 28, 28) + x)
    with open(f"{dst}/{split}-labels-idx1-ubyte", "wb") as o:
        o.write(struct.pack(">II", 0x801, n) + y.astype(np.uint8).tobytes())
print(f"IDX data: {n_tr} train + {n_te} test rows in {dst}")
PY
"$JAVA" -version 2>&1 | head -1
t0=$(date +%s%N)
"$JAVA" "$CACHE" -jar "$JAR" train --data "$IDX" --device cuda --layers 128,10 --activations relu,softmax --optimizer adam \
  --lr 0.001 --epochs 5 --batch-size 32 --seed 42 --no-progress -o "$MODEL" 2>&1 | tee /tmp/d4j_java_train.txt || rc=1
wall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
train_s=$(sed -n 's/^trained [0-9]* epochs in \([0-9.]*\)s$/\1/p' /tmp/d4j_java_train.txt)
acc=$(sed -n 's/^test: .* accuracy \([0-9.]*\).*/\1/p' /tmp/d4j_java_train.txt | head -1)
printf 'RESULT java=cuda_train epochs=5 train_s=%s test_acc=%s jvm_wall_s=%d.%03d\n' "${train_s:--}" "${acc:--}" \
  $((wall_ms / 1000)) $((wall_ms % 1000))
if [ -f "$MODEL" ]; then
  "$JAVA" "$CACHE" -jar "$JAR" predict -m "$MODEL" --data "$IDX" --rows 0 --device cuda --repeat 20000 2>&1 \
    | tee /tmp/d4j_java_predict.txt || rc=1
else
  echo "no model was saved: predict not run"; : > /tmp/d4j_java_predict.txt; rc=1
fi
lat=$(grep '^latency:' /tmp/d4j_java_predict.txt)
mean=$(echo "$lat" | sed -n 's/.*mean \([0-9.]*\) us.*/\1/p')
p50=$(echo "$lat" | sed -n 's/.*p50 \([0-9.]*\) us.*/\1/p')
p99=$(echo "$lat" | sed -n 's/.*p99 \([0-9.]*\) us.*/\1/p')
printf 'RESULT java=cuda_predict rows=1 mean_us=%s p50_us=%s p99_us=%s\n' "${mean:--}" "${p50:--}" "${p99:--}"
[ -n "$train_s" ] && [ -n "$mean" ] || rc=1
exit $rc
