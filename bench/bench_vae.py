"""Benchmark: a training step of the notes' MLP VAE (Atienza, ch. 8): fastnn with its Python pieces
(the Lambda that samples z, the loss built from the model's tensors with backend functions and
given to add_loss, differentiated by fastnn.autodiff), against PyTorch CPU written the same way.

The model: 784 -> Dense(512, relu) -> z_mean, z_log_var (2 each) -> Lambda(sampling) -> Dense(512,
relu) -> Dense(784, sigmoid); loss = mean over the batch of 784 · binary cross-entropy(x, x') + KL;
Adam, batch 128 of binary-ish 28x28 images. Three rows, timed in alternating blocks in one process
(bench/_harness.py: warm-up, medians and p10-p90):

* fastnn VAE: the notes' code as is (add_loss, compile without a loss, train_on_batch(x)).
* fastnn, kernel loss: the same layers compiled with the built-in binary cross-entropy (the fused
  sigmoid + cross-entropy kernel) and no KL term: the cost of the network alone, so the difference
  to the first row is what the Python pieces cost (sampling, the KL term, the tape).
* PyTorch: nn.Linear layers, torch.randn_like sampling, F.binary_cross_entropy(reduction="sum") / N
  + KL, autograd, Adam, the same threads.

It validates first: from the same weights and the same noise, fastnn's VAE loss must equal a
NumPy computation of the formula. An epoch of 60,000 images is 469 steps (printed as s/epoch).

    python bench/bench_vae.py [--threads 2] [--reps 30] [--no-torch] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

import fastnn  # noqa: E402
from fastnn import backend as K  # noqa: E402
from fastnn.layers import Dense, Input, Lambda  # noqa: E402
from fastnn.losses import binary_crossentropy  # noqa: E402
from fastnn.models import Model  # noqa: E402

BATCH, PIXELS, HIDDEN, LATENT, STEPS_PER_EPOCH = 128, 784, 512, 2, 469


def build(noise_seed=None):
    """The notes' VAE; noise_seed fixes the sampling's noise (for the validation)."""
    fastnn.set_random_seed(0)

    def sampling(args):
        z_mean, z_log_var = args
        epsilon = K.random_normal(shape=(K.shape(z_mean)[0], K.int_shape(z_mean)[1]), seed=noise_seed)
        return z_mean + K.exp(0.5 * z_log_var) * epsilon

    inputs = Input(shape=(PIXELS,))
    x = Dense(HIDDEN, activation="relu")(inputs)
    z_mean, z_log_var = Dense(LATENT)(x), Dense(LATENT)(x)
    z = Lambda(sampling)([z_mean, z_log_var])
    outputs = Dense(PIXELS, activation="sigmoid")(Dense(HIDDEN, activation="relu")(z))
    vae = Model(inputs, outputs)
    reconstruction = binary_crossentropy(inputs, outputs) * PIXELS
    kl = -0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
    vae.add_loss(K.mean(reconstruction + kl))
    vae.compile(optimizer="adam")
    return vae


def validate(x):
    """fastnn's VAE loss against the formula in NumPy, same weights and noise."""
    vae = build(noise_seed=3)
    loss = vae.evaluate(x, batch_size=BATCH, verbose=0)
    w = vae.get_weights()
    h = np.maximum(x @ w[0] + w[1], 0)
    z_mean, z_log_var = h @ w[2] + w[3], h @ w[4] + w[5]
    eps = np.random.default_rng(3).normal(0.0, 1.0, z_mean.shape).astype(np.float32)
    z = z_mean + np.exp(0.5 * z_log_var) * eps
    out = 1 / (1 + np.exp(-(np.maximum(z @ w[6] + w[7], 0) @ w[8] + w[9])))
    p = np.clip(out, 1e-7, 1 - 1e-7)
    bce = -np.mean(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1) * PIXELS
    kl = -0.5 * np.sum(1 + z_log_var - z_mean ** 2 - np.exp(z_log_var), axis=-1)
    expected = float(np.mean(bce + kl))
    print(f"validate: fastnn VAE loss {loss:.4f}, the formula in NumPy {expected:.4f}")
    if abs(loss - expected) > 1e-4 * abs(expected):
        raise SystemExit("validation failed")


def torch_step(x, threads):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    enc = torch.nn.Linear(PIXELS, HIDDEN)
    mean, logvar = torch.nn.Linear(HIDDEN, LATENT), torch.nn.Linear(HIDDEN, LATENT)
    dec1, dec2 = torch.nn.Linear(LATENT, HIDDEN), torch.nn.Linear(HIDDEN, PIXELS)
    params = [p for m in (enc, mean, logvar, dec1, dec2) for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    xt = torch.from_numpy(x)

    def step():
        h = F.relu(enc(xt))
        mu, lv = mean(h), logvar(h)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        out = torch.sigmoid(dec2(F.relu(dec1(z))))
        bce = F.binary_cross_entropy(out, xt, reduction="sum") / len(xt)
        kl = (-0.5 * torch.sum(1 + lv - mu ** 2 - torch.exp(lv), dim=-1)).mean()
        loss = bce + kl
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    reps = 12 if args.quick else args.reps
    x = (np.random.default_rng(0).random((BATCH, PIXELS)) < np.linspace(0.05, 0.6, PIXELS)).astype(np.float32)
    with H.threads(args.threads):
        validate(x)
        vae = build()
        plain = Model(vae.inputs, vae.outputs)  # the same layers: the network alone, the kernel loss
        plain.compile(optimizer="adam", loss="binary_crossentropy")
        funcs = {"fastnn VAE": lambda: vae.train_on_batch(x), "fastnn, kernel loss": lambda: plain.train_on_batch(x, x)}
        step = None if args.no_torch else torch_step(x, args.threads)
        if step is not None:
            funcs["PyTorch"] = step
        print(f"fastnn {fastnn.__version__} ({fastnn.info()['simd']}), {args.threads} threads, batch {BATCH}; "
              f"NumPy BLAS: {H.blas_info()}")
        results = H.compare(funcs, reps=reps)
    vae_time = results["fastnn VAE"][0]
    print(f"{'':22s} {'ms per step [p10-p90]':>28s} {'s/epoch':>8s} {'x fastnn VAE':>13s}")
    for name, t in results.items():
        print(f"{name:22s} {H.fmt_ms(t):>28s} {t[0] * STEPS_PER_EPOCH:8.2f} {t[0] / vae_time:13.2f}")


if __name__ == "__main__":
    main()
