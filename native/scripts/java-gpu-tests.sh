#!/usr/bin/env bash
# The JUnit tests that need a GPU, on the GPU machine (a stage of gpu-check.sh; needs what make-java-carry.sh packs):
#   java-gpu-tests.sh JAVA CARRY_DIR REPORT_DIR
# Runs io.dense4j.CudaDeviceTest (java-api) and io.dense4j.nativelib.CudaKernelsTest (native) with the JUnit console
# launcher against the shaded jar. On a machine with a GPU, the only tests allowed to skip are the ones that observe
# the GPU-LESS behaviour, and the Fashion-MNIST subset (the data set is not installed there); any other skip means
# the GPU was not used, and fails this stage like a failed test.
set -uo pipefail
JAVA=$1 CARRY=$2 REPORT=$3
CACHE=-Dorg.bytedeco.javacpp.cachedir=${D4J_JAVACPP_CACHE:-/tmp/d4j-javacpp-cache}
CP="$CARRY/dense4j-gpu.jar:$CARRY/tests/native-tests.jar:$CARRY/tests/java-api-tests.jar"
mkdir -p "$REPORT"
"$JAVA" "$CACHE" -jar "$CARRY/tests/junit-console.jar" execute --disable-banner --disable-ansi-colors --details=tree --details-theme=ascii \
  --class-path "$CP" --select-class io.dense4j.CudaDeviceTest --select-class io.dense4j.nativelib.CudaKernelsTest \
  --reports-dir "$REPORT" 2>&1 | tee /tmp/d4j_java_tests.txt
rc=${PIPESTATUS[0]}
# skips (JUnit: assumption failed, "[A]") that are expected where a GPU IS present; each says why in the tree above
allowed='cudaWithoutGpuSaysWhy|availableIsJustTheCpuWithoutGpu|fashionMnistSubsetOnGpu|noDevicePathsFailCleanly'
unexpected=$(grep -F '[A]' /tmp/d4j_java_tests.txt | grep -vE "$allowed" || true)
ok=$(sed -n 's/^\[ *\([0-9]*\) tests successful.*/\1/p' /tmp/d4j_java_tests.txt)
failed=$(sed -n 's/^\[ *\([0-9]*\) tests failed.*/\1/p' /tmp/d4j_java_tests.txt)
aborted=$(sed -n 's/^\[ *\([0-9]*\) tests aborted.*/\1/p' /tmp/d4j_java_tests.txt)
printf 'RESULT java=junit_gpu passed=%s failed=%s skipped=%s\n' "${ok:--}" "${failed:--}" "${aborted:--}"
if [ -n "$unexpected" ]; then echo "skipped where a GPU is present:"; echo "$unexpected"; rc=1; fi
[ -n "$ok" ] || rc=1
exit $rc
