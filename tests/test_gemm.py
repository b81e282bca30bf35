"""GEMM: fastnn.ops.matmul / gemm against NumPy float64 on odd shapes, every transpose, alpha and
beta, every micro-kernel, thread-count determinism, and the triple-loop _gemm_naive oracle.

Tolerance: a float32 product differs from the float64 one by at most about
sqrt(K)·eps32·(|A|·|B|)_ij (helpers.gemm_atol); a missing, doubled or misplaced term is far larger.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastnn
from fastnn import _core, ops

from helpers import EPS32, assert_close, gemm_atol

SMALL = (0, 1, 3, 7, 17, 65)
ALL_SIZES = (0, 1, 3, 7, 17, 65, 129, 513)
TRANSPOSES = list(itertools.product((False, True), repeat=2))


def _large_sample(count=28, seed=7):
    """Triples from ALL_SIZES holding at least one of 129/513, a fixed random sample of them."""
    big = [t for t in itertools.product(ALL_SIZES, repeat=3) if max(t) >= 129]
    rng = np.random.default_rng(seed)
    picked = [big[i] for i in rng.choice(len(big), size=count, replace=False)]
    # always the all-large corners
    return sorted(set(picked) | {(129, 129, 129), (513, 513, 513), (513, 1, 513), (1, 513, 129)})


MODEL_SHAPES = [(m, k, n) for m in (32, 128, 256) for k, n in ((784, 256), (256, 256), (256, 10), (28, 512), (128, 512))]


def _operands(rng, M, N, K, trans_a, trans_b):
    """op(A) (M, K) and op(B) (K, N) as float32, and the arrays as stored for the transposes."""
    a = rng.uniform(-1, 1, (M, K)).astype(np.float32)
    b = rng.uniform(-1, 1, (K, N)).astype(np.float32)
    a_stored = np.ascontiguousarray(a.T) if trans_a else a
    b_stored = np.ascontiguousarray(b.T) if trans_b else b
    return a, b, a_stored, b_stored


def check_gemm(rng, M, N, K, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, c_init=None):
    """Run ops.gemm (c in place when beta != 0 or c_init given) and compare with float64 NumPy."""
    a, b, a_st, b_st = _operands(rng, M, N, K, trans_a, trans_b)
    want = alpha * (a.astype(np.float64) @ b.astype(np.float64))
    atol = abs(alpha) * gemm_atol(a, b, K)
    context = f"gemm M={M} N={N} K={K} trans_a={trans_a} trans_b={trans_b} alpha={alpha} beta={beta} " \
              f"kernel={_core.gemm_kernel()} threads={fastnn.get_num_threads()}"
    if c_init is None and beta == 0.0:
        got = ops.gemm(a_st, b_st, trans_a=trans_a, trans_b=trans_b, alpha=alpha)
    else:
        c = (rng.uniform(-1, 1, (M, N)) if c_init is None else np.broadcast_to(c_init, (M, N))).astype(np.float32)
        if beta != 0.0:
            want = want + beta * c.astype(np.float64)
            atol = atol + 2 * EPS32 * np.abs(beta * c)
        got = ops.gemm(a_st, b_st, c, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)
        assert got is c, f"{context}: gemm must update c in place and return it"
    assert got.dtype == np.float32 and got.shape == (M, N), context
    assert_close(got, want, rtol=0, atol=atol, what="gemm vs NumPy float64", context=context)
    return got


# ---- Shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("M,N,K", list(itertools.product(SMALL, repeat=3)))
def test_gemm_small_shapes_all_transposes(rng, M, N, K):
    for ta, tb in TRANSPOSES:
        check_gemm(rng, M, N, K, ta, tb)


@pytest.mark.parametrize("M,N,K", _large_sample())
def test_gemm_large_shapes_all_transposes(rng, M, N, K):
    for ta, tb in TRANSPOSES:
        check_gemm(rng, M, N, K, ta, tb)


@pytest.mark.parametrize("M,N,K", [(3, 7, 17), (65, 1, 129), (129, 513, 7), (0, 5, 3), (4, 3, 0)])
def test_matmul_matches_numpy(rng, M, N, K):
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    got = ops.matmul(a, b)
    assert got.dtype == np.float32 and got.shape == (M, N)
    assert_close(got, a.astype(np.float64) @ b, rtol=0, atol=gemm_atol(a, b, K), what="matmul",
                 context=f"M={M} N={N} K={K}")


@pytest.mark.parametrize("M,K,N", MODEL_SHAPES)
def test_matmul_model_shapes(rng, M, K, N):
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    assert_close(ops.matmul(a, b), a.astype(np.float64) @ b, rtol=0, atol=gemm_atol(a, b, K),
                 what="matmul model shape", context=f"({M}, {K}) @ ({K}, {N})")


@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_gemm_big_product_blis_check(rng, trans_a, trans_b):
    # BLIS's cheap check for big products: C·t against A·(B·t) for a random vector t
    n = 1024
    a, b, a_st, b_st = _operands(rng, n, n, n, trans_a, trans_b)
    c = ops.gemm(a_st, b_st, trans_a=trans_a, trans_b=trans_b)
    t = rng.uniform(-1, 1, n)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    bound = 2 * np.sqrt(n + 1.0) * EPS32 * (np.abs(a64) @ (np.abs(b64) @ np.abs(t)))
    assert_close(c.astype(np.float64) @ t, a64 @ (b64 @ t), rtol=0, atol=bound, what="C·t vs A·(B·t)",
                 context=f"n={n} trans_a={trans_a} trans_b={trans_b}")


def test_gemm_spans_several_cache_blocks(rng):
    # N beyond every kernel's NC (4096 / 4080 / 2048), M beyond MC (144), K beyond KC (256)
    for M, N, K in ((2, 4099, 3), (290, 40, 3), (5, 33, 777)):
        for ta, tb in TRANSPOSES:
            check_gemm(rng, M, N, K, ta, tb, alpha=0.75, beta=0.5)


# ---- alpha, beta, c in place --------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [1.0, -0.5, 2.5, 0.0])
@pytest.mark.parametrize("beta", [0.0, 1.0, -1.5, 0.5])
def test_gemm_alpha_beta_in_place(rng, alpha, beta):
    for ta, tb in TRANSPOSES:
        for M, N, K in ((7, 17, 3), (65, 33, 129), (13, 1, 300)):
            check_gemm(rng, M, N, K, ta, tb, alpha=alpha, beta=beta, c_init=rng.uniform(-1, 1, (M, N)))


@pytest.mark.parametrize("fill", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (13, 33, 17), (150, 70, 300), (4, 5, 0)])
def test_gemm_beta_zero_never_reads_c(rng, M, N, K, fill):
    # beta == 0: c may hold NaN/inf and none of it may reach the result (BLIS/BLAS contract)
    for ta, tb in TRANSPOSES:
        got = check_gemm(rng, M, N, K, ta, tb, alpha=1.5, beta=0.0, c_init=np.full((M, N), fill))
        assert np.isfinite(got).all()


def test_gemm_beta_zero_never_reads_c_every_kernel(rng, gemm_kernel):
    for M, N, K in ((1, 1, 1), (11, 31, 5), (13, 33, 257), (25, 65, 3)):
        for ta, tb in TRANSPOSES:
            got = check_gemm(rng, M, N, K, ta, tb, beta=0.0, c_init=np.full((M, N), np.nan))
            assert np.isfinite(got).all(), gemm_kernel


def test_gemm_k_zero_scales_c(rng):
    c = rng.uniform(-1, 1, (4, 5)).astype(np.float32)
    c0 = c.copy()
    out = ops.gemm(np.zeros((4, 0), np.float32), np.zeros((0, 5), np.float32), c, alpha=3.0, beta=2.0)
    assert out is c
    np.testing.assert_array_equal(c, 2 * c0)


def test_gemm_without_c_ignores_beta(rng):
    a = rng.standard_normal((5, 4)).astype(np.float32)
    b = rng.standard_normal((4, 3)).astype(np.float32)
    got = ops.gemm(a, b, alpha=2.0, beta=7.0)
    assert_close(got, 2 * (a.astype(np.float64) @ b), rtol=0, atol=2 * gemm_atol(a, b, 4), what="gemm c=None")


def test_gemm_in_place_c_aliasing_an_input(rng):
    # c = a (or b): the result must still be alpha·a·b, or the call must refuse the overlap.
    # Writing C while A/B are still being packed from the same memory silently corrupts it.
    a = rng.standard_normal((300, 300)).astype(np.float32)
    b = rng.standard_normal((300, 300)).astype(np.float32)
    want = a.astype(np.float64) @ b
    for which in ("a", "b"):
        c = (a if which == "a" else b).copy()
        try:
            if which == "a":
                ops.gemm(c, b, c)
            else:
                ops.gemm(a, c, c)
        except ValueError as e:
            assert "gemm" in str(e) and ("overlap" in str(e) or "alias" in str(e)), str(e)
            continue
        assert_close(c, want, rtol=0, atol=gemm_atol(a, b, 300), what=f"gemm with c aliasing {which}")


# ---- Every micro-kernel, threads, the naive oracle ----------------------------------------------

KERNEL_SHAPES = [
    (1, 1, 1), (3, 7, 17), (4, 8, 16), (5, 9, 1), (6, 16, 256), (7, 17, 257), (11, 31, 5),
    (12, 32, 64), (13, 33, 3), (24, 64, 255), (25, 65, 513), (145, 70, 20), (1, 129, 65), (129, 1, 65),
]


def test_every_micro_kernel(rng, gemm_kernel):
    # edge tiles around each kernel's MR×NR (4×8, 6×16, 12×32), several k blocks, M beyond MC
    for M, N, K in KERNEL_SHAPES:
        for ta, tb in TRANSPOSES:
            check_gemm(rng, M, N, K, ta, tb)
            check_gemm(rng, M, N, K, ta, tb, alpha=-1.25, beta=0.5)


def test_every_micro_kernel_model_shapes(rng, gemm_kernel):
    for M, K, N in MODEL_SHAPES[::2]:
        check_gemm(rng, M, N, K)


def test_skinny_products_every_width(rng, gemm_kernel):
    # C with N <= 16 columns (AVX2: N <= 6) and K >= 64 runs the dot kernel: every width 1..17
    # (column blocks of up to 6, or 2), K off and on the vector lengths, row counts around its 4
    for N in range(1, 18):
        for M, K in ((1, 64), (3, 65), (4, 79), (5, 256), (33, 784), (7, 1000)):
            for tb in (False, True):
                check_gemm(rng, M, N, K, trans_b=tb)
            check_gemm(rng, M, N, K, alpha=-1.25, beta=0.5)


@pytest.mark.parametrize("M, N, K", [(1, 32, 5), (12, 64, 28), (13, 65, 28), (32, 512, 28), (33, 100, 400),
                                     (128, 96, 800), (129, 64, 17), (64, 31, 9)])
def test_b_read_in_place_same_bits_as_packed(rng, M, N, K):
    """With few rows of C per thread the AVX-512 kernel reads B in place instead of packing it (the N
    tail narrower than a sliver still packed); the FMA chain is the same, so the bits are: alpha, beta,
    A transposed, several k blocks (K = 800), the fused bias + activation epilogue."""
    if _core.gemm_kernel() != "avx512":
        pytest.skip("B is read in place by the AVX-512 kernel only")
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    c0 = rng.standard_normal((M, N), dtype=np.float32)
    bias = rng.standard_normal(N, dtype=np.float32)
    calls = [lambda: _core.gemm(a, b), lambda: _core.gemm(np.ascontiguousarray(a.T), b, c0.copy(), trans_a=True,
                                                          alpha=-1.25, beta=0.5),
             lambda: _core.dense_forward(a, b, bias, activation="relu")]
    try:
        results = []
        for rows in (0, 10**6):
            _core._gemm_in_place_b_max_rows(rows)
            results.append([call() for call in calls])
    finally:
        _core._gemm_in_place_b_max_rows(128)
    for packed, in_place in zip(*results):
        np.testing.assert_array_equal(packed, in_place)
    np.testing.assert_allclose(results[1][0], a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4 * np.sqrt(K))


def test_select_unknown_kernel_is_refused():
    before = _core.gemm_kernel()
    assert _core._select_gemm_kernel("no-such-isa") is False
    assert _core.gemm_kernel() == before
    assert _core._select_gemm_kernel("auto") is True
    assert _core.gemm_kernel() == fastnn.info()["simd"]


@pytest.mark.parametrize("M,N,K", [(300, 300, 300), (301, 257, 299), (1000, 40, 50), (40, 1000, 50), (1001, 10, 300)])
def test_results_bitwise_identical_across_thread_counts(rng, gemm_kernel, M, N, K):
    for ta, tb in TRANSPOSES:
        a, b, a_st, b_st = _operands(rng, M, N, K, ta, tb)
        results = []
        for threads in (1, 2):
            fastnn.set_num_threads(threads)
            results.append(ops.gemm(a_st, b_st, trans_a=ta, trans_b=tb, alpha=0.5))
        np.testing.assert_array_equal(results[0], results[1],
                                      err_msg=f"kernel={gemm_kernel} M={M} N={N} K={K} ta={ta} tb={tb}")


@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (7, 17, 3), (65, 129, 33), (13, 70, 300), (0, 3, 2), (3, 4, 0)])
def test_gemm_matches_naive_oracle(rng, M, N, K):
    for ta, tb in TRANSPOSES:
        a, b, a_st, b_st = _operands(rng, M, N, K, ta, tb)
        naive = _core._gemm_naive(a_st, b_st, trans_a=ta, trans_b=tb)
        # the naive kernel accumulates in double: it must itself be float32-rounded float64
        assert_close(naive, a.astype(np.float64) @ b, rtol=EPS32, atol=1e-30, what="_gemm_naive vs float64",
                     context=f"M={M} N={N} K={K} ta={ta} tb={tb}")
        fast = ops.gemm(a_st, b_st, trans_a=ta, trans_b=tb)
        assert_close(fast, naive, rtol=0, atol=gemm_atol(a, b, K), what="sgemm vs _gemm_naive",
                     context=f"M={M} N={N} K={K} ta={ta} tb={tb}")


def test_reference_gemm_matches_numpy(rng):
    # the NumPy backend is the oracle elsewhere: pin it too (float64 in, float64 out)
    a = rng.standard_normal((7, 5))
    b = rng.standard_normal((7, 3))
    c = rng.standard_normal((5, 3))
    want = 2.0 * a.T @ b - 0.5 * c
    with fastnn.backend("numpy"):
        out = ops.gemm(a, b, c, trans_a=True, alpha=2.0, beta=-0.5)
        assert out is c and out.dtype == np.float64
        np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ops.matmul(a.T, b), a.T @ b, rtol=1e-12, atol=1e-12)


def test_inf_and_nan_stay_in_their_rows_and_columns(rng, gemm_kernel):
    # zero-padded edge tiles must not turn an inf into NaNs elsewhere (inf·0 in padding is dropped)
    M, N, K = 13, 35, 7
    a = rng.uniform(-1, 1, (M, K)).astype(np.float32)
    b = rng.uniform(0.5, 1, (K, N)).astype(np.float32)
    a[12, 3] = np.inf  # last row: inside an edge tile for every kernel
    a[5, 0] = np.nan
    rest = [i for i in range(M) if i not in (5, 12)]
    want = a[rest].astype(np.float64) @ b.astype(np.float64)
    for ta, tb in TRANSPOSES:
        got = ops.gemm(np.ascontiguousarray(a.T) if ta else a, np.ascontiguousarray(b.T) if tb else b,
                       trans_a=ta, trans_b=tb)
        assert np.isposinf(got[12]).all() and np.isnan(got[5]).all(), gemm_kernel
        assert_close(got[rest], want, rtol=0, atol=gemm_atol(a[rest], b, K), what="finite rows",
                     context=f"kernel={gemm_kernel} ta={ta} tb={tb}")


@pytest.mark.parametrize("threads", [3, 4])
def test_more_threads_than_cores_same_bits(rng, threads):
    # uneven thread grids (3 = 3×1 or 1×3) must still cut C into whole disjoint tiles
    for M, N, K in ((300, 300, 300), (7, 3000, 40), (1000, 13, 70)):
        a = rng.uniform(-1, 1, (M, K)).astype(np.float32)
        b = rng.uniform(-1, 1, (K, N)).astype(np.float32)
        fastnn.set_num_threads(1)
        one = ops.matmul(a, b)
        fastnn.set_num_threads(threads)
        np.testing.assert_array_equal(ops.matmul(a, b), one, err_msg=f"{threads} threads, M={M} N={N} K={K}")


def test_concurrent_calls_from_python_threads(rng):
    # the GIL is released around every kernel: calls from several Python threads at once must not
    # share packing buffers or any other state
    from concurrent.futures import ThreadPoolExecutor

    cases = [(rng.uniform(-1, 1, (m, k)).astype(np.float32), rng.uniform(-1, 1, (k, n)).astype(np.float32))
             for m, n, k in ((300, 200, 400), (129, 513, 65), (64, 700, 300), (513, 17, 257))] * 3
    serial = [ops.matmul(a, b) for a, b in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            parallel = list(pool.map(lambda ab: ops.matmul(*ab), cases))
            for i, (s, p) in enumerate(zip(serial, parallel)):
                np.testing.assert_array_equal(s, p, err_msg=f"case {i}")


def test_callers_floating_point_environment_is_untouched(rng):
    # sgemm flushes denormals inside its workers only; NumPy's arithmetic afterwards keeps them
    a = rng.uniform(-1, 1, (300, 300)).astype(np.float32)
    for threads in (1, 2):
        fastnn.set_num_threads(threads)
        ops.matmul(a, a)
        ops.dense_forward(a, a, None, "relu")
        assert np.float32(1e-38) * np.float32(0.01) != 0, "denormals flushed after a fastnn call"
        assert np.float32(1e-39) / np.float32(2) != 0


# ---- batched_matmul (an attention layer's per-head products) -------------------------------------

BATCHED_SHAPES = [  # (batch axes, M, N, K)
    ((1,), 1, 1, 1), ((3,), 7, 17, 5), ((2, 3), 5, 9, 33), ((256,), 128, 128, 32), ((4, 2), 70, 129, 65),
    ((5,), 13, 1, 300), ((0,), 3, 4, 5), ((2,), 0, 4, 5), ((2,), 3, 4, 0),
]


@pytest.mark.parametrize("lead,M,N,K", BATCHED_SHAPES)
@pytest.mark.parametrize("ta,tb", TRANSPOSES)
def test_batched_matmul_matches_reference(rng, gemm_kernel, lead, M, N, K, ta, tb):
    a = rng.standard_normal(lead + ((K, M) if ta else (M, K))).astype(np.float32)
    b = rng.standard_normal(lead + ((N, K) if tb else (K, N))).astype(np.float32)
    got = ops.batched_matmul(a, b, trans_a=ta, trans_b=tb)
    assert got.shape == lead + (M, N) and got.dtype == np.float32
    A = np.swapaxes(a, -1, -2) if ta else a
    B = np.swapaxes(b, -1, -2) if tb else b
    want = np.matmul(A, B, dtype=np.float64)
    # each item's float32 rounding bound, as gemm_atol's: 2·sqrt(K+1)·eps32·(|A|·|B|)
    bound = 2.0 * np.sqrt(K + 1.0) * EPS32 * np.matmul(np.abs(A), np.abs(B), dtype=np.float64) + 1e-30
    worst = np.max(np.abs(got - want) / bound, initial=0.0)
    assert worst <= 1.0, f"batched_matmul: error {worst:.2f}x the rounding bound (lead={lead} M={M} N={N} K={K} " \
        f"ta={ta} tb={tb} kernel={gemm_kernel})"
    with fastnn.backend("numpy"):
        np.testing.assert_allclose(ops.batched_matmul(a.astype(np.float64), b.astype(np.float64), trans_a=ta,
                                                      trans_b=tb), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("tb", [False, True])
def test_batched_matmul_one_b_for_every_item(rng, tb):
    a = rng.standard_normal((3, 4, 9, 6)).astype(np.float32)
    b = rng.standard_normal((5, 6) if tb else (6, 5)).astype(np.float32)
    got = ops.batched_matmul(a, b, trans_b=tb)
    np.testing.assert_allclose(got, a @ (b.T if tb else b), rtol=1e-5, atol=1e-5)


def test_batched_matmul_same_bits_for_any_thread_count(rng):
    a = rng.standard_normal((7, 70, 65)).astype(np.float32)
    b = rng.standard_normal((7, 129, 65)).astype(np.float32)
    results = []
    for threads in (1, 2, 3):
        fastnn.set_num_threads(threads)
        results.append(ops.batched_matmul(a, b, trans_b=True))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("a_shape,b_shape,kw,match", [
    ((3, 4), (4, 5), {}, r"a must be \(\.\.\., rows, cols\) with at least one batch axis. Received: a.shape=\(3, 4\)"),
    ((2, 3, 4), (3, 4, 5), {}, r"b must have a's batch axes \(2,\).*b.shape=\(3, 4, 5\)"),
    ((2, 3, 4), (2, 5, 6), {}, r"inner dimensions must agree.*K=4 vs 5"),
    ((2, 3, 4), (2, 5, 4), {"trans_a": True}, r"inner dimensions must agree.*K=3 vs 5"),
    ((2, 3, 4), (2, 4, 5), {"trans_b": 2}, r"trans_b"),
])
def test_batched_matmul_bad_inputs(backend, a_shape, b_shape, kw, match):
    with fastnn.backend(backend), pytest.raises((ValueError, TypeError), match=match):
        ops.batched_matmul(np.zeros(a_shape, np.float32), np.zeros(b_shape, np.float32), **kw)
