"""The package's public surface: version, info(), threads (and OMP_NUM_THREADS), backend
switching, and the ``python -m fastnn info`` command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import _core, ops


def _run_python(code, **env):
    """Run ``python -c code`` in a fresh process with extra environment variables; return stdout."""
    full_env = {**os.environ, **env}
    out = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_version():
    assert isinstance(fastnn.__version__, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+([.\-+].*)?", fastnn.__version__), fastnn.__version__
    assert fastnn.__version__ == _core.__version__


def test_info_keys_and_types():
    info = fastnn.info()
    for key in ("version", "compiler", "openmp", "num_threads", "simd", "cuda"):
        assert key in info, key
    assert info["version"] == fastnn.__version__
    assert isinstance(info["compiler"], str) and info["compiler"]
    assert isinstance(info["openmp"], bool) and isinstance(info["cuda"], bool)
    assert info["num_threads"] == fastnn.get_num_threads() >= 1
    assert info["simd"] in ("generic", "avx2-fma", "avx512")
    assert info["simd"] == _core.gemm_kernel()
    json.dumps(info)  # printable as JSON


def test_threads_round_trip():
    before = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        assert fastnn.get_num_threads() == 1
        fastnn.set_num_threads(3)
        expect = 3 if fastnn.info()["openmp"] else 1  # without OpenMP every kernel is single-threaded
        assert fastnn.get_num_threads() == expect
        assert fastnn.info()["num_threads"] == expect
    finally:
        fastnn.set_num_threads(before)
    assert fastnn.get_num_threads() == before


@pytest.mark.parametrize("n", ["1", "3"])
def test_omp_num_threads_is_honoured(n):
    if not fastnn.info()["openmp"]:
        pytest.skip("built without OpenMP: the thread count is always 1")
    out = _run_python("import fastnn; print(fastnn.get_num_threads())", OMP_NUM_THREADS=n)
    assert out.strip() == n


def test_default_threads_without_omp_num_threads():
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", "import fastnn; print(fastnn.get_num_threads())"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    if fastnn.info()["openmp"] and hasattr(os, "sched_getaffinity"):
        # OpenMP's default: one thread per core this process may run on
        assert int(out.stdout) == len(os.sched_getaffinity(0))
    else:
        assert int(out.stdout) >= 1


def test_backend_switching(rng):
    a = rng.standard_normal((3, 4))  # float64
    b = rng.standard_normal((4, 2))
    assert fastnn.get_backend() == "cpp"
    assert ops.matmul(a, b).dtype == np.float32  # C++ computes in float32
    fastnn.set_backend("numpy")
    try:
        assert fastnn.get_backend() == "numpy"
        assert ops.matmul(a, b).dtype == np.float64  # the reference keeps float64
    finally:
        fastnn.set_backend("cpp")
    assert fastnn.get_backend() == "cpp"


def test_backend_context_manager_restores():
    with fastnn.backend("numpy") as ctx:
        assert fastnn.get_backend() == "numpy" and ctx.name == "numpy"
        with fastnn.backend("cpp"):
            assert fastnn.get_backend() == "cpp"
        assert fastnn.get_backend() == "numpy"
    assert fastnn.get_backend() == "cpp"
    # restored when the block raises, too
    with pytest.raises(ZeroDivisionError):
        with fastnn.backend("numpy"):
            1 / 0
    assert fastnn.get_backend() == "cpp"


def test_backend_call_without_with_sets_it():
    fastnn.backend("numpy")
    try:
        assert fastnn.get_backend() == "numpy"
    finally:
        fastnn.set_backend("cpp")


def test_unknown_backend():
    with pytest.raises(ValueError, match=r"set_backend.*unknown backend.*'cpp'.*Received: name='torch'"):
        fastnn.set_backend("torch")
    with pytest.raises(ValueError, match="unknown backend"):
        fastnn.backend("cuda")
    assert fastnn.get_backend() == "cpp"


def test_ops_and_reference_have_the_same_functions():
    import inspect

    from fastnn import reference

    # the kernel functions (defined in fastnn.ops; Keras 3's array functions, from fastnn._keras_ops, have none)
    public = [n for n, f in vars(ops).items()
              if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == ops.__name__]
    assert {"matmul", "gemm", "activation_forward", "dense_backward", "loss_forward",
            "crossentropy_logits_backward"} <= set(public)
    for name in public:
        assert hasattr(reference, name), f"fastnn.reference lacks {name}"
        assert hasattr(_core, name), f"fastnn._core lacks {name}"
        # same parameter names in the same order
        assert list(inspect.signature(getattr(reference, name)).parameters) == \
            list(inspect.signature(getattr(ops, name)).parameters), name


def test_cli_info_prints_json():
    out = subprocess.run([sys.executable, "-m", "fastnn", "info"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["version"] == fastnn.__version__
    for key in ("compiler", "openmp", "num_threads", "simd", "cuda"):
        assert key in info


def test_cli_info_reports_omp_num_threads():
    if not fastnn.info()["openmp"]:
        pytest.skip("built without OpenMP")
    out = subprocess.run([sys.executable, "-m", "fastnn", "info"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert json.loads(out.stdout)["num_threads"] == 1


def test_cli_without_command_fails_cleanly():
    out = subprocess.run([sys.executable, "-m", "fastnn"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "usage" in out.stderr.lower()
