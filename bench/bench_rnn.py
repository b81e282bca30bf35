"""Benchmark: recurrent layers on MNIST read row by row (batch 128, T = 28, F = 28), as in the notes.

SimpleRNN(256), SimpleRNN(128), LSTM(128) and GRU(128, reset_after=True), each as the first layer
of a model that uses only the last state (Keras's return_sequences=False): "fwd" is the forward
pass, "fwd+bwd" the forward pass plus backpropagation through time from dL/dh_last to every
weight (no input gradient: a first layer needs none, and torch's x does not require grad either).
Libraries: fastnn (C++), the NumPy reference backend (float32, NumPy's BLAS) and, when
``import torch`` works, PyTorch CPU (nn.RNN / nn.LSTM / nn.GRU with autograd), all with the same
thread count.

FLOPs: the forward pass counts 2·T·N·(F+U)·G·U (G = 1, 4, 3 gates), forward + backward three times
that. "% peak" divides by the FMA peak = fastnn._core._fma_peak_probe(0.2) (one core, the GEMM
micro-kernel's ISA) at the start, times the thread count; "% beside" by the median of the probe run
on all threads at once in every round of the item's alternation (on a shared host the probe moves
by 10-25% between minutes; read both, as bench_conv.py prints both).

It validates first — fastnn and torch against the float64 reference on the benchmark shapes
(last state, every weight gradient) — and stops if anything is off. Then it times the libraries
in alternating blocks in one process (bench/_harness.py: >= 5 warm-up calls, median and p10-p90).

    python bench/bench_rnn.py                    # 2 threads, 30 repetitions
    python bench/bench_rnn.py --threads 1 2 --reps 60
    python bench/bench_rnn.py --layers "LSTM(128)" "GRU(128)"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

import fastnn  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

N, T, F = 128, 28, 28
CASES = [("SimpleRNN(256)", "simple_rnn", 256), ("SimpleRNN(128)", "simple_rnn", 128), ("LSTM(128)", "lstm", 128),
         ("GRU(128)", "gru", 128)]
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
# the bars for forward + backward: fraction of peak, and speed-ups over torch and NumPy
TARGET_PEAK, TARGET_NUMPY = 0.75, 4.0
TARGET_TORCH = {"SimpleRNN(256)": 1.25, "SimpleRNN(128)": 1.5, "LSTM(128)": 1.15, "GRU(128)": 1.5}


def flops_forward(cell, U):
    return 2.0 * T * N * (F + U) * GATES[cell] * U


def make_weights(cell, U, rng):
    """Keras layouts: x (N, T, F) in [0, 1) like scaled pixels, kernel, recurrent kernel, bias, dL/dh_last."""
    G = GATES[cell]
    x = rng.random((N, T, F), dtype=np.float32)
    w = (rng.standard_normal((F, G * U)) * np.sqrt(2.0 / (F + G * U))).astype(np.float32)
    u = (rng.standard_normal((U, G * U)) / np.sqrt(U)).astype(np.float32)
    b = (0.1 * rng.standard_normal((2, 3 * U) if cell == "gru" else (G * U,))).astype(np.float32)
    dh = rng.standard_normal((N, U)).astype(np.float32)
    return x, w, u, b, dh


def fwd_bwd(mod, cell, x, w, u, b, dh, backward=True):
    """One forward (last state only) and, optionally, backward on `mod` (fastnn._core or the reference)."""
    if cell == "simple_rnn":
        _, h, cache = mod.simple_rnn_forward(x, w, u, b, return_sequences=False)
        if not backward:
            return (h,)
        _, dw, du, db, _ = mod.simple_rnn_backward(None, dh, x, w, u, cache, need_dx=False)
    elif cell == "lstm":
        _, h, _, cache = mod.lstm_forward(x, w, u, b, return_sequences=False)
        if not backward:
            return (h,)
        _, dw, du, db, _, _ = mod.lstm_backward(None, dh, None, x, w, u, cache, need_dx=False)
    else:
        _, h, cache = mod.gru_forward(x, w, u, b, return_sequences=False)
        if not backward:
            return (h,)
        _, dw, du, db, _ = mod.gru_backward(None, dh, x, w, u, cache, need_dx=False)
    return h, dw, du, db


# ---- PyTorch twin ---------------------------------------------------------------------------------


def torch_module(cell, U, w, u, b):
    """nn.RNN / nn.LSTM / nn.GRU holding the same weights (torch's GRU gate order is r, z, n)."""
    cls = {"simple_rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    m = cls(w.shape[0], U, batch_first=True)
    G = GATES[cell]
    perm = np.r_[U:2 * U, 0:U, 2 * U:3 * U] if cell == "gru" else np.arange(G * U)
    b_ih, b_hh = (b[0], b[1]) if cell == "gru" else (b, np.zeros_like(b))
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(w[:, perm].T)))
        m.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(u[:, perm].T)))
        m.bias_ih_l0.copy_(torch.from_numpy(b_ih[perm].copy()))
        m.bias_hh_l0.copy_(torch.from_numpy(b_hh[perm].copy()))
    return m, perm


def torch_grads(m, cell, perm, U):
    """The torch module's gradients in Keras's layouts (dw, du, db)."""
    inv = np.argsort(perm)
    dw = m.weight_ih_l0.grad.numpy().T[:, inv]
    du = m.weight_hh_l0.grad.numpy().T[:, inv]
    db_ih, db_hh = m.bias_ih_l0.grad.numpy()[inv], m.bias_hh_l0.grad.numpy()[inv]
    # Keras's single bias of SimpleRNN/LSTM is torch's bias_ih (bias_hh is held at 0; its gradient
    # equals bias_ih's); a GRU's (2, 3U) bias is [bias_ih; bias_hh]
    db = np.stack([db_ih, db_hh]) if cell == "gru" else db_ih
    return dw, du, db


def torch_runner(cell, U, x, w, u, b, dh, backward=True):
    m, perm = torch_module(cell, U, w, u, b)
    xt, dht = torch.from_numpy(x), torch.from_numpy(dh)

    def run():
        if not backward:
            with torch.no_grad():
                return m(xt)
        m.zero_grad(set_to_none=True)
        out, _ = m(xt)
        out[:, -1].backward(dht)
        return out

    return run, m, perm


# ---- Validation ---------------------------------------------------------------------------------


def _rel(got, want):
    return float(np.abs(np.asarray(got, np.float64) - want).max() / max(1e-30, np.abs(want).max()))


def validate(rng, tol=2e-4):
    ok = True
    for label, cell, U in CASES:
        x, w, u, b, dh = make_weights(cell, U, rng)
        want = fwd_bwd(fastnn.reference, cell, *(a.astype(np.float64) for a in (x, w, u, b, dh)))
        got = fwd_bwd(fastnn._core, cell, x, w, u, b, dh)
        errs = {n: _rel(g, r) for n, g, r in zip(("h_last", "dw", "du", "db"), got, want)}
        line = f"  {label:<15} fastnn vs float64 reference: " + " ".join(f"{n} {e:.1e}" for n, e in errs.items())
        good = max(errs.values()) < tol
        if torch is not None:
            run, m, perm = torch_runner(cell, U, x, w, u, b, dh)
            out = run()
            terrs = [_rel(out[:, -1].detach().numpy(), want[0])]
            terrs += [_rel(g, r) for g, r in zip(torch_grads(m, cell, perm, U), want[1:])]
            line += f" | torch max {max(terrs):.1e}"
            good &= max(terrs) < tol
        print(line + ("  ok" if good else "  FAILED"))
        ok &= good
    return ok


# ---- Timing -------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--layers", nargs="+", choices=[c[0] for c in CASES], help="time only these layers")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    cases = [c for c in CASES if not args.layers or c[0] in args.layers]

    rng = np.random.default_rng(0)
    print(f"fastnn {fastnn.__version__}  kernel={fastnn._core.gemm_kernel()}  NumPy {np.__version__} "
          f"BLAS: {H.blas_info()}  torch: {torch.__version__ if torch is not None else 'not installed'}")
    print(f"batch {N}, T {T}, F {F}; validation against the float64 reference:")
    if not validate(rng):
        raise SystemExit("bench_rnn: validation FAILED; not timing")
    single = fastnn._core._fma_peak_probe(0.2)
    print(f"FMA peak probe: {single:.1f} GFLOP/s on one core\n")

    rows = []
    for threads in args.threads:
        peak = single * threads
        with H.threads(threads):
            if torch is not None:
                torch.set_num_threads(threads)
            print(f"threads = {threads}  (peak {peak:.0f} GFLOP/s)")
            print(f"  {'layer':<15} {'pass':<8} {'fastnn ms [p10-p90]':>26} {'numpy ms':>10} {'torch ms':>10} "
                  f"{'GFLOP/s':>8} {'% peak':>7} {'% beside':>8} {'x numpy':>8} {'x torch':>8}")
            for label, cell, U in cases:
                x, w, u, b, dh = make_weights(cell, U, rng)
                for mode, backward in (("fwd", False), ("fwd+bwd", True)):
                    funcs = {
                        "fastnn": lambda: fwd_bwd(fastnn._core, cell, x, w, u, b, dh, backward),
                        "numpy": lambda: fwd_bwd(fastnn.reference, cell, x, w, u, b, dh, backward),
                    }
                    if torch is not None:
                        funcs["torch"] = torch_runner(cell, U, x, w, u, b, dh, backward)[0]
                    t = H.compare(funcs, reps=args.reps, probe=lambda: H.probe_gflops(threads, 0.02))
                    beside = t.pop("peak_gflops")[0]
                    flops = flops_forward(cell, U) * (3 if backward else 1)
                    gf = flops / t["fastnn"][0] / 1e9
                    vs_np = t["numpy"][0] / t["fastnn"][0]
                    vs_torch = t["torch"][0] / t["fastnn"][0] if "torch" in t else None
                    torch_ms = f"{t['torch'][0] * 1e3:10.2f}" if "torch" in t else f"{'-':>10}"
                    print(f"  {label:<15} {mode:<8} {H.fmt_ms(t['fastnn']):>26} {t['numpy'][0] * 1e3:10.2f} {torch_ms} "
                          f"{gf:8.1f} {100 * gf / peak:6.1f}% {100 * gf / beside:7.1f}% {vs_np:7.1f}x "
                          + (f"{vs_torch:7.2f}x" if vs_torch else f"{'-':>8}"))
                    rows.append({"threads": threads, "layer": label, "pass": mode,
                                 **{f"{k}_ms": v[0] * 1e3 for k, v in t.items()},
                                 "gflops": gf, "peak_fraction": gf / peak, "peak_beside_gflops": beside,
                                 "peak_fraction_beside": gf / beside, "x_numpy": vs_np, "x_torch": vs_torch})
            print()
    print("Targets (forward + backward): >= 75% of the FMA peak; >= 4x the NumPy reference; against torch "
          + ", ".join(f"{k} >= {v}x" for k, v in TARGET_TORCH.items()))
    for r in rows:
        if r["pass"] != "fwd+bwd":
            continue
        checks = [f"peak {'met' if r['peak_fraction'] >= TARGET_PEAK else 'MISSED'}"
                  f" ({'met' if r['peak_fraction_beside'] >= TARGET_PEAK else 'MISSED'} beside)",
                  f"numpy {'met' if r['x_numpy'] >= TARGET_NUMPY else 'MISSED'}"]
        if r["x_torch"] is not None:
            checks.append(f"torch {'met' if r['x_torch'] >= TARGET_TORCH[r['layer']] else 'MISSED'}")
        print(f"  threads {r['threads']} {r['layer']:<15} " + ", ".join(checks))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
