#!/usr/bin/env bash
# The Spark benchmark of benchmarks/RESULTS.md ("Spark"): the reference workload single-process and on Spark
# local[1] and local[2] with H = 1, 16 and 128 (io.dense4j.spark.SparkBench). Run from the repository root after
# `mvn -B install -DskipTests`. Extra arguments go to SparkBench, e.g. `bash spark/bench.sh --epochs 2 --h 16`.
# The single-process line is measured twice: with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, then as set.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q -pl spark test-compile
cp_file=$(mktemp)
mvn -B -q -pl spark dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cp_file" >/dev/null
cp="spark/target/test-classes:spark/target/classes:$(cat "$cp_file")"
rm -f "$cp_file"
opts=$(grep -m1 '<spark.jvm.options>' spark/pom.xml | sed 's:.*<spark.jvm.options>\(.*\)</spark.jvm.options>.*:\1:')
export SPARK_LOCAL_IP=127.0.0.1
java=(java -Xmx4g $opts -Dorg.bytedeco.javacpp.cachedir="$PWD/spark/target/javacpp-cache" -cp "$cp"
  io.dense4j.spark.SparkBench)
echo "== single process, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${java[@]}" --only single "$@"
echo "== single process and Spark, the environment as it is"
"${java[@]}" "$@"
