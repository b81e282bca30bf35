"""Reference GEMM: NumPy's matmul with the same arguments and checks as ``fastnn.ops``."""

from __future__ import annotations

import numpy as np

from ._common import as_float, check_flag, check_int, check_number, compute_dtype, require_ndim


def _operand(x, trans, dtype, op, arg):
    a = as_float(x, dtype, op, arg)
    require_ndim(a, 2, op, arg, "(rows, cols)")
    return a.T if trans else a


def _check_inner(a, b, op, a_shape, b_shape):
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"{op}: the inner dimensions must agree (op(a) is M×K, op(b) is K×N). "
            f"Received: a.shape={a_shape}, b.shape={b_shape} (K={a.shape[1]} vs {b.shape[0]})"
        )


def matmul(a, b):
    dtype = compute_dtype(a, b)
    A, B = _operand(a, False, dtype, "matmul", "a"), _operand(b, False, dtype, "matmul", "b")
    _check_inner(A, B, "matmul", A.shape, B.shape)
    return A @ B


def gemm(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    trans_a = check_flag(trans_a, "gemm", "trans_a")
    trans_b = check_flag(trans_b, "gemm", "trans_b")
    alpha = check_number(alpha, "gemm", "alpha")
    beta = check_number(beta, "gemm", "beta")
    dtype = compute_dtype(a, b, c)
    A, B = _operand(a, trans_a, dtype, "gemm", "a"), _operand(b, trans_b, dtype, "gemm", "b")
    _check_inner(A, B, "gemm", np.shape(a), np.shape(b))
    product = alpha * (A @ B)
    if c is None:
        return product.astype(dtype, copy=False)
    if not isinstance(c, np.ndarray) or c.dtype.kind != "f":
        raise TypeError(f"gemm: c is written in place and must be a float ndarray. Received: {type(c).__name__}")
    if c.shape != product.shape:
        raise ValueError(f"gemm: c must have shape {product.shape}. Received: c.shape={c.shape}")
    if beta == 0:
        c[...] = product
    else:
        c[...] = product + beta * c
    return c


def batched_matmul(a, b, *, trans_a=False, trans_b=False):
    op = "batched_matmul"
    trans_a = check_flag(trans_a, op, "trans_a")
    trans_b = check_flag(trans_b, op, "trans_b")
    dtype = compute_dtype(a, b)
    A, B = as_float(a, dtype, op, "a"), as_float(b, dtype, op, "b")
    if A.ndim < 3:
        raise ValueError(f"{op}: a must be (..., rows, cols) with at least one batch axis. Received: a.shape={A.shape}")
    lead = A.shape[:-2]
    if B.ndim != 2 and B.shape[:-2] != lead:
        raise ValueError(f"{op}: b must have a's batch axes {lead} (or be 2-D, one matrix for every item). "
                         f"Received: a.shape={A.shape}, b.shape={B.shape}")
    A = np.swapaxes(A, -1, -2) if trans_a else A
    B = np.swapaxes(B, -1, -2) if trans_b else B
    if A.shape[-1] != B.shape[-2]:
        raise ValueError(f"{op}: the inner dimensions must agree (op(a) is (..., M, K), op(b) is (..., K, N)). "
                         f"Received: a.shape={np.shape(a)}, b.shape={np.shape(b)} (K={A.shape[-1]} vs {B.shape[-2]})")
    return np.matmul(A, B).astype(dtype, copy=False)


def attention_forward(q, k, v, *, heads, keep=None, zero_masked=False):
    op = "attention_forward"
    H = check_int(heads, op, "heads")
    zero_masked = check_flag(zero_masked, op, "zero_masked")
    dtype = compute_dtype(q, k, v)
    q, k, v = (as_float(x, dtype, op, n) for x, n in ((q, "q"), (k, "k"), (v, "v")))
    require_ndim(q, 3, op, "q", "(batch, T, heads·dk)")
    require_ndim(k, 3, op, "k", "(batch, S, heads·dk)")
    require_ndim(v, 3, op, "v", "(batch, S, heads·dv)")
    if H < 1:
        raise ValueError(f"{op}: heads must be >= 1. Received: heads={H}")
    B, T, S = q.shape[0], q.shape[1], k.shape[1]
    if q.shape[2] % H or v.shape[2] % H or q.shape[2] == 0 or v.shape[2] == 0:
        raise ValueError(f"{op}: the last axes of q and v must hold heads={H} equal slices. Received: "
                         f"q.shape={q.shape}, v.shape={v.shape}")
    if k.shape[0] != B or v.shape[0] != B or k.shape[2] != q.shape[2] or v.shape[1] != S:
        raise ValueError(f"{op}: expected k (batch, S, heads·dk) matching q (batch, T, heads·dk) and v "
                         f"(batch, S, heads·dv). Received: q.shape={q.shape}, k.shape={k.shape}, v.shape={v.shape}")
    if B > 0 and (T == 0 or S == 0):
        raise ValueError(f"{op}: query and key need at least one step. Received: q.shape={q.shape}, k.shape={k.shape}")
    if keep is not None:
        keep = np.asarray(keep)
        if keep.dtype != bool and keep.dtype != np.uint8:
            raise TypeError(f"{op}: keep must be a boolean (or uint8) array. Received: keep.dtype={keep.dtype}")
        if keep.ndim != 4 or keep.shape[0] != B or keep.shape[1] not in (1, H) or keep.shape[2:] != (T, S):
            raise ValueError(f"{op}: keep must be (batch, 1 or heads, T, S) = ({B}, 1 or {H}, {T}, {S}). "
                             f"Received: keep.shape={keep.shape}")
        keep = keep.astype(bool)
    dk, dv = q.shape[2] // H, v.shape[2] // H

    def heads_first(x, d):  # (B, steps, H·d) -> (B, H, steps, d)
        return x.reshape(x.shape[0], x.shape[1], H, d).transpose(0, 2, 1, 3)

    scores = np.matmul(heads_first(q, dk), heads_first(k, dk).transpose(0, 1, 3, 2))  # (B, H, T, S)
    if keep is not None:
        scores = np.where(keep, scores, dtype(-1e9))
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs = e / e.sum(axis=-1, keepdims=True)
    if keep is not None and zero_masked:
        probs = probs * keep
    out = np.matmul(probs, heads_first(v, dv))  # (B, H, T, dv)
    return out.transpose(0, 2, 1, 3).reshape(B, T, H * dv).astype(dtype, copy=False)
