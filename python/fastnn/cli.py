"""The ``fastnn`` command (also ``python -m fastnn``).

    fastnn train --model {mlp,cnn,rnn,lstm,gru} [--dataset ...] [--epochs N] [--out DIR] ...
    fastnn info
    fastnn bench [--quick]

``train`` fits a course-notes model (fastnn.applications) with Keras's progress output, prints the
test accuracy and the seconds per epoch, and writes to ``--out`` the saved model, the history as
JSON and a PNG of the training curves (when matplotlib is installed). Without ``--dataset`` it uses
the full Fashion-MNIST when it is found on this machine and the bundled subset otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DATASETS = ("fashion_mnist", "mnist", "fashion_mnist_small")


# fastnn.optimizers' names (not imported here: the command starts fast)
OPTIMIZERS = ("adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw", "ftrl", "lamb", "lion", "nadam", "rmsprop",
              "sgd")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer. Received: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer. Received: {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number. Received: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number. Received: {value}")
    return value


def _load(dataset):
    """((x_train, y_train), (x_test, y_test)) as float32 images in [0, 1] and int labels, and a description."""
    from . import datasets

    if dataset is None:
        found = datasets.available()
        dataset = "fashion_mnist" if found.get("fashion_mnist") else "fashion_mnist_small"
        where = found.get("fashion_mnist") or "bundled with fastnn"
        note = "full Fashion-MNIST found" if dataset == "fashion_mnist" else "full Fashion-MNIST not found; using the bundled subset"
        print(f"dataset: {dataset} ({note}: {where})")
    if dataset == "mnist":
        (x_train, y_train), (x_test, y_test) = datasets.mnist.load_data()
    elif dataset == "fashion_mnist":
        (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist.load_data()
    else:
        (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist.load_data(subset="small")
    scale = lambda x: (x.astype("float32") / 255.0)  # noqa: E731
    return (scale(x_train), y_train.astype("int64")), (scale(x_test), y_test.astype("int64")), dataset


def _train(args) -> int:
    import fastnn
    from . import applications, utils
    from ._files import atomic_write

    if args.threads is not None:
        fastnn.set_num_threads(args.threads)
    if args.seed is not None:
        utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test), dataset = _load(args.dataset)
    model = applications.build(args.model, optimizer=args.optimizer, learning_rate=args.learning_rate)
    print(f"model: {args.model}, {len(x_train)} training and {len(x_test)} test images, "
          f"batch {args.batch_size}, {fastnn.get_num_threads()} threads, {fastnn.info()['simd']} kernels")
    if args.verbose:
        model.summary()

    epoch_times = []

    class _Timer(fastnn.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self._t0)

    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_test, y_test), callbacks=[_Timer()], verbose=1 if args.verbose else 2)
    t0 = time.perf_counter()
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    infer = time.perf_counter() - t0
    per_epoch = sum(epoch_times) / len(epoch_times)
    print(f"test accuracy: {accuracy:.4f}  test loss: {loss:.4f}")
    print(f"seconds per epoch: {per_epoch:.2f} (training incl. validation), inference on {len(x_test)} test images: {infer:.2f} s")

    if args.out is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        model.save(out / f"{args.model}.fastnn")
        record = dict(model=args.model, dataset=dataset, epochs=args.epochs, batch_size=args.batch_size,
                      test_accuracy=accuracy, test_loss=loss, seconds_per_epoch=per_epoch,
                      history={k: [float(v) for v in vals] for k, vals in history.history.items()},
                      info=fastnn.info())
        with atomic_write(out / "history.json", "w", encoding="utf-8") as f:
            f.write(json.dumps(record, indent=1))
        try:
            utils.plot_history(history, out / "history.png")
            plotted = ", history.png"
        except ImportError:
            plotted = " (pip install matplotlib for history.png)"
        print(f"wrote {out / (args.model + '.fastnn')}, history.json{plotted}")
    return 0


def _info(args) -> int:
    import fastnn

    print(json.dumps(fastnn.info(), indent=2))
    return 0


def _bench_dirs():
    """Where the benchmark scripts may be: the installed copy (CMakeLists.txt installs bench/
    into the package), then a source checkout's bench/ (an editable install)."""
    here = Path(__file__).resolve().parent
    return [here / "bench", here.parents[1] / "bench"]


# What `fastnn bench` runs, in order.
BENCH_SCRIPTS = ["bench_gemm.py", "bench_dense.py", "bench_conv.py", "bench_conv_transpose.py", "bench_depthwise.py",
                 "bench_rnn.py", "bench_masked_rnn.py", "bench_conv_lstm.py", "bench_attention.py", "bench_norm.py",
                 "bench_vae.py", "bench_train_step.py", "bench_train.py"]


def _bench(args) -> int:
    bench_dir = next((d for d in _bench_dirs() if (d / "_harness.py").is_file()), None)
    if bench_dir is None:
        print("fastnn bench: no benchmark scripts in " + " or ".join(map(str, _bench_dirs())) +
              "; reinstall fastnn (pip install .) or run it from a checkout.", file=sys.stderr)
        return 2
    status = 0
    for name in BENCH_SCRIPTS:
        path = bench_dir / name
        if not path.exists():
            continue
        print(f"\n== {name}", flush=True)
        # not every script has a --quick flag: passing it to one without fails its argparse
        text = path.read_text(encoding="utf-8")
        quick = args.quick and ('"--quick"' in text or "H.layer_bench_setup(" in text)  # the harness's has it
        cmd = [sys.executable, str(path)] + (["--quick"] if quick else [])
        status |= subprocess.call(cmd)
    return status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fastnn", description="Fast CPU neural networks with a Keras-shaped API.")
    sub = parser.add_subparsers(dest="command", required=True)

    p_train = sub.add_parser("train", help="train a course-notes model and report accuracy and speed")
    p_train.add_argument("--model", required=True, choices=("mlp", "cnn", "rnn", "lstm", "gru"))
    p_train.add_argument("--dataset", choices=DATASETS, default=None,
                         help="default: full Fashion-MNIST when found, else the bundled subset")
    p_train.add_argument("--epochs", type=_positive_int, default=1)
    p_train.add_argument("--batch-size", type=_positive_int, default=128)
    p_train.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                         help="default: the course notes' choice (adam; sgd for rnn)")
    p_train.add_argument("--learning-rate", type=_positive_float, default=None)
    p_train.add_argument("--threads", type=_positive_int, default=None)
    p_train.add_argument("--seed", type=int, default=None)
    p_train.add_argument("--out", default=None, help="folder for the model, history.json and history.png")
    p_train.add_argument("--quiet", dest="verbose", action="store_false", help="one line per epoch, no summary")
    p_train.set_defaults(func=_train)

    p_info = sub.add_parser("info", help="print the build and machine description (fastnn.info())")
    p_info.set_defaults(func=_info)

    p_bench = sub.add_parser("bench", help="run the benchmark suite (from a source checkout)")
    p_bench.add_argument("--quick", action="store_true")
    p_bench.set_defaults(func=_bench)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        # files are written atomically, so nothing half-written is left behind
        print("\ninterrupted: stopped cleanly; nothing partial was written", file=sys.stderr)
        return 130
