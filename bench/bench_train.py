"""End-to-end benchmark: the course-notes models (fastnn.applications) trained on Fashion-MNIST with
fastnn (C++ kernels), fastnn's NumPy backend and PyTorch CPU, side by side in one process.

For each model (mlp, cnn, rnn, lstm, gru) it reports seconds per training epoch over the 60,000
training images at batch 128, inference time over the 10,000 test images, test accuracy after
``--epochs`` epochs (fastnn and PyTorch), the speed-ups (other library's seconds / fastnn's) and the
peak memory of a training run. A model whose layers fastnn does not have yet is reported as
"not available" instead of stopping the run.

What is compared
  fastnn        ``applications.build(name)`` trained with ``model.fit(x, y, batch_size=128, epochs=1,
                verbose=0)`` once per epoch: shuffling, batch gather, loss and accuracy per batch.
  numpy-backend the same model (same initial weights) inside ``with fastnn.backend("numpy")``. It
                is slow, so only ``--numpy-batches`` batches are timed and the time is extrapolated
                to the 60,000 images (labelled "extrapolated" in the table); its inference likewise
                on a slice of the test set. No accuracy (it is not trained to the end).
  torch         PyTorch CPU (2.13) when ``import torch`` works: the same architecture, started from
                fastnn's initial weights (copied in, so accuracy differences are the library's, not
                the initialisation's), batch 128, the optimizer with Keras's defaults (Adam lr 1e-3,
                betas 0.9/0.999, eps 1e-7; SGD lr 0.01, no momentum), a plain training loop that like
                fit computes the loss and accuracy of every batch. The CNN twice: channels_last
                memory format (PyTorch's fast CPU path) and default NCHW. Recurrent models use
                nn.RNN/LSTM/GRU(batch_first=True); their input dropout uses one mask per sequence as
                Keras does, and the second recurrent bias PyTorch has (bias_hh) is frozen at zero for
                SimpleRNN and LSTM, where Keras has one bias, so the trainable parameters match.

Protocol (../shared/PERFORMANCE.md): one process; per model the libraries are timed one after
another and, with several epochs, in alternating order (A B, B A, ...), each after a short warm-up
on a throw-away copy of the model, with a pause between blocks so the previous library's idle
threads stop spinning. Threads are matched: fastnn.set_num_threads, torch.set_num_threads,
threadpoolctl for NumPy's BLAS. Seconds per epoch is the median over the timed epochs.

Validation first, per model (a model that fails it is not timed):
  * fastnn vs its NumPy backend: two copies with the same initial weights and dropout masks each take
    one SGD step (learning rate 1) on the first training batch: the losses must agree to 1e-4
    (relative) and the gradients (weights before minus after) to 2e-2 of each tensor's largest value
    (a near-zero pre-activation may round to the other side of a relu in one backend; see GRAD_TOL).
  * torch: the trainable parameter count equals fastnn's ``count_params()``, and with fastnn's
    weights copied in, the inference-mode loss on the first batch agrees to 1e-4 (relative).

Peak memory: for each library and model a child process (this script with ``--_memory``) loads the
data, resets the kernel's peak-RSS counter (``/proc/self/clear_refs``), builds the model and trains
``--memory-batches`` batches. Reported: the growth of the peak resident set (VmHWM) over the
resident set just before the model was built, in MiB; it counts C++ and PyTorch allocations alike
(tracemalloc sees neither). The baseline (interpreter, libraries, the dataset as float32: ~260 MiB
for fastnn, ~+330 MiB for torch's libraries) is in results.json.

    python bench/bench_train.py --quick                     # ~2-4 min: 60 batches per timing
    python bench/bench_train.py --models mlp --epochs 10    # the MLP's accuracy target
    python bench/bench_train.py --out results/              # results.md + results.json
    python bench/bench_train.py --models lstm --epochs 20 --accuracy-seeds 3 --no-memory
                                    # accuracy over 4 seeds: mean, spread, paired difference to PyTorch

Expected wall time on this 2-core machine (one epoch, PyTorch installed), from the per-epoch times
measured here: a full run takes about 8-10 minutes: mlp ~0.5 min; cnn ~4-5 min (PyTorch ~65 s per
epoch channels_last and ~100 s NCHW, fastnn ~40 s, 30 NumPy-backend batches ~12 s, three memory
children); rnn, lstm and gru ~1 min each. Each further epoch adds the seconds per epoch of fastnn
and of each PyTorch variant: ~4-5 min for all five models, most of it the CNN's (``--cnn-formats
channels_last`` saves ~100 s per epoch). ``--quick`` times 60 batches (7,680 images) instead of each
epoch and takes 2-3 minutes for all five models.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import fastnn
from fastnn import applications

try:
    import threadpoolctl
except ImportError:  # timings are still taken, but NumPy's BLAS threads are not matched
    threadpoolctl = None

torch = None  # imported in main() unless --no-torch, so a --_memory child of fastnn never loads it

BATCH = 128
TRAIN_IMAGES = 60_000
TEST_IMAGES = 10_000
QUICK_BATCHES = 60
PAUSE = 0.15  # seconds between library blocks: OpenBLAS/libgomp idle workers stop spinning
RECURRENT_UNITS = {"rnn": 256, "lstm": 128, "gru": 128}
# the speed-up fastnn should reach (issues 3-6): against PyTorch, and against its own NumPy backend
TARGETS = {"torch": {"mlp": 2.0, "cnn": 2.0, "rnn": 1.25, "lstm": 1.15, "gru": 1.5},
           "numpy-backend": {"mlp": 1.5, "cnn": 5.0, "rnn": 4.0, "lstm": 4.0, "gru": 4.0}}
# torch variants per model: (label, channels_last)
TORCH_VARIANTS = {"cnn": (("torch channels_last", True), ("torch NCHW", False))}


# ---- Data ---------------------------------------------------------------------------------------


def load_data():
    """Full Fashion-MNIST as float32 images in [0, 1] of shape (N, 28, 28) and int64 labels."""
    (x_train, y_train), (x_test, y_test) = fastnn.datasets.fashion_mnist.load_data()
    scale = lambda x: np.ascontiguousarray(x, dtype=np.float32) / np.float32(255.0)  # noqa: E731
    return (scale(x_train), y_train.astype(np.int64)), (scale(x_test), y_test.astype(np.int64))


# ---- fastnn models ------------------------------------------------------------------------------


def build_fastnn(name, seed, optimizer=None, learning_rate=None):
    """``applications.build(name)`` after seeding: the same seed gives the same weights and masks."""
    fastnn.utils.set_random_seed(seed)
    return applications.build(name, optimizer=optimizer, learning_rate=learning_rate)


def availability(name):
    """None when fastnn can build ``name``, else the reason it cannot (a layer not written yet)."""
    try:
        build_fastnn(name, 0)
    except (AttributeError, ImportError, NotImplementedError) as e:
        return f"{type(e).__name__}: {e}"
    return None


# ---- PyTorch twins ------------------------------------------------------------------------------


def build_torch(name, channels_last=False):
    """The PyTorch module with the architecture of ``applications.build(name)`` (logits out: the
    softmax lives in the loss), and its optimizer with Keras's default hyper-parameters."""
    nn = torch.nn

    if name == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.45),
                              nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.45), nn.Linear(256, 10))
        opt = "adam"
    elif name == "cnn":
        model = _TorchCNN(channels_last)
        opt = "adam"
    elif name in RECURRENT_UNITS:
        model = _TorchRecurrent(name, RECURRENT_UNITS[name])
        opt = "sgd" if name == "rnn" else "adam"
    else:
        raise ValueError(f"no PyTorch twin for model {name!r}")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    if opt == "adam":  # Keras: learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7
        optimizer = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    else:  # Keras: learning_rate=0.01, momentum=0.0, nesterov=False
        optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.0)
    return model, optimizer


def _torch_classes():
    """Define the nn.Module twins once torch is imported."""
    global _TorchCNN, _TorchRecurrent
    nn = torch.nn

    class _TorchCNN(nn.Module):
        def __init__(self, channels_last):
            super().__init__()
            self.channels_last = channels_last
            self.features = nn.Sequential(
                nn.Conv2d(1, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(64, 64, 3), nn.ReLU())
            self.dropout = nn.Dropout(0.2)
            self.fc = nn.Linear(3 * 3 * 64, 10)

        def forward(self, x):  # x: (N, 28, 28)
            x = x.unsqueeze(1)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            x = self.features(x)
            return self.fc(self.dropout(torch.flatten(x, 1)))

    class _TorchRecurrent(nn.Module):
        def __init__(self, kind, units, dropout=0.2):
            super().__init__()
            cell = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
            self.rnn = cell(28, units, batch_first=True)
            if kind in ("rnn", "lstm"):
                # Keras has one bias vector; PyTorch adds bias_hh to bias_ih: keep it at zero
                with torch.no_grad():
                    self.rnn.bias_hh_l0.zero_()
                self.rnn.bias_hh_l0.requires_grad_(False)
            self.p = dropout
            self.fc = nn.Linear(units, 10)

        def forward(self, x):  # x: (N, 28, 28) = 28 time steps of 28 features
            if self.training and self.p > 0:
                # Keras's recurrent `dropout`: one input mask per sequence, shared by all time steps
                keep = 1.0 - self.p
                mask = torch.empty(x.shape[0], 1, x.shape[2]).bernoulli_(keep).div_(keep)
                x = x * mask
            out, _ = self.rnn(x)
            return self.fc(out[:, -1])


_TorchCNN = _TorchRecurrent = None


def copy_weights_to_torch(name, fmodel, tmodel):
    """Load fastnn's weights (Keras layouts) into the PyTorch twin."""
    w = [np.asarray(a, dtype=np.float32) for a in fmodel.get_weights()]
    T = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    with torch.no_grad():
        if name == "mlp":
            linears = [m for m in tmodel if isinstance(m, torch.nn.Linear)]
            for lin, (k, b) in zip(linears, zip(w[0::2], w[1::2])):
                lin.weight.copy_(T(k.T))
                lin.bias.copy_(T(b))
        elif name == "cnn":
            convs = [m for m in tmodel.features if isinstance(m, torch.nn.Conv2d)]
            for i, conv in enumerate(convs):
                conv.weight.copy_(T(w[2 * i].transpose(3, 2, 0, 1)))  # (KH, KW, C, OC) -> (OC, C, KH, KW)
                conv.bias.copy_(T(w[2 * i + 1]))
            # Keras flattens (H, W, C); PyTorch flattens (C, H, W)
            k = w[6].reshape(3, 3, 64, 10).transpose(2, 0, 1, 3).reshape(576, 10)
            tmodel.fc.weight.copy_(T(k.T))
            tmodel.fc.bias.copy_(T(w[7]))
        else:
            kernel, recurrent, bias, fc_k, fc_b = w
            units = recurrent.shape[0]
            rnn = tmodel.rnn
            if name == "gru":
                # Keras's gate blocks are (z, r, h); PyTorch's (r, z, n); reset_after bias is (2, 3U)
                order = np.concatenate([np.arange(units, 2 * units), np.arange(units), np.arange(2 * units, 3 * units)])
                kernel, recurrent, bias = kernel[:, order], recurrent[:, order], bias[:, order]
                rnn.bias_ih_l0.copy_(T(bias[0]))
                rnn.bias_hh_l0.copy_(T(bias[1]))
            else:  # LSTM gates (i, f, c, o) are PyTorch's (i, f, g, o)
                rnn.bias_ih_l0.copy_(T(bias))
                rnn.bias_hh_l0.zero_()
            rnn.weight_ih_l0.copy_(T(kernel.T))
            rnn.weight_hh_l0.copy_(T(recurrent.T))
            tmodel.fc.weight.copy_(T(fc_k.T))
            tmodel.fc.bias.copy_(T(fc_b))


# ---- Validation ---------------------------------------------------------------------------------


def _line(what, value, tol, ok):
    print(f"    {what:<58} {value:.3g} (tolerance {tol:g}) {'ok' if ok else 'FAILED'}")


# Gradients: float32 rounding may put a pre-activation within ~1e-7 of zero on the other side of
# it in one backend, which turns a relu (or a max-pool's choice in an all-zero window) on or off for
# that one element: one sample's contribution then moves, up to ~1/128 of a tensor's largest
# gradient (seen here: the CNN's second conv bias, 3.5e-3, with the C++ backend equal to the float64
# reference to 4e-7). A wrong kernel gives differences of order 1.
GRAD_TOL = 2e-2


def validate_backends(name, x, y, seed):
    """fastnn C++ vs NumPy backend: one SGD step (lr 1) from the same weights; loss and gradients."""
    models = {}
    for backend in ("cpp", "numpy"):
        m = build_fastnn(name, seed, optimizer="sgd", learning_rate=1.0)
        before = [w.astype(np.float64) for w in m.get_weights()]
        with fastnn.backend(backend):
            loss = m.train_on_batch(x, y)[0]
        grads = [b - a for b, a in zip(before, m.get_weights())]  # = lr * gradient, exact in float64
        models[backend] = (loss, grads, before)
    (lc, gc, wc), (ln, gn, wn) = models["cpp"], models["numpy"]
    ok = all(np.array_equal(a, b) for a, b in zip(wc, wn))
    if not ok:
        print("    the two copies did not start from the same weights: FAILED")
    rel = abs(lc - ln) / max(abs(ln), 1e-30)
    _line(f"first-batch loss C++ {lc:.6f} vs NumPy {ln:.6f}, rel. diff", rel, 1e-4, rel <= 1e-4)
    ok &= rel <= 1e-4
    diffs = [float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)) for a, b in zip(gc, gn)]
    worst = max(diffs)
    _line(f"gradients of all {len(gc)} weight tensors, max diff / max |g|", worst, GRAD_TOL, worst <= GRAD_TOL)
    return bool(ok and worst <= GRAD_TOL), {"loss_cpp": float(lc), "loss_numpy": float(ln), "loss_rel_diff": rel,
                                             "grad_rel_diff": diffs}


def validate_torch(name, fmodel, tmodel, label, x, y):
    """Parameter counts, and the inference loss on one batch with fastnn's weights copied in."""
    fcount = fmodel.count_params()
    tcount = sum(p.numel() for p in tmodel.parameters() if p.requires_grad)
    ok = fcount == tcount
    print(f"    {label}: trainable parameters {tcount:,} vs fastnn's {fcount:,} {'ok' if ok else 'FAILED'}")
    copy_weights_to_torch(name, fmodel, tmodel)
    floss = float(fmodel.test_on_batch(x, y)[0])
    tmodel.eval()
    with torch.no_grad():
        tloss = float(torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(y)))
    rel = abs(floss - tloss) / max(abs(floss), 1e-30)
    _line(f"{label}: same weights, loss {tloss:.6f} vs fastnn {floss:.6f}, rel. diff", rel, 1e-4, rel <= 1e-4)
    return bool(ok and rel <= 1e-4), {"params_torch": tcount, "params_fastnn": fcount, "loss_rel_diff": rel}


# ---- Timed work ---------------------------------------------------------------------------------


class Threads:
    """Match fastnn's, NumPy's BLAS and torch's thread counts to ``n`` inside a with-block."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self._old = fastnn.get_num_threads()
        fastnn.set_num_threads(self.n)
        self._ctl = threadpoolctl.threadpool_limits(limits=self.n) if threadpoolctl else None
        if torch is not None:
            self._torch = torch.get_num_threads()
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        fastnn.set_num_threads(self._old)
        if self._ctl is not None:
            self._ctl.restore_original_limits()
        if torch is not None:
            torch.set_num_threads(self._torch)
        return False


def fastnn_train(model, x, y):
    """One pass of ``fit`` over (x, y); its wall time in seconds."""
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=True)
    return time.perf_counter() - t0


def fastnn_predict(model, x, batch):
    """(seconds, predicted classes) for ``model.predict(x)``."""
    t0 = time.perf_counter()
    p = model.predict(x, batch_size=batch, verbose=0)
    return time.perf_counter() - t0, np.argmax(p, axis=1)


def torch_train(model, optimizer, X, Y):
    """One epoch over the torch tensors (X, Y) in shuffled batches of 128 with the loss and accuracy
    of each batch accumulated, as fit does; its wall time in seconds."""
    F = torch.nn.functional
    t0 = time.perf_counter()
    model.train()
    n = len(X)
    perm = torch.randperm(n)
    loss_sum = correct = 0.0
    for lo in range(0, n, BATCH):
        idx = perm[lo:lo + BATCH]
        xb, yb = X[idx], Y[idx]
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(idx)
        correct += (out.argmax(1) == yb).sum().item()
    return time.perf_counter() - t0


def torch_predict(model, X, batch):
    t0 = time.perf_counter()
    model.eval()
    outs = []
    with torch.inference_mode():
        for lo in range(0, len(X), batch):
            outs.append(model(X[lo:lo + batch]).argmax(1))
    return time.perf_counter() - t0, torch.cat(outs).numpy()


def reseed_training(seed):
    """Seed the generators that training draws from (fit's shuffles; torch's shuffles and dropout)."""
    fastnn.utils.set_random_seed(seed)
    if torch is not None:
        torch.manual_seed(seed)


def accuracy_runs(name, args, data, variant):
    """Test accuracy of fastnn and PyTorch (``variant``: (label, channels_last), or None) trained
    untimed for ``--epochs`` epochs from the same initial weights, once per extra seed
    (``--accuracy-seeds``): one seed's accuracy carries a spread of a few tenths of a point."""
    (x, y), (xt, yt) = data
    runs = []
    for seed in range(args.seed + 1, args.seed + 1 + args.accuracy_seeds):
        fmodel = build_fastnn(name, seed)
        run = {"seed": seed, "fastnn": None, "torch": None}
        if variant is not None:  # its initial weights are overwritten: no seed needed before building
            tmodel, topt = build_torch(name, variant[1])
            copy_weights_to_torch(name, fmodel, tmodel)
        reseed_training(seed)
        t0 = time.perf_counter()
        for _ in range(args.epochs):
            fastnn_train(fmodel, x, y)
        run["fastnn"] = float(np.mean(fastnn_predict(fmodel, xt, args.infer_batch)[1] == yt))
        if variant is not None:
            X, Y = torch.from_numpy(x), torch.from_numpy(y)
            for _ in range(args.epochs):
                torch_train(tmodel, topt, X, Y)
            run["torch"] = float(np.mean(torch_predict(tmodel, torch.from_numpy(xt), args.infer_batch)[1] == yt))
        print(f"  accuracy seed {seed}: fastnn {run['fastnn']:.4f}"
              + (f", {variant[0]} {run['torch']:.4f}" if variant is not None else "")
              + f" after {args.epochs} epochs ({time.perf_counter() - t0:.0f} s)", flush=True)
        runs.append(run)
    return runs


def accuracy_summary(name, rows, runs):
    """Mean and sample standard deviation of the test accuracy over the timed run's seed and the
    extra seeds, per library, and the mean paired difference fastnn - PyTorch (same seed)."""
    f = next(r for r in rows if r["library"] == "fastnn")
    t = next((r for r in rows if r["library"].startswith("torch")), None)
    def mean_sd(v):
        return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else None

    fa = [f["test_accuracy"]] + [r["fastnn"] for r in runs]
    out = {"model": name, "seeds": len(fa), "fastnn": fa}
    out["fastnn_mean"], out["fastnn_sd"] = mean_sd(fa)
    if t is not None and all(r["torch"] is not None for r in runs):
        ta = [t["test_accuracy"]] + [r["torch"] for r in runs]
        out.update({"torch_label": t["library"], "torch": ta})
        out["torch_mean"], out["torch_sd"] = mean_sd(ta)
        out["diff_mean"], out["diff_sd"] = mean_sd(np.subtract(fa, ta))
    return out


def warm_up(name, lib, x, y, seed, channels_last=False):
    """A few batches on a throw-away copy: first-call costs (allocators, thread start) untimed."""
    xs, ys = x[:3 * BATCH], y[:3 * BATCH]
    if lib == "torch":
        m, opt = build_torch(name, channels_last)
        torch_train(m, opt, torch.from_numpy(xs), torch.from_numpy(ys))
        torch_predict(m, torch.from_numpy(xs), BATCH)
    else:
        m = build_fastnn(name, seed + 1)
        with fastnn.backend("numpy" if lib == "numpy" else "cpp"):
            fastnn_train(m, xs, ys)
            m.predict(xs[:BATCH], batch_size=BATCH, verbose=0)


def median_time(fn, budget=3.0, reps=3):
    """Median of up to ``reps`` calls of ``fn`` returning (seconds, result); stops once ``budget``
    seconds are spent. Returns (median seconds, last result)."""
    times, spent = [], 0.0
    for _ in range(reps):
        t, result = fn()
        times.append(t)
        spent += t
        if spent > budget:
            break
    return statistics.median(times), result


def bench_model(name, args, data, rng):
    """Validate, then time and evaluate ``name`` for every library; a list of result rows."""
    (x, y), (xt, yt) = data
    seed = args.seed
    rows = []
    reason = availability(name)
    if reason is not None:
        print(f"  not available: {reason}")
        return [{"model": name, "library": "fastnn", "status": "not available", "reason": reason}]

    xb, yb = x[:BATCH], y[:BATCH]
    print("  validation:")
    ok_backend, val_backend = validate_backends(name, xb, yb, seed)
    fmodel = build_fastnn(name, seed)
    variants = []
    if torch is not None and not args.no_torch:
        for label, cl in TORCH_VARIANTS.get(name, (("torch", False),)):
            if cl and "channels_last" not in args.cnn_formats or not cl and name == "cnn" and "nchw" not in args.cnn_formats:
                continue
            torch.manual_seed(seed)
            tmodel, topt = build_torch(name, cl)
            ok, val = validate_torch(name, fmodel, tmodel, label, xb, yb)
            variants.append({"label": label, "channels_last": cl, "model": tmodel, "opt": topt, "ok": ok,
                             "validation": val, "times": []})
    if not ok_backend or not all(v["ok"] for v in variants):
        print("  validation FAILED: not timing this model")
        return [{"model": name, "library": "fastnn", "status": "validation failed",
                 "validation": {"numpy_backend": val_backend, **{v["label"]: v["validation"] for v in variants}}}]

    # the timed data: the full training set, or (--quick) a fresh random 60-batch slice per epoch
    quick = args.quick
    images = QUICK_BATCHES * BATCH if quick else len(x)
    scale = TRAIN_IMAGES / images
    X_all, Y_all = (torch.from_numpy(x), torch.from_numpy(y)) if variants else (None, None)

    for lib in ["fastnn"] + (["numpy"] if not args.no_numpy else []):
        warm_up(name, lib, x, y, seed)
    for v in variants:
        warm_up(name, "torch", x, y, seed, v["channels_last"])

    # The NumPy backend before the timed epochs: building its model reseeds fastnn's generator.
    numpy_row = bench_numpy(name, args, x, y, xt, seed) if not args.no_numpy else None
    # Shuffles and torch's dropout masks come from the global generators: reseed them here so the
    # trained models do not depend on what ran before (warm-ups, the NumPy backend, --no-numpy).
    reseed_training(seed)
    f_times, order = [], ["fastnn"] + [v["label"] for v in variants]
    for epoch in range(args.epochs):
        if quick:
            idx = rng.choice(len(x), images, replace=False)
            xe, ye = x[idx], y[idx]
            Xe, Ye = (torch.from_numpy(xe), torch.from_numpy(ye)) if variants else (None, None)
        else:
            xe, ye, Xe, Ye = x, y, X_all, Y_all
        for lib in (order if epoch % 2 == 0 else order[::-1]):
            time.sleep(PAUSE)
            if lib == "fastnn":
                t = fastnn_train(fmodel, xe, ye)
                f_times.append(t * scale)
            else:
                v = next(v for v in variants if v["label"] == lib)
                t = torch_train(v["model"], v["opt"], Xe, Ye)
                v["times"].append(t * scale)
            print(f"  epoch {epoch + 1}/{args.epochs} {lib:<20} {t:8.2f} s"
                  + (f" for {images:,} images = {t * scale:.2f} s per epoch (extrapolated)" if quick else ""),
                  flush=True)

    # inference over the test set, then the accuracy from those predictions
    time.sleep(PAUSE)
    t_inf, pred = median_time(lambda: fastnn_predict(fmodel, xt, args.infer_batch))
    trained = (f"{args.epochs} epoch{'s' if args.epochs > 1 else ''}" if not quick
               else f"{args.epochs * QUICK_BATCHES} batches")
    rows.append({"model": name, "library": "fastnn", "status": "ok",
                 "seconds_per_epoch": statistics.median(f_times), "epoch_times": f_times,
                 "extrapolated_from_images": images if quick else None,
                 "inference_seconds": t_inf, "inference_extrapolated_from": None,
                 "test_accuracy": float(np.mean(pred == yt)), "trained": trained,
                 "validation": {"numpy_backend": val_backend}})
    if numpy_row is not None:
        rows.append(numpy_row)
    Xt = torch.from_numpy(xt) if variants else None
    for v in variants:
        time.sleep(PAUSE)
        t_inf, pred = median_time(lambda: torch_predict(v["model"], Xt, args.infer_batch))
        rows.append({"model": name, "library": v["label"], "status": "ok",
                     "seconds_per_epoch": statistics.median(v["times"]), "epoch_times": v["times"],
                     "extrapolated_from_images": images if quick else None,
                     "inference_seconds": t_inf, "inference_extrapolated_from": None,
                     "test_accuracy": float(np.mean(pred == yt)), "trained": trained,
                     "validation": v["validation"]})
    for r in rows:
        print(f"  {r['library']:<20} {r['seconds_per_epoch']:8.2f} s/epoch  inference {r['inference_seconds']:.3f} s"
              + (f"  test accuracy {r['test_accuracy']:.4f} after {r['trained']}" if r.get("test_accuracy") else ""))
    if args.accuracy_seeds:
        v = variants[0] if variants else None
        runs = accuracy_runs(name, args, data, (v["label"], v["channels_last"]) if v else None)
        rows[0]["accuracy_seeds"] = accuracy_summary(name, rows, runs)
    return rows


def bench_numpy(name, args, x, y, xt, seed):
    """The NumPy backend on ``--numpy-batches`` batches (and a slice of the test set), extrapolated."""
    k = args.numpy_batches
    m = build_fastnn(name, seed)
    time.sleep(PAUSE)
    with fastnn.backend("numpy"):
        t = fastnn_train(m, x[:k * BATCH], y[:k * BATCH])
        n_inf = min(len(xt), max(BATCH, args.numpy_infer_images))
        t_inf, _ = fastnn_predict(m, xt[:n_inf], args.infer_batch)
    per_epoch = t * TRAIN_IMAGES / (k * BATCH)
    print(f"  epoch 1/{args.epochs} {'numpy-backend':<20} {t:8.2f} s for {k * BATCH:,} images = {per_epoch:.2f} s "
          "per epoch (extrapolated)", flush=True)
    return {"model": name, "library": "numpy-backend", "status": "ok", "seconds_per_epoch": per_epoch,
            "epoch_times": [per_epoch], "extrapolated_from_images": k * BATCH,
            "inference_seconds": t_inf * TEST_IMAGES / n_inf,
            "inference_extrapolated_from": n_inf if n_inf < TEST_IMAGES else None,
            "test_accuracy": None, "trained": None}


# ---- Peak memory (child processes) --------------------------------------------------------------


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def memory_child(args):
    """Run inside a child: train ``--memory-batches`` batches of one library/model; print JSON."""
    lib, name = args._memory
    global torch
    if lib.startswith("torch"):
        import torch as _torch

        torch = _torch
        _torch_classes()
        torch.set_num_threads(args.threads)
    fastnn.set_num_threads(args.threads)
    (x, y), _ = load_data()
    k = args.memory_batches
    x, y = x[:k * BATCH], y[:k * BATCH]
    # forget the peak of loading (uint8 -> float32 conversion): from here on VmHWM is the run's
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    base = _status_kib("VmRSS")
    if lib.startswith("torch"):
        torch.manual_seed(0)
        model, opt = build_torch(name, channels_last=lib.endswith("channels_last"))
        torch_train(model, opt, torch.from_numpy(x), torch.from_numpy(y))
    else:
        with fastnn.backend("numpy" if lib == "numpy-backend" else "cpp"):
            model = build_fastnn(name, 0)
            fastnn_train(model, x, y)
    peak = _status_kib("VmHWM")
    print(json.dumps({"baseline_kib": base, "peak_kib": peak, "peak_reset": reset, "batches": k}))
    return 0


def measure_memory(name, library, args):
    """Peak-RSS growth (MiB) of a child process training ``name`` with ``library``, or None."""
    lib = {"torch": "torch", "torch channels_last": "torch-channels_last", "torch NCHW": "torch"}.get(library, library)
    cmd = [sys.executable, os.path.abspath(__file__), "--_memory", lib, name, "--threads", str(args.threads),
           "--memory-batches", str(args.memory_batches)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        print(f"  memory {library}: the child process took over 600 s; not measured")
        return None
    try:
        rec = json.loads(out.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        print(f"  memory {library}: the child process failed (exit {out.returncode}):\n{out.stderr[-1000:]}")
        return None
    if not rec["peak_reset"]:
        print("  memory: /proc/self/clear_refs is not writable: the peak includes loading the data")
    rec["growth_mib"] = (rec["peak_kib"] - rec["baseline_kib"]) / 1024
    print(f"  memory {library:<20} peak {rec['peak_kib'] / 1024:7.1f} MiB, {rec['growth_mib']:6.1f} MiB above the "
          f"{rec['baseline_kib'] / 1024:.1f} MiB before the model was built ({rec['batches']} batches)")
    return rec


# ---- Report -------------------------------------------------------------------------------------


def machine_description(threads):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = fastnn.info()
    blas = "unknown (threadpoolctl not installed)"
    if threadpoolctl is not None:
        blas = "; ".join(f"{i.get('internal_api')} {i.get('version')}" for i in threadpoolctl.threadpool_info()
                         if i.get("user_api") == "blas") or "none found"
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": threads, "fastnn": info["version"], "simd": info["simd"],
            "compiler": info["compiler"], "numpy": np.__version__, "blas": blas,
            "torch": torch.__version__ if torch is not None else None, "python": platform.python_version(),
            "loadavg": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M")}


def markdown(results, meta, args):
    m = meta["machine"]
    what = (f"{QUICK_BATCHES} batches ({QUICK_BATCHES * BATCH:,} images) per timing, extrapolated to "
            f"{TRAIN_IMAGES:,}" if args.quick else f"full epochs of {TRAIN_IMAGES:,} images")
    lines = [
        "# fastnn end-to-end benchmark (bench/bench_train.py)",
        "",
        f"{m['cpu']}, {m['cores']} cores, {m['threads']} threads for every library; fastnn {m['fastnn']} "
        f"({m['simd']} kernels, {m['compiler']}), NumPy {m['numpy']} ({m['blas']}), "
        f"PyTorch {m['torch'] or 'not installed'}; {m['date']}, load average {m['loadavg'][0]:.2f} at the start, "
        f"{meta['loadavg_end'][0]:.2f} at the end.",
        "",
        f"Fashion-MNIST, batch 128, {what}; {args.epochs} epoch(s); inference over the {TEST_IMAGES:,} test "
        f"images at batch {args.infer_batch}. The NumPy backend is timed on {args.numpy_batches} batches and "
        f"{args.numpy_infer_images:,} test images and extrapolated. Speed-up = that library's seconds / fastnn's "
        "(> 1: fastnn is faster); the targets are issues 3-6's, stated for 2 threads on a quiet machine. Memory: growth of the peak resident set of a training run over the resident set "
        "before the model was built (a child process per library and model, "
        f"{args.memory_batches} batches). The machine is shared: timings are noisy.",
        "",
        "| model | library | s/epoch | speed-up (target) | inference 10k (s) | test accuracy | peak memory (MiB) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    by_model = {}
    for r in results:
        by_model.setdefault(r["model"], []).append(r)
    for name, rows in by_model.items():
        base = next((r for r in rows if r["library"] == "fastnn" and r["status"] == "ok"), None)
        for r in rows:
            if r["status"] != "ok":
                lines.append(f"| {name} | {r['library']} | {r['status']} | | | | |")
                continue
            ex = " (extrap.)" if r.get("extrapolated_from_images") else ""
            sp = ""
            if r is not base and base is not None:
                ratio = r["seconds_per_epoch"] / base["seconds_per_epoch"]
                target = TARGETS["torch" if r["library"].startswith("torch") else r["library"]].get(name)
                sp = f"{ratio:.2f}x" + (f" (≥{target:g}x {'met' if ratio >= target else 'not met'})" if target else "")
            iex = " (extrap.)" if r.get("inference_extrapolated_from") else ""
            acc = f"{r['test_accuracy']:.4f} ({r['trained']})" if r.get("test_accuracy") is not None else "-"
            mem = r.get("memory")
            mem = f"{mem['growth_mib']:.0f}" if mem else "-"
            lines.append(f"| {name} | {r['library']} | {r['seconds_per_epoch']:.2f}{ex} | {sp} | "
                         f"{r['inference_seconds']:.3f}{iex} | {acc} | {mem} |")
    seeds = [r["accuracy_seeds"] for r in results if r.get("accuracy_seeds")]
    if seeds:
        lines += ["", f"Test accuracy after {args.epochs} epoch(s) over {seeds[0]['seeds']} seeds "
                  f"({args.seed}..{args.seed + args.accuracy_seeds}; the same initial weights for both libraries "
                  "per seed): mean ± sample standard deviation, and the mean of the paired differences.", "",
                  "| model | fastnn | PyTorch | fastnn − PyTorch (paired) | per seed (fastnn / PyTorch) |",
                  "|---|---:|---:|---:|---|"]
        pm = lambda m, sd: f"{m:.4f} ± {sd:.4f}" if sd is not None else f"{m:.4f}"  # noqa: E731
        for a in seeds:
            if "torch_mean" in a:
                per = ", ".join(f"{f:.4f} / {t:.4f}" for f, t in zip(a["fastnn"], a["torch"]))
                lines.append(f"| {a['model']} | {pm(a['fastnn_mean'], a['fastnn_sd'])} | "
                             f"{pm(a['torch_mean'], a['torch_sd'])} ({a['torch_label']}) | "
                             f"{pm(a['diff_mean'], a['diff_sd'])} | {per} |")
            else:
                lines.append(f"| {a['model']} | {pm(a['fastnn_mean'], a['fastnn_sd'])} | - | - | "
                             + ", ".join(f"{f:.4f}" for f in a["fastnn"]) + " |")
    lines += ["", f"Command: `{' '.join(meta['argv'])}`; wall time {meta['wall_seconds'] / 60:.1f} min.", ""]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(applications.MODEL_NAMES),
                   help="comma-separated subset of mlp,cnn,rnn,lstm,gru (default: all)")
    p.add_argument("--epochs", type=int, default=1, help="epochs trained (and timed) per library (default 1)")
    p.add_argument("--threads", type=int, default=fastnn.get_num_threads(),
                   help=f"threads for every library (default {fastnn.get_num_threads()})")
    p.add_argument("--quick", action="store_true",
                   help=f"time {QUICK_BATCHES} batches per epoch instead of 60,000 images, extrapolated")
    p.add_argument("--out", default=None, help="folder for results.md and results.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--numpy-batches", type=int, default=None,
                   help="batches timed on the NumPy backend (default 30, --quick 10)")
    p.add_argument("--numpy-infer-images", type=int, default=None,
                   help="test images the NumPy backend's inference is timed on (default 2000, --quick 1000)")
    p.add_argument("--infer-batch", type=int, default=BATCH, help="batch size of inference (default 128)")
    p.add_argument("--memory-batches", type=int, default=None,
                   help="batches trained in each peak-memory child (default 20, --quick 10)")
    p.add_argument("--cnn-formats", default="channels_last,nchw",
                   help="PyTorch memory formats for the CNN: channels_last, nchw or both (default both)")
    p.add_argument("--accuracy-seeds", type=int, default=0,
                   help="after timing, train fastnn and PyTorch K more times (seeds seed+1..seed+K, untimed) "
                        "and report the test accuracy's mean and spread over all seeds (default 0)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when installed")
    p.add_argument("--no-numpy", action="store_true", help="leave the NumPy backend out")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    p.add_argument("--_memory", nargs=2, metavar=("LIB", "MODEL"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.epochs < 1 or args.threads < 1:
        p.error("--epochs and --threads must be >= 1")
    if args.accuracy_seeds < 0:
        p.error("--accuracy-seeds must be >= 0")
    if args.accuracy_seeds and args.quick:
        p.error("--accuracy-seeds trains full epochs: it does not go with --quick")
    args.numpy_batches = args.numpy_batches or (10 if args.quick else 30)
    args.numpy_infer_images = args.numpy_infer_images or (1000 if args.quick else 2000)
    args.memory_batches = args.memory_batches or (10 if args.quick else 20)
    if args._memory:
        return memory_child(args)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    bad = [n for n in names if n not in applications.MODEL_NAMES]
    if bad:
        p.error(f"unknown model(s) {bad}; choose from {','.join(applications.MODEL_NAMES)}")

    global torch
    if not args.no_torch:
        try:
            import torch as _torch

            torch = _torch
            _torch_classes()
        except ImportError:
            print("torch is not installed: PyTorch is left out (pip install torch==2.13.0 to compare)")
    t_start = time.perf_counter()
    data = load_data()
    meta = {"argv": ["python", "bench/bench_train.py"] + list(argv if argv is not None else sys.argv[1:]),
            "machine": machine_description(args.threads)}
    m = meta["machine"]
    print(f"{m['cpu']}, {m['cores']} cores; {args.threads} threads; fastnn {m['fastnn']} ({m['simd']}); "
          f"NumPy {m['numpy']} ({m['blas']}); PyTorch {m['torch'] or 'not installed'}; load {m['loadavg'][0]:.2f}")
    if m["loadavg"][0] > 0.5:
        print(f"warning: the machine is busy (load average {m['loadavg'][0]:.2f} on {m['cores']} cores): with "
              "every core in use a thread that loses its core stalls the others at each barrier, so times are "
              "unreliable, worst for PyTorch with all threads; --threads 1 is steadier")
    rng = np.random.default_rng(args.seed)
    results, failed = [], False
    with Threads(args.threads):
        for name in names:
            load = os.getloadavg()[0]
            print(f"\n== {name} (load average {load:.2f})", flush=True)
            rows = bench_model(name, args, data, rng)
            for r in rows:
                r["loadavg_at_start"] = load
            failed |= any(r["status"] == "validation failed" for r in rows)
            if not args.no_memory:
                for r in rows:
                    if r["status"] == "ok" and r["library"] != "numpy-backend":
                        r["memory"] = measure_memory(name, r["library"], args)
            results += rows
    meta["wall_seconds"] = time.perf_counter() - t_start
    meta["loadavg_end"] = os.getloadavg()
    table = markdown(results, meta, args)
    print("\n" + table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.md").write_text(table)
        (out / "results.json").write_text(json.dumps({"meta": meta, "args": vars(args), "results": results},
                                                     indent=1, default=float))
        print(f"wrote {out / 'results.md'} and {out / 'results.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
