"""Benchmark: recurrent layers over padded variable-length sequences with Keras's mask.

The text-classification case: a batch of 128 sequences post-padded to T = 80 steps of F = 32
features (an embedding's output), lengths drawn uniformly from 8..80 (mean ~44, so ~45% of the
steps are padding); LSTM(128) and GRU(128), last state only, forward + backward from dL/dh_last
to every weight (no input gradient, as bench_rnn.py).

    fastnn masked    the kernels with the (N, T) mask: Keras's semantics (a masked step carries
                     the state). A padding mask sorts the rows by length, and every product
                     (each step's, and the whole sequence's) computes only the kept rows
    fastnn unmasked  the same padded batch without a mask (not the same result: what the mask
                     saves, or costs)
    numpy masked     the NumPy reference backend with the mask
    torch packed     PyTorch's way to the same result: nn.LSTM/nn.GRU on
                     pack_padded_sequence(enforce_sorted=False), h_n as the last state; packing
                     skips the padding's arithmetic (the batch shrinks as sequences end)

It validates first (fastnn and torch packed against the float64 reference with the mask: the
last state and every weight gradient) and stops if anything is off; then times the variants in
alternating blocks in one process (bench/_harness.py), medians and p10-p90.

    python bench/bench_masked_rnn.py [--threads 1 2] [--reps 30]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402
from bench_rnn import _rel, torch_grads, torch_module  # noqa: E402

import fastnn  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

N, T, F, U = 128, 80, 32, 128
CASES = [("LSTM(128)", "lstm"), ("GRU(128)", "gru")]
GATES = {"lstm": 4, "gru": 3}


def make_case(cell, rng):
    G = GATES[cell]
    lengths = rng.integers(8, T + 1, N)
    mask = np.arange(T)[None, :] < lengths[:, None]
    x = rng.standard_normal((N, T, F)).astype(np.float32) * mask[:, :, None]  # zeros in the padding
    w = (rng.standard_normal((F, G * U)) * np.sqrt(2.0 / (F + G * U))).astype(np.float32)
    u = (rng.standard_normal((U, G * U)) / np.sqrt(U)).astype(np.float32)
    b = (0.1 * rng.standard_normal((2, 3 * U) if cell == "gru" else (G * U,))).astype(np.float32)
    dh = rng.standard_normal((N, U)).astype(np.float32)
    return x, w, u, b, dh, mask, lengths


def fwd_bwd(mod, cell, x, w, u, b, dh, mask):
    """Forward (last state) and backward to the weights on `mod` (fastnn._core or the reference)."""
    if cell == "lstm":
        _, h, _, cache = mod.lstm_forward(x, w, u, b, return_sequences=False, mask=mask)
        _, dw, du, db, _, _ = mod.lstm_backward(None, dh, None, x, w, u, cache, need_dx=False, mask=mask)
    else:
        _, h, cache = mod.gru_forward(x, w, u, b, return_sequences=False, mask=mask)
        _, dw, du, db, _ = mod.gru_backward(None, dh, x, w, u, cache, need_dx=False, mask=mask)
    return h, dw, du, db


def torch_packed(cell, x, w, u, b, dh, lengths):
    m, perm = torch_module(cell, U, w, u, b)
    xt, dht, lt = torch.from_numpy(x), torch.from_numpy(dh), torch.from_numpy(lengths)

    def run():
        m.zero_grad(set_to_none=True)
        packed = torch.nn.utils.rnn.pack_padded_sequence(xt, lt, batch_first=True, enforce_sorted=False)
        _, state = m(packed)
        h_n = state[0] if cell == "lstm" else state
        h_n[0].backward(dht)
        return h_n[0]

    return run, m, perm


def validate(rng, tol=2e-4):
    ok = True
    for label, cell in CASES:
        x, w, u, b, dh, mask, lengths = make_case(cell, rng)
        want = fwd_bwd(fastnn.reference, cell, *(a.astype(np.float64) for a in (x, w, u, b, dh)), mask)
        got = fwd_bwd(fastnn._core, cell, x, w, u, b, dh, mask)
        errs = [_rel(g, r) for g, r in zip(got, want)]
        line = f"  {label:<10} fastnn masked vs float64 reference: max {max(errs):.1e}"
        good = max(errs) < tol
        if torch is not None:
            run, m, perm = torch_packed(cell, x, w, u, b, dh, lengths)
            h = run().detach().numpy()
            terrs = [_rel(h, want[0])] + [_rel(g, r) for g, r in zip(torch_grads(m, cell, perm, U), want[1:])]
            line += f" | torch packed max {max(terrs):.1e}"
            good &= max(terrs) < tol
        print(line + ("  ok" if good else "  FAILED"))
        ok &= good
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"fastnn {fastnn.__version__}  kernel={fastnn._core.gemm_kernel()}  NumPy {np.__version__} "
          f"BLAS: {H.blas_info()}  torch: {torch.__version__ if torch is not None else 'not installed'}")
    print(f"batch {N}, T {T} (post-padded; lengths uniform in 8..{T}), F {F}; validation with the mask:")
    if not validate(rng):
        raise SystemExit("bench_masked_rnn: validation FAILED; not timing")
    for threads in args.threads:
        with H.threads(threads):
            if torch is not None:
                torch.set_num_threads(threads)
            print(f"\nthreads = {threads}, forward + backward, ms median [p10-p90]")
            print(f"  {'layer':<10} {'fastnn masked':>24} {'fastnn unmasked':>24} {'numpy masked':>13} "
                  f"{'torch packed':>13} {'masked/unmasked':>15} {'x numpy':>8} {'x torch':>8}")
            for label, cell in CASES:
                x, w, u, b, dh, mask, lengths = make_case(cell, rng)
                funcs = {
                    "masked": lambda: fwd_bwd(fastnn._core, cell, x, w, u, b, dh, mask),
                    "unmasked": lambda: fwd_bwd(fastnn._core, cell, x, w, u, b, dh, None),
                    "numpy": lambda: fwd_bwd(fastnn.reference, cell, x, w, u, b, dh, mask),
                }
                if torch is not None:
                    funcs["torch"] = torch_packed(cell, x, w, u, b, dh, lengths)[0]
                t = H.compare(funcs, reps=args.reps)
                ms = {k: v[0] * 1e3 for k, v in t.items()}
                torch_ms = f"{ms['torch']:13.2f}" if "torch" in ms else f"{'-':>13}"
                vs_torch = f"{ms['torch'] / ms['masked']:7.2f}x" if "torch" in ms else f"{'-':>8}"
                print(f"  {label:<10} {H.fmt_ms(t['masked']):>24} {H.fmt_ms(t['unmasked']):>24} {ms['numpy']:13.2f} "
                      f"{torch_ms} {ms['masked'] / ms['unmasked']:14.3f}x {ms['numpy'] / ms['masked']:7.1f}x {vs_torch}")


if __name__ == "__main__":
    main()
