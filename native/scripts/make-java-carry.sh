#!/usr/bin/env bash
# Packs what the GPU machine (no Java, no Maven, no network) needs to run the Java CUDA path, under 64 MiB:
#   target/gpu-java/jre/              a jlink-ed runtime (only the modules the CLI uses)
#   target/gpu-java/dense4j-gpu.jar   the shaded CLI jar without the jline natives and the PostgreSQL driver (not
#                                     used there; libdense4j_cuda.so and its JNI glue stay in)
#   target/gpu-java/tests/            the JUnit console launcher and the test classes of native/ and java-api/, for the
#                                     JUnit tests that need a GPU (gpu-check.sh's java_tests stage)
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
# predict and serve were run with exactly this set). java.net.http: picocli reflects over every subcommand, and
# the client commands' methods name java.net.http types (without it the CLI fails at start: seen on the H200).
jlink --add-modules java.base,java.logging,java.management,java.naming,java.net.http,java.sql,jdk.unsupported \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$OUT/jre"
# The JDK's libjvm.so keeps its symbol table (3.5 MiB): not needed to run, and the carry is tight.
strip --strip-unneeded "$OUT/jre/lib/server/libjvm.so" 2>/dev/null || true
cp "$JAR" "$OUT/dense4j-gpu.jar"
zip -q -d "$OUT/dense4j-gpu.jar" 'org/jline/nativ/*' 'org/postgresql/*' >/dev/null
# JUnit: the console launcher (one jar, copied from the local Maven repository, fetched once if missing) and the
# test classes of the two modules whose tests need a GPU (their other dependencies are all inside the shaded jar).
mkdir -p "$OUT/tests"
mvn -q -B dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.4 \
  -Dmdep.stripVersion=true -DoutputDirectory="$OUT/tests" >/dev/null
mv "$OUT/tests/junit-platform-console-standalone.jar" "$OUT/tests/junit-console.jar"
for m in native java-api; do
  [ -d "$ROOT/$m/target/test-classes" ] || { echo "no $m/target/test-classes: build with the tests compiled" >&2; exit 1; }
  (cd "$ROOT/$m/target/test-classes" && zip -q -r "$OUT/tests/$m-tests.jar" .)
done
jre=$(du -sb "$OUT/jre" | cut -f1); jar=$(stat -c %s "$OUT/dense4j-gpu.jar"); tests=$(du -sb "$OUT/tests" | cut -f1)
total=$((jre + jar + tests))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "jre $(mib "$jre") MiB + jar $(mib "$jar") MiB + tests $(mib "$tests") MiB = $(mib "$total") MiB (limit 64 MiB, with the rest of the working tree)"
(( total < LIMIT )) || { echo "too big for one carry" >&2; exit 1; }
