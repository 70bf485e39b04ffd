#!/usr/bin/env bash
# Issue 13's latency goal, side by side: train-interference.sh under several server settings, interleaved, each run
# with the server's GC log and its pauses per window (gc-windows.py). For the quiet machine: nothing else running
# (on a shared machine other sessions' processes compete with the whole server, see benchmarks/RESULTS.md).
#
#   benchmarks/load/train-interference-ab.sh [FASHION_DIR]        # REPEATS (2) x each variant, ROUNDS=3 DURATION=10s
#
# Variants (VARIANTS, space-separated; default "default nice10"): default (the server's defaults: the job's kernel
# threads under SCHED_IDLE, a job waits up to 200 ms a chunk while inference requests are in flight, checkpoints at
# most every 30 s), nice10 (--job-nice 10: kernel threads at nice 10),
# idle (--job-nice idle, the default said explicitly), noyield (--job-yield 0: jobs do not wait for inference in
# flight between chunks), ck0 (--checkpoint-interval 0: a checkpoint after every epoch).
# Raw output in OUT (default benchmarks/results/interference-<date>), one file per run, and a summary line per run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${1:-/usr/share/datasets/fashion-mnist}
REPEATS=${REPEATS:-2}
VARIANTS=${VARIANTS:-default nice10}
OUT=${OUT:-$HERE/../results/interference-$(date -u +%Y%m%d-%H%M)}
mkdir -p "$OUT"
for rep in $(seq "$REPEATS"); do
  for v in $VARIANTS; do
    case $v in
      default) nice=; opts= ;;
      idle) nice=idle; opts= ;;
      nice10) nice=10; opts= ;;
      noyield) nice=; opts="--job-yield 0" ;;
      ck0) nice=; opts="--checkpoint-interval 0" ;;
      *) echo "unknown variant $v" >&2; exit 2 ;;
    esac
    f=$OUT/$v-$rep
    NICE=$nice SERVE_OPTS=$opts ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10s} LOGS=$f.logs \
      SERVER_JAVA_OPTS="-Xlog:gc*,safepoint:file=gc.log:time,uptime,level,tags" \
      "$HERE/train-interference.sh" "$DATA" 2>&1 | grep -v "Picked up" >"$f.md"
    "$HERE/gc-windows.py" "$f.logs" >>"$f.md"
    rm -rf "$f.logs"
    echo "$v $rep: $(grep '^median' "$f.md")"
  done
done
