"""The arrays the C++ ops return: big ones reuse the blocks of freed outputs of the same size
(cpp/bindings/outputs.cpp). A reused block must never be visible through a live array, every
output must be an ordinary writable C-contiguous array that outlives the cache's evictions, and
the cache must stay bounded."""

from __future__ import annotations

import gc

import numpy as np

from fastnn import _core

CACHE_LIMIT = 128 << 20  # outputs.cpp kCacheBytes


def _product(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, 64)).astype(np.float32)
    b = rng.standard_normal((64, 512)).astype(np.float32)
    return a, b, a.astype(np.float64) @ b.astype(np.float64)


def test_freed_outputs_are_reused_and_live_ones_never_shared():
    gc.collect()  # outputs other tests left in reference cycles must not land in the cache mid-test
    _core._clear_output_cache()
    assert _core._output_cache() == (0, 0)
    a, b, want = _product(1024, 0)  # a 2 MB output: above the cache's 256 KB floor
    first = _core.matmul(a, b)
    blocks, cached = _core._output_cache()
    address = first.__array_interface__["data"][0]
    del first
    gc.collect()
    after_free = _core._output_cache()
    assert after_free[0] == blocks + 1 and after_free[1] == cached + 1024 * 512 * 4
    second = _core.matmul(a, b)  # the freed block comes back...
    assert second.__array_interface__["data"][0] == address
    assert _core._output_cache() == (blocks, cached)
    third = _core.matmul(a, b)  # ...but never while its array lives
    assert not np.shares_memory(second, third)
    for out in (second, third):
        assert out.flags.c_contiguous and out.flags.writeable and out.dtype == np.float32
        np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-3)
    second[:] = 0  # writing one output leaves the other alone
    np.testing.assert_allclose(third, want, rtol=1e-4, atol=1e-3)


def test_cache_is_bounded_and_outputs_outlive_evictions():
    kept = []
    for i in range(40):  # 40 distinct sizes of 4-8 MB: 240 MB freed in all
        n = 2048 + 64 * i
        a, b, want = _product(n, i)
        out = _core.matmul(a, b)
        if i % 10 == 0:
            kept.append((out, want))  # stays alive while the cache evicts around it
        del out
        gc.collect()
        assert _core._output_cache()[1] <= CACHE_LIMIT
    for out, want in kept:
        np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-3)


def test_small_outputs_bypass_the_cache():
    gc.collect()
    _core._clear_output_cache()
    a, b, _ = _product(4, 1)  # 8 KB
    before = _core._output_cache()
    out = _core.matmul(a, b)
    del out
    gc.collect()
    assert _core._output_cache() == before
