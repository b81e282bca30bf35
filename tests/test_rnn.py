"""Recurrent kernels: SimpleRNN, LSTM and GRU (both reset_after modes), forward and BPTT.

C++ against the NumPy reference (outputs, final states, every gradient) on sizes that miss the
fast paths; the reference against central finite differences in float64; golden numbers from
Keras's equations written out by hand; thread-count independence; bad inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn
from fastnn import _core, ops, reference

from helpers import layer_gradcheck

# cell name -> (gates, forward/backward extra keyword arguments)
CELLS = {
    "simple_rnn": (1, {}),
    "lstm": (4, {}),
    "gru": (3, {"reset_after": True}),
    "gru_reset_before": (3, {"reset_after": False}),
}


def _bias_shape(cell, OC):
    G = CELLS[cell][0]
    return (2, 3 * OC) if cell == "gru" else (G * OC,)


def make_case(cell, N, T, C, OC, seed=0, dtype=np.float32, states=True, bias=True, dh_seq=True, dh_last=True):
    """Random inputs, weights (scaled so activations stay in their sensitive range) and upstream grads."""
    rng = np.random.default_rng(seed)
    G = CELLS[cell][0]
    f = {
        "x": rng.normal(size=(N, T, C)),
        "w": rng.normal(size=(C, G * OC)) / math.sqrt(C),
        "u": rng.normal(size=(OC, G * OC)) / math.sqrt(OC),
        "b": rng.normal(size=_bias_shape(cell, OC)) * 0.3 if bias else None,
        "h0": rng.normal(size=(N, OC)) * 0.5 if states else None,
        "c0": rng.normal(size=(N, OC)) * 0.5 if states and cell == "lstm" else None,
        "dh_seq": rng.normal(size=(N, T, OC)) if dh_seq else None,
        "dh_last": rng.normal(size=(N, OC)) if dh_last else None,
        "dc_last": rng.normal(size=(N, OC)) if dh_last and cell == "lstm" else None,
    }
    return {k: (None if v is None else v.astype(dtype)) for k, v in f.items()}


def run(mod, cell, case, go_backwards=False, return_sequences=True, need_dx=True, need_dw=True, **acts):
    """Forward then backward through `mod`; returns {name: array or None}."""
    kw = dict(CELLS[cell][1], go_backwards=go_backwards, **acts)
    c = case
    use_bias = c["b"] is not None
    if cell == "simple_rnn":
        h_seq, h_last, cache = mod.simple_rnn_forward(c["x"], c["w"], c["u"], c["b"], c["h0"],
                                                      return_sequences=return_sequences, **kw)
        grads = mod.simple_rnn_backward(c["dh_seq"], c["dh_last"], c["x"], c["w"], c["u"], cache, use_bias=use_bias,
                                        need_dx=need_dx, need_dw=need_dw, **kw)
        fwd = {"h_seq": h_seq, "h_last": h_last}
        names = ("dx", "dw", "du", "db", "dh0")
    elif cell == "lstm":
        h_seq, h_last, c_last, cache = mod.lstm_forward(c["x"], c["w"], c["u"], c["b"], c["h0"], c["c0"],
                                                        return_sequences=return_sequences, **kw)
        grads = mod.lstm_backward(c["dh_seq"], c["dh_last"], c["dc_last"], c["x"], c["w"], c["u"], cache,
                                  use_bias=use_bias, need_dx=need_dx, need_dw=need_dw, **kw)
        fwd = {"h_seq": h_seq, "h_last": h_last, "c_last": c_last}
        names = ("dx", "dw", "du", "db", "dh0", "dc0")
    else:
        h_seq, h_last, cache = mod.gru_forward(c["x"], c["w"], c["u"], c["b"], c["h0"],
                                               return_sequences=return_sequences, **kw)
        grads = mod.gru_backward(c["dh_seq"], c["dh_last"], c["x"], c["w"], c["u"], cache, use_bias=use_bias,
                                 need_dx=need_dx, need_dw=need_dw, **kw)
        fwd = {"h_seq": h_seq, "h_last": h_last}
        names = ("dx", "dw", "du", "db", "dh0")
    return {**fwd, "cache": cache, **dict(zip(names, grads))}


def assert_close(got, want, label, rtol=2e-4, atol_scale=2e-5):
    """Compare every entry (None must match None); the tolerance scales with the array's size."""
    assert got.keys() == want.keys()
    for k in want:
        g, w = got[k], want[k]
        if w is None:
            assert g is None, f"{label}: {k} should be None"
            continue
        assert g is not None and g.shape == w.shape, f"{label}: {k} shape {None if g is None else g.shape} != {w.shape}"
        scale = max(1.0, float(np.abs(w).max()))
        err = float(np.abs(g - w).max())
        assert np.allclose(g, w, rtol=rtol, atol=atol_scale * scale), (
            f"{label}: {k} max |diff| = {err:.3g} (scale {scale:.3g}); first pairs "
            f"{list(zip(np.ravel(g)[:3], np.ravel(w)[:3]))}")


# ---- C++ against the reference ------------------------------------------------------------------


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("T", [1, 2, 7])
@pytest.mark.parametrize("OC", [1, 3, 17, 130])
@pytest.mark.parametrize("N", [1, 5])
def test_matches_reference_sizes(cell, T, OC, N):
    case = make_case(cell, N, T, 3, OC, seed=T * 1000 + OC * 10 + N)
    assert_close(run(_core, cell, case), run(reference, cell, case), f"{cell} N={N} T={T} OC={OC}")


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("states", [False, True])
@pytest.mark.parametrize("upstream", ["both", "seq_only", "last_only"])
def test_matches_reference_options(cell, go_backwards, states, upstream):
    case = make_case(cell, 3, 7, 5, 17, seed=11, states=states, dh_seq=upstream != "last_only",
                     dh_last=upstream != "seq_only")
    label = f"{cell} go_backwards={go_backwards} states={states} upstream={upstream}"
    assert_close(run(_core, cell, case, go_backwards=go_backwards),
                 run(reference, cell, case, go_backwards=go_backwards), label)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("act,ract", [("relu", "hard_sigmoid"), ("sigmoid", "tanh"), ("linear", "sigmoid"),
                                      ("elu", "sigmoid"), ("leaky_relu", "hard_sigmoid")])
def test_matches_reference_activations(cell, act, ract):
    case = make_case(cell, 4, 6, 5, 9, seed=5)
    acts = {"activation": act} if cell == "simple_rnn" else {"activation": act, "recurrent_activation": ract}
    assert_close(run(_core, cell, case, **acts), run(reference, cell, case, **acts), f"{cell} {act}/{ract}")


@pytest.mark.parametrize("cell", list(CELLS))
def test_no_bias_no_dx_no_sequence(cell):
    case = make_case(cell, 3, 4, 2, 5, seed=3, bias=False)
    got = run(_core, cell, case, return_sequences=False, need_dx=False)
    want = run(reference, cell, case, return_sequences=False, need_dx=False)
    assert got["h_seq"] is None and got["dx"] is None and got["db"] is None
    assert_close(got, want, cell)


@pytest.mark.parametrize("cell", list(CELLS))
def test_cache_is_shared_between_backends(cell):
    # Both backends lay the cache out the same way, so each backward accepts the other's cache.
    case = make_case(cell, 2, 5, 3, 4, seed=9)
    cpp, ref = run(_core, cell, case), run(reference, cell, case)
    np.testing.assert_allclose(cpp["cache"], ref["cache"], rtol=1e-4, atol=1e-5)
    c = case
    kw = dict(CELLS[cell][1])
    if cell == "simple_rnn":
        got = _core.simple_rnn_backward(c["dh_seq"], c["dh_last"], c["x"], c["w"], c["u"], ref["cache"], **kw)
    elif cell == "lstm":
        got = _core.lstm_backward(c["dh_seq"], c["dh_last"], c["dc_last"], c["x"], c["w"], c["u"], ref["cache"], **kw)
    else:
        got = _core.gru_backward(c["dh_seq"], c["dh_last"], c["x"], c["w"], c["u"], ref["cache"], **kw)
    np.testing.assert_allclose(got[1], ref["dw"], rtol=1e-4, atol=1e-5)


def test_ops_dispatch_to_both_backends():
    case = make_case("lstm", 2, 3, 4, 5, seed=1)
    outs = {}
    for name in ("cpp", "numpy"):
        with fastnn.backend(name):
            outs[name] = run(ops, "lstm", case)
    assert outs["cpp"]["h_last"].dtype == np.float32
    assert_close(outs["cpp"], outs["numpy"], "ops")


def test_float64_inputs_are_converted():
    case = make_case("gru", 2, 3, 4, 5, seed=2, dtype=np.float64)
    got = run(_core, "gru", case)
    assert got["h_seq"].dtype == np.float32 and got["dw"].dtype == np.float32
    want = run(reference, "gru", make_case("gru", 2, 3, 4, 5, seed=2))
    assert_close(got, want, "float64 inputs")


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("C,OC", [(70, 3), (100, 4), (200, 1)])
def test_few_units_many_features(cell, C, OC):
    # The input projection [1 | x]·[b; w] then has K = C + 1 >= 64 and at most 16 columns: the GEMM's
    # skinny-product (dot) kernel, reading A's rows out of the cache at its row stride.
    case = make_case(cell, 9, 5, C, OC, seed=C + OC)
    assert_close(run(_core, cell, case), run(reference, cell, case), f"{cell} C={C} OC={OC}")


@pytest.mark.parametrize("cell", list(CELLS))
def test_step_products_with_small_blocks_every_kernel(cell, gemm_kernel):
    # The recurrent weights are packed once per call; tiny cache blocks make that packed product run
    # several k blocks and several M blocks per thread, on every micro-kernel.
    saved = _core._gemm_blocking()
    try:
        _core._gemm_blocking(MC=24, KC=16)
        case = make_case(cell, 61, 4, 5, 45, seed=8)
        assert_close(run(_core, cell, case), run(reference, cell, case), f"{cell} {gemm_kernel} small blocks")
    finally:
        _core._gemm_blocking(MC=saved["MC"], KC=saved["KC"])


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("pattern", [None, "post", "pre"])
def test_weight_gradients_without_dx_match_with_dx(cell, pattern):
    # Without dx (a first layer) the step loop packs the gate gradients straight into the weight
    # gradient GEMM's panels, step by step; with dx they are kept whole and the GEMM packs them.
    # T·N = 732 rows span two k blocks of that GEMM and each thread's rows of a step may straddle
    # them. Same sums in the same order: equal bitwise, at every thread count. With a padding
    # mask (rows sorted by length) the products' rows are only the kept ones, packed or gathered.
    case = make_case(cell, 61, 12, 5, 45, seed=11)
    kw = {} if pattern is None else {"mask": _step_mask(61, 12, seed=4, pattern=pattern)}
    want = _without_cache(run(reference, cell, case, need_dx=False, **kw))
    saved = fastnn.get_num_threads()
    try:
        for n in (1, 2, 3):
            fastnn.set_num_threads(n)
            packed = run(_core, cell, case, need_dx=False, **kw)
            whole = run(_core, cell, case, need_dx=True, **kw)
            assert packed["dx"] is None and whole["dx"] is not None
            for k in ("dw", "du", "db", "dh0"):
                assert np.array_equal(packed[k], whole[k]), f"{cell}: {k} with and without dx, {n} threads"
            assert_close(_without_cache(packed), want, f"{cell} without dx, {n} threads, mask {pattern}")
    finally:
        fastnn.set_num_threads(saved)


# ---- Thread-count independence ------------------------------------------------------------------


def assert_same_for_thread_counts(cell, case, **kw):
    """The C++ results (outputs and every gradient) are bitwise the same on 1, 2 and 3 threads."""
    saved = fastnn.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            fastnn.set_num_threads(n)
            results.append(run(_core, cell, case, **kw))
    finally:
        fastnn.set_num_threads(saved)
    for other in results[1:]:
        for k, v in results[0].items():
            assert v is None or np.array_equal(v, other[k]), f"{cell}: {k} differs between thread counts"


@pytest.mark.parametrize("cell", list(CELLS))
def test_results_do_not_depend_on_thread_count(cell):
    # Big enough for the parallel step passes, the parallel GEMMs and the split column sums.
    assert_same_for_thread_counts(cell, make_case(cell, 128, 3, 8, 64, seed=4))


# ---- The reference against finite differences (float64, T >= 5) ----------------------------------


def _loss_and_grads(cell, case, **kw):
    """Scalar loss sum(h_seq*dh_seq) + sum(h_last*dh_last) (+ sum(c_last*dc_last)) and its gradients."""
    r = run(reference, cell, case, **kw)
    loss = (r["h_seq"] * case["dh_seq"]).sum() + (r["h_last"] * case["dh_last"]).sum()
    if cell == "lstm":
        loss += (r["c_last"] * case["dc_last"]).sum()
    return loss, r


def assert_reference_gradients(cell, case, eps=1e-6, **kw):
    """The reference's gradients of every input, weight and initial state against central
    differences of `_loss_and_grads`'s loss (float64 ``case``)."""
    _, r = _loss_and_grads(cell, case, **kw)
    for p, g in {"x": "dx", "w": "dw", "u": "du", "b": "db", "h0": "dh0", "c0": "dc0"}.items():
        if case[p] is None:
            continue
        num = np.zeros_like(case[p])
        for idx in np.ndindex(case[p].shape):
            old = case[p][idx]
            case[p][idx] = old + eps
            up, _ = _loss_and_grads(cell, case, **kw)
            case[p][idx] = old - eps
            down, _ = _loss_and_grads(cell, case, **kw)
            case[p][idx] = old
            num[idx] = (up - down) / (2 * eps)
        err = np.abs(num - r[g]).max()
        assert err < 1e-6 * max(1.0, np.abs(num).max()), f"{cell} {p}: max |analytic - numeric| = {err:.3g}"


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("go_backwards,acts", [(False, {}), (True, {"activation": "relu"}),
                                               (False, {"activation": "sigmoid"})])
def test_reference_gradients_match_finite_differences(cell, go_backwards, acts):
    if cell != "simple_rnn" and acts:
        acts = {**acts, "recurrent_activation": "tanh"}
    case = make_case(cell, 2, 6, 3, 3, seed=7, dtype=np.float64)
    assert_reference_gradients(cell, case, go_backwards=go_backwards, **acts)


# ---- Recurrent dropout: a mask on h_{t-1} where it enters the recurrent product (GRU: one per gate) ----

MASKED_CELLS = ["simple_rnn", "lstm", "gru", "gru_reset_before"]


def _rec_mask(cell, N, OC, seed, dtype=np.float32, rate=0.4):
    rng = np.random.default_rng(seed)
    shape = (3, N, OC) if cell.startswith("gru") else (N, OC)
    return ((rng.random(shape) >= rate) / (1 - rate)).astype(dtype)


@pytest.mark.parametrize("cell", MASKED_CELLS)
@pytest.mark.parametrize("N,T,OC,go_backwards,dh_seq", [(1, 1, 3, False, True), (5, 7, 17, True, True),
                                                        (64, 3, 40, False, False), (3, 2, 130, False, True)])
@pytest.mark.parametrize("bias", [True, False])
def test_recurrent_mask_matches_reference(cell, N, T, OC, go_backwards, dh_seq, bias):
    case = make_case(cell, N, T, 3, OC, seed=N + T + OC, dh_seq=dh_seq, bias=bias)
    mask = _rec_mask(cell, N, OC, seed=OC)
    label = f"{cell} recurrent_mask N={N} T={T} OC={OC} bias={bias}"
    assert_close(run(_core, cell, case, go_backwards=go_backwards, recurrent_mask=mask),
                 run(reference, cell, case, go_backwards=go_backwards, recurrent_mask=mask), label)
    # all-ones is no dropout at all; a mask changes the result
    ones = run(_core, cell, case, recurrent_mask=np.ones(mask.shape, np.float32))
    plain = run(_core, cell, case)
    for k in plain:
        if plain[k] is not None:
            skip = 16 if k == "cache" else 0  # the header records that a mask was given
            np.testing.assert_allclose(ones[k][skip:], plain[k][skip:], rtol=1e-6, atol=1e-6, err_msg=f"{label}: {k}")
    if T > 1:
        masked = run(_core, cell, case, recurrent_mask=mask)
        assert not np.allclose(masked["du"], plain["du"])


@pytest.mark.parametrize("cell", MASKED_CELLS)
def test_recurrent_mask_results_do_not_depend_on_thread_count(cell):
    assert_same_for_thread_counts(cell, make_case(cell, 128, 3, 8, 64, seed=4),
                                  recurrent_mask=_rec_mask(cell, 128, 64, seed=1))


@pytest.mark.parametrize("cell", MASKED_CELLS)
def test_reference_recurrent_mask_gradients_match_finite_differences(cell):
    case = make_case(cell, 2, 6, 3, 3, seed=9, dtype=np.float64)
    assert_reference_gradients(cell, case, recurrent_mask=_rec_mask(cell, 2, 3, seed=2, dtype=np.float64, rate=0.3))


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
def test_bad_recurrent_mask(mod):
    case = make_case("lstm", 2, 3, 3, 4)
    with pytest.raises(ValueError, match=r"recurrent_mask must be \(N, OC\)"):
        mod.lstm_forward(case["x"], case["w"], case["u"], recurrent_mask=np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"recurrent_mask must hold finite values >= 0"):
        mod.simple_rnn_forward(case["x"], case["w"][:, :4], case["u"][:, :4],
                               recurrent_mask=-np.ones((2, 4), np.float32))
    gru = make_case("gru", 2, 3, 3, 4)
    with pytest.raises(ValueError, match=r"recurrent_mask must be \(3, N, OC\)"):
        mod.gru_forward(gru["x"], gru["w"], gru["u"], recurrent_mask=np.ones((2, 4), np.float32))
    _, _, cache = mod.gru_forward(gru["x"], gru["w"], gru["u"])
    with pytest.raises(ValueError, match=r"recurrent_mask must hold finite values >= 0"):
        mod.gru_backward(None, gru["dh_last"], gru["x"], gru["w"], gru["u"], cache,
                         recurrent_mask=np.full((3, 2, 4), np.inf, np.float32))


# ---- Time-step masks (Keras's mask): a masked step keeps the states and passes its gradient on ----


def _step_mask(N, T, seed, p=0.35, pattern="random"):
    """A time-step mask: random (with a sample whose steps are all masked and one with none), or
    as pad_sequences leaves it, padding after ("post") or before ("pre") sequences of random lengths
    (the C++ kernels then sort the rows by length and skip the masked rows' arithmetic)."""
    rng = np.random.default_rng(seed)
    if pattern != "random":
        lengths = rng.integers(0, T + 1, N)
        t = np.arange(T)[None, :]
        return t < lengths[:, None] if pattern == "post" else t >= T - lengths[:, None]
    m = rng.random((N, T)) >= p
    m[0] = False  # a sample with every step masked
    if N > 1:
        m[1] = True  # and one with none
    return m


def _without_cache(result):
    # the caches differ by design when the C++ kernels sort the rows (and hold no values for the
    # steps they skip); everything else must agree
    return {k: v for k, v in result.items() if k != "cache"}


@pytest.mark.parametrize("cell", MASKED_CELLS)
@pytest.mark.parametrize("N,T,OC,go_backwards,upstream", [(1, 1, 3, False, "both"), (5, 7, 17, True, "both"),
                                                          (64, 3, 40, False, "last_only"),
                                                          (3, 6, 130, True, "seq_only"), (133, 5, 9, False, "both")])
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("pattern", ["random", "post", "pre"])
def test_step_mask_matches_reference(cell, N, T, OC, go_backwards, upstream, dropout, pattern):
    case = make_case(cell, N, T, 3, OC, seed=N * 7 + T + OC, dh_seq=upstream != "last_only",
                     dh_last=upstream != "seq_only")
    kw = dict(go_backwards=go_backwards, mask=_step_mask(N, T, seed=OC, pattern=pattern))
    if dropout:
        kw["recurrent_mask"] = _rec_mask(cell, N, OC, seed=T)
    label = (f"{cell} mask {pattern} N={N} T={T} OC={OC} go_backwards={go_backwards} upstream={upstream} "
             f"dropout={dropout}")
    assert_close(_without_cache(run(_core, cell, case, **kw)), _without_cache(run(reference, cell, case, **kw)),
                 label)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("pattern", ["post", "pre"])
def test_padding_masks_sort_the_rows_in_cpp(go_backwards, pattern):
    # a padding mask sorts the rows (header field 11 = 2); the NumPy backend's backward refuses
    # such a cache (its rows are in another order), a random mask's cache is shared as before
    case = make_case("lstm", 6, 5, 3, 4, seed=2)
    mask = _step_mask(6, 5, seed=1, pattern=pattern)
    cache = _core.lstm_forward(case["x"], case["w"], case["u"], mask=mask, go_backwards=go_backwards)[3]
    assert cache[11] == 2
    with pytest.raises(ValueError, match=r"mask was given \(rows sorted by it: the C\+\+ kernels' cache\) there, "
                                         r"given here"):
        reference.lstm_backward(None, case["dh_last"], None, case["x"], case["w"], case["u"], cache, mask=mask,
                                go_backwards=go_backwards)
    mixed = _step_mask(6, 5, seed=1)
    assert _core.lstm_forward(case["x"], case["w"], case["u"], mask=mixed)[3][11] == 1


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_sorted_rows_cache_is_deterministic(cell):
    # with rows sorted by a padding mask the skipped rows' gates are never computed; their cache slots
    # held whatever the allocator's recycled block held (1e30 in one call, -7 in the next): now zeros
    case = make_case(cell, 6, 5, 3, 4, seed=3)
    mask = _step_mask(6, 5, seed=1, pattern="post")
    forward = getattr(_core, f"{cell}_forward")
    caches = []
    for junk_value in (1e30, -7.0):
        size = forward(case["x"], case["w"], case["u"], mask=mask)[-1].size
        junk = [np.full(size, junk_value, np.float32) for _ in range(20)]
        del junk
        cache = forward(case["x"], case["w"], case["u"], mask=mask)[-1]
        assert cache[11] == 2
        caches.append(cache.copy())
    np.testing.assert_array_equal(caches[0], caches[1])


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
def test_backward_refuses_another_mask(mod):
    # the header keeps a fingerprint of the forward's mask: another mask would sort the rows
    # differently (or carry other steps) and give wrong gradients
    case = make_case("gru", 6, 5, 3, 4, seed=3)
    mask = _step_mask(6, 5, seed=1, pattern="post")
    cache = mod.gru_forward(case["x"], case["w"], case["u"], mask=mask)[2]
    other = _step_mask(6, 5, seed=7, pattern="post")  # other lengths, sorted too
    assert not np.array_equal(other, mask)
    with pytest.raises(ValueError, match=r"gru_backward: mask is not the one the forward pass ran with"):
        mod.gru_backward(None, case["dh_last"], case["x"], case["w"], case["u"], cache, mask=other)
    mod.gru_backward(None, case["dh_last"], case["x"], case["w"], case["u"], cache, mask=mask.astype(np.int64))
    # the fingerprint is the same in both backends: a random mask's cache still crosses over
    mixed = _step_mask(6, 5, seed=2)
    other_mod = reference if mod is _core else _core
    cache = other_mod.gru_forward(case["x"], case["w"], case["u"], mask=mixed)[2]
    mod.gru_backward(None, case["dh_last"], case["x"], case["w"], case["u"], cache, mask=mixed)
    # kept steps {0, 3} and {1, 2} of one row: a linear fingerprint (a sum of the indices) took them for one
    small = make_case("gru", 1, 4, 3, 2, seed=4)
    first, second = np.array([[True, False, False, True]]), np.array([[False, True, True, False]])
    cache = mod.gru_forward(small["x"], small["w"], small["u"], mask=first)[2]
    with pytest.raises(ValueError, match=r"gru_backward: mask is not the one the forward pass ran with"):
        mod.gru_backward(None, small["dh_last"], small["x"], small["w"], small["u"], cache, mask=second)


@pytest.mark.parametrize("cell", MASKED_CELLS)
@pytest.mark.parametrize("act,ract", [("relu", "hard_sigmoid"), ("linear", "tanh")])
@pytest.mark.parametrize("pattern", ["random", "post"])
def test_step_mask_matches_reference_activations(cell, act, ract, pattern):
    # the general (not fused tanh/sigmoid) cell passes
    case = make_case(cell, 6, 5, 4, 7, seed=3)
    acts = {"activation": act} if cell == "simple_rnn" else {"activation": act, "recurrent_activation": ract}
    mask = _step_mask(6, 5, seed=8, pattern=pattern)
    assert_close(_without_cache(run(_core, cell, case, mask=mask, **acts)),
                 _without_cache(run(reference, cell, case, mask=mask, **acts)), f"{cell} mask {pattern} {act}/{ract}")


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
@pytest.mark.parametrize("cell", MASKED_CELLS)
def test_step_mask_semantics(mod, cell):
    N, T, OC = 4, 6, 5
    case = make_case(cell, N, T, 3, OC, seed=21)
    mask = _step_mask(N, T, seed=5)
    r = run(mod, cell, case, mask=mask)
    # a masked step repeats the previous state (h0 before the first step) and the last state is the
    # state after the last kept step; dx is 0 there
    prev = np.concatenate([case["h0"][:, None], r["h_seq"][:, :-1]], axis=1)
    np.testing.assert_array_equal(r["h_seq"][~mask], prev[~mask])
    np.testing.assert_array_equal(r["h_last"][0], case["h0"][0])
    if cell == "lstm":
        np.testing.assert_array_equal(r["c_last"][0], case["c0"][0])
    assert np.all(r["dx"][~mask] == 0) and np.any(r["dx"][mask] != 0)
    # a sample whose steps are all masked passes its gradients straight to its initial states
    want = case["dh_last"][0] + case["dh_seq"][0].sum(axis=0)
    np.testing.assert_allclose(r["dh0"][0], want, rtol=1e-6, atol=1e-6)
    # an all-True mask is no mask; a sample's result does not depend on the other samples' masks
    plain, ones = run(mod, cell, case), run(mod, cell, case, mask=np.ones((N, T), bool))
    for k in ("h_seq", "h_last", "dx", "dw", "du", "dh0"):
        np.testing.assert_allclose(ones[k], plain[k], rtol=1e-6, atol=1e-6, err_msg=f"{cell}: {k}")
    np.testing.assert_allclose(r["h_seq"][1], plain["h_seq"][1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
@pytest.mark.parametrize("cell", MASKED_CELLS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_post_padding_masked_is_the_shorter_sequence(mod, cell, go_backwards):
    # pad_sequences(padding="post") + a mask: each sample's last state (and its gradients) is that of
    # its own unpadded sequence, whatever the direction
    N, T, C, OC = 3, 7, 3, 6
    lengths = [7, 4, 1]
    case = make_case(cell, N, T, C, OC, seed=2, dh_seq=False)
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    case["x"][~mask] = 99.0  # whatever the padding holds
    full = run(mod, cell, case, go_backwards=go_backwards, mask=mask)
    for n, L in enumerate(lengths):
        one = {k: (None if v is None else v[n:n + 1].copy()) for k, v in case.items()}
        for k in ("w", "u", "b"):
            one[k] = case[k]
        one["x"] = case["x"][n:n + 1, :L].copy()
        alone = run(mod, cell, one, go_backwards=go_backwards)
        np.testing.assert_allclose(full["h_last"][n], alone["h_last"][0], rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(full["dx"][n, :L], alone["dx"][0], rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(full["dh0"][n], alone["dh0"][0], rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("cell", MASKED_CELLS)
@pytest.mark.parametrize("pattern", ["random", "pre"])
def test_step_mask_results_do_not_depend_on_thread_count(cell, pattern):
    assert_same_for_thread_counts(cell, make_case(cell, 128, 4, 8, 64, seed=6),
                                  mask=_step_mask(128, 4, seed=3, pattern=pattern))


@pytest.mark.parametrize("cell", MASKED_CELLS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_reference_step_mask_gradients_match_finite_differences(cell, go_backwards):
    case = make_case(cell, 3, 6, 3, 3, seed=13, dtype=np.float64)
    mask = np.array([[1, 1, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 1, 1]], bool)
    assert_reference_gradients(cell, case, go_backwards=go_backwards, mask=mask)


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
def test_bad_step_mask(mod):
    case = make_case("gru", 2, 3, 3, 4)
    with pytest.raises(ValueError, match=r"gru_forward: mask must be \(N, T\) = \(2, 3\) to match x. "
                                         r"Received: mask.shape=\(3, 2\)"):
        mod.gru_forward(case["x"], case["w"], case["u"], mask=np.ones((3, 2), bool))
    with pytest.raises(TypeError, match=r"gru_forward: mask must be a boolean array of shape \(N, T\).*float32"):
        mod.gru_forward(case["x"], case["w"], case["u"], mask=np.ones((2, 3), np.float32))
    # integers: nonzero keeps the step (not wrapped by a narrowing cast)
    ints = np.array([[256, 0, 1], [1, 1, -1]])
    got = mod.gru_forward(case["x"], case["w"], case["u"], mask=ints)[0]
    want = mod.gru_forward(case["x"], case["w"], case["u"], mask=ints != 0)[0]
    np.testing.assert_array_equal(got, want)
    _, _, cache = mod.gru_forward(case["x"], case["w"], case["u"], mask=ints != 0)
    with pytest.raises(ValueError, match=r"gru_backward: cache comes from a different forward pass: mask was given "
                                         r"there, None here"):
        mod.gru_backward(None, case["dh_last"], case["x"], case["w"], case["u"], cache)


def test_recurrent_dropout_in_layers():
    x = np.random.default_rng(0).normal(size=(6, 5, 3)).astype(np.float32)
    for cls in (SimpleRNN, LSTM, GRU):
        layer = cls(8, recurrent_dropout=0.5, seed=3)
        infer = layer(x)  # inference: no mask
        train = layer(x, training=True)
        want = (3, 6, 8) if cls is GRU else (6, 8)  # GRU: one mask per gate
        assert layer._rec_mask.shape == want and set(np.unique(layer._rec_mask)) <= {0.0, 2.0}
        assert not np.allclose(train, infer)
        dx = layer.backward(np.ones_like(train))
        assert dx.shape == x.shape and all(np.isfinite(g).all() for g in layer._gradients)
        np.testing.assert_array_equal(layer(x), infer)
        assert cls.from_config(layer.get_config()).recurrent_dropout == 0.5
    y = np.arange(6) % 2
    for cls in (LSTM, GRU):
        model = Sequential([Input(shape=(5, 3)), cls(8, recurrent_dropout=0.25, dropout=0.1), Dense(2)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, epochs=3, batch_size=3, verbose=0)
        assert all(np.isfinite(v) for v in history.history["loss"])


# ---- Golden numbers: Keras's equations written out by hand -------------------------------------


def _sig(v):
    return 1 / (1 + math.exp(-v))


def test_golden_simple_rnn_linear():
    # h1 = 0.5*1 + 0.1 = 0.6; h2 = 0.5*2 + 0.1 - 0.6 = 0.5. With dL/dh2 = 1: dA2 = 1, dA1 = u = -1,
    # dw = 1*(-1) + 2*1 = 1, du = h0*dA1 + h1*dA2 = 0.6, db = 0, dh0 = u*dA1 = 1.
    x = np.array([[[1.0], [2.0]]], np.float32)
    w, u, b = np.array([[0.5]], np.float32), np.array([[-1.0]], np.float32), np.array([0.1], np.float32)
    for mod in (_core, reference):
        h_seq, h_last, cache = mod.simple_rnn_forward(x, w, u, b, activation="linear")
        np.testing.assert_allclose(h_seq.ravel(), [0.6, 0.5], rtol=1e-6)
        dx, dw, du, db, dh0 = mod.simple_rnn_backward(None, np.ones((1, 1), np.float32), x, w, u, cache,
                                                      activation="linear")
        np.testing.assert_allclose(dx.ravel(), [-0.5, 0.5], rtol=1e-6)
        np.testing.assert_allclose([dw.item(), du.item(), db.item(), dh0.item()], [1.0, 0.6, 0.0, 1.0], atol=1e-6)
        # go_backwards reads x2 first: h1 = 1.1, h2 = 0.5 + 0.1 - 1.1 = -0.5
        h_seq, _, _ = mod.simple_rnn_forward(x, w, u, b, activation="linear", go_backwards=True)
        np.testing.assert_allclose(h_seq.ravel(), [1.1, -0.5], rtol=1e-6)


def test_golden_lstm():
    # Only the candidate sees x (w_c = 1); every other pre-activation is 0, so i = f = o = 0.5:
    # c1 = 0.5*0 + 0.5*tanh(1) = 0.38079708, h1 = 0.5*tanh(c1); x2 = 0: c2 = 0.5*c1, h2 = 0.5*tanh(c2).
    x = np.array([[[1.0], [0.0]]], np.float32)
    w = np.array([[0.0, 0.0, 1.0, 0.0]], np.float32)
    u = np.zeros((1, 4), np.float32)
    c1 = 0.5 * math.tanh(1.0)
    assert abs(c1 - 0.38079708) < 1e-7
    c2 = 0.5 * c1
    for mod in (_core, reference):
        h_seq, h_last, c_last, _ = mod.lstm_forward(x, w, u)
        np.testing.assert_allclose(h_seq.ravel(), [0.5 * math.tanh(c1), 0.5 * math.tanh(c2)], rtol=1e-6)
        np.testing.assert_allclose(c_last.item(), c2, rtol=1e-6)


def _keras_gru_step(x, h, w, u, b, reset_after):
    """One GRU step for C = 1 written out from keras/src/layers/rnn/gru.py (gate order z, r, h).

    w[g][j], u[k][g][j], b[g][j] (b = (input, recurrent) with reset_after) for gate g, unit j.
    """
    units = range(len(h))
    bi, br = (b[0], b[1]) if reset_after else (b, [[0.0] * len(h)] * 3)

    def rec(g, state):
        return [sum(state[k] * u[k][g][j] for k in units) for j in units]

    z = [_sig(x * w[0][j] + bi[0][j] + rec(0, h)[j] + br[0][j]) for j in units]
    r = [_sig(x * w[1][j] + bi[1][j] + rec(1, h)[j] + br[1][j]) for j in units]
    if reset_after:  # the reset gate scales the recurrent product (bias included)
        hh = [math.tanh(x * w[2][j] + bi[2][j] + r[j] * (rec(2, h)[j] + br[2][j])) for j in units]
    else:  # the reset gate scales the state before the product
        rh = [r[k] * h[k] for k in units]
        hh = [math.tanh(x * w[2][j] + bi[2][j] + rec(2, rh)[j]) for j in units]
    return [z[j] * h[j] + (1 - z[j]) * hh[j] for j in units]


@pytest.mark.parametrize("reset_after", [True, False])
def test_golden_gru(reset_after):
    xs = [0.5, -1.0, 2.0]
    w = [[0.3, -0.2], [-0.7, 0.5], [1.1, 0.8]]  # [gate][unit]
    u = [[[0.9, -0.1], [0.4, 0.2], [-0.6, 0.7]], [[0.3, 0.5], [-0.8, 0.1], [0.2, -0.9]]]  # [k][gate][unit]
    b_in = [[0.1, 0.0], [-0.2, 0.1], [0.05, -0.3]]
    b = [b_in, [[0.2, -0.1], [0.3, 0.0], [-0.4, 0.25]]] if reset_after else b_in
    h, want = [0.25, -0.5], []
    for xv in xs:
        h = _keras_gru_step(xv, h, w, u, b, reset_after)
        want.append(h)
    # Keras layouts: kernel (C, 3*OC) and recurrent kernel (OC, 3*OC) with gate blocks z | r | h
    W = np.array([[w[g][j] for g in range(3) for j in range(2)]], np.float32)
    U = np.array([[u[k][g][j] for g in range(3) for j in range(2)] for k in range(2)], np.float32)
    B = np.array([[row[g][j] for g in range(3) for j in range(2)] for row in b] if reset_after
                 else [b[g][j] for g in range(3) for j in range(2)], np.float32)
    x = np.array(xs, np.float32).reshape(1, 3, 1)
    for mod in (_core, reference):
        h_seq, h_last, _ = mod.gru_forward(x, W, U, B, np.array([[0.25, -0.5]], np.float32), reset_after=reset_after)
        np.testing.assert_allclose(h_seq[0], want, rtol=1e-5)


def test_golden_simple_rnn_tanh_two_units():
    # h_t = tanh(x_t w + b + h_{t-1} u) with a 2x2 recurrent kernel, by hand.
    x = np.array([[[1.0], [-1.0], [0.5]]], np.float32)
    w = np.array([[0.5, -0.25]], np.float32)
    u = np.array([[0.1, 0.2], [-0.3, 0.4]], np.float32)
    b = np.array([0.05, -0.05], np.float32)
    h, want = [0.0, 0.0], []
    for xv in (1.0, -1.0, 0.5):
        h = [math.tanh(xv * w[0, j] + b[j] + h[0] * u[0, j] + h[1] * u[1, j]) for j in range(2)]
        want.append(h)
    for mod in (_core, reference):
        h_seq, _, _ = mod.simple_rnn_forward(x, w, u, b)
        np.testing.assert_allclose(h_seq[0], want, rtol=1e-6)


# ---- Bad inputs ---------------------------------------------------------------------------------


def _good(cell, N=2, T=3, C=4, OC=5):
    return make_case(cell, N, T, C, OC, seed=0)


def _forward(mod, cell, c, **kw):
    kw = {**CELLS[cell][1], **kw}
    if cell == "simple_rnn":
        return mod.simple_rnn_forward(c["x"], c["w"], c["u"], c["b"], c["h0"], **kw)
    if cell == "lstm":
        return mod.lstm_forward(c["x"], c["w"], c["u"], c["b"], c["h0"], c["c0"], **kw)
    return mod.gru_forward(c["x"], c["w"], c["u"], c["b"], c["h0"], **kw)


BAD_FORWARD = [
    ("x", lambda c: c["x"][:, :0], r"at least one time step \(T >= 1\).*x.shape=\(2, 0, 4\)"),
    ("x", lambda c: c["x"][:0], r"batch is empty.*x.shape=\(0, 3, 4\)"),
    ("x", lambda c: c["x"][0], r"x must be 3-D \(N, T, C\). Received: x.shape=\(3, 4\)"),
    ("w", lambda c: c["w"][:3], r"w must be \(C, \d\*OC\) = \(4, \d+\) to match x and u. Received: w.shape=\(3,"),
    ("u", lambda c: c["u"][:, :-1], r"u must be \(OC, \d\*OC\) with OC >= 1"),
    ("h0", lambda c: c["h0"][:, :4], r"h0 must be \(N, OC\) = \(2, 5\). Received: h0.shape=\(2, 4\)"),
    ("b", lambda c: c["b"].reshape(-1)[:-1], r"b must have shape .* Received: b.shape="),
]


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("arg,bad,msg", BAD_FORWARD, ids=[f"{a}-{i}" for i, (a, _, _) in enumerate(BAD_FORWARD)])
def test_bad_forward_inputs(mod, cell, arg, bad, msg):
    c = _good(cell)
    c[arg] = bad(c)
    with pytest.raises(ValueError, match=msg):
        _forward(mod, cell, c)


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
def test_bad_lstm_c0_and_gru_bias_mode(mod):
    c = _good("lstm")
    c["c0"] = c["c0"][:1]
    with pytest.raises(ValueError, match=r"c0 must be \(N, OC\) = \(2, 5\). Received: c0.shape=\(1, 5\)"):
        _forward(mod, "lstm", c)
    g = _good("gru")  # a (2, 3*OC) bias is wrong for reset_after=False, and the reverse
    with pytest.raises(ValueError, match=r"b must have shape \(15,\). Received: b.shape=\(2, 15\)"):
        _forward(mod, "gru", g, reset_after=False)
    with pytest.raises(ValueError, match=r"b must have shape \(2, 15\). Received: b.shape=\(15,\)"):
        _forward(mod, "gru", {**g, "b": g["b"][0]})


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
def test_bad_activations(mod):
    c = _good("lstm")
    with pytest.raises(ValueError, match="activation must be elementwise; softmax"):
        _forward(mod, "lstm", c, activation="softmax")
    with pytest.raises(ValueError, match="recurrent_activation must be elementwise"):
        _forward(mod, "lstm", c, recurrent_activation="softmax")
    with pytest.raises(ValueError, match="unknown activation.*Received: activation='swishy'"):
        _forward(mod, "gru", _good("gru"), activation="swishy")
    with pytest.raises(ValueError, match="unknown recurrent_activation.*Received: recurrent_activation='swishy'"):
        _forward(mod, "gru", _good("gru"), recurrent_activation="swishy")


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
def test_bad_backward_inputs(mod):
    c = _good("simple_rnn")
    _, _, cache = _forward(mod, "simple_rnn", c)
    with pytest.raises(ValueError, match=r"cache must be the forward pass's cache of 96 values.*cache.size=95"):
        mod.simple_rnn_backward(None, c["dh_last"], c["x"], c["w"], c["u"], cache[:-1])
    with pytest.raises(ValueError, match=r"dh_seq must be \(N, T, OC\) = \(2, 3, 5\)"):
        mod.simple_rnn_backward(c["dh_seq"][:, :2], None, c["x"], c["w"], c["u"], cache)
    with pytest.raises(ValueError, match=r"dh_last must be \(N, OC\) = \(2, 5\)"):
        mod.simple_rnn_backward(None, c["dh_last"].T, c["x"], c["w"], c["u"], cache)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        mod.simple_rnn_backward(None, None, c["x"].astype(str), c["w"], c["u"], cache)
    lc = _good("lstm")
    _, _, _, lcache = _forward(mod, "lstm", lc)
    with pytest.raises(ValueError, match=r"dc_last must be \(N, OC\) = \(2, 5\)"):
        mod.lstm_backward(None, None, lc["dc_last"][:, :1], lc["x"], lc["w"], lc["u"], lcache)
    with pytest.raises(ValueError, match=r"cache must be the forward pass's cache"):
        mod.lstm_backward(None, None, None, lc["x"], lc["w"], lc["u"], cache)


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
def test_backward_refuses_another_forwards_cache(mod):
    # a cache of the right size from a forward that ran differently would give wrong gradients:
    # its header says how it ran, and the backward names the first difference
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    w, u = rng.standard_normal((3, 12)).astype(np.float32), rng.standard_normal((3, 12)).astype(np.float32)  # OC = 3
    _, _, _, cache = mod.lstm_forward(x, w, u)

    def refused(why, **kw):
        with pytest.raises(ValueError, match=r"lstm_backward: cache comes from a different forward pass: " + why):
            mod.lstm_backward(None, np.ones((2, 3), np.float32), None, x, w, u, cache, **kw)

    refused(r"go_backwards was False there, True here", go_backwards=True)
    refused(r"activation was 'tanh' there, 'relu' here", activation="relu")
    refused(r"recurrent_activation was 'sigmoid' there, 'hard_sigmoid' here", recurrent_activation="hard_sigmoid")
    refused(r"recurrent_mask was None there, given here", recurrent_mask=np.ones((2, 3), np.float32))
    gw, gu = rng.standard_normal((3, 9)).astype(np.float32), rng.standard_normal((3, 9)).astype(np.float32)
    _, _, gcache = mod.gru_forward(x, gw, gu, reset_after=False)
    with pytest.raises(ValueError, match=r"gru_backward: cache comes from a different forward pass: reset_after was "
                                         r"False there, True here"):
        mod.gru_backward(None, np.ones((2, 3), np.float32), x, gw, gu, gcache, reset_after=True)
    # SimpleRNN's cache is Z alone, (T+1)·N rows: N=2, T=5 and N=3, T=3 give the same size
    _, _, c25 = mod.simple_rnn_forward(x[:, :5].copy(), w[:, :3], u[:, :3])
    x33 = rng.standard_normal((3, 3, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=r"simple_rnn_backward: cache comes from a different forward pass: N was 2 "
                                         r"there, 3 here"):
        mod.simple_rnn_backward(None, np.ones((3, 3), np.float32), x33, w[:, :3], u[:, :3], c25)
    _, _, scache = mod.simple_rnn_forward(x, w[:, :3], u[:, :3])
    sized = np.concatenate([scache, np.zeros(cache.size - scache.size, np.float32)])  # padded to the LSTM's size
    with pytest.raises(ValueError, match=r"lstm_backward: cache comes from a different forward pass: cell was "
                                         r"simple_rnn there, lstm here"):
        mod.lstm_backward(None, np.ones((2, 3), np.float32), None, x, w, u, sized)
    with pytest.raises(ValueError, match=r"lstm_backward: cache is not a recurrent forward pass's cache"):
        mod.lstm_backward(None, np.ones((2, 3), np.float32), None, x, w, u, np.zeros_like(cache))
    # its own forward's cache, and the other backend's, are accepted
    other = reference if mod is _core else _core
    for c in (cache, other.lstm_forward(x, w, u)[3]):
        mod.lstm_backward(None, np.ones((2, 3), np.float32), None, x, w, u, c)


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
def test_damaged_cache_header_is_described_not_converted(mod):
    # header fields holding NaN, inf or 1e30 (a damaged or hand-made cache): the ValueError describes them.
    # The NumPy backend raised a bare IndexError/ValueError/OverflowError converting them to int (naming no
    # op); C++ converted them to integers out of range (undefined behaviour; N printed as -2**63).
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    w, u = rng.standard_normal((3, 3)).astype(np.float32), rng.standard_normal((3, 3)).astype(np.float32)
    _, _, cache = mod.simple_rnn_forward(x, w, u)

    def refused(field, value, why):
        bad = cache.copy()
        bad[field] = value
        with pytest.raises(ValueError, match=r"simple_rnn_backward: cache comes from a different forward pass: " + why):
            mod.simple_rnn_backward(None, np.ones((2, 3), np.float32), x, w, u, bad)

    for value in (1e30, np.nan, np.inf, 40.0):
        refused(6, value, r"activation was '\?' there, 'tanh' here")
    refused(2, np.nan, r"N was nan there, 2 here")
    refused(3, np.inf, r"T was inf there, 6 here")
    refused(4, -2.0**70, r"C was -1.1805916207174113e\+21 there, 3 here")


# ---- Layers: SimpleRNN, LSTM, GRU ----------------------------------------------------------------

from fastnn.layers import GRU, LSTM, Dense, Input, SimpleRNN  # noqa: E402
from fastnn.models import Model, Sequential, load_model  # noqa: E402



@pytest.mark.parametrize("layer,params", [(lambda: SimpleRNN(256), 72960), (lambda: LSTM(128), 80384),
                                          (lambda: GRU(128), 60672), (lambda: GRU(128, reset_after=False), 60288)])
def test_param_counts_match_keras(layer, params):
    # Keras: SimpleRNN(256) on 28 features 72,960; LSTM 4x the gate parameters; GRU with
    # reset_after adds the second (recurrent) bias row
    model = Sequential([Input(shape=(28, 28)), layer()])
    assert model.count_params() == params


def test_weights_in_keras_layouts():
    lstm = LSTM(5)
    lstm.build((None, 7, 3))
    assert lstm.weight_names == ["kernel", "recurrent_kernel", "bias"]
    assert [w.shape for w in lstm.get_weights()] == [(3, 20), (5, 20), (20,)]
    np.testing.assert_array_equal(lstm.bias, [0] * 5 + [1] * 5 + [0] * 10)  # unit_forget_bias
    np.testing.assert_allclose(lstm.recurrent_kernel @ lstm.recurrent_kernel.T, np.eye(5), atol=1e-5)  # orthogonal
    no_forget = LSTM(5, unit_forget_bias=False)
    no_forget.build((None, 7, 3))
    assert not no_forget.bias.any()
    gru = GRU(4)
    gru.build((None, 2, 3))
    assert [w.shape for w in gru.get_weights()] == [(3, 12), (4, 12), (2, 12)]
    gru_before = GRU(4, reset_after=False, use_bias=False)
    gru_before.build((None, 2, 3))
    assert [w.shape for w in gru_before.get_weights()] == [(3, 12), (4, 12)]


@pytest.mark.parametrize("cls,cell", [(SimpleRNN, "simple_rnn"), (LSTM, "lstm"), (GRU, "gru"), (GRU, "gru_reset_before")])
def test_layer_runs_the_op_with_loaded_weights(cls, cell):
    # weights set in Keras's layouts give exactly the reference's outputs
    kw = {"reset_after": False} if cell == "gru_reset_before" else {}
    case = make_case(cell, 3, 5, 4, 6, seed=8, states=False)
    layer = cls(6, return_sequences=True, **kw)
    layer.build((None, 5, 4))
    layer.set_weights([case["w"], case["u"], case["b"]])
    want = run(reference, cell, case)["h_seq"]
    np.testing.assert_allclose(layer(case["x"]), want, rtol=1e-4, atol=1e-5)
    last = cls(6, go_backwards=True, **kw)
    last.build((None, 5, 4))
    last.set_weights([case["w"], case["u"], case["b"]])
    np.testing.assert_allclose(last(case["x"]), run(reference, cell, case, go_backwards=True)["h_last"],
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", [lambda **k: SimpleRNN(3, **k), lambda **k: LSTM(3, **k), lambda **k: GRU(3, **k),
                                  lambda **k: GRU(3, reset_after=False, **k)], ids=["simple", "lstm", "gru", "gru_before"])
@pytest.mark.parametrize("opts", [{}, {"return_sequences": True, "go_backwards": True}, {"dropout": 0.4, "seed": 3}])
def test_layer_gradients(float64_numpy, make, opts):
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    layer = make(**opts)
    layer_gradcheck(layer, x, seed=1, before_call=lambda: setattr(layer, "_calls", 0))  # the same dropout mask


def test_dropout_mask_is_shared_by_all_time_steps():
    layer = SimpleRNN(4, dropout=0.5, seed=1, return_sequences=True)
    x = np.ones((8, 6, 10), np.float32)
    layer(x, training=True)
    dx = layer.backward(np.ones((8, 6, 4), np.float32))
    dropped = dx == 0
    assert dropped.any() and not dropped.all()
    assert (dropped == dropped[:, :1, :]).all()  # the same features of a sample dropped at every step
    np.testing.assert_array_equal(layer(x), layer(x))  # inference: no dropout


def test_return_state_on_arrays():
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    out, h, c = LSTM(5, return_state=True)(x)
    np.testing.assert_array_equal(out, h)
    assert c.shape == (2, 5)
    gru = GRU(5, return_sequences=True, return_state=True)
    seq, h = gru(x)
    np.testing.assert_array_equal(seq[:, -1], h)
    dx = gru.backward([np.zeros_like(seq), np.ones_like(h)])
    assert dx.shape == x.shape


def test_return_state_in_functional_models(tmp_path):
    # an encoder's states start a decoder (Keras's seq2seq): one node with three outputs, each a tensor
    enc_in, dec_in = Input((None, 4)), Input((None, 3))
    encoder = LSTM(6, return_state=True, name="encoder")
    enc_out, h, c = encoder(enc_in)
    assert [t.shape for t in (enc_out, h, c)] == [(None, 6)] * 3 and encoder.output == [enc_out, h, c]
    seq, _, _ = LSTM(6, return_sequences=True, return_state=True, name="decoder")(dec_in, initial_state=[h, c])
    model = Model([enc_in, dec_in], Dense(3, activation="softmax")(seq))
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((8, 5, 4)).astype(np.float32), rng.standard_normal((8, 3, 3)).astype(np.float32)
    # the same numbers as the layers called on arrays
    _, h_a, c_a = encoder(x1)
    seq_a = model.get_layer("decoder")(x2, initial_state=[h_a, c_a])[0]
    np.testing.assert_allclose(model.predict([x1, x2], verbose=0), model.layers[-1](seq_a), rtol=1e-6)
    # the states are outputs of a model too, and the encoder learns through them
    states = Model(enc_in, [h, c])
    got_h, got_c = states.predict(x1, verbose=0)
    np.testing.assert_array_equal(got_h, h_a)
    np.testing.assert_array_equal(got_c, c_a)
    model.compile("adam", "categorical_crossentropy")
    before = encoder.get_weights()[0].copy()
    model.fit([x1, x2], np.eye(3)[rng.integers(0, 3, (8, 3))], epochs=1, verbose=0)
    assert not np.array_equal(before, encoder.get_weights()[0])
    path = tmp_path / "s2s.keras"
    model.save(path)
    again = load_model(path)
    np.testing.assert_allclose(again.predict([x1, x2], verbose=0), model.predict([x1, x2], verbose=0), rtol=1e-6)
    states.save(tmp_path / "states.keras")
    np.testing.assert_array_equal(load_model(tmp_path / "states.keras").predict(x1, verbose=0)[1], states.predict(
        x1, verbose=0)[1])
    with pytest.raises(ValueError, match="All layers in a Sequential model should have a single output tensor"):
        Sequential([Input((4, 3)), LSTM(5, return_state=True)])


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_state_outputs_gradients(float64_numpy, cls):
    # a loss on every output of a return_state layer (the states feed Dense layers): the model's
    # gradients against finite differences
    from helpers import model_gradcheck

    x = Input((4, 3))
    out, *states = cls(3, return_state=True)(x)
    heads = [Dense(2)(t) for t in [out, *states]]
    model = Model(x, heads)
    model.compile("sgd", ["mse"] * len(heads))
    rng = np.random.default_rng(5)
    model_gradcheck(model, rng.standard_normal((3, 4, 3)), [rng.standard_normal((3, 2)) for _ in heads])


@pytest.mark.parametrize("kwargs,msg", [
    ({"units": 0}, r"expected a positive integer. Received: units=0"),
    ({"units": 4, "dropout": 1.0}, r"`dropout` must be a float in \[0, 1\). Received: dropout=1.0"),
    ({"units": 4, "dropout": -0.1}, r"`dropout` must be a float in \[0, 1\)"),
    ({"units": 4, "recurrent_dropout": 1.5}, r"`recurrent_dropout` must be a float in \[0, 1\)"),
    ({"units": 4, "activation": "softmax"}, r"`activation` must be elementwise"),
    ({"units": 4, "recurrent_activation": "softmax"}, r"`recurrent_activation` must be elementwise"),
])
def test_bad_layer_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        LSTM(**kwargs)


def _keras_gru_implementation_1(x, kernel, rec, bias, in_masks, rec_masks, reset_after):
    """Keras 3's GRUCell.call with implementation=1 (what recurrent_dropout > 0 selects), step by
    step in float64: its own mask per gate on the input and on h_{t-1}; the last state."""
    N, T, _ = x.shape
    U = rec.shape[0]
    b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, np.zeros(3 * U))
    k = [kernel[:, g * U:(g + 1) * U] for g in range(3)]
    rk = [rec[:, g * U:(g + 1) * U] for g in range(3)]
    h = np.zeros((N, U))
    for t in range(T):
        x_z, x_r, x_h = ((x[:, t] * in_masks[g]) @ k[g] + b_in[g * U:(g + 1) * U] for g in range(3))
        h_z, h_r, h_h = (h * rec_masks[g] for g in range(3))
        z = 1 / (1 + np.exp(-(x_z + h_z @ rk[0] + b_rec[:U])))
        r = 1 / (1 + np.exp(-(x_r + h_r @ rk[1] + b_rec[U:2 * U])))
        if reset_after:
            recurrent_h = r * (h_h @ rk[2] + b_rec[2 * U:])
        else:
            recurrent_h = (r * h_h) @ rk[2]
        h = z * h + (1 - z) * np.tanh(x_h + recurrent_h)
    return h


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_gru_recurrent_dropout_is_keras_implementation_1(reset_after, dropout):
    rng = np.random.default_rng(11)
    N, T, C, U = 4, 5, 3, 6
    x = rng.normal(size=(N, T, C)).astype(np.float32)
    layer = GRU(U, dropout=dropout, recurrent_dropout=0.4, reset_after=reset_after, seed=7)
    layer.build(x.shape)
    if reset_after:  # a non-zero recurrent bias, so its gradient is checked too
        layer.set_weights([layer.kernel, layer.recurrent_kernel, rng.normal(size=(2, 3 * U)).astype(np.float32)])
    y = layer(x, training=True)
    in_masks = layer._mask.astype(np.float64) if dropout else np.ones((3, N, C))
    rec_masks = layer._rec_mask.astype(np.float64)
    assert rec_masks.shape == (3, N, U) and not np.array_equal(rec_masks[0], rec_masks[1])
    if dropout:
        assert layer._mask.shape == (3, N, C)
    params = {"x": x, "kernel": layer.kernel, "rec": layer.recurrent_kernel, "bias": layer.bias}
    p64 = {k: v.astype(np.float64) for k, v in params.items()}

    def loss_of(p):
        h = _keras_gru_implementation_1(p["x"], p["kernel"], p["rec"], p["bias"], in_masks, rec_masks, reset_after)
        return (h * g).sum(), h

    g = rng.normal(size=(N, U))
    _, want = loss_of(p64)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    dx = layer.backward(g.astype(np.float32))
    got = {"x": dx, "kernel": layer._gradients[0], "rec": layer._gradients[1], "bias": layer._gradients[2]}
    eps = 1e-6
    for name, value in p64.items():
        num = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + eps
            up, _ = loss_of(p64)
            value[idx] = old - eps
            down, _ = loss_of(p64)
            value[idx] = old
            num[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(got[name], num, rtol=1e-3, atol=1e-4, err_msg=f"d{name}")
    # inference draws no masks and uses every unit
    np.testing.assert_allclose(layer(x), _keras_gru_implementation_1(
        p64["x"], p64["kernel"], p64["rec"], p64["bias"], np.ones((3, N, C)), np.ones((3, N, U)), reset_after),
        rtol=1e-5, atol=1e-5)


def test_bad_layer_inputs():
    with pytest.raises(ValueError, match=r"expected ndim=3, found ndim=2"):
        GRU(4)(np.zeros((2, 3), np.float32))
    layer = SimpleRNN(4)
    layer(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"expected axis -1 to have value 5, found 6"):
        layer(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(TypeError, match="recurrent_activation"):
        SimpleRNN(4, recurrent_activation="tanh")


@pytest.mark.parametrize("layer", [SimpleRNN(3, activation="relu", go_backwards=True), LSTM(3, unit_forget_bias=False),
                                   GRU(3, reset_after=False, dropout=0.25, seed=2, return_sequences=True)])
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def test_stacked_and_functional_models_train_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((48, 7, 5), dtype=np.float32)
    y = rng.integers(0, 3, 48)
    model = Sequential([Input(shape=(7, 5)), LSTM(8, return_sequences=True), GRU(6, return_sequences=True),
                        SimpleRNN(4), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    loss = model.fit(x, y, epochs=4, batch_size=16, verbose=0).history["loss"]
    assert loss[-1] < loss[0]
    path = tmp_path / "rnn.safetensors"
    model.save(path)
    np.testing.assert_allclose(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)

    inp = Input(shape=(7, 5))
    seq = GRU(6, return_sequences=True, go_backwards=True, dropout=0.1)(inp)
    out = Dense(2)(LSTM(4)(seq))
    functional = Model(inp, out)
    functional.compile(optimizer="sgd", loss="mse")
    hist = functional.fit(x, rng.random((48, 2), dtype=np.float32), epochs=2, verbose=0).history["loss"]
    assert np.isfinite(hist).all()


# ---- Layers with a time-step mask ---------------------------------------------------------------

from functools import partial  # noqa: E402

from fastnn import initializers  # noqa: E402
from fastnn.layers import Bidirectional  # noqa: E402


def _with_mask(layer, mask):
    """The layer, its `call` given ``mask`` every time (as a model passes it)."""
    layer.call = partial(type(layer).call, layer, mask=mask)
    return layer


def _keras_gru(**kw):
    layer = GRU(2, kernel_initializer=initializers.Constant(0.01), recurrent_initializer=initializers.Constant(0.02),
                bias_initializer=initializers.Constant(0.03), **kw)
    layer.build((None, 4, 3))
    return layer


def test_masked_gru_matches_keras_golden_numbers():
    # keras/src/layers/rnn/gru_test.py, test_masking (Keras 3): the mask skips steps; by default a
    # masked step's output repeats the previous one, with zero_output_for_mask it is 0
    seq = np.arange(24).reshape((2, 4, 3)).astype("float32")
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    np.testing.assert_allclose(_keras_gru(unroll=True).call(seq, mask=mask),
                               [[0.19393763, 0.19393763], [0.30818558, 0.30818558]], rtol=1e-5)
    a, b, c, d = 0.03606692, 0.09497581, 0.16051409, 0.19393763
    out = _keras_gru(return_sequences=True).call(seq, mask=mask)
    np.testing.assert_allclose(out[0], [[a, a], [b, b], [b, b], [d, d]], rtol=1e-5)
    np.testing.assert_allclose(out[1], [[c, c], [c, c], [c, c], [0.30818558] * 2], rtol=1e-5)
    out = _keras_gru(return_sequences=True, zero_output_for_mask=True).call(seq, mask=mask)
    np.testing.assert_allclose(out[0], [[a, a], [b, b], [0, 0], [d, d]], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out[1], [[c, c], [0, 0], [0, 0], [0.30818558] * 2], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(_keras_gru(go_backwards=True).call(seq, mask=mask),
                               [[0.11669192, 0.11669192], [0.28380975, 0.28380975]], rtol=1e-5)


MASK = np.array([[True, False, True, True, False], [False, False, False, False, False]])


@pytest.mark.parametrize("make", [lambda **k: SimpleRNN(3, **k), lambda **k: LSTM(3, **k), lambda **k: GRU(3, **k),
                                  lambda **k: GRU(3, reset_after=False, **k)], ids=["simple", "lstm", "gru", "gru_before"])
@pytest.mark.parametrize("opts", [{}, {"return_sequences": True, "go_backwards": True},
                                  {"return_sequences": True, "zero_output_for_mask": True},
                                  {"go_backwards": True, "zero_output_for_mask": True},
                                  {"dropout": 0.4, "recurrent_dropout": 0.3, "seed": 3}])
def test_masked_layer_gradients(float64_numpy, make, opts):
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    layer = _with_mask(make(**opts), MASK)
    layer_gradcheck(layer, x, seed=1, before_call=lambda: setattr(layer, "_calls", 0))


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_masked_layer_outputs(cls):
    x = np.random.default_rng(1).standard_normal((2, 5, 3)).astype(np.float32)
    seq = cls(4, return_sequences=True)
    h = _with_mask(seq, MASK)(x)
    np.testing.assert_array_equal(h[0, 1], h[0, 0])  # step 1 masked: the output repeats step 0's
    np.testing.assert_array_equal(h[1], 0)  # nothing kept: the zero initial state throughout
    assert seq.compute_mask(x, MASK) is MASK
    zeros = cls(4, return_sequences=True, zero_output_for_mask=True)
    zeros.build(x.shape)
    zeros.set_weights(seq.get_weights())
    np.testing.assert_array_equal(_with_mask(zeros, MASK)(x), h * MASK[:, :, None])
    last = cls(4)
    last.build(x.shape)
    last.set_weights(seq.get_weights())
    np.testing.assert_array_equal(_with_mask(last, MASK)(x), h[:, -1])
    assert last.compute_mask(x, MASK) is None
    # an all-True mask is no mask at all (the kernels run without one)
    _with_mask(last, np.ones((2, 5), bool))(x)
    assert last._time_mask is None
    with pytest.raises(ValueError, match=r"mask must be a boolean array of shape \(batch, timesteps\) = \(2, 5\)"):
        _with_mask(last, np.ones((2, 4), bool))(x)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_masked_bidirectional_is_each_unpadded_sequence(return_sequences):
    # post-padded sequences: each direction sees only the sample's own steps; Keras's Bidirectional
    # makes masked outputs 0 (zero_output_for_mask = return_sequences)
    rng = np.random.default_rng(2)
    lengths = [5, 3]
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    mask = np.arange(5)[None, :] < np.array(lengths)[:, None]
    bi = Bidirectional(LSTM(4, return_sequences=return_sequences))
    out = _with_mask(bi, mask)(x)
    assert bi.forward_layer.zero_output_for_mask == bi.backward_layer.zero_output_for_mask == return_sequences
    plain = Bidirectional(LSTM(4, return_sequences=return_sequences))
    plain.build(x.shape)
    plain.set_weights(bi.get_weights())
    for n, L in enumerate(lengths):
        alone = plain(x[n:n + 1, :L])[0]
        got = out[n, :L] if return_sequences else out[n]
        np.testing.assert_allclose(got, alone, rtol=1e-5, atol=1e-6)
        if return_sequences:
            np.testing.assert_array_equal(out[n, L:], 0)
    assert bi.compute_mask(x, mask) is (mask if return_sequences else None)


def test_keras_2_implementation_argument_is_accepted():
    # Keras 2 scripts pass implementation=1 or 2 (and Keras 3 configs may hold 0); one kernel runs
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    for cls in (LSTM, GRU):
        a, b = cls(3, implementation=1), cls(3, implementation=2)
        a.build(x.shape)
        b.build(x.shape)
        b.set_weights(a.get_weights())
        np.testing.assert_array_equal(a(x), b(x))
        with pytest.raises(ValueError, match="implementation must be 0, 1 or 2"):
            cls(3, implementation=3)


def test_zero_output_for_mask_round_trips():
    layer = LSTM(3, zero_output_for_mask=True)
    assert type(layer).from_config(layer.get_config()).zero_output_for_mask is True


# ---- Initial states: layer(x, initial_state=[h, c]) ---------------------------------------------


def test_initial_state_matches_keras_golden_numbers():
    # keras/src/layers/rnn/gru_test.py, test_pass_initial_state and test_pass_return_state
    seq = np.arange(24).reshape((2, 4, 3)).astype("float32")
    h0 = np.arange(4).reshape((2, 2)).astype("float32")
    np.testing.assert_allclose(_keras_gru()(seq, initial_state=h0), [[0.23774096, 0.33508456], [0.83659905, 1.0227708]],
                               rtol=1e-5)
    out, state = _keras_gru(go_backwards=True, return_state=True)(seq, initial_state=h0)
    np.testing.assert_allclose(out, [[0.13486053, 0.23261218], [0.78257304, 0.9691353]], rtol=1e-5)
    np.testing.assert_array_equal(out, state)
    # [x, h0] as one list is the same call
    np.testing.assert_array_equal(_keras_gru()([seq, h0]), _keras_gru()(seq, initial_state=[h0]))


@pytest.mark.parametrize("make", [lambda **k: SimpleRNN(3, **k), lambda **k: LSTM(3, **k), lambda **k: GRU(3, **k)],
                         ids=["simple", "lstm", "gru"])
@pytest.mark.parametrize("opts", [{}, {"return_sequences": True, "go_backwards": True}])
def test_initial_state_gradients(float64_numpy, make, opts):
    rng = np.random.default_rng(3)
    layer = make(**opts)
    states = [rng.standard_normal((2, 3)) for _ in ("h", "c")[:2 if isinstance(layer, LSTM) else 1]]
    layer_gradcheck(layer, [rng.standard_normal((2, 5, 4)), *states], seed=2)


@pytest.mark.parametrize("zero_output", [False, True])
def test_initial_state_with_mask_outputs_as_keras(zero_output):
    # Keras's outputs at masked steps repeat the previous OUTPUT: 0 before the first kept step,
    # even with an initial state (which is carried as the state)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    h0 = rng.standard_normal((2, 5)).astype(np.float32)
    mask = np.array([[False, True, False, True], [False, False, False, False]])
    layer = _with_mask(SimpleRNN(5, return_sequences=True, return_state=True, zero_output_for_mask=zero_output), mask)
    out, h_last = layer(x, initial_state=h0)
    np.testing.assert_array_equal(out[:, 0], 0)
    np.testing.assert_array_equal(out[1], 0)
    np.testing.assert_array_equal(h_last[1], h0[1])  # the state is carried
    np.testing.assert_array_equal(out[0, 2], 0 if zero_output else out[0, 1])


def test_bad_initial_state():
    x = np.zeros((2, 4, 3), np.float32)
    with pytest.raises(ValueError, match=r"LSTM 'l': initial_state must hold 2 state\(s\) \(h, c\): "
                                         r"\(batch, 5\), \(batch, 5\). Received 1"):
        LSTM(5, name="l")(x, initial_state=[np.zeros((2, 5))])
    with pytest.raises(ValueError, match=r"GRU 'g': initial state h must be \(batch, 5\) for inputs of shape "
                                         r"\(2, 4, 3\). Received: \(2, 4\)"):
        GRU(5, name="g")(x, initial_state=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"initial state h must be \(batch, 5\).*Received: \(3, 5\)"):
        GRU(5)(x, initial_state=np.zeros((3, 5)))
    with pytest.raises(ValueError, match="initial_state is given twice"):
        GRU(5)([x, np.zeros((2, 5))], initial_state=np.zeros((2, 5)))


# ---- Stateful layers: each batch starts where the previous one ended ------------------------------


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_stateful_layer_continues_the_sequence(cls):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 9, 3)).astype(np.float32)
    layer = cls(5, stateful=True, return_sequences=True)
    model = Sequential([Input((None, 3), batch_size=4), layer])
    plain = cls(5, return_sequences=True)
    plain.build(x.shape)
    plain.set_weights(layer.get_weights())
    whole = plain(x)
    # three chunks of the sequence, one after another: the same outputs as the whole sequence
    parts = [model.predict(x[:, a:b], batch_size=4, verbose=0) for a, b in ((0, 4), (4, 5), (5, 9))]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.states[0], whole[:, -1], rtol=1e-5, atol=1e-6)
    model.reset_states()
    assert layer.states is None
    np.testing.assert_allclose(model.predict(x[:, :4], batch_size=4, verbose=0), whole[:, :4], rtol=1e-5, atol=1e-6)
    layer.reset_states([np.ones((4, 5))] * len(layer._state_names))
    np.testing.assert_allclose(layer(x[:, :2]), plain(x[:, :2], initial_state=[np.ones((4, 5))] *
                                                             len(layer._state_names)), rtol=1e-5, atol=1e-6)


def test_stateful_training_as_keras_time_series_example():
    # Keras's stateful LSTM example: batch_input_shape, fit(shuffle=False) one epoch at a time,
    # reset_states between epochs
    rng = np.random.default_rng(7)
    batch_size, tsteps = 8, 4
    series = np.cumsum(rng.standard_normal(8 * 40 + 1)).astype(np.float32) * 0.1
    x = series[:-1].reshape(-1, tsteps, 1)
    y = series[1:].reshape(-1, tsteps)[:, -1:]
    model = Sequential([LSTM(10, batch_input_shape=(batch_size, tsteps, 1), stateful=True), Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    losses = []
    for _ in range(5):
        losses += model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False).history["loss"]
        model.reset_states()
    assert losses[-1] < losses[0]
    assert LSTM(3, stateful=True).get_config()["stateful"] is True


def test_stateful_errors():
    with pytest.raises(ValueError, match=r"a stateful recurrent layer needs to know its batch size"):
        Sequential([Input((5, 3)), LSTM(4, stateful=True)])
    model = Sequential([Input((5, 3), batch_size=4), GRU(4, stateful=True)])
    with pytest.raises(ValueError, match=r"stateful with batches of 4 samples.*Received a batch of 3"):
        model.predict(np.zeros((3, 5, 3), np.float32), verbose=0)
    with pytest.raises(AttributeError, match="reset_states is for stateful layers"):
        GRU(4).reset_states()
    with pytest.raises(ValueError, match=r"reset_states takes 2 state\(s\) of shape \(batch, 4\)"):
        LSTM(4, stateful=True).reset_states([np.zeros((2, 4))])


# ---- Frozen layers: no weight gradients (need_dw=False) ------------------------------------------


@pytest.mark.parametrize("mod", [_core, reference], ids=["cpp", "numpy"])
@pytest.mark.parametrize("cell", MASKED_CELLS)
@pytest.mark.parametrize("kw", [{}, {"pattern": "post"}, {"pattern": "random", "dropout": True}])
def test_need_dw_false_skips_the_weight_gradients(mod, cell, kw):
    case = make_case(cell, 9, 6, 4, 5, seed=8)
    opts = {}
    if "pattern" in kw:
        opts["mask"] = _step_mask(9, 6, seed=2, pattern=kw["pattern"])
    if kw.get("dropout"):
        opts["recurrent_mask"] = _rec_mask(cell, 9, 5, seed=3)
    full = run(mod, cell, case, **opts)
    frozen = run(mod, cell, case, need_dw=False, **opts)
    for k in ("dw", "du", "db"):
        assert frozen[k] is None, k
    for k in ("dx", "dh0", "dc0"):
        if k in full:
            np.testing.assert_array_equal(frozen[k], full[k], err_msg=k)


def test_frozen_recurrent_layer_in_a_model():
    # a frozen encoder (transfer learning): its backward passes dx on and computes no weight gradient
    rng = np.random.default_rng(9)
    x = rng.standard_normal((16, 5, 3)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    encoder = LSTM(4, return_sequences=True)
    model = Sequential([Input((5, 3)), Dense(3), encoder, GRU(2), Dense(1)])
    encoder.trainable = False
    model.compile("adam", "mse")
    before = [w.copy() for w in encoder.get_weights()]
    first = model.layers[0].get_weights()[0].copy()
    model.fit(x, y, epochs=2, verbose=0)
    for w, b in zip(encoder.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    assert encoder._gradients == [] and not np.array_equal(first, model.layers[0].get_weights()[0])


def test_stateful_layer_called_on_data_takes_its_batch_size():
    """keras.io "Working with RNNs", cross-batch statefulness: a stateful LSTM called on arrays
    carries its states from one call to the next; reset_states starts again from zeros."""
    from fastnn import layers as L

    rng = np.random.default_rng(0)
    paragraphs = [rng.random((20, 10, 50), dtype=np.float32) for _ in range(3)]
    lstm_layer = L.LSTM(64, stateful=True)
    outputs = [lstm_layer(p) for p in paragraphs]
    assert outputs[0].shape == (20, 64)
    plain = L.LSTM(64)
    plain.build((None, 10, 50))
    plain.set_weights(lstm_layer.get_weights())
    whole = plain(np.concatenate(paragraphs, axis=1))  # one long sequence = the three calls carried over
    np.testing.assert_allclose(outputs[-1], whole, rtol=1e-4, atol=1e-5)
    lstm_layer.reset_states()
    np.testing.assert_allclose(lstm_layer(paragraphs[0]), plain(paragraphs[0]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="stateful with batches of 20 samples"):
        lstm_layer(paragraphs[0][:5])
