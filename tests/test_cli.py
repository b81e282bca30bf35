"""The main job: the course-notes models (fastnn.applications) and the `fastnn` command.

Includes the short training run CI relies on: the MLP on the bundled Fashion-MNIST subset must
reach a stated test accuracy, so a regression anywhere in the training path fails CI.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import applications, cli


@pytest.mark.parametrize(
    "name, params",
    [
        ("mlp", 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10),  # 269,322
        ("cnn", (9 * 64 + 64) + 2 * (9 * 64 * 64 + 64) + 3 * 3 * 64 * 10 + 10),  # 80,266
        ("rnn", 28 * 256 + 256 * 256 + 256 + 256 * 10 + 10),  # SimpleRNN(256): 72,960 + 2,570
        ("lstm", 4 * (28 * 128 + 128 * 128 + 128) + 128 * 10 + 10),
        ("gru", 3 * (28 * 128 + 128 * 128) + 2 * 3 * 128 + 128 * 10 + 10),  # reset_after: 2 biases
    ],
)
def test_course_models_have_keras_param_counts(name, params):
    model = applications.build(name)
    assert model.count_params() == params
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    probs = model.predict(x, verbose=0)
    assert probs.shape == (3, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown model.*Received: name='vgg'"):
        applications.build("vgg")


def test_train_mlp_on_bundled_subset_reaches_stated_accuracy(tmp_path, capsys):
    # 3 epochs on the 6,000-image subset; measured 0.80-0.82 test accuracy here
    status = cli.main(["train", "--model", "mlp", "--dataset", "fashion_mnist_small", "--epochs", "3",
                       "--seed", "1", "--quiet", "--out", str(tmp_path)])
    assert status == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["test_accuracy"] >= 0.78, out
    assert f"test accuracy: {record['test_accuracy']:.4f}" in out
    assert len(record["history"]["loss"]) == 3
    assert record["history"]["loss"][-1] < record["history"]["loss"][0]
    # the saved model reproduces the recorded accuracy
    model = fastnn.models.load_model(tmp_path / "mlp.fastnn")
    (_, _), (x_test, y_test) = fastnn.datasets.fashion_mnist.load_data(subset="small")
    _, accuracy = model.evaluate(x_test.astype(np.float32) / 255, y_test, verbose=0)
    assert accuracy == pytest.approx(record["test_accuracy"], abs=1e-6)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".") or p.name.endswith((".tmp", ".part"))]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train"], "the following arguments are required: --model"),
        (["train", "--model", "vgg"], "invalid choice: 'vgg'"),
        (["train", "--model", "mlp", "--epochs", "0"], "expected a positive integer. Received: 0"),
        (["train", "--model", "mlp", "--batch-size", "x"], "expected a positive integer. Received: 'x'"),
        (["train", "--model", "mlp", "--learning-rate", "-1"], "expected a positive number. Received: -1.0"),
        (["train", "--model", "mlp", "--dataset", "cifar10"], "invalid choice: 'cifar10'"),
    ],
)
def test_bad_arguments_are_argparse_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_info_command_prints_json():
    out = subprocess.run([sys.executable, "-m", "fastnn", "info"], capture_output=True, text=True, check=True).stdout
    info = json.loads(out)
    assert info["version"] == fastnn.__version__ and info["simd"] == fastnn.info()["simd"]


def test_bench_command_finds_its_scripts():
    # `fastnn bench` works from an installed package (bench/ is installed with it) or a checkout
    found = [d for d in cli._bench_dirs() if (d / "_harness.py").is_file()]
    assert found, f"no benchmark scripts in {cli._bench_dirs()}"
    names = {p.name for p in found[0].glob("bench_*.py")}
    assert set(cli.BENCH_SCRIPTS) <= names
    assert names - set(cli.BENCH_SCRIPTS) == {"bench_conv_algos.py", "bench_mlp_epoch.py"}  # diagnostics, run alone


def test_optimizer_choices_are_fastnns_optimizers():
    from fastnn import cli, optimizers

    assert cli.OPTIMIZERS == tuple(sorted(optimizers._ALIASES))
