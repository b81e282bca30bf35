"""pytest fixtures shared by every test file: a seeded generator, float64 on the NumPy backend,
and a guard that puts the
process-wide settings (backend, thread count, GEMM micro-kernel) back after each test, so a
failing test cannot leak its settings into the next one."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import _core

GEMM_KERNELS = ("generic", "avx2-fma", "avx512")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def float64_numpy():
    """Layers and models created inside run in float64 on the NumPy backend (for finite
    differences); float32 and the C++ backend come back afterwards."""
    fastnn.utils.set_floatx("float64")
    try:
        with fastnn.backend("numpy"):
            yield
    finally:
        fastnn.utils.set_floatx("float32")


@pytest.fixture(autouse=True)
def _restore_global_settings():
    backend = fastnn.get_backend()
    threads = fastnn.get_num_threads()
    kernel = _core.gemm_kernel()
    yield
    fastnn.set_backend(backend)
    fastnn.set_num_threads(threads)
    if _core.gemm_kernel() != kernel:
        _core._select_gemm_kernel("auto")


@pytest.fixture(params=GEMM_KERNELS)
def gemm_kernel(request):
    """Force each GEMM micro-kernel in turn (skipped where this CPU lacks it); 'auto' afterwards."""
    name = request.param
    if not _core._select_gemm_kernel(name):
        pytest.skip(f"this CPU (or build) lacks the {name!r} GEMM micro-kernel")
    try:
        assert _core.gemm_kernel() == name
        yield name
    finally:
        _core._select_gemm_kernel("auto")
