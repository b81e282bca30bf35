"""Reference GEMM: NumPy's matmul with the same arguments and checks as ``fastnn.ops``."""

from __future__ import annotations

import numpy as np

from ._common import as_float, check_flag, check_number, compute_dtype, require_ndim


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
