#!/usr/bin/env python3
"""Where a process's CPU time went between two moments, by thread name (Linux /proc).

    thread-cpu.py snapshot PID FILE     # per-thread CPU ticks, nice value and policy, saved to FILE
    thread-cpu.py diff FILE_BEFORE FILE_AFTER
                                        # CPU seconds per thread group between the two ("C2 CompilerThread#",
                                        # "qtp#-#" ...), largest first, with ' nice N' / ' IDLE' (SCHED_IDLE) marks

The benchmarks take a snapshot just before and after each measured window; both are read outside the window.
"""
import collections
import json
import os
import re
import sys


def snapshot(pid):
    snap = {}
    hz = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the thread ended meanwhile
        fields = stat[stat.rindex(")") + 2:].split()  # fields from 3 (state) on; utime is field 14
        snap[tid] = {"name": comm, "cpu_s": (int(fields[11]) + int(fields[12])) / hz,
                     "nice": int(fields[16]), "policy": int(fields[38])}
    return snap


def group(t):
    name = re.sub(r"[0-9]+", "#", t["name"])
    return name + (f" nice{t['nice']}" if t["nice"] else "") + (" IDLE" if t["policy"] == 5 else "")


def diff(before, after):
    used = collections.Counter()
    for tid, t in after.items():
        used[group(t)] += t["cpu_s"] - before.get(tid, {}).get("cpu_s", 0.0)
    total = sum(used.values())
    top = [f"{k}={v:.2f}" for k, v in used.most_common(8) if v >= 0.01]
    return f"cpu s: total={total:.2f}  " + "  ".join(top)


if __name__ == "__main__":
    if sys.argv[1] == "snapshot":
        with open(sys.argv[3], "w") as f:
            json.dump(snapshot(sys.argv[2]), f)
    else:
        with open(sys.argv[2]) as a, open(sys.argv[3]) as b:
            print(diff(json.load(a), json.load(b)))
