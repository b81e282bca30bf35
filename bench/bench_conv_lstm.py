"""Benchmark: ConvLSTM2D layers (Keras's "next-frame prediction" model at the sizes its example uses),
fastnn against its NumPy reference backend, forward and forward + backward (every weight gradient and,
for the deeper layers, dx), in one run. PyTorch has no ConvLSTM layer, so there is no PyTorch column.

The layers (10 frames, 'same' padding, return_sequences, relu as in the example):
  first40   ConvLSTM2D(32, 5x5) on 40x40x1 frames (the model's first layer: no dx)
  deep40    ConvLSTM2D(32, 3x3) on 40x40x32
  deep16    ConvLSTM2D(16, 3x3) on 16x16x8
fastnn runs the layers themselves (``layer(x, training=True)`` and ``layer.backward``); the NumPy
column is the same layers on the reference backend. FLOPs: 2·N·T·H·W·k²·4F·(C + F) for the forward
(the input and recurrent convolutions; the gates' elementwise work is not counted), 3x for forward +
backward.

    python bench/bench_conv_lstm.py [--threads 2] [--batch 8] [--reps 20] [--no-numpy] [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

import fastnn  # noqa: E402
from fastnn.layers import ConvLSTM2D  # noqa: E402

FRAMES = 10
# name: (frame size, input channels, filters, kernel size, needs dx)
LAYERS = {
    "first40": (40, 1, 32, 5, False),
    "deep40": (40, 32, 32, 3, True),
    "deep16": (16, 8, 16, 3, True),
}


def make_layer(C, filters, k, size, batch, dtype="float32"):
    fastnn.utils.set_floatx(dtype)
    try:
        layer = ConvLSTM2D(filters, k, padding="same", return_sequences=True, activation="relu")
        layer.build((batch, FRAMES, size, size, C))
    finally:
        fastnn.utils.set_floatx("float32")
    return layer



def validate(name, layer, x, dy):
    """fastnn's layer against the same layer, weights copied, on the float64 reference backend."""
    y = layer(x, training=True)
    dx = layer.backward(dy)
    got = [y, dx, *layer.get_gradients()]
    with fastnn.backend("numpy"):
        size, C, filters, k, _ = LAYERS[name]
        ref = make_layer(C, filters, k, size, x.shape[0], dtype="float64")
        ref._need_input_grad = layer._need_input_grad
        ref.set_weights(layer.get_weights())
        want = [ref(x.astype(np.float64), training=True), ref.backward(dy.astype(np.float64)), *ref.get_gradients()]
    H.check_layer_results("bench_conv_lstm", name, ("y", "dx", "kernel", "recurrent_kernel", "bias"), got, want)


def main():
    args, _, names = H.layer_bench_setup(__doc__, LAYERS, "deep16", "one layer, fewer repetitions (smoke run)",
                                         batch=8, use_torch=False)
    rng = np.random.default_rng(0)
    with H.threads(args.threads):
        H.print_layer_header(args, width=8)
        for name in names:
            size, C, filters, k, needs_dx = LAYERS[name]
            layer = make_layer(C, filters, k, size, args.batch)
            layer._need_input_grad = needs_dx
            scale = 1 / np.sqrt(k * k * (C + filters))  # keeps relu's cell state bounded over the frames
            layer.set_weights([w * scale if w.ndim > 1 else w for w in layer.get_weights()])
            x = rng.standard_normal((args.batch, FRAMES, size, size, C)).astype(np.float32)
            dy = rng.standard_normal((args.batch, FRAMES, size, size, filters)).astype(np.float32)
            validate(name, layer, x, dy)
            fwd, fwd_bwd = H.layer_fns(layer, x, dy)
            flops = 2.0 * args.batch * FRAMES * size * size * k * k * 4 * filters * (C + filters)
            H.time_layer_passes(name, [("fwd", fwd, 1), ("fwd+bwd", fwd_bwd, 3)], flops, args, width=8)


if __name__ == "__main__":
    main()
