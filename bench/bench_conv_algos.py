"""Calibrate the convolution's input-gradient cost model: time the three dx algorithms per layer.

The implicit-GEMM backward computes dx one of three ways (cpp/conv.cpp, ``choose_input_grad``):
Flipped (a forward convolution of the padded dz with the flipped kernel), Scatter (dz rows times
wᵀ's tap blocks added straight into dx) or Dcol (a column matrix, then col2im). A cost model
weighs them per shape; its weights were measured on one machine and ISA. This script forces each
algorithm in turn on a set of layers and compares the three with "auto" (the model's choice),
interleaved per repetition so that a busy host slows all four alike. "auto / best" near 1.0
everywhere means the weights suit this machine; a row far above it says which weight to move.

It validates first: the three algorithms must give the same dx, dw and db (to float32
rounding), and auto the same as one of them.

    python bench/bench_conv_algos.py [--threads 1] [--reps 30]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
import time

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

import fastnn  # noqa: E402
from fastnn import _core  # noqa: E402

ALGOS = ("auto", "implicit-flipped", "implicit-scatter", "implicit-dcol")

# (batch, input size, input channels, output channels, 2x2 max pool fused after the convolution)
LAYERS = [
    (64, 12, 8, 16, False), (64, 14, 16, 16, False), (64, 10, 32, 8, False), (64, 7, 16, 32, False),
    (64, 9, 3, 16, False), (64, 16, 16, 32, False),
    (128, 13, 64, 64, False),  # the seed CNN's second convolution
    (128, 5, 64, 64, False),  # its third
    (128, 7, 64, 128, False),
    (128, 13, 64, 64, True),  # the second block as training runs it: 10x10 of its 11x11 outputs
]


def make_backward(rng, N, H_, C, OC, pooled):
    x = rng.random((N, H_, H_, C), dtype=np.float32)
    w = (rng.standard_normal((3, 3, C, OC)) * 0.1).astype(np.float32)
    b = np.zeros(OC, np.float32)
    if pooled:
        y, argmax = _core.conv2d_maxpool_forward(x, w, b, activation="relu", pool_size=2)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        return lambda: _core.conv2d_maxpool_backward(dy, argmax, y, x, w, activation="relu", pool_size=2)
    y = _core.conv2d_forward(x, w, b, activation="relu")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    return lambda: _core.conv2d_backward(dy, x, w, y, activation="relu")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"fastnn {fastnn.__version__}, {_core.gemm_kernel()} micro-kernel, {args.threads} thread(s); "
          f"median ms over {args.reps} interleaved repetitions")
    print(f"{'layer (N, H, C, OC, pooled)':<30}" + "".join(f"{a.replace('implicit-', ''):>10}" for a in ALGOS)
          + f"{'auto / best':>13}  best")
    try:
        with H.threads(args.threads):
            for layer in LAYERS:
                backward = make_backward(rng, *layer)
                results = {}
                for algo in ALGOS:
                    _core._select_conv_algorithm(algo)
                    results[algo] = backward()
                ref = results["implicit-flipped"]
                for algo in ALGOS[2:]:
                    for name, got, want in zip(("dx", "dw", "db"), results[algo], ref):
                        err = float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-30))
                        if err > 1e-5:
                            raise SystemExit(f"validation failed: {layer} {algo} {name} differs from flipped by {err:.3g}")
                if not any(all(np.array_equal(u, v) for u, v in zip(results["auto"], results[a])) for a in ALGOS[1:]):
                    raise SystemExit(f"validation failed: {layer} auto matches none of the three")
                times = {algo: [] for algo in ALGOS}
                for algo in ALGOS:  # warm each once more: scratch buffers, page faults
                    _core._select_conv_algorithm(algo)
                    backward()
                for _ in range(args.reps):
                    for algo in ALGOS:
                        _core._select_conv_algorithm(algo)
                        t0 = time.perf_counter()
                        backward()
                        times[algo].append(time.perf_counter() - t0)
                med = {algo: float(np.median(t)) * 1e3 for algo, t in times.items()}
                best = min(ALGOS[1:], key=lambda a: med[a])
                print(f"{str(layer):<30}" + "".join(f"{med[a]:10.3f}" for a in ALGOS)
                      + f"{med['auto'] / med[best]:13.2f}  {best.replace('implicit-', '')}", flush=True)
    finally:
        _core._select_conv_algorithm("auto")


if __name__ == "__main__":
    main()
