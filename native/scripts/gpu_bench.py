#!/usr/bin/env python3
"""PyTorch side of native/scripts/gpu-check.sh, on the same GPU as the Dense4J CUDA engine.

  gemm:     torch.mm (cuBLAS) at the shapes bench_cuda times, FP32 (TF32 off) and TF32, CUDA events, median.
  workload: the reference MLP 784-128-10 (ReLU, softmax cross-entropy, Adam lr 1e-3 eps 1e-7, batch 32) for N
            epochs on the data set train_cuda wrote (--data), resident on the GPU as uint8 and shuffled there,
            in eager mode and with the whole step captured in a CUDA graph (torch.cuda.graph, Adam capturable).
Prints "RESULT ..." lines that gpu-check.sh turns into the table.
"""
import argparse
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load(path):
    with open(path, "rb") as f:
        if f.read(8) != b"D4JDATA1":
            raise ValueError("not a D4JDATA1 file")
        n_tr, n_te, width, classes = np.frombuffer(f.read(16), dtype=np.int32)
        xtr = np.frombuffer(f.read(int(n_tr) * int(width)), dtype=np.uint8).reshape(n_tr, width)
        ytr = np.frombuffer(f.read(int(n_tr) * 4), dtype=np.int32)
        xte = np.frombuffer(f.read(int(n_te) * int(width)), dtype=np.uint8).reshape(n_te, width)
        yte = np.frombuffer(f.read(int(n_te) * 4), dtype=np.int32)
    return xtr, ytr, xte, yte, int(classes)


def time_us(fn, samples=15):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record(); fn(); b.record(); b.synchronize()
    reps = max(1, min(2000, int(2.0 / max(a.elapsed_time(b), 1e-4))))
    out = []
    for _ in range(samples):
        a.record()
        for _ in range(reps):
            fn()
        b.record(); b.synchronize()
        out.append(1000.0 * a.elapsed_time(b) / reps)
    return statistics.median(out)


def bench_gemm():
    for (m, n, k) in [(32, 128, 784), (32, 10, 128), (256, 1024, 1024), (4096, 4096, 4096)]:
        a = torch.randn(m, k, device="cuda")
        b = torch.randn(k, n, device="cuda")
        c = torch.empty(m, n, device="cuda")
        bias = torch.randn(n, device="cuda")
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            us = time_us(lambda: torch.mm(a, b, out=c))
            gf = 2.0 * m * n * k / us / 1e3
            print(f"RESULT kernel=torch_mm shape={m}x{n}x{k} variant=cublas-{'tf32' if tf32 else 'fp32'} "
                  f"us={us:.3f} gflops={gf:.1f}", flush=True)
        torch.backends.cuda.matmul.allow_tf32 = False
        if m < 4096:
            us = time_us(lambda: torch.relu(torch.addmm(bias, a, b)))
            print(f"RESULT kernel=torch_addmm_relu shape={m}x{n}x{k} variant=cublas-fp32 us={us:.3f} "
                  f"gflops={2.0 * m * n * k / us / 1e3:.1f}", flush=True)


def make_model(width, classes, seed):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(width, 128), torch.nn.ReLU(), torch.nn.Linear(128, classes)).cuda()
    for mod in model:
        if isinstance(mod, torch.nn.Linear):  # Keras defaults: Glorot uniform, zero bias
            torch.nn.init.xavier_uniform_(mod.weight)
            torch.nn.init.zeros_(mod.bias)
    return model


def evaluate(model, X, Y):
    with torch.no_grad():
        correct = 0
        for i in range(0, X.shape[0], 10000):
            out = model(X[i:i + 10000].float().div_(255))
            correct += (out.argmax(1) == Y[i:i + 10000]).sum().item()
    return correct / X.shape[0]


def train(mode, data, epochs, batch):
    xtr, ytr, xte, yte, classes = data
    X = torch.from_numpy(np.ascontiguousarray(xtr)).cuda()
    Y = torch.from_numpy(ytr.astype(np.int64)).cuda()
    Xte = torch.from_numpy(np.ascontiguousarray(xte)).cuda()
    Yte = torch.from_numpy(yte.astype(np.int64)).cuda()
    n = X.shape[0]
    steps = n // batch if mode == "graph" else (n + batch - 1) // batch
    model = make_model(X.shape[1], classes, 0)
    if mode == "graph":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7, capturable=True)
        idx = torch.arange(batch, device="cuda")
        # warm-up on a side stream (documented requirement before capture), then capture one whole step
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(X[idx].float().div_(255)), Y[idx]).backward()
                opt.step()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(g):
            loss = F.cross_entropy(model(X[idx].float().div_(255)), Y[idx])
            loss.backward()
            opt.step()
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for e in range(epochs):
        perm = torch.randperm(n, device="cuda")
        if mode == "graph":
            for i in range(steps):
                idx.copy_(perm[i * batch:(i + 1) * batch])
                g.replay()
        else:
            for i in range(steps):
                b = perm[i * batch:(i + 1) * batch]
                loss = F.cross_entropy(model(X[b].float().div_(255)), Y[b])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    acc = evaluate(model, Xte, Yte)
    print(f"RESULT workload=torch_{mode} precision=fp32 epochs={epochs} train_s={secs:.4f} test_acc={acc:.4f} "
          f"us_per_step={1e6 * secs / (epochs * steps):.1f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="D4JDATA1 file written by train_cuda --save-data")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--skip-gemm", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("SKIPPED: torch.cuda.is_available() is False")
        return 77
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}", flush=True)
    torch.backends.cudnn.benchmark = False
    if not args.skip_gemm:
        bench_gemm()
    if args.data:
        data = load(args.data)
        for mode in ("eager", "graph"):
            try:
                train(mode, data, args.epochs, args.batch)
            except Exception as ex:  # report and go on to the other mode
                print(f"ERROR torch {mode} training failed: {ex!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
