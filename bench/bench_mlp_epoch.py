"""One training epoch of the issue's MLP, C++ backend vs NumPy backend, in one run.

Model: 784-256-256-10, relu, Dropout(0.45) after each hidden layer, softmax output,
categorical cross-entropy, Adam, batch 128, on 60,000 random float32 images of 784 features
with 10 classes (Fashion-MNIST's shape). It validates first (one step on both backends from
the same weights must give the same loss and updates), then times whole epochs in alternating
blocks (cpp, numpy, cpp, numpy...) with NumPy's BLAS limited to fastnn's thread count, and
reports medians, the ratio, and the achieved GFLOP/s. PyTorch is timed too when installed.

    python bench/bench_mlp_epoch.py [--epochs-per-backend 2] [--samples 60000] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fastnn
from fastnn.layers import Dense, Dropout
from fastnn.models import Sequential
from fastnn.optimizers import Adam


def build(seed):
    fastnn.set_random_seed(seed)
    model = Sequential([
        Dense(256, activation="relu", input_shape=(784,)),
        Dropout(0.45),
        Dense(256, activation="relu"),
        Dropout(0.45),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=Adam(), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def flops_per_epoch(n):
    # forward 2·MACs; backward 2·MACs for dW plus 2·MACs for dX except the first layer's
    macs = [784 * 256, 256 * 256, 256 * 10]
    return n * (2 * sum(macs) + 2 * sum(macs) + 2 * sum(macs[1:]))


def validate(x, y):
    """One step from the same weights on both backends: same loss, same updated weights."""
    results = []
    for backend in ("cpp", "numpy"):
        with fastnn.backend(backend):
            model = build(seed=1)
            loss = model.train_on_batch(x[:128], y[:128])[0]
            results.append((loss, model.get_weights()))
    (l1, w1), (l2, w2) = results
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w2))
    print(f"validate: loss cpp {l1:.6f} numpy {l2:.6f}; max |weight difference| after one step {worst:.2e}")
    if abs(l1 - l2) > 1e-4 * abs(l2) or worst > 1e-4:
        raise SystemExit("validation failed: the backends disagree")


def time_epoch(backend, x, y, limits):
    model = build(seed=0)
    with fastnn.backend(backend):
        model.train_on_batch(x[:128], y[:128])  # warm-up: build the optimizer state, touch the code paths
        with limits():
            t = time.perf_counter()
            model.fit(x, y, batch_size=128, epochs=1, verbose=0)
            return time.perf_counter() - t


def time_torch(x, y, threads):
    """One epoch of the same network in PyTorch (None when torch is not installed)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Dropout(0.45),
                              torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Dropout(0.45),
                              torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.argmax(1))
    loss_fn = torch.nn.CrossEntropyLoss()
    t = time.perf_counter()
    perm = torch.randperm(len(xt))
    for i in range(0, len(xt), 128):
        idx = perm[i:i + 128]
        opt.zero_grad()
        loss = loss_fn(net(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs-per-backend", type=int, default=2)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        fastnn.set_num_threads(args.threads)
    threads = fastnn.get_num_threads()
    try:
        from threadpoolctl import threadpool_limits

        def limits():
            return threadpool_limits(limits=threads)
    except ImportError:  # without threadpoolctl NumPy's BLAS uses its default thread count
        import contextlib

        limits = contextlib.nullcontext

    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.samples)]
    info = fastnn.info()
    print(f"fastnn {info['version']} ({info['simd']}, {threads} threads), numpy {info['numpy']}; "
          f"{args.samples} samples, batch 128, 784-256-256-10 relu + dropout 0.45, Adam")
    validate(x, y)
    times = {"cpp": [], "numpy": [], "torch": []}
    has_torch = time_torch(x[:1280], y[:1280], threads) is not None  # also warms torch up
    for _ in range(args.epochs_per_backend):  # alternating blocks: cpp, numpy, torch, cpp, ...
        for backend in ("cpp", "numpy", "torch"):
            if backend == "torch":
                if not has_torch:
                    continue
                times[backend].append(time_torch(x, y, threads))
            else:
                times[backend].append(time_epoch(backend, x, y, limits))
            print(f"  {backend:5s} epoch {times[backend][-1]:.3f} s")
    flops = flops_per_epoch(args.samples)
    for backend, ts in times.items():
        if ts:
            med = statistics.median(ts)
            print(f"{backend:5s}: median {med:.3f} s/epoch (min {min(ts):.3f}, max {max(ts):.3f}), "
                  f"{flops / med / 1e9:.1f} GFLOP/s")
    cpp = statistics.median(times["cpp"])
    print(f"speed-up of the C++ backend over the NumPy backend: {statistics.median(times['numpy']) / cpp:.2f}x")
    if has_torch:
        print(f"speed-up of the C++ backend over PyTorch ({threads} threads): {statistics.median(times['torch']) / cpp:.2f}x")
    else:
        print("torch: not installed, not timed")


if __name__ == "__main__":
    main()
