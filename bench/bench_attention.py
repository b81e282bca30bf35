"""Benchmark: MultiHeadAttention (self-attention, as in Keras's Transformer examples), fastnn against
its NumPy reference backend and PyTorch CPU (``nn.MultiheadAttention``, batch_first, autograd),
forward and forward + backward (dx and every weight gradient), in one run.

The layers (batch 64, no mask, no dropout):
  t128d128h4   128 steps, model width 128, 4 heads of 32
  t64d256h8    64 steps, model width 256, 8 heads of 32
  t200d32h2    200 steps, width 32, 2 heads of 32 (Keras's "text classification with Transformer")
fastnn runs the layer itself (``layer([x, x], training=True)`` and ``layer.backward``); the NumPy
column is the same layer on the reference backend. PyTorch's layer has the same weights (Keras's
(d, heads, key_dim) kernels reshaped into its in_proj / out_proj); it cannot project to a width
other than the model's (heads · key_dim != d, the last layer), so that row has no PyTorch column. FLOPs: the four projections
2·N·T·d·(heads·key_dim) each plus the two per-head products 2·N·heads·T²·key_dim each, 3x for
forward + backward (the softmax is not counted).

    python bench/bench_attention.py [--threads 2] [--batch 64] [--reps 20] [--no-numpy] [--no-torch] [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

import fastnn  # noqa: E402
from fastnn.layers import MultiHeadAttention  # noqa: E402

# name: (steps, model width, heads, key_dim)
LAYERS = {
    "t128d128h4": (128, 128, 4, 32),
    "t64d256h8": (64, 256, 8, 32),
    "t200d32h2": (200, 32, 2, 32),
}


def make_layer(T, d, heads, kd, batch, dtype="float32"):
    fastnn.utils.set_floatx(dtype)
    try:
        layer = MultiHeadAttention(heads, kd, bias_initializer="random_normal")
        layer(np.zeros((1, T, d), dtype), np.zeros((1, T, d), dtype))
    finally:
        fastnn.utils.set_floatx("float32")
    return layer


def torch_fns(torch, layer, x, dy, heads, kd):
    wq, bq, wk, bk, wv, bv, wo, bo = layer.get_weights()
    d = x.shape[-1]
    if heads * kd != d:  # PyTorch's layer projects to the model width only: no counterpart
        return None
    mha = torch.nn.MultiheadAttention(d, heads, batch_first=True, kdim=d, vdim=d)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.from_numpy(np.concatenate([w.reshape(d, -1).T for w in (wq, wk, wv)])))
        mha.in_proj_bias.copy_(torch.from_numpy(np.concatenate([b.reshape(-1) for b in (bq, bk, bv)])))
        mha.out_proj.weight.copy_(torch.from_numpy(wo.reshape(-1, d).T.copy()))
        mha.out_proj.bias.copy_(torch.from_numpy(bo))
    xt = torch.from_numpy(x).requires_grad_(True)
    dyt = torch.from_numpy(dy)

    def fwd():
        with torch.no_grad():
            return mha(xt, xt, xt, need_weights=False)[0]

    def fwd_bwd():
        xt.grad = None
        mha.zero_grad(set_to_none=True)
        mha(xt, xt, xt, need_weights=False)[0].backward(dyt)

    got = fwd().numpy()
    want = layer(x, x)
    err = float(np.max(np.abs(got - want)) / (1.0 + np.max(np.abs(want))))
    if err > 1e-4:
        raise SystemExit(f"bench_attention: PyTorch's layer differs from fastnn's by {err:.3g} (relative)")
    return fwd, fwd_bwd


def validate(name, layer, x, dy):
    """fastnn's layer against the same layer, weights copied, on the float64 reference backend."""
    y = layer(x, x, training=True)
    dx = layer.backward(dy)
    got = [y, sum(d for d in dx if d is not None), *layer.get_gradients()]
    with fastnn.backend("numpy"):
        T, d, heads, kd = LAYERS[name]
        ref = make_layer(T, d, heads, kd, x.shape[0], dtype="float64")
        ref.set_weights(layer.get_weights())
        x64 = x.astype(np.float64)
        want = [ref(x64, x64, training=True)]
        want += [sum(d for d in ref.backward(dy.astype(np.float64)) if d is not None), *ref.get_gradients()]
    labels = ("y", "dx", "dwq", "dbq", "dwk", "dbk", "dwv", "dbv", "dwo", "dbo")
    H.check_layer_results("bench_attention", name, labels, got, want)


def main():
    args, torch, names = H.layer_bench_setup(__doc__, LAYERS, "t128d128h4", "one layer, fewer repetitions (smoke run)",
                                             batch=64)
    rng = np.random.default_rng(0)
    with H.threads(args.threads):
        H.print_layer_header(args, width=11)
        for name in names:
            T, d, heads, kd = LAYERS[name]
            layer = make_layer(T, d, heads, kd, args.batch)
            x = rng.standard_normal((args.batch, T, d)).astype(np.float32)
            dy = rng.standard_normal((args.batch, T, d)).astype(np.float32)
            validate(name, layer, x, dy)
            fwd, fwd_bwd = H.layer_fns(layer, [x, x], dy)  # [query, value]: self-attention
            flops = 2.0 * args.batch * T * (4 * d * heads * kd + 2 * heads * T * kd)
            H.time_layer_passes(name, [("fwd", fwd, 1), ("fwd+bwd", fwd_bwd, 3)], flops, args,
                                None if torch is None else torch_fns(torch, layer, x, dy, heads, kd), width=11)


if __name__ == "__main__":
    main()
