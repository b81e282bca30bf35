"""Benchmark: what a custom ``train_step`` on `fastnn.GradientTape` costs against fit's fused step.

For the course notes' MLP, CNN and LSTM(128) (fastnn.applications, batch 128), two rows timed in
alternating blocks in one process (bench/_harness.py: warm-up, medians and p10-p90):

* fused: ``train_on_batch`` (the step ``fit`` runs for a model without its own train_step: one
  backward pass through the layers' kernels, softmax folded into the cross-entropy, a
  convolution and its max pooling fused);
* tape: the same model as a subclass with Keras's guide's ``train_step`` (GradientTape,
  compute_loss, tape.gradient, optimizer.apply): each layer one tape node whose gradient is its
  own backward pass.

It validates first: from the same weights, the tape's gradients must equal the fused step's.

    python bench/bench_train_step.py [--threads 2] [--reps 30] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

import fastnn  # noqa: E402
from fastnn import applications  # noqa: E402

BATCH = 128
SHAPES = {"mlp": (BATCH, 28, 28), "cnn": (BATCH, 28, 28, 1), "lstm": (BATCH, 28, 28)}


class GuideStep(fastnn.Model):
    """Keras's "customizing what happens in fit()": the guide's train_step."""

    def train_step(self, data):
        x, y = data
        with fastnn.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return {"loss": loss}


def as_guide_model(model):
    """The model's graph as a GuideStep (the same layers and weights), compiled the same way."""
    guide = GuideStep(model.inputs, model.outputs)
    guide.compile(optimizer=type(model.optimizer)(), loss=model.loss, metrics=[])
    return guide


def validate(name, x, y):
    fastnn.set_random_seed(0)
    model = applications.build(name)
    for layer in model.layers:  # dropout off, so both sides run the same forward pass
        for attr in ("rate", "dropout", "recurrent_dropout"):
            if isinstance(getattr(layer, attr, None), float):
                setattr(layer, attr, 0.0)
    guide = as_guide_model(model)
    xs, ys = model._prepare_x(x, "bench"), model._prepare_y(y, len(y), "bench")
    _, _, fused = model._gradients(xs, ys, None)
    with fastnn.GradientTape() as tape:
        loss = guide.compute_loss(y=y, y_pred=guide(x, training=True))
    taped = tape.gradient(loss, guide.trainable_variables)
    worst = max(float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-12)) for a, b in zip(taped, fused))
    print(f"validate {name}: tape vs fused gradients, max relative difference {worst:.2e}")
    if worst > 1e-4:
        raise SystemExit(f"{name}: the tape's gradients differ from the fused step's")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    reps = 6 if args.quick else args.reps
    rng = np.random.default_rng(0)
    with H.threads(args.threads):
        print(f"fastnn {fastnn.__version__} ({fastnn.info()['simd']}), {args.threads} threads, batch {BATCH}")
        print(f"{'':6s} {'fused ms [p10-p90]':>26s} {'tape ms [p10-p90]':>26s} {'tape / fused':>13s}")
        for name, shape in SHAPES.items():
            x = rng.random(shape).astype(np.float32)
            y = rng.integers(0, 10, BATCH)
            validate(name, x, y)
            fastnn.set_random_seed(1)
            fused = applications.build(name)
            fastnn.set_random_seed(1)
            guide = as_guide_model(applications.build(name))
            results = H.compare({"fused": lambda: fused.train_on_batch(x, y),
                                 "tape": lambda: guide.train_step((x, y))}, reps=reps)
            ratio = results["tape"][0] / results["fused"][0]
            print(f"{name:6s} {H.fmt_ms(results['fused']):>26s} {H.fmt_ms(results['tape']):>26s} {ratio:13.2f}")


if __name__ == "__main__":
    main()
