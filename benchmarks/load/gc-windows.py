#!/usr/bin/env python3
"""The server's stop-the-world pauses in each measured window of train-interference.sh.

    gc-windows.py LOGS_DIR

LOGS_DIR is what LOGS=... kept: windows.txt (the windows' start and end times, in order: warm-up, cold job,
warm-up, then idle / training per round) and gc.log from SERVER_JAVA_OPTS="-Xlog:gc*,safepoint:file=gc.log:time,
uptime,level,tags". Prints per window: the number of safepoints, the allocation rate the young collections freed,
the longest time to reach a safepoint, and the pauses' p50 / p90 / max / sum. A pause stops every request in flight
(32 of them), so a few long pauses are enough to move p99.
"""
import re
import sys


def seconds(hms):
    h, m, s = hms.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def main(d):
    marks = [line.split()[0] for line in open(f"{d}/windows.txt")]
    windows = [(seconds(marks[i]), seconds(marks[i + 1])) for i in range(0, len(marks) - 1, 2)]
    names = ["warm-up", "cold job", "warm-up 2"] + [f"{k} {r}" for r in range(1, 100) for k in ("idle", "training")]
    safepoints, freed = [], []
    for line in open(f"{d}/gc.log"):
        m = re.search(r"T(\d\d:\d\d:\d\d\.\d+).*Safepoint \"(\w+)\".*Reaching safepoint: (\d+) ns.*Total: (\d+) ns", line)
        if m:
            safepoints.append((seconds(m.group(1)), int(m.group(3)) / 1e6, int(m.group(4)) / 1e6))
        m = re.search(r"T(\d\d:\d\d:\d\d\.\d+).*\] GC\(\d+\) Pause .*?(\d+)M->(\d+)M\(\d+M\) [\d.]+ms", line)
        if m:
            freed.append((seconds(m.group(1)), int(m.group(2)) - int(m.group(3))))
    for name, (a, b) in zip(names, windows):
        s = [x for x in safepoints if a <= x[0] <= b]
        if not s:
            print(f"{name:10s} no safepoint")
            continue
        reach = max(x[1] for x in s)
        p = sorted(x[2] for x in s)
        rate = sum(x[1] for x in freed if a <= x[0] <= b) / (b - a)
        print(f"{name:10s} safepoints {len(s):3d}  young GC freed {rate:5.0f} MB/s  reach max {reach:5.2f} ms  "
              f"pause p50 {p[len(p) // 2]:5.2f}  p90 {p[int(len(p) * 0.9)]:5.2f}  max {p[-1]:6.2f}  sum {sum(p):6.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1])
