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

Then a whole training step of a text classifier on such batches (token ids padded with 0):
Embedding(5000, 32, mask_zero=True) -> LSTM(128) -> Dense(1, sigmoid), binary cross-entropy,
Adam: fastnn's ``train_on_batch`` against PyTorch's nn.Embedding(padding_idx=0) ->
pack_padded_sequence -> nn.LSTM -> nn.Linear with BCEWithLogitsLoss and Adam, the same weights
(their predictions compared first).

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

N, T, F, U = 128, 80, 32, 128  # batch, steps, features, units
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
            time_text_model(rng, args.reps)


VOCAB, EMBED = 5000, 32


def text_model(rng):
    """The classifier, its padded batch of token ids and labels."""
    from fastnn.layers import LSTM, Dense, Embedding, Input
    from fastnn.models import Sequential

    lengths = rng.integers(8, T + 1, N)
    ids = rng.integers(1, VOCAB, (N, T)) * (np.arange(T)[None, :] < lengths[:, None])
    labels = rng.integers(0, 2, (N, 1)).astype(np.float32)
    model = Sequential([Input((T,), dtype="int32"), Embedding(VOCAB, EMBED, mask_zero=True), LSTM(U),
                        Dense(1, activation="sigmoid")])
    model.compile(fastnn.optimizers.Adam(1e-3), "binary_crossentropy")
    return model, ids, labels, lengths


def torch_text_model(model, lengths):
    """PyTorch's twin holding the fastnn model's weights, and its training step."""
    emb_w, w, u, b, dense_w, dense_b = model.get_weights()
    emb = torch.nn.Embedding(VOCAB, EMBED, padding_idx=0)
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(emb_w))
    lstm, _ = torch_module("lstm", U, w, u, b)
    head = torch.nn.Linear(U, 1)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(np.ascontiguousarray(dense_w.T)))
        head.bias.copy_(torch.from_numpy(dense_b))
    params = list(emb.parameters()) + list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    lt = torch.from_numpy(lengths)

    def logits(ids):
        packed = torch.nn.utils.rnn.pack_padded_sequence(emb(ids), lt, batch_first=True, enforce_sorted=False)
        _, (h, _) = lstm(packed)
        return head(h[0])

    def step(ids, labels):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits(ids), labels)
        loss.backward()
        opt.step()
        return loss

    return logits, step


def time_text_model(rng, reps):
    model, ids, labels, lengths = text_model(rng)
    line = f"\n  text classifier, one training step (Embedding(mask_zero) -> LSTM({U}) -> Dense), batch {N}, T {T}:"
    funcs = {"fastnn": lambda: model.train_on_batch(ids, labels)}
    if torch is not None:
        logits, step = torch_text_model(model, lengths)
        idt, lab = torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(labels)
        with torch.no_grad():
            p_torch = torch.sigmoid(logits(idt)).numpy()
        err = float(np.abs(model.predict(ids, verbose=0) - p_torch).max())
        if err > 1e-4:
            raise SystemExit(f"bench_masked_rnn: the PyTorch text model's predictions differ by {err:.2e}; not timing")
        line += f" predictions agree to {err:.1e}"
        funcs["torch"] = lambda: step(idt, lab)
    print(line)
    t = H.compare(funcs, reps=reps)
    vs = f", {t['torch'][0] / t['fastnn'][0]:.2f}x PyTorch {H.fmt_ms(t['torch'])}" if "torch" in t else ""
    print(f"  fastnn {H.fmt_ms(t['fastnn'])}{vs}")


if __name__ == "__main__":
    main()
