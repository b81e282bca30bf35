"""Benchmark the convolution and pooling kernels on the seed CNN of our users' course notes.

    Conv2D(64, 3) relu -> MaxPooling2D(2) -> Conv2D(64, 3) relu -> MaxPooling2D(2) -> Conv2D(64, 3) relu

at batch 128 on 28x28x1 input. Each layer is timed forward and forward + backward (the first conv
computes no input gradient, like a first layer in training), then the whole stack, for fastnn,
the NumPy reference backend and PyTorch CPU (``torch.nn.functional`` with autograd, NCHW and
channels_last) when ``import torch`` works. Results are validated against the reference before
anything is timed. Libraries run in alternating blocks with the same thread count; the table
gives medians (p10-p90) and ratios, GFLOP/s of the convolutions against the FMA peak, and GB/s
for pooling. The fused conv+pool items count only the convolution outputs their pools read (the
fused op computes no others: 10x10 of conv2's 11x11), the unfused items every output.

Two peaks: "pk" is the single-thread probe at the start times the thread count; "beside" is the
probe run on all threads at once in every round of the item's alternation, the median of those
rounds. On a shared host the probe moves by 10-25% between minutes, so the first depends on the
moment it ran and the second on the item's own minutes (it reads low, and the percentage high,
when the probe lands on a busy moment): read both.

    python bench/bench_conv.py [--threads 2] [--reps 20] [--batch 128] [--no-numpy]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

import fastnn  # noqa: E402
from fastnn import _core, reference  # noqa: E402

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # the reference then runs with OpenBLAS's own thread count
    threadpool_limits = None


# ---- The network ------------------------------------------------------------------------------


def make_params(rng, channels=(1, 64, 64, 64)):
    params = []
    for c, oc in zip(channels[:-1], channels[1:]):
        limit = np.sqrt(6.0 / (9 * c + 9 * oc))  # glorot_uniform, as Keras initialises Conv2D
        params.append((rng.uniform(-limit, limit, (3, 3, c, oc)).astype(np.float32),
                       rng.uniform(-0.1, 0.1, oc).astype(np.float32)))
    return params


class Net:
    """The stack as forward/backward closures over one backend module (fastnn._core or reference)."""

    def __init__(self, mod, params):
        self.mod, self.params = mod, params

    def conv_f(self, i, x):
        w, b = self.params[i]
        return self.mod.conv2d_forward(x, w, b, activation="relu")

    def conv_fb(self, i, x, dy, need_dx):
        w, b = self.params[i]
        y = self.mod.conv2d_forward(x, w, b, activation="relu")
        return y, self.mod.conv2d_backward(dy, x, w, y, activation="relu", need_dx=need_dx)

    def pool_f(self, x):
        return self.mod.maxpool2d_forward(x, pool_size=2)

    def pool_fb(self, x, dy):
        y, argmax = self.mod.maxpool2d_forward(x, pool_size=2)
        return y, self.mod.maxpool2d_backward(dy, argmax, x.shape)

    def forward(self, x):
        saved = []
        for i in range(3):
            y = self.conv_f(i, x)
            saved.append((x, y))
            x = y
            if i < 2:
                x, argmax = self.pool_f(y)
                saved.append((y, argmax))
        return x, saved

    def forward_fused(self, x):
        """The same stack with each Conv2D(relu) -> MaxPooling2D pair as one fused op."""
        saved = []
        for i in range(2):
            w, b = self.params[i]
            y, argmax = self.mod.conv2d_maxpool_forward(x, w, b, activation="relu", pool_size=2)
            saved.append((x, y, argmax))
            x = y
        out = self.conv_f(2, x)
        saved.append((x, out))
        return out, saved

    def forward_backward_fused(self, x, dy):
        out, saved = self.forward_fused(x)
        xin, y = saved[2]
        w, b = self.params[2]
        dx, dw, db = self.mod.conv2d_backward(dy, xin, w, y, activation="relu")
        grads = [(dw, db)]
        for i in (1, 0):
            xin, y, argmax = saved[i]
            w, b = self.params[i]
            dx, dw, db = self.mod.conv2d_maxpool_backward(dx, argmax, y, xin, w, activation="relu", pool_size=2,
                                                          need_dx=i > 0)
            grads.append((dw, db))
        return out, grads

    def forward_backward(self, x, dy):
        out, saved = self.forward(x)
        grads = []
        for i in (2, 1, 0):
            xin, y = saved[2 * i]
            w, b = self.params[i]
            dx, dw, db = self.mod.conv2d_backward(dy, xin, w, y, activation="relu", need_dx=i > 0)
            grads.append((dw, db))
            if i > 0:
                pin, argmax = saved[2 * i - 1]
                dy = self.mod.maxpool2d_backward(dx, argmax, pin.shape)
        return out, grads


# ---- PyTorch (optional) -----------------------------------------------------------------------


def torch_net(params, channels_last):
    import torch
    import torch.nn.functional as F

    ws = [torch.tensor(w.transpose(3, 2, 0, 1).copy(), requires_grad=True) for w, _ in params]  # (OC, C, KH, KW)
    bs = [torch.tensor(b, requires_grad=True) for _, b in params]
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def to_t(x, grad):
        t = torch.tensor(x.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=fmt)
        return t.requires_grad_(grad)

    def conv(i, t):
        return F.relu(F.conv2d(t, ws[i], bs[i]))

    def pool(t):
        return F.max_pool2d(t, 2)

    def stack(t):
        t = pool(conv(0, t))
        t = pool(conv(1, t))
        return conv(2, t)

    return torch, to_t, conv, pool, stack, ws, bs


# ---- Timing -----------------------------------------------------------------------------------


def time_blocks(fns, reps, warmup, pause=0.02, probe=None):
    """Time each fn in ``fns`` (name -> callable) ``reps`` times in alternating blocks.

    With ``probe`` (a callable returning GFLOP/s), every round of blocks also probes the FMA peak
    once, after the same pause; its samples are returned under "peak".

    A pause before each block lets the other library's spinning worker threads go idle (OpenBLAS
    issue 3187: idle-spinning pools slow each other several-fold when interleaved); OpenBLAS's
    threads spin longest, so the pause before a NumPy block is ten times longer.
    """
    samples = {name: [] for name in fns}
    peaks = []
    for name, fn in fns.items():
        for _ in range(warmup[name]):
            fn()
    block = 3
    done = 0
    while done < max(reps.values()):
        if probe is not None:
            time.sleep(pause)
            peaks.append(probe())
        for name, fn in fns.items():
            if len(samples[name]) >= reps[name]:
                continue
            time.sleep(pause if name != "numpy" else 10 * pause)
            for _ in range(min(block, reps[name] - len(samples[name]))):
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
        done += block
    out = {name: np.array(s) for name, s in samples.items()}
    if probe is not None:
        out["peak"] = np.array(peaks)
    return out


def stats(s):
    return np.median(s), np.percentile(s, 10), np.percentile(s, 90)


# ---- Validation -------------------------------------------------------------------------------


def validate(params, x, dy_out):
    fast = Net(_core, params)
    ref = Net(reference, [(w.astype(np.float64), b.astype(np.float64)) for w, b in params])
    worst = 0.0
    for fused in (False, True):
        run_f = fast.forward_backward_fused if fused else fast.forward_backward
        out, grads = run_f(x, dy_out)
        out_r, grads_r = ref.forward_backward(x.astype(np.float64), dy_out.astype(np.float64))
        worst = max(worst, _compare(out, grads, out_r, grads_r, "fused " if fused else ""))
    return worst


def _compare(out, grads, out_r, grads_r, label):
    worst = 0.0
    for name, g, r in [("out", out, out_r)] + [
        (f"conv{3 - i} {n}", gi, ri) for i, (gp, rp) in enumerate(zip(grads, grads_r)) for n, gi, ri in
        zip(("dw", "db"), gp, rp)
    ]:
        err = float(np.max(np.abs(g - r)) / (np.max(np.abs(r)) + 1e-30))
        worst = max(worst, err)
        if err > 1e-3:
            raise SystemExit(f"validation failed: {label}{name} differs from the reference by {err:.3g} "
                             "(relative to max)")
    return worst


# ---- Main -------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=fastnn.get_num_threads())
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=20, help="timed calls per fastnn/torch item")
    ap.add_argument("--numpy-reps", type=int, default=5, help="timed calls per reference item")
    ap.add_argument("--no-numpy", action="store_true", help="skip the (slow) NumPy reference")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated item names to time (default: all)")
    args = ap.parse_args()

    fastnn.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    params = make_params(rng)
    N = args.batch
    x0 = rng.random((N, 28, 28, 1), dtype=np.float32)

    worst = validate(params, x0[:16], rng.standard_normal((16, 3, 3, 64)).astype(np.float32))
    print(f"validated: fastnn vs reference (float64) on batch 16, worst relative error {worst:.2e}")

    torch_mods = {}
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(args.threads)
            torch_mods = {"torch": torch_net(params, False), "torch-cl": torch_net(params, True)}
        except ImportError:
            print("PyTorch: not installed, skipped")

    peak1 = _core._fma_peak_probe(0.2)
    peak = peak1 * args.threads
    print(f"fastnn {fastnn.__version__}, {_core.gemm_kernel()} micro-kernel, {args.threads} threads; "
          f"FMA peak at the start {peak1:.0f} GFLOP/s per thread x {args.threads} = {peak:.0f} GFLOP/s "
          f"(\"beside\": the peak probed beside each item)")

    # the activations every layer sees
    fast, ref = Net(_core, params), Net(reference, params)
    out, saved = fast.forward(x0)
    c1_in, c1_out = saved[0]
    p1_in, _ = saved[1]
    c2_in, c2_out = saved[2]
    p2_in, _ = saved[3]
    c3_in, c3_out = saved[4]
    dys = {i: rng.standard_normal(y.shape).astype(np.float32) for i, y in ((0, c1_out), (1, c2_out), (2, c3_out))}
    pool_dy = {1: rng.standard_normal(c2_in.shape).astype(np.float32),
               3: rng.standard_normal(c3_in.shape).astype(np.float32)}
    dy_out = rng.standard_normal(out.shape).astype(np.float32)

    def conv_flops(xin, yout, passes):
        K = 9 * xin.shape[-1]
        return 2.0 * np.prod(yout.shape[:-1]) * K * yout.shape[-1] * passes

    def pool_bytes(xin, yout, backward):
        # forward: read x, write y and the int32 argmax; backward: read dy and argmax, write dx
        f = xin.nbytes + 2 * yout.nbytes
        return f + (2 * yout.nbytes + xin.nbytes if backward else 0)

    items = []  # (name, {lib: fn}, flops or None, bytes or None)
    for i, (xin, yout) in enumerate(((c1_in, c1_out), (c2_in, c2_out), (c3_in, c3_out))):
        cin = xin.shape[-1]
        name = f"conv{i + 1} {cin}->64 {xin.shape[1]}x{xin.shape[2]}"
        need_dx = i > 0
        items.append((name + " fwd", {"fastnn": lambda i=i, xin=xin: fast.conv_f(i, xin),
                                      "numpy": lambda i=i, xin=xin: ref.conv_f(i, xin)},
                      conv_flops(xin, yout, 1), None))
        items.append((name + " fwd+bwd", {
            "fastnn": lambda i=i, xin=xin, nd=need_dx: fast.conv_fb(i, xin, dys[i], nd),
            "numpy": lambda i=i, xin=xin, nd=need_dx: ref.conv_fb(i, xin, dys[i], nd)},
            conv_flops(xin, yout, 3 if need_dx else 2), None))
    for j, pin in ((1, p1_in), (3, p2_in)):
        yshape = pool_dy[j].shape
        name = f"maxpool{j // 2 + 1} {pin.shape[1]}x{pin.shape[2]}x64"
        yfake = np.empty(yshape, np.float32)
        items.append((name + " fwd", {"fastnn": lambda pin=pin: fast.pool_f(pin),
                                      "numpy": lambda pin=pin: ref.pool_f(pin)}, None, pool_bytes(pin, yfake, False)))
        items.append((name + " fwd+bwd", {"fastnn": lambda pin=pin, j=j: fast.pool_fb(pin, pool_dy[j]),
                                          "numpy": lambda pin=pin, j=j: ref.pool_fb(pin, pool_dy[j])},
                      None, pool_bytes(pin, yfake, True)))
    def stack_flops(layers):  # (forward, forward + backward) over the three (input, output) pairs
        fwd = sum(conv_flops(a, b, 1) for a, b in layers)
        return fwd, fwd + sum(conv_flops(a, b, p) for (a, b), p in zip(layers, (1, 2, 2)))

    def pooled(yout):  # the outputs a 2x2 'valid' pool reads: the fused op computes only these
        return yout[:, :yout.shape[1] // 2 * 2, :yout.shape[2] // 2 * 2]

    stack_flops_f, stack_flops_fb = stack_flops(((c1_in, c1_out), (c2_in, c2_out), (c3_in, c3_out)))
    # the fused stack's: the pooled convolutions cut to the outputs their pools read
    fused_f, fused_fb = stack_flops(((c1_in, pooled(c1_out)), (c2_in, pooled(c2_out)), (c3_in, c3_out)))
    for j, (xin, yout) in enumerate(((c1_in, c1_out), (c2_in, c2_out))):
        yout = pooled(yout)
        w, b = params[j]
        pshape = pool_dy[2 * j + 1].shape
        name = f"conv{j + 1}+maxpool fused"
        yp, ap = fast.mod.conv2d_maxpool_forward(xin, w, b, activation="relu", pool_size=2)
        dyp = rng.standard_normal(pshape).astype(np.float32)
        items.append((name + " fwd", {
            "fastnn": lambda xin=xin, w=w, b=b: fast.mod.conv2d_maxpool_forward(xin, w, b, activation="relu",
                                                                              pool_size=2),
            "numpy": lambda xin=xin, w=w, b=b: ref.mod.conv2d_maxpool_forward(xin, w, b, activation="relu",
                                                                            pool_size=2)},
            conv_flops(xin, yout, 1), None))

        def fb(mod, xin=xin, w=w, b=b, dyp=dyp, nd=j > 0):
            y, a = mod.conv2d_maxpool_forward(xin, w, b, activation="relu", pool_size=2)
            return mod.conv2d_maxpool_backward(dyp, a, y, xin, w, activation="relu", pool_size=2, need_dx=nd)

        items.append((name + " fwd+bwd", {"fastnn": lambda fb=fb: fb(fast.mod), "numpy": lambda fb=fb: fb(ref.mod)},
                      conv_flops(xin, yout, 3 if j > 0 else 2), None))
    items.append(("stack fwd", {"fastnn": lambda: fast.forward(x0), "numpy": lambda: ref.forward(x0)},
                  stack_flops_f, None))
    items.append(("stack fwd+bwd", {"fastnn": lambda: fast.forward_backward(x0, dy_out),
                                    "numpy": lambda: ref.forward_backward(x0, dy_out)}, stack_flops_fb, None))
    items.append(("stack fwd (fused conv+pool)", {"fastnn": lambda: fast.forward_fused(x0),
                                                  "numpy": lambda: ref.forward_fused(x0)}, fused_f, None))
    items.append(("stack fwd+bwd (fused)", {"fastnn": lambda: fast.forward_backward_fused(x0, dy_out),
                                            "numpy": lambda: ref.forward_backward_fused(x0, dy_out)},
                  fused_fb, None))

    # PyTorch twins of each item
    for lib, (_, to_t, conv, pool, stack, ws, bs) in torch_mods.items():
        tx = {k: to_t(v, k != "c1") for k, v in (("c1", c1_in), ("c2", c2_in), ("c3", c3_in), ("p1", p1_in),
                                                 ("p2", p2_in), ("x0", x0))}
        tdy = {k: to_t(v, False) for k, v in (("c1", dys[0]), ("c2", dys[1]), ("c3", dys[2]), ("p1", pool_dy[1]),
                                              ("p2", pool_dy[3]), ("out", dy_out))}

        def fwd_only(f):
            def run():
                with torch.no_grad():
                    f()
            return run

        def fwd_bwd(f, dy, inputs):
            def run():
                for p in ws + bs + inputs:
                    p.grad = None
                f().backward(dy)
            return run

        fns = {
            "conv1": (lambda: conv(0, tx["c1"]), "c1", []),
            "conv2": (lambda: conv(1, tx["c2"]), "c2", [tx["c2"]]),
            "conv3": (lambda: conv(2, tx["c3"]), "c3", [tx["c3"]]),
        }
        for name, f_map, *_ in items:
            key = name.split()[0]
            backward = "fwd+bwd" in name  # (not the name's end: "stack fwd (fused conv+pool)" is forward only)
            if key in fns:
                f, dk, inputs = fns[key]
                f_map[lib] = fwd_bwd(f, tdy[dk], inputs) if backward else fwd_only(f)
            elif key.startswith("maxpool"):
                pk = "p1" if key == "maxpool1" else "p2"
                tp = to_t(p1_in if pk == "p1" else p2_in, True)
                f = (lambda tp=tp: pool(tp))
                f_map[lib] = fwd_bwd(f, tdy[pk], [tp]) if backward else fwd_only(f)
            elif key == "stack":
                f = (lambda: stack(tx["x0"]))
                f_map[lib] = fwd_bwd(f, tdy["out"], []) if backward else fwd_only(f)

    only = [s.strip() for s in args.only.split(",") if s.strip()]
    libs = ["fastnn"] + ([] if args.no_numpy else ["numpy"]) + list(torch_mods)
    rows = []
    limits = threadpool_limits(limits=args.threads, user_api="blas") if threadpool_limits else contextlib.nullcontext()
    # Two phases: fastnn and PyTorch in alternating blocks, then the NumPy reference on its own, so
    # that OpenBLAS's spinning threads never share the cores with fastnn's (PERFORMANCE.md).
    selected = [it for it in items if not only or any(o in it[0] for o in only)]
    results = {it[0]: {} for it in selected}
    for name, f_map, flops, nbytes in selected:
        fns = {lib: f_map[lib] for lib in libs if lib in f_map and lib != "numpy"}
        res = time_blocks(fns, {lib: args.reps for lib in fns}, {lib: 5 for lib in fns},
                          probe=lambda: H.probe_gflops(args.threads, 0.02))
        results[name].update({lib: stats(s) for lib, s in res.items()})
    if "numpy" in libs:
        time.sleep(1.0)
        with limits:
            for name, f_map, flops, nbytes in selected:
                res = time_blocks({"numpy": f_map["numpy"]}, {"numpy": args.numpy_reps}, {"numpy": 1})
                results[name]["numpy"] = stats(res["numpy"])
    for name, f_map, flops, nbytes in selected:
        rows.append((name, results[name], flops, nbytes))
        print_row(rows[-1], libs, peak)
    probed = [results[name]["peak"][0] for name, *_ in selected]
    print(f"FMA peak probed beside the items ({args.threads} threads at once): median "
          f"{np.median(probed):.0f} GFLOP/s, {min(probed):.0f}-{max(probed):.0f} across items")
    return rows


def print_row(row, libs, peak, _header=[True]):
    if _header[0]:
        cols = "".join(f"{lib + ' ms (p10-p90)':>24}" for lib in libs)
        ratios = "".join(f"{'x vs ' + lib:>10}" for lib in libs[1:])
        print(f"{'item':<30}{cols}{ratios}{'fastnn rate':>34}")
        _header[0] = False
    name, st, flops, nbytes = row
    cells = ""
    for lib in libs:
        if lib in st:
            m, lo, hi = st[lib]
            cells += f"{m * 1e3:>10.2f} ({lo * 1e3:.1f}-{hi * 1e3:.1f})".rjust(24)
        else:
            cells += f"{'-':>24}"
    ratio = "".join(f"{st[lib][0] / st['fastnn'][0]:>10.2f}" if lib in st else f"{'-':>10}" for lib in libs[1:])
    m = st["fastnn"][0]
    if flops:
        gflops = flops / m / 1e9
        rate = f"{gflops:.0f} GFLOP/s ({100 * gflops / peak:.0f}% pk, {100 * gflops / st['peak'][0]:.0f}% beside)"
    else:
        rate = f"{nbytes / m / 1e9:.1f} GB/s"
    print(f"{name:<30}{cells}{ratio}{rate:>34}", flush=True)


if __name__ == "__main__":
    main()
