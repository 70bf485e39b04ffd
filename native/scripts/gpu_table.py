#!/usr/bin/env python3
"""Turns the RESULT lines collected by native/scripts/gpu-check.sh into one table (GEMMs side by side with cuBLAS,
the reference workload side by side with PyTorch eager and CUDA-graph, and the issue's performance goals)."""
import re
import sys


def parse(path):
    rows = []
    for line in open(path):
        m = re.match(r"\[(.*?)\] RESULT (.*)", line.strip())
        if not m:
            continue
        kv = dict(p.split("=", 1) for p in m.group(2).split() if "=" in p)
        kv["_stage"] = m.group(1)
        rows.append(kv)
    return rows


def f(x, d=1):
    try:
        return f"{float(x):.{d}f}"
    except (TypeError, ValueError):
        return "-"


def main(path):
    rows = parse(path)
    gemm = {}
    for r in rows:
        if "kernel" in r and "shape" in r:
            gemm[(r["kernel"], r["shape"], r["variant"])] = r
    shapes = ["32x128x784", "32x10x128", "256x1024x1024", "4096x4096x4096"]
    ours = ["simple", "auto-fp32", "t128-fp32", "t64-fp32", "t32-fp32", "auto-tf32", "t128-tf32"]
    print("GEMM C[M,N] = A[M,K].B[K,N] (NN, forward layout), GFLOP/s (median, CUDA events); cuBLAS = torch.mm")
    hdr = f"{'MxNxK':<16}" + "".join(f"{v:>11}" for v in ours) + f"{'cublas32':>10}{'cublas-tf':>10}{'ours/cuB32':>11}{'tf/cuBtf':>9}"
    print(hdr)
    for s in shapes:
        line = f"{s:<16}"
        for v in ours:
            r = gemm.get(("gemm_nn", s, v))
            line += f"{f(r['gflops']) if r else '-':>11}"
        c32 = gemm.get(("torch_mm", s, "cublas-fp32"))
        ctf = gemm.get(("torch_mm", s, "cublas-tf32"))
        line += f"{f(c32['gflops']) if c32 else '-':>10}{f(ctf['gflops']) if ctf else '-':>10}"
        a32 = gemm.get(("gemm_nn", s, "auto-fp32"))
        atf = gemm.get(("gemm_nn", s, "auto-tf32"))
        r1 = f"{100 * float(a32['gflops']) / float(c32['gflops']):.0f}%" if a32 and c32 and float(c32["gflops"]) > 0 else "-"
        r2 = f"{100 * float(atf['gflops']) / float(ctf['gflops']):.0f}%" if atf and ctf and float(ctf["gflops"]) > 0 else "-"
        print(line + f"{r1:>11}{r2:>9}")
    print()
    print("Training shapes, microseconds per call (ours auto-fp32 vs PyTorch):")
    for s in shapes[:3]:
        parts = []
        for k in ("gemm_nn", "gemm_nt", "gemm_tn", "dense_fwd_relu"):
            r = gemm.get((k, s, "auto-fp32"))
            if r:
                parts.append(f"{k} {f(r['us'], 2)}")
        for k in ("torch_mm", "torch_addmm_relu"):
            r = gemm.get((k, s, "cublas-fp32"))
            if r:
                parts.append(f"{k} {f(r['us'], 2)}")
        print(f"  {s:<16} " + " | ".join(parts))
    others = [r for r in rows if r.get("kernel") in ("softmax_xent+sync", "adam", "train_step_784_128_10")]
    for r in others:
        print(f"  {r['kernel']:<24} {r['shape']:<10} {r['variant']:<12} {f(r['us'], 2)} us")
    print()
    print("Reference workload: 784-128-10 MLP, Adam 1e-3, batch 32, 5 epochs, 60000 MNIST-shaped rows (same data)")
    print(f"{'engine':<26}{'train s':>10}{'us/step':>10}{'test acc':>10}{'vs eager':>10}")
    wl = {r["workload"] + ("-" + r.get("precision", "") if r["workload"] == "dense4j_cuda" else ""): r
          for r in rows if "workload" in r}
    eager = wl.get("torch_eager")
    for name in ("dense4j_cuda-fp32", "dense4j_cuda-tf32", "torch_eager", "torch_graph"):
        r = wl.get(name)
        if not r:
            print(f"{name:<26}{'(missing)':>10}")
            continue
        steps = int(r.get("epochs", 5)) * 1875
        us = r.get("us_per_step") or (1e6 * float(r["train_s"]) / steps)
        sp = f"{float(eager['train_s']) / float(r['train_s']):.1f}x" if eager else "-"
        print(f"{name:<26}{f(r['train_s'], 3):>10}{f(us, 1):>10}{f(r['test_acc'], 4):>10}{sp:>10}")
    print()
    print("Goals (issue 3):")
    d = wl.get("dense4j_cuda-fp32")
    if d:
        t = float(d["train_s"])
        print(f"  training < 0.25 s: {t:.3f} s -> {'MET' if t < 0.25 else 'NOT MET'}")
        if eager:
            sp = float(eager["train_s"]) / t
            print(f"  >= 5x PyTorch eager: {sp:.1f}x -> {'MET' if sp >= 5 else 'NOT MET'}")
        print(f"  one-row inference (C API, device input + copy back): {d.get('one_row_us', '-')} us (goal < 30 us from Java)")
    jv = {r["java"]: r for r in rows if "java" in r}
    jt, jp = jv.get("cuda_train"), jv.get("cuda_predict")
    if jt:
        print(f"  Java CLI train --device cuda (same workload): {jt.get('train_s', '-')} s, test acc "
              f"{jt.get('test_acc', '-')} (JVM wall {jt.get('jvm_wall_s', '-')} s)")
    if jp:
        try:
            met = "MET" if float(jp["mean_us"]) < 30 else "NOT MET"
        except (KeyError, ValueError):
            met = "-"
        print(f"  one-row inference from Java < 30 us: mean {jp.get('mean_us', '-')} us, p50 {jp.get('p50_us', '-')}, "
              f"p99 {jp.get('p99_us', '-')} -> {met}")
    elif d:
        print("  one-row inference from Java: not measured (no Java runtime carried; see native/scripts/README.md)")
    a = gemm.get(("gemm_nn", "4096x4096x4096", "auto-fp32"))
    c = gemm.get(("torch_mm", "4096x4096x4096", "cublas-fp32"))
    if a and c:
        pct = 100 * float(a["gflops"]) / float(c["gflops"])
        print(f"  FP32 GEMM 4096^3 >= 75% of cuBLAS: {pct:.0f}% -> {'MET' if pct >= 75 else 'NOT MET'}")
    a = gemm.get(("dense_fwd_relu", "32x128x784", "auto-fp32")) or gemm.get(("gemm_nn", "32x128x784", "auto-fp32"))
    c = gemm.get(("torch_mm", "32x128x784", "cublas-fp32"))
    if a and c:
        print(f"  32x784x128 faster than cuBLAS via PyTorch: {f(a['us'], 2)} us vs {f(c['us'], 2)} us -> "
              f"{'MET' if float(a['us']) < float(c['us']) else 'NOT MET'}")


if __name__ == "__main__":
    main(sys.argv[1])
