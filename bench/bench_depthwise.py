"""Benchmark: DepthwiseConv2D and SeparableConv2D layers (MobileNet / Xception-style blocks at the
course notes' image sizes), fastnn against its NumPy reference and PyTorch CPU, forward and forward +
backward (dx and every weight gradient), in one run.

The layers (batch 128, 3x3, 'same' padding, relu; depth multiplier 1 unless named):
  dw28     DepthwiseConv2D on 28x28x32
  dw14     DepthwiseConv2D on 14x14x64
  dw14s2   DepthwiseConv2D on 14x14x128, stride 2 (a downsampling block)
  dw7      DepthwiseConv2D on 7x7x256
  dw14m2   DepthwiseConv2D on 14x14x32, depth_multiplier 2
  dw28c1   DepthwiseConv2D on 28x28x1 (a first layer: one channel, nothing to vectorise along)
  sep28    SeparableConv2D(64) on 28x28x32
  sep14    SeparableConv2D(128) on 14x14x64
fastnn runs the layers themselves (``layer(x, training=True)`` and ``layer.backward``); the NumPy
column is the same layers on the reference backend. PyTorch runs ``F.conv2d(groups=C)`` (and a 1x1
``F.conv2d`` for the separable ones) with autograd in channels_last memory format, its fast CPU path
for depthwise convolutions; its strided 'same' padding is symmetric where Keras's puts the extra pixel
after, so its numbers are timed, not compared. FLOPs are nominal: 2·N·OH·OW·C·M·9 for the depthwise
step (taps in the padding counted) plus 2·N·OH·OW·C·M·filters for the pointwise one, 3x for forward
+ backward. A depthwise convolution does ~9 FMAs per value it reads and writes, so it is bound by
memory traffic, not by the FMA peak: the % column shows how far from the peak that leaves it.

    python bench/bench_depthwise.py [--threads 2] [--reps 20] [--no-numpy] [--no-torch] [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

import fastnn  # noqa: E402
from fastnn.layers import DepthwiseConv2D, SeparableConv2D  # noqa: E402

# name: (input size, channels, stride, depth multiplier, pointwise filters or None)
LAYERS = {
    "dw28": (28, 32, 1, 1, None),
    "dw14": (14, 64, 1, 1, None),
    "dw14s2": (14, 128, 2, 1, None),
    "dw7": (7, 256, 1, 1, None),
    "dw14m2": (14, 32, 1, 2, None),
    "dw28c1": (28, 1, 1, 1, None),
    "sep28": (28, 32, 1, 1, 64),
    "sep14": (14, 64, 1, 1, 128),
}


def make_layer(C, stride, M, filters, size, batch, dtype="float32"):
    fastnn.utils.set_floatx(dtype)
    try:
        if filters is None:
            layer = DepthwiseConv2D(3, strides=stride, padding="same", depth_multiplier=M, activation="relu",
                                    bias_initializer="random_normal")
        else:
            layer = SeparableConv2D(filters, 3, strides=stride, padding="same", depth_multiplier=M,
                                    activation="relu", bias_initializer="random_normal")
        layer.build((batch, size, size, C))
    finally:
        fastnn.utils.set_floatx("float32")
    return layer



def torch_fns(torch, layer, x, dy, C, stride, M):
    F = torch.nn.functional
    cl = torch.channels_last
    weights = layer.get_weights()
    dk = weights[0]  # (3, 3, C, M) -> (C·M, 1, 3, 3), output channel c·M + m as in Keras
    wd = torch.from_numpy(dk.reshape(3, 3, C * M).transpose(2, 0, 1)[:, None].copy()).requires_grad_(True)
    sep = len(weights) == 3
    wp = torch.from_numpy(weights[1][0, 0].T[:, :, None, None].copy()).requires_grad_(True) if sep else None
    b = torch.from_numpy(weights[-1].copy()).requires_grad_(True)
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=cl).requires_grad_(True)
    dyt = torch.from_numpy(dy.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=cl)

    def forward():
        if sep:
            d = F.conv2d(xt, wd, None, stride=stride, padding=1, groups=C)
            return F.relu(F.conv2d(d, wp, b))
        return F.relu(F.conv2d(xt, wd, b, stride=stride, padding=1, groups=C))

    def fwd():
        with torch.no_grad():
            return forward()

    def fwd_bwd():
        for t in (xt, wd, wp, b):
            if t is not None:
                t.grad = None
        forward().backward(dyt)

    assert tuple(fwd().shape) == (dy.shape[0], dy.shape[3], dy.shape[1], dy.shape[2])
    return fwd, fwd_bwd


def validate(name, layer, x, dy):
    """fastnn's layer against the same layer, weights copied, on the float64 reference backend."""
    y = layer(x, training=True)
    dx = layer.backward(dy)
    got = [y, dx, *layer.get_gradients()]
    with fastnn.backend("numpy"):
        ref = make_layer(layer.input_spec.axes[-1], layer.strides, layer.depth_multiplier,
                         getattr(layer, "filters", None), x.shape[1], x.shape[0], dtype="float64")
        ref.set_weights(layer.get_weights())
        y_ref = ref(x.astype(np.float64), training=True)
        want = [y_ref, ref.backward(dy.astype(np.float64)), *ref.get_gradients()]
    H.check_layer_results("bench_depthwise", name, ("y", "dx", "dw", "dw2", "db"), got, want)


def main():
    args, torch, names = H.layer_bench_setup(__doc__, LAYERS, "dw28,dw14s2,sep14", "three layers, fewer repetitions (smoke run)")
    rng = np.random.default_rng(0)
    with H.threads(args.threads):
        H.print_layer_header(args, width=7)
        for name in names:
            size, C, stride, M, filters = LAYERS[name]
            layer = make_layer(C, stride, M, filters, size, args.batch)
            x = rng.standard_normal((args.batch, size, size, C)).astype(np.float32)
            out = -(-size // stride)
            dy = rng.standard_normal((args.batch, out, out, filters or C * M)).astype(np.float32)
            validate(name, layer, x, dy)
            fwd, fwd_bwd = H.layer_fns(layer, x, dy)
            flops = 2.0 * args.batch * out * out * C * M * (9 + (filters or 0))
            H.time_layer_passes(name, [("fwd", fwd, 1), ("fwd+bwd", fwd_bwd, 3)], flops, args,
                                None if torch is None else torch_fns(torch, layer, x, dy, C, stride, M), width=7)

if __name__ == "__main__":
    main()
