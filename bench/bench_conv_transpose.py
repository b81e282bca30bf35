"""Benchmark: Conv2DTranspose layers of the course notes' decoders, fastnn against its NumPy
reference and PyTorch CPU, forward and forward + backward (dx, dw, db), in one run.

The layers (batch 128, 'same' padding, relu):
  ae1, ae2   the convolutional autoencoder's decoder: 7x7x64 -> 14x14x64 -> 28x28x32 (3x3, stride 2)
  ae3        its last layer: 28x28x32 -> 28x28x1 (3x3, stride 1)
  gan1, gan2 the DCGAN generator: 7x7x128 -> 14x14x128 -> 28x28x64 (5x5, stride 2)
  gan3       28x28x64 -> 28x28x32 (5x5, stride 1)
FLOPs: 2·N·C·OC per (input pixel, tap) pair that lands inside the output (the useful work: a 'same'
border drops the rest), 3x that for forward + backward.

PyTorch runs ``F.conv_transpose2d`` (NCHW, autograd) with padding and output_padding chosen to give
Keras's output size; its 'same' crop starts one pixel later than Keras's for odd kernels with
stride 2, so its numbers are timed, not compared. fastnn is validated against the reference first.
Libraries are timed in alternating blocks (bench/_harness.py), with the FMA peak probed beside them.

    python bench/bench_conv_transpose.py [--threads 2] [--reps 20] [--no-numpy] [--no-torch] [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

import fastnn  # noqa: E402
from fastnn import ops  # noqa: E402

# name: (input size, input channels, output channels, kernel, stride)
LAYERS = {
    "ae1": (7, 64, 64, 3, 2),
    "ae2": (14, 64, 32, 3, 2),
    "ae3": (28, 32, 1, 3, 1),
    "gan1": (7, 128, 128, 5, 2),
    "gan2": (14, 128, 64, 5, 2),
    "gan3": (28, 64, 32, 5, 1),
}


def useful_pairs(size, k, stride):
    """(input position, tap) pairs along one axis that land inside a 'same' output of size·stride."""
    before = max(k - stride, 0) // 2  # Keras's placement for 'same' without output_padding
    out = size * stride
    return sum(0 <= i * stride - before + t < out for i in range(size) for t in range(k))


def fastnn_fns(x, w, b, dy, stride):
    geo = dict(strides=stride, padding="same", activation="relu")

    def fwd():
        return ops.conv2d_transpose_forward(x, w, b, **geo)

    y = fwd()

    def fwd_bwd():
        y = fwd()
        return ops.conv2d_transpose_backward(dy, x, w, y, **geo)

    return fwd, fwd_bwd, y


def torch_fns(torch, x, w, b, dy, k, stride):
    F = torch.nn.functional
    # Keras's 'same' size in·stride: (in - 1)·s - 2p + k + op = in·s
    pad = (k - 1) // 2 if stride == 1 else (k - stride + 1) // 2
    out_pad = stride + 2 * pad - k
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(True)
    wt = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()).requires_grad_(True)  # (C, OC, KH, KW)
    bt = torch.from_numpy(b.copy()).requires_grad_(True)
    dyt = torch.from_numpy(dy.transpose(0, 3, 1, 2).copy())

    def fwd():
        with torch.no_grad():
            return F.relu(F.conv_transpose2d(xt, wt, bt, stride=stride, padding=pad, output_padding=out_pad))

    def fwd_bwd():
        for t in (xt, wt, bt):
            t.grad = None
        y = F.relu(F.conv_transpose2d(xt, wt, bt, stride=stride, padding=pad, output_padding=out_pad))
        y.backward(dyt)

    assert tuple(fwd().shape) == (dy.shape[0], dy.shape[3], dy.shape[1], dy.shape[2])
    return fwd, fwd_bwd


def validate(x, w, b, dy, stride, y):
    with fastnn.backend("numpy"):
        geo = dict(strides=stride, padding="same", activation="relu")
        y_ref = ops.conv2d_transpose_forward(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **geo)
        ref = ops.conv2d_transpose_backward(dy.astype(np.float64), x.astype(np.float64), w.astype(np.float64),
                                            y.astype(np.float64), **geo)
    got = ops.conv2d_transpose_backward(dy, x, w, y, strides=stride, padding="same", activation="relu")
    for name, g, r in zip(("y", "dx", "dw", "db"), (y, *got), (y_ref, *ref)):
        err = float(np.max(np.abs(g - r)) / (1.0 + np.max(np.abs(r))))
        if err > 1e-4:
            raise SystemExit(f"validation failed: {name} differs from the reference by {err:.3g} (relative)")


def main():
    args, torch, names = H.layer_bench_setup(__doc__, LAYERS, "ae1,ae2,ae3", "the autoencoder's layers, fewer repetitions (smoke run)")
    rng = np.random.default_rng(0)
    with H.threads(args.threads):
        H.print_layer_header(args, width=6)
        for name in names:
            size, C, OC, k, stride = LAYERS[name]
            x = rng.standard_normal((args.batch, size, size, C)).astype(np.float32)
            w = (rng.standard_normal((k, k, OC, C)) / np.sqrt(k * k * C)).astype(np.float32)
            b = rng.standard_normal(OC).astype(np.float32) * 0.1
            out = size * stride
            dy = rng.standard_normal((args.batch, out, out, OC)).astype(np.float32)
            fwd, fwd_bwd, y = fastnn_fns(x, w, b, dy, stride)
            validate(x, w, b, dy, stride, y)
            flops = 2.0 * args.batch * C * OC * useful_pairs(size, k, stride) ** 2
            H.time_layer_passes(name, [("fwd", fwd, 1), ("fwd+bwd", fwd_bwd, 3)], flops, args,
                                None if torch is None else torch_fns(torch, x, w, b, dy, k, stride))

if __name__ == "__main__":
    main()
