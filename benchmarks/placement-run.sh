# Sourced by the benchmark scripts that run native commands on the 2-vCPU VM (col10-check.sh, quiet11.sh). Needs B
# (the native build directory, with bench_cpu) and OUT (where the outputs go).
# probe: the core-to-core round trip, i.e. how the host places the two vCPUs now (~60-120 ns near, ~350-440 ns far).
# run NAME COMMAND...: runs COMMAND into OUT/NAME.txt (also on stdout), headed and footed by the time, the load
# average and the probe, so that every figure carries the placement it was taken in.
probe() { "$B/bench_cpu" --only probe 2>/dev/null | tail -1; }
run() {
  local name=$1; shift
  {
    echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg); before: $(probe)"
    echo "# \$ $*"
    "$@" 2>&1
    echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg); after: $(probe)"
  } | tee "$OUT/$name.txt"
}
