#!/usr/bin/env bash
# Packs what the GPU machine (no Java, no Maven, no network) needs to run the Java CUDA path, under 64 MiB:
#   target/gpu-java/jre/              a jlink-ed runtime (only the modules the CLI uses)
#   target/gpu-java/dense4j-gpu.jar   the shaded CLI jar without the jline natives (libdense4j_cuda.so and its JNI
#                                     glue stay in)
# Run from the repository root after `mvn -q -B install -DskipTests`; then pass carry=["target/gpu-java"] to the
# device tool and run native/scripts/gpu-check.sh there (its java stage finds these paths by default).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/target/gpu-java}
JAR=$ROOT/http/target/dense4j.jar
LIMIT=$((64 * 1024 * 1024))
[ -f "$JAR" ] || { echo "no $JAR: build first (mvn -q -B install -DskipTests)" >&2; exit 1; }
# The jar must carry the CUDA library itself, not the placeholder a build without nvcc makes.
CUDA_LIB=io/dense4j/nativelib/linux-x86_64/libdense4j_cuda.so
unzip -l "$JAR" "$CUDA_LIB" >/dev/null 2>&1 || { echo "$JAR has no $CUDA_LIB" >&2; exit 1; }
if unzip -p "$JAR" "$CUDA_LIB" | grep -qa "this build has no CUDA library"; then
  echo "$JAR carries the no-CUDA placeholder (it was built without nvcc): rebuild where nvcc is installed" >&2
  exit 1
fi
rm -rf "$OUT"; mkdir -p "$OUT"
# Modules: what `jdeps --print-module-deps` reports for the jar, less java.desktop, java.instrument,
# java.security.jgss and jdk.management (only optional code paths of libraries use them; train, evaluate,
# predict and serve were run with exactly this set).
jlink --add-modules java.base,java.logging,java.management,java.naming,java.sql,jdk.unsupported \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$OUT/jre"
cp "$JAR" "$OUT/dense4j-gpu.jar"
zip -q -d "$OUT/dense4j-gpu.jar" 'org/jline/nativ/*' >/dev/null
jre=$(du -sb "$OUT/jre" | cut -f1); jar=$(stat -c %s "$OUT/dense4j-gpu.jar"); total=$((jre + jar))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "jre $(mib "$jre") MiB + jar $(mib "$jar") MiB = $(mib "$total") MiB (limit 64 MiB, with the rest of the working tree)"
(( total < LIMIT )) || { echo "too big for one carry" >&2; exit 1; }
