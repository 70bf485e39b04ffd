#!/usr/bin/env bash
# Configures and builds the native libraries and their test programs with CMake.
# Maven calls it through the JavaCPP plugin, which extracts the OpenBLAS preset and passes its
# location in BUILD_PATH; by hand: D4J_OPENBLAS_DIR=<dir> bash native/build.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build_dir=${D4J_BUILD_DIR:-$here/target/cmake-build}
blas_dir=${D4J_OPENBLAS_DIR:-}
if [ -z "$blas_dir" ]; then
  IFS=: read -ra paths <<< "${BUILD_PATH:-}"
  for p in "${paths[@]}"; do
    [ -f "$p/include/cblas.h" ] && blas_dir=$p
  done
fi
cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DD4J_OPENBLAS_DIR="$blas_dir" ${D4J_CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$(nproc)"
