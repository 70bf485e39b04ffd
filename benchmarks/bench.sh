#!/bin/sh
# Runs the JMH suite and writes benchmarks/results/jmh-<profile>.{json,meta.json,md}.
#   benchmarks/bench.sh quick    # a few minutes on 2 cores
#   benchmarks/bench.sh full     # about half an hour on 2 cores
# Build first: mvn -B install -DskipTests -pl native,java-api -am && mvn -B package -DskipTests -pl benchmarks
# Run from the repository root (the results land in benchmarks/results/).
set -e
here=$(dirname "$0")
[ $# -eq 0 ] && set -- quick
exec java -cp "$here/target/benchmarks.jar" io.dense4j.bench.Suite "$@" --out "$here/results"
