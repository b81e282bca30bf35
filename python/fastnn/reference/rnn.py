"""Reference recurrent layers (Keras 3 equations): SimpleRNN, LSTM and GRU over whole sequences,
forward and backward through time.

Sequences are batch-first at the API: x (N, T, C), h_seq (N, T, OC). Weights are in Keras's
layouts: kernel w (C, G*OC), recurrent kernel u (OC, G*OC), bias (G*OC,) — or (2, 3*OC) for a GRU
with reset_after=True (row 0 input bias, row 1 recurrent bias). Gate order: LSTM i, f, c, o; GRU
z, r, h. With go_backwards the input is read from the last step to the first and h_seq is in that
processing order (as Keras returns it).

The forward pass returns an opaque ``cache`` for backward: one flat array, time-major in
processing order, laid out exactly as the C++ kernels lay it out (so either backend's backward
can consume either backend's cache). Every cache opens with a 16-value header recording how the
forward ran (see _header: a backward given another forward's cache is refused); then every cell's
cache has
    Z (T+1, N, OC+1+C), row (s, n) = [h_s | 1 | x_s]: h_0 = h0, h_{s+1} = the state after step s,
      x_s the input step s reads (zeros in row block T) — so Z^T dG gives du, db and dw at once;
then
    LSTM       Cs (T+1, N, OC) cell states, G (T, N, 4*OC) activated gates [i f g o],
               A (T, N, OC) = activation(c)
    GRU        G (T, N, 3*OC) activated gates [z r hh], and E (T, N, OC):
               reset_after: the recurrent candidate part h_prev @ u_h + b_rh (before the reset),
               otherwise r * h_prev (the input of the candidate's recurrent product)
"""

from __future__ import annotations

import numpy as np

from ._common import ACTIVATIONS, as_float, check_activation, check_flag, compute_dtype, require_ndim
from .activations import _backward, _forward

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def _check_act(activation, op, arg="activation"):
    check_activation(activation, None, op, arg)
    if activation == "softmax":
        raise ValueError(f"{op}: {arg} must be elementwise; softmax is not supported in a recurrent cell. "
                         f"Received: {arg}={activation!r}")


def _act(z, activation):
    return _forward(z, activation, check_activation(activation, None, ""))


def _dact(dy, y, activation):
    return _backward(dy, y, activation, check_activation(activation, None, ""))


def _weights(x, w, u, G, dtype, op):
    """Check x (N, T, C), w (C, G*OC), u (OC, G*OC); return them as arrays and (N, T, C, OC)."""
    x = as_float(x, dtype, op, "x")
    w = as_float(w, dtype, op, "w")
    u = as_float(u, dtype, op, "u")
    require_ndim(x, 3, op, "x", "(N, T, C)")
    N, T, C = x.shape
    if T == 0:
        raise ValueError(f"{op}: x must hold at least one time step (T >= 1). Received: x.shape={x.shape}")
    if N == 0:
        raise ValueError(f"{op}: the batch is empty (N = 0). Received: x.shape={x.shape}")
    require_ndim(u, 2, op, "u", f"(OC, {G}*OC)")
    OC = u.shape[0]
    if OC == 0 or u.shape[1] != G * OC:
        raise ValueError(f"{op}: u must be (OC, {G}*OC) with OC >= 1 (the recurrent kernel). "
                         f"Received: u.shape={u.shape}")
    require_ndim(w, 2, op, "w", f"(C, {G}*OC)")
    if w.shape != (C, G * OC):
        raise ValueError(f"{op}: w must be (C, {G}*OC) = {(C, G * OC)} to match x and u. Received: w.shape={w.shape}")
    return x, w, u, (N, T, C, OC)


def _bias(b, shape, dtype, op):
    if b is None:
        return None
    b = as_float(b, dtype, op, "b")
    if b.shape != shape:
        raise ValueError(f"{op}: b must have shape {shape}. Received: b.shape={b.shape}")
    return b


def _state(s, N, OC, dtype, op, arg):
    if s is None:
        return np.zeros((N, OC), dtype)
    s = as_float(s, dtype, op, arg)
    if s.shape != (N, OC):
        raise ValueError(f"{op}: {arg} must be (N, OC) = {(N, OC)}. Received: {arg}.shape={s.shape}")
    return s


def _recurrent_mask(mask, N, OC, dtype, op, per_gate=False):
    """Recurrent dropout's (N, OC) mask, or (3, N, OC) for a GRU (one per gate; finite, >= 0); or 1
    (no dropout: one 1 per gate for a GRU)."""
    if mask is None:
        one = np.dtype(dtype).type(1)
        return (one, one, one) if per_gate else one
    m = as_float(mask, dtype, op, "recurrent_mask")
    want, name = ((3, N, OC), "(3, N, OC)") if per_gate else ((N, OC), "(N, OC)")
    if m.shape != want:
        raise ValueError(f"{op}: recurrent_mask must be {name} = {want}. Received: recurrent_mask.shape={m.shape}")
    if not np.all(np.isfinite(m) & (m >= 0)):
        raise ValueError(f"{op}: recurrent_mask must hold finite values >= 0 (0 drops a unit, 1/(1 - rate) keeps it)")
    return m


def _step_mask(mask, N, T, go_backwards, op):
    """Keras's time-step mask (N, T) as (T, N, 1) booleans in processing order, or None."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype.kind not in "biu":
        raise TypeError(f"{op}: mask must be a boolean array of shape (N, T) (True keeps a time step). "
                        f"Received: dtype={m.dtype}")
    if m.shape != (N, T):
        raise ValueError(f"{op}: mask must be (N, T) = {(N, T)} to match x. Received: mask.shape={m.shape}")
    return _time_major(m.astype(bool)[:, :, None], go_backwards)


def _time_major(x, go_backwards):
    """(N, T, C) -> (T, N, C) in processing order."""
    xt = np.swapaxes(x, 0, 1)
    return np.ascontiguousarray(xt[::-1] if go_backwards else xt)


def _batch_major(xt, go_backwards):
    """Inverse of _time_major."""
    return np.ascontiguousarray(np.swapaxes(xt[::-1] if go_backwards else xt, 0, 1))


def _cache_shapes(cell, N, T, C, OC):
    z = [(T + 1, N, OC + 1 + C)]
    return z + {"simple_rnn": [], "lstm": [(T + 1, N, OC), (T, N, 4 * OC), (T, N, OC)],
                "gru": [(T, N, 3 * OC), (T, N, OC)]}[cell]


# The cache opens with a header recording how the forward pass ran (cpp/bindings/bind_rnn.cpp
# writes the same values), so a backward handed another forward's cache is refused:
#   [tag, cell, N, T, C, OC, activation, recurrent activation (-1: none), go_backwards,
#    reset_after, recurrent mask given, step mask given (2 from C++ when it sorts the rows by it:
#    that cache is in another row order), the step mask's fingerprint (_fingerprint) in two 16-bit
#    halves, 0 ...], 16 values.
_HEADER = 16
_TAG = 8191.0
_CELLS = ("simple_rnn", "lstm", "gru")
_FIELDS = (None, "cell", "N", "T", "C", "OC", "activation", "recurrent_activation", "go_backwards", "reset_after",
           "recurrent_mask", "mask")


def _fingerprint(mask):
    """The step mask's fingerprint in the header (as the C++ binding's): the sum of MurmurHash3's
    fmix32(i + 1) over the flat indices i of its kept steps, mod 2^32 (a nonlinear hash: with a
    linear one, kept steps {0, 3} and {1, 2} would share a fingerprint)."""
    if mask is None:
        return 0
    h = (np.flatnonzero(np.asarray(mask).astype(bool)) + 1).astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return int(h.astype(np.uint64).sum(dtype=np.uint64)) & 0xFFFFFFFF


def _header(cell, N, T, C, OC, activation, recurrent_activation, go_backwards, reset_after, masked, step_mask):
    h = np.zeros(_HEADER)
    f = _fingerprint(step_mask)
    h[:14] = [_TAG, _CELLS.index(cell), N, T, C, OC, ACTIVATIONS.index(activation),
              -1 if recurrent_activation is None else ACTIVATIONS.index(recurrent_activation), bool(go_backwards),
              bool(reset_after) and cell == "gru", bool(masked), step_mask is not None, f & 0xFFFF, f >> 16]
    return h.astype(np.float32)  # the values the C++ cache holds, whatever the dtype


def _describe(i, v):
    # a damaged cache may hold any float (NaN, inf, 1e30): as describe in cpp/bindings/bind_rnn.cpp
    if i == 1:
        return _CELLS[int(v)] if v in (0, 1, 2) else "?"
    if i in (6, 7):
        return "none" if v < 0 else repr(ACTIVATIONS[int(v)]) if v in range(len(ACTIVATIONS)) else "'?'"
    if i == 11 and v == 2:  # the C++ kernels sort the rows by a padding-like mask (cpp/rnn.cpp)
        return "given (rows sorted by it: the C++ kernels' cache)"
    if i >= 10:
        return "given" if v else "None"
    if i >= 8:
        return str(bool(v))
    return str(int(v)) if abs(v) < 9.2e18 else repr(float(v))


def cache_size(cell, N, T, C, OC):
    """Floats in the forward cache of ``cell`` ("simple_rnn", "lstm" or "gru"), header included."""
    return _HEADER + sum(int(np.prod(shape)) for shape in _cache_shapes(cell, N, T, C, OC))


def _new_z(xt, h0, OC, dtype):
    """Z (T+1, N, OC+1+C) with h0, the ones column and the time-major input filled in."""
    T, N, C = xt.shape
    Z = np.zeros((T + 1, N, OC + 1 + C), dtype)
    Z[0, :, :OC] = h0
    Z[:, :, OC] = 1
    Z[:T, :, OC + 1:] = xt
    return Z


def _split_cache(cache, header, dtype, op):
    """The parts of a forward's cache, after checking it was made by a forward like this one
    (``header``: _header of this backward's own shapes and arguments)."""
    cell, N, T, C, OC = _CELLS[int(header[1])], *(int(v) for v in header[2:6])
    cache = as_float(cache, dtype, op, "cache").reshape(-1)
    want = cache_size(cell, N, T, C, OC)
    if cache.size != want:
        raise ValueError(f"{op}: cache must be the forward pass's cache of {want} values for N={N}, T={T}, "
                         f"C={C}, OC={OC}. Received: cache.size={cache.size}")
    there = cache[:_HEADER].astype(np.float32)
    if there[0] != _TAG:
        raise ValueError(f"{op}: cache is not a recurrent forward pass's cache (its header is missing)")
    for i in range(1, 12):
        if there[i] != header[i]:
            raise ValueError(f"{op}: cache comes from a different forward pass: {_FIELDS[i]} was "
                             f"{_describe(i, there[i])} there, {_describe(i, header[i])} here (a backward must get "
                             "its own forward's cache and arguments)")
    if there[12] != header[12] or there[13] != header[13]:
        raise ValueError(f"{op}: mask is not the one the forward pass ran with (a backward must get its own "
                         "forward's mask)")
    parts, off = [], _HEADER
    shapes = _cache_shapes(cell, N, T, C, OC)
    for shape in shapes:
        n = int(np.prod(shape))
        parts.append(cache[off:off + n].reshape(shape))
        off += n
    return parts


def _pack(header, *arrays):
    return np.concatenate([header.astype(arrays[0].dtype)] + [a.reshape(-1) for a in arrays])


def _seq_grads(dh_seq, dh_last, N, T, OC, dtype, op):
    """The upstream gradients, time-major in processing order: dH (T, N, OC) (zeros if None)."""
    dH = np.zeros((T, N, OC), dtype)
    if dh_seq is not None:
        d = as_float(dh_seq, dtype, op, "dh_seq")
        if d.shape != (N, T, OC):
            raise ValueError(f"{op}: dh_seq must be (N, T, OC) = {(N, T, OC)}. Received: dh_seq.shape={d.shape}")
        dH += np.swapaxes(d, 0, 1)
    if dh_last is not None:
        dH[T - 1] += _state(dh_last, N, OC, dtype, op, "dh_last")
    return dH


def _weight_grads(need_dw, dw, du, db):
    """(dw, du, db), or three Nones for a frozen layer (need_dw False)."""
    return (dw, du, db) if need_dw else (None, None, None)


def _param_grads(x, w, dP, H_prev, dQ, go_backwards, use_bias, need_dx):
    """Whole-sequence GEMMs: dw = X^T dP, du = H_prev^T dQ, dx = dP w^T (back to (N, T, C))."""
    T, N, C = x.shape[1], x.shape[0], x.shape[2]
    xt = _time_major(x, go_backwards).reshape(T * N, C)
    dP2 = dP.reshape(T * N, -1)
    dw = xt.T @ dP2
    du = H_prev.reshape(T * N, -1).T @ dQ.reshape(T * N, -1)
    dx = _batch_major((dP2 @ w.T).reshape(T, N, C), go_backwards) if need_dx else None
    db = dP2.sum(axis=0) if use_bias else None
    return dx, dw, du, db


# ---- SimpleRNN: h_t = act(x_t w + b + h_{t-1} u) ---------------------------------------------


def simple_rnn_forward(x, w, u, b=None, h0=None, *, activation="tanh", go_backwards=False, return_sequences=True,
                       recurrent_mask=None, mask=None):
    op = "simple_rnn_forward"
    go_backwards = check_flag(go_backwards, op, "go_backwards")
    return_sequences = check_flag(return_sequences, op, "return_sequences")
    _check_act(activation, op)
    dtype = compute_dtype(x, w, u, b, h0)
    x, w, u, (N, T, C, OC) = _weights(x, w, u, 1, dtype, op)
    b = _bias(b, (OC,), dtype, op)
    m = _recurrent_mask(recurrent_mask, N, OC, dtype, op)
    M = _step_mask(mask, N, T, go_backwards, op)
    xt = _time_major(x, go_backwards)
    Z = _new_z(xt, _state(h0, N, OC, dtype, op, "h0"), OC, dtype)
    H = Z[:, :, :OC]
    P = xt @ w
    if b is not None:
        P += b
    for s in range(T):
        H[s + 1] = _act(P[s] + (H[s] * m) @ u, activation)
        if M is not None:  # a masked step keeps the state
            H[s + 1] = np.where(M[s], H[s + 1], H[s])
    h_seq = np.ascontiguousarray(np.swapaxes(H[1:], 0, 1)) if return_sequences else None
    header = _header("simple_rnn", N, T, C, OC, activation, None, go_backwards, False, recurrent_mask is not None,
                     mask)
    return h_seq, H[T].copy(), _pack(header, Z)


def simple_rnn_backward(dh_seq, dh_last, x, w, u, cache, *, activation="tanh", go_backwards=False, use_bias=True,
                        need_dx=True, need_dw=True, recurrent_mask=None, mask=None):
    op = "simple_rnn_backward"
    go_backwards = check_flag(go_backwards, op, "go_backwards")
    use_bias = check_flag(use_bias, op, "use_bias")
    need_dx = check_flag(need_dx, op, "need_dx")
    need_dw = check_flag(need_dw, op, "need_dw")
    _check_act(activation, op)
    dtype = compute_dtype(dh_seq, dh_last, x, w, u, cache)
    x, w, u, (N, T, C, OC) = _weights(x, w, u, 1, dtype, op)
    m = _recurrent_mask(recurrent_mask, N, OC, dtype, op)
    M = _step_mask(mask, N, T, go_backwards, op)
    (Z,) = _split_cache(cache, _header("simple_rnn", N, T, C, OC, activation, None, go_backwards, False,
                                       recurrent_mask is not None, mask), dtype, op)
    H = Z[:, :, :OC]
    dH = _seq_grads(dh_seq, dh_last, N, T, OC, dtype, op)
    dA = np.empty((T, N, OC), dtype)
    dh = np.zeros((N, OC), dtype)
    for s in reversed(range(T)):
        d = dh + dH[s]
        dA[s] = _dact(d, H[s + 1], activation)
        if M is not None:  # a masked step: no gradient into its cell, d passes to the step before
            dA[s] = np.where(M[s], dA[s], 0)
        dh = (dA[s] @ u.T) * m
        if M is not None:
            dh = np.where(M[s], dh, d)
    dx, dw, du, db = _param_grads(x, w, dA, H[:T] * m, dA, go_backwards, use_bias, need_dx)
    return (dx, *_weight_grads(need_dw, dw, du, db), dh)


# ---- LSTM: gates i, f, c, o; c_t = f c_{t-1} + i g; h_t = o act(c_t) ----------------------------


def lstm_forward(x, w, u, b=None, h0=None, c0=None, *, activation="tanh", recurrent_activation="sigmoid",
                 go_backwards=False, return_sequences=True, recurrent_mask=None, mask=None):
    op = "lstm_forward"
    go_backwards = check_flag(go_backwards, op, "go_backwards")
    return_sequences = check_flag(return_sequences, op, "return_sequences")
    _check_act(activation, op)
    _check_act(recurrent_activation, op, "recurrent_activation")
    dtype = compute_dtype(x, w, u, b, h0, c0)
    x, w, u, (N, T, C, OC) = _weights(x, w, u, 4, dtype, op)
    b = _bias(b, (4 * OC,), dtype, op)
    m = _recurrent_mask(recurrent_mask, N, OC, dtype, op)
    M = _step_mask(mask, N, T, go_backwards, op)
    xt = _time_major(x, go_backwards)
    Z = _new_z(xt, _state(h0, N, OC, dtype, op, "h0"), OC, dtype)
    H = Z[:, :, :OC]
    Cs = np.empty((T + 1, N, OC), dtype)
    Cs[0] = _state(c0, N, OC, dtype, op, "c0")
    G = xt @ w
    if b is not None:
        G += b
    A = np.empty((T, N, OC), dtype)
    for s in range(T):
        G[s], Cs[s + 1], A[s], H[s + 1] = _lstm_cell(G[s] + (H[s] * m) @ u, Cs[s], activation, recurrent_activation)
        if M is not None:  # a masked step keeps both states
            H[s + 1] = np.where(M[s], H[s + 1], H[s])
            Cs[s + 1] = np.where(M[s], Cs[s + 1], Cs[s])
    h_seq = np.ascontiguousarray(np.swapaxes(H[1:], 0, 1)) if return_sequences else None
    header = _header("lstm", N, T, C, OC, activation, recurrent_activation, go_backwards, False,
                     recurrent_mask is not None, mask)
    return h_seq, H[T].copy(), Cs[T].copy(), _pack(header, Z, Cs, G, A)


def lstm_backward(dh_seq, dh_last, dc_last, x, w, u, cache, *, activation="tanh", recurrent_activation="sigmoid",
                  go_backwards=False, use_bias=True, need_dx=True, need_dw=True, recurrent_mask=None, mask=None):
    op = "lstm_backward"
    go_backwards = check_flag(go_backwards, op, "go_backwards")
    use_bias = check_flag(use_bias, op, "use_bias")
    need_dx = check_flag(need_dx, op, "need_dx")
    need_dw = check_flag(need_dw, op, "need_dw")
    _check_act(activation, op)
    _check_act(recurrent_activation, op, "recurrent_activation")
    dtype = compute_dtype(dh_seq, dh_last, dc_last, x, w, u, cache)
    x, w, u, (N, T, C, OC) = _weights(x, w, u, 4, dtype, op)
    m = _recurrent_mask(recurrent_mask, N, OC, dtype, op)
    M = _step_mask(mask, N, T, go_backwards, op)
    Z, Cs, G, A = _split_cache(cache, _header("lstm", N, T, C, OC, activation, recurrent_activation, go_backwards,
                                              False, recurrent_mask is not None, mask), dtype, op)
    H = Z[:, :, :OC]
    dH = _seq_grads(dh_seq, dh_last, N, T, OC, dtype, op)
    dc = _state(dc_last, N, OC, dtype, op, "dc_last").copy()
    dG = np.empty((T, N, 4 * OC), dtype)
    dh = np.zeros((N, OC), dtype)
    for s in reversed(range(T)):
        dh = dh + dH[s]
        dc_in = dc
        dG[s], dc = _lstm_cell_grads(dh, dc, G[s], A[s], Cs[s], activation, recurrent_activation)
        if M is None:
            dh = (dG[s] @ u.T) * m
            continue
        # a masked step: no gradient into its cell, dh and dc pass to the step before
        dG[s] = np.where(M[s], dG[s], 0)
        dc = np.where(M[s], dc, dc_in)
        dh = np.where(M[s], (dG[s] @ u.T) * m, dh)
    dx, dw, du, db = _param_grads(x, w, dG, H[:T] * m, dG, go_backwards, use_bias, need_dx)
    return (dx, *_weight_grads(need_dw, dw, du, db), dh, dc)


# ---- One LSTM cell step over independent rows (ConvLSTM's pixels) -------------------------------


def _cell_shapes(op, c_prev, **blocks):
    """Check c_prev (..., OC), OC >= 1, and each named array (..., k*OC) with c_prev's leading axes
    (k given per name); return OC."""
    if c_prev.ndim == 0 or c_prev.shape[-1] == 0:
        raise ValueError(f"{op}: c_prev must be (..., OC) with OC >= 1. Received: c_prev.shape={c_prev.shape}")
    OC = c_prev.shape[-1]
    for name, (a, k) in blocks.items():
        want = c_prev.shape[:-1] + (k * OC,)
        if a.shape != want:
            layout = "(..., OC)" if k == 1 else f"(..., {k}*OC)"
            raise ValueError(f"{op}: {name} must be {layout} = {want} to match c_prev {c_prev.shape}. "
                             f"Received: {name}.shape={a.shape}")
    return OC


def _lstm_cell(z, c_prev, activation, recurrent_activation):
    """(gates [i f g o] activated, c, a = activation(c), h = o * a) of one step from z = the gates'
    pre-activations (..., 4*OC)."""
    OC = c_prev.shape[-1]
    i = _act(z[..., :OC], recurrent_activation)
    f = _act(z[..., OC:2 * OC], recurrent_activation)
    g = _act(z[..., 2 * OC:3 * OC], activation)
    o = _act(z[..., 3 * OC:], recurrent_activation)
    c = f * c_prev + i * g
    a = _act(c, activation)
    return np.concatenate([i, f, g, o], axis=-1), c, a, o * a


def _lstm_cell_grads(dh, dc, gates, a, c_prev, activation, recurrent_activation):
    """(dz, dc_prev) of `_lstm_cell` from dh, dc reaching h and c."""
    OC = c_prev.shape[-1]
    i, f, g, o = (gates[..., k * OC:(k + 1) * OC] for k in range(4))
    dc = dc + _dact(dh * o, a, activation)
    dz = np.concatenate([_dact(dc * g, i, recurrent_activation), _dact(dc * c_prev, f, recurrent_activation),
                         _dact(dc * i, g, activation), _dact(dh * a, o, recurrent_activation)], axis=-1)
    return dz, dc * f


def lstm_cell_forward(z, c_prev, *, activation="tanh", recurrent_activation="sigmoid"):
    op = "lstm_cell_forward"
    _check_act(activation, op)
    _check_act(recurrent_activation, op, "recurrent_activation")
    dtype = compute_dtype(z, c_prev)
    z, c_prev = as_float(z, dtype, op, "z"), as_float(c_prev, dtype, op, "c_prev")
    _cell_shapes(op, c_prev, z=(z, 4))
    return _lstm_cell(z, c_prev, activation, recurrent_activation)


def lstm_cell_backward(dh, dc, gates, a, c_prev, *, activation="tanh", recurrent_activation="sigmoid"):
    op = "lstm_cell_backward"
    _check_act(activation, op)
    _check_act(recurrent_activation, op, "recurrent_activation")
    dtype = compute_dtype(dh, dc, gates, a, c_prev)
    dh, gates = as_float(dh, dtype, op, "dh"), as_float(gates, dtype, op, "gates")
    a, c_prev = as_float(a, dtype, op, "a"), as_float(c_prev, dtype, op, "c_prev")
    dc = np.zeros_like(c_prev) if dc is None else as_float(dc, dtype, op, "dc")
    _cell_shapes(op, c_prev, dh=(dh, 1), dc=(dc, 1), gates=(gates, 4), a=(a, 1))
    return _lstm_cell_grads(dh, dc, gates, a, c_prev, activation, recurrent_activation)


# ---- GRU: gates z, r, h; h_t = z h_{t-1} + (1 - z) hh -------------------------------------------


def gru_forward(x, w, u, b=None, h0=None, *, reset_after=True, activation="tanh", recurrent_activation="sigmoid",
                go_backwards=False, return_sequences=True, recurrent_mask=None, mask=None):
    op = "gru_forward"
    reset_after = check_flag(reset_after, op, "reset_after")
    go_backwards = check_flag(go_backwards, op, "go_backwards")
    return_sequences = check_flag(return_sequences, op, "return_sequences")
    _check_act(activation, op)
    _check_act(recurrent_activation, op, "recurrent_activation")
    dtype = compute_dtype(x, w, u, b, h0)
    x, w, u, (N, T, C, OC) = _weights(x, w, u, 3, dtype, op)
    b = _bias(b, (2, 3 * OC) if reset_after else (3 * OC,), dtype, op)
    mz, mr, mh = _recurrent_mask(recurrent_mask, N, OC, dtype, op, per_gate=True)
    M = _step_mask(mask, N, T, go_backwards, op)
    uz, ur, uh = (u[:, k * OC:(k + 1) * OC] for k in range(3))
    b_in, b_rec = (None, None) if b is None else ((b[0], b[1]) if reset_after else (b, None))
    xt = _time_major(x, go_backwards)
    Z = _new_z(xt, _state(h0, N, OC, dtype, op, "h0"), OC, dtype)
    H = Z[:, :, :OC]
    G = xt @ w
    if b_in is not None:
        G += b_in
    E = np.empty((T, N, OC), dtype)
    for s in range(T):
        hp = H[s]
        if reset_after:
            q = np.concatenate([(hp * mz) @ uz, (hp * mr) @ ur, (hp * mh) @ uh], axis=1)
            if b_rec is not None:
                q += b_rec
        else:
            q = np.concatenate([(hp * mz) @ uz, (hp * mr) @ ur], axis=1)
        z = _act(G[s][:, :OC] + q[:, :OC], recurrent_activation)
        r = _act(G[s][:, OC:2 * OC] + q[:, OC:2 * OC], recurrent_activation)
        if reset_after:
            E[s] = q[:, 2 * OC:]
            hh = _act(G[s][:, 2 * OC:] + r * E[s], activation)
        else:
            E[s] = r * (hp * mh)
            hh = _act(G[s][:, 2 * OC:] + E[s] @ uh, activation)
        H[s + 1] = z * hp + (1 - z) * hh
        if M is not None:  # a masked step keeps the state
            H[s + 1] = np.where(M[s], H[s + 1], hp)
        G[s] = np.concatenate([z, r, hh], axis=1)
    h_seq = np.ascontiguousarray(np.swapaxes(H[1:], 0, 1)) if return_sequences else None
    header = _header("gru", N, T, C, OC, activation, recurrent_activation, go_backwards, reset_after,
                     recurrent_mask is not None, mask)
    return h_seq, H[T].copy(), _pack(header, Z, G, E)


def gru_backward(dh_seq, dh_last, x, w, u, cache, *, reset_after=True, activation="tanh",
                 recurrent_activation="sigmoid", go_backwards=False, use_bias=True, need_dx=True, need_dw=True,
                 recurrent_mask=None, mask=None):
    op = "gru_backward"
    reset_after = check_flag(reset_after, op, "reset_after")
    go_backwards = check_flag(go_backwards, op, "go_backwards")
    use_bias = check_flag(use_bias, op, "use_bias")
    need_dx = check_flag(need_dx, op, "need_dx")
    need_dw = check_flag(need_dw, op, "need_dw")
    _check_act(activation, op)
    _check_act(recurrent_activation, op, "recurrent_activation")
    dtype = compute_dtype(dh_seq, dh_last, x, w, u, cache)
    x, w, u, (N, T, C, OC) = _weights(x, w, u, 3, dtype, op)
    masks = _recurrent_mask(recurrent_mask, N, OC, dtype, op, per_gate=True)
    mz, mr, mh = masks
    M = _step_mask(mask, N, T, go_backwards, op)
    uz, ur, uh = (u[:, k * OC:(k + 1) * OC] for k in range(3))
    Z, G, E = _split_cache(cache, _header("gru", N, T, C, OC, activation, recurrent_activation, go_backwards,
                                          reset_after, recurrent_mask is not None, mask), dtype, op)
    H = Z[:, :, :OC]
    dH = _seq_grads(dh_seq, dh_last, N, T, OC, dtype, op)
    dP = np.empty((T, N, 3 * OC), dtype)  # gradient of the input projection x w + b_in
    dQ = np.empty((T, N, 3 * OC), dtype)  # reset_after: of h_prev u + b_rec; else unused
    dh = np.zeros((N, OC), dtype)
    for s in reversed(range(T)):
        z, r, hh = (G[s][:, k * OC:(k + 1) * OC] for k in range(3))
        hp = H[s]
        dh = dh + dH[s]
        dhh = _dact(dh * (1 - z), hh, activation)
        dz = _dact(dh * (hp - hh), z, recurrent_activation)
        dhp = dh * z
        if reset_after:
            dr = _dact(dhh * E[s], r, recurrent_activation)
            dQ[s] = np.concatenate([dz, dr, dhh * r], axis=1)
            dhp = dhp + (dz @ uz.T) * mz + (dr @ ur.T) * mr + ((dhh * r) @ uh.T) * mh
        else:
            drh = (dhh @ uh.T) * mh  # the gradient of r * h_prev where e = r * (h_prev * mh)
            dr = _dact(drh * hp, r, recurrent_activation)
            dhp = dhp + drh * r + (dz @ uz.T) * mz + (dr @ ur.T) * mr
        dP[s] = np.concatenate([dz, dr, dhh], axis=1)
        if M is not None:  # a masked step: no gradient into its cell, dh passes to the step before
            dP[s] = np.where(M[s], dP[s], 0)
            if reset_after:
                dQ[s] = np.where(M[s], dQ[s], 0)
            dhp = np.where(M[s], dhp, dh)
        dh = dhp
    # du's gate blocks: (h_prev * m_k)^T dG_k, for the candidate of reset-before E^T dhh
    Hm = [(H[:T] * m).reshape(T * N, OC) for m in masks]
    dx, dw, _, db = _param_grads(x, w, dP, H[:T], dP, go_backwards, use_bias, need_dx)
    dP2 = dP.reshape(T * N, 3 * OC)
    if reset_after:
        dQ2 = dQ.reshape(T * N, 3 * OC)
        du = np.concatenate([Hm[k].T @ dQ2[:, k * OC:(k + 1) * OC] for k in range(3)], axis=1)
        if use_bias:
            db = np.stack([db, dQ2.sum(axis=0)])
    else:
        du = np.concatenate([Hm[0].T @ dP2[:, :OC], Hm[1].T @ dP2[:, OC:2 * OC],
                             E.reshape(T * N, OC).T @ dP2[:, 2 * OC:]], axis=1)
    return (dx, *_weight_grads(need_dw, dw, du, db), dh)
