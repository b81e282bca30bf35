"""Benchmark: the normalisation layers (BatchNormalization behind a convolution, LayerNormalization
in a Transformer block, GroupNormalization in a U-Net-style block), fastnn against its NumPy
reference and PyTorch CPU, forward (training mode) and forward + backward (dx and the gamma/beta
gradients), in one run.

The layers (batch 32 unless --batch):
  bn26x64    BatchNormalization on 26x26x64 (after the course CNN's first Conv2D)
  ln64x128   LayerNormalization on (64 steps, 128 features)
  gn32x64g8  GroupNormalization(8) on 32x32x64
  gn16x128g32 GroupNormalization(32) on 16x16x128 (Keras's default groups)
fastnn runs the layers themselves (``layer(x, training=True)`` and ``layer.backward``); the NumPy
column is the same layers on the reference backend (float64 statistics, in NumPy). PyTorch runs
``F.batch_norm`` / ``F.layer_norm`` / ``F.group_norm`` with autograd (channels_last memory format for
the images). These layers read and write memory and do little arithmetic: the GFLOP/s and % columns
count 8 FLOPs per value forward and 3x that for forward + backward, a nominal figure only.

    python bench/bench_norm.py [--threads 2] [--batch 32] [--reps 20] [--no-numpy] [--no-torch] [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

import fastnn  # noqa: E402
from fastnn.layers import BatchNormalization, GroupNormalization, LayerNormalization  # noqa: E402

# name: (kind, shape of one sample, groups)
LAYERS = {
    "bn26x64": ("batch", (26, 26, 64), None),
    "ln64x128": ("layer", (64, 128), None),
    "gn32x64g8": ("group", (32, 32, 64), 8),
    "gn16x128g32": ("group", (16, 16, 128), 32),
}


def make_layer(kind, groups, shape, dtype="float32"):
    fastnn.utils.set_floatx(dtype)
    try:
        layer = {"batch": lambda: BatchNormalization(beta_initializer="random_normal"),
                 "layer": lambda: LayerNormalization(beta_initializer="random_normal"),
                 "group": lambda: GroupNormalization(groups, beta_initializer="random_normal")}[kind]()
        layer.build((None,) + shape)
    finally:
        fastnn.utils.set_floatx("float32")
    return layer


def torch_fns(torch, kind, layer, x, dy, groups):
    F = torch.nn.functional
    image = x.ndim == 4
    weights = layer.get_weights()
    gamma, beta = (torch.from_numpy(w.copy()).requires_grad_(True) for w in weights[:2])
    if image:  # (N, H, W, C) -> (N, C, H, W) in channels_last memory
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=torch.channels_last)
        dyt = torch.from_numpy(dy.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=torch.channels_last)
    else:
        xt, dyt = torch.from_numpy(x.copy()), torch.from_numpy(dy.copy())
    xt.requires_grad_(True)
    eps = float(layer.epsilon)
    if kind == "batch":
        mean, var = torch.zeros(x.shape[-1]), torch.ones(x.shape[-1])
        def forward():
            return F.batch_norm(xt, mean, var, gamma, beta, training=True, momentum=0.01, eps=eps)
    elif kind == "layer":
        def forward():
            return F.layer_norm(xt, (x.shape[-1],), gamma, beta, eps=eps)
    else:
        def forward():
            return F.group_norm(xt, groups, gamma, beta, eps=eps)

    def fwd():
        with torch.no_grad():
            return forward()

    def fwd_bwd():
        for t in (xt, gamma, beta):
            t.grad = None
        forward().backward(dyt)

    return fwd, fwd_bwd


def validate(name, kind, groups, layer, x, dy):
    """fastnn's layer against the same layer, weights copied, on the float64 reference backend."""
    layer._need_input_grad = True
    y = layer(x, training=True)
    dx = layer.backward(dy)
    got = [y, dx, *layer.get_gradients()]
    with fastnn.backend("numpy"):
        ref = make_layer(kind, groups, x.shape[1:], dtype="float64")
        ref.set_weights(layer.get_weights())
        ref._need_input_grad = True
        y_ref = ref(x.astype(np.float64), training=True)
        want = [y_ref, ref.backward(dy.astype(np.float64)), *ref.get_gradients()]
    H.check_layer_results("bench_norm", name, ("y", "dx", "dgamma", "dbeta"), got, want)


def main():
    args, torch, names = H.layer_bench_setup(__doc__, LAYERS, "bn26x64,gn32x64g8",
                                             "two layers, fewer repetitions (smoke run)", batch=32)
    rng = np.random.default_rng(0)
    with H.threads(args.threads):
        H.print_layer_header(args, width=11)
        for name in names:
            kind, shape, groups = LAYERS[name]
            layer = make_layer(kind, groups, shape)
            x = (rng.standard_normal((args.batch,) + shape) * 2 + 0.5).astype(np.float32)
            dy = rng.standard_normal(x.shape).astype(np.float32)
            validate(name, kind, groups, layer, x, dy)
            layer._need_input_grad = True
            fwd, fwd_bwd = H.layer_fns(layer, x, dy)
            flops = 8.0 * x.size
            H.time_layer_passes(name, [("fwd", fwd, 1), ("fwd+bwd", fwd_bwd, 3)], flops, args,
                                None if torch is None else torch_fns(torch, kind, layer, x, dy, groups), width=11)


if __name__ == "__main__":
    main()
