#!/usr/bin/env bash
# two independent one-thread trainings at once, one pinned to each vCPU, vs each alone; probe before/after
cd /work/main
B=native/target/cmake-build/bench_cpu
one() { taskset -c $1 $B --only ref --threads 1 --rounds 3 2>/dev/null | grep -E '^\| no \| 1 ' | cut -d'|' -f4,8; }
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  p=$($B --only probe | tail -1 | grep -o '[0-9]* ns')
  echo "== $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) probe $p"
  echo "alone cpu0: $(one 0)"
  echo "alone cpu1: $(one 1)"
  one 0 > /tmp/far-a & one 1 > /tmp/far-b; wait
  echo "together cpu0: $(cat /tmp/far-a)   cpu1: $(cat /tmp/far-b)"
  echo "2 threads: $($B --only ref --threads 2 --rounds 3 2>/dev/null | grep -E '^\| no \| 2 ' | cut -d'|' -f4,8)"
  echo "   probe after: $($B --only probe | tail -1)"
done
