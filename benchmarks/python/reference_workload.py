"""The reference workload in PyTorch, for side-by-side timing with Dense4J.

784-128(relu)-10(softmax) MLP, Adam(lr=1e-3), sparse categorical cross-entropy (CrossEntropyLoss on
logits, which is the same loss), batch 32, shuffled, 5 epochs, on MNIST-format IDX files. Prints one
JSON line per batch size: train_seconds, test_accuracy, epochs, batch, threads, device, torch version.

Usage: reference_workload.py DATA_DIR [EPOCHS] [BATCH[,BATCH...]] [THREADS] [cpu|cuda]
Several batch sizes (e.g. 32,128,1024) train one fresh model each, in the same process. On a machine
with a GPU, pass cuda as the last argument (data and model on the GPU; timing synchronizes the device).
"""
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(directory, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(os.path.join(directory, stem))


def main():
    directory = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    batches = [int(b) for b in sys.argv[3].split(",")] if len(sys.argv) > 3 else [32]
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    device = sys.argv[5] if len(sys.argv) > 5 else "cpu"
    torch.set_num_threads(threads)
    x = torch.from_numpy(read_idx(find(directory, "train-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255)
    y = torch.from_numpy(read_idx(find(directory, "train-labels-idx1-ubyte")).astype(np.int64))
    xt = torch.from_numpy(read_idx(find(directory, "t10k-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255)
    yt = torch.from_numpy(read_idx(find(directory, "t10k-labels-idx1-ubyte")).astype(np.int64))
    x, y, xt, yt = x.to(device), y.to(device), xt.to(device), yt.to(device)
    for batch in batches:
        torch.manual_seed(42)
        model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        n = x.shape[0]
        sync()
        t0 = time.perf_counter()
        for _ in range(epochs):
            perm = torch.randperm(n, device=device)
            for i in range(0, n, batch):
                idx = perm[i:i + batch]
                opt.zero_grad()
                loss = loss_fn(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
        sync()
        train_seconds = time.perf_counter() - t0
        with torch.no_grad():
            acc = (model(xt).argmax(1) == yt).float().mean().item()
        print(json.dumps({"train_seconds": train_seconds, "test_accuracy": acc, "epochs": epochs, "batch": batch,
                          "threads": threads, "device": device, "torch": torch.__version__}), flush=True)


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
