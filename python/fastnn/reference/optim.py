"""Reference optimizer steps with Keras 3's update rules (see ops.sgd_update and friends).

Each op updates lists of parameters and state slots in place, tensor by tensor, in the
parameters' dtype (float32 like the C++ kernels, or float64). Scalar coefficients are formed the
way the C++ kernels form them (hyper-parameters rounded to the dtype, Adam's bias-corrected step
size in double), so float32 results agree with the C++ ones to the last bit or two.
"""

from __future__ import annotations

import math

import numpy as np

from ._common import as_float, check_flag, check_int, check_number, require_disjoint


def _as_list(obj, op, arg):
    if not isinstance(obj, (list, tuple)):
        raise TypeError(f"{op}: {arg} must be a list of arrays (one per parameter). Received: {type(obj).__name__}")
    return obj


def _inout(a, op, name, shape=None, dtype=None):
    """An array updated in place: a float32/float64 ndarray, C-contiguous, writeable, of `shape`."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{op}: {name} is written in place and must be a float32 ndarray. Received: {type(a).__name__}")
    if a.dtype not in (np.float32, np.float64) or (dtype is not None and a.dtype != dtype):
        want = "float32" if dtype is None else np.dtype(dtype).name
        raise TypeError(f"{op}: {name} is written in place and must be {want}. Received: {name}.dtype={a.dtype}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{op}: {name} is written in place and must be C-contiguous. Received: a non-contiguous "
                         f"or Fortran-order view of shape {a.shape} (pass np.ascontiguousarray(...) and use the "
                         "returned array)")
    if not a.flags.writeable:
        raise ValueError(f"{op}: {name} is written in place but is read-only")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{op}: {name} must have shape {shape}. Received: {name}.shape={a.shape}")
    return a if type(a) is np.ndarray else a.view(np.ndarray)  # (a layer's weight: the same memory, NumPy's own ops)


class _Update:
    """The checked lists of one update call (mirrors cpp/bindings/bind_optim.cpp)."""

    def __init__(self, op, params, grads):
        self.op = op
        self.written = []
        self.params = [_inout(p, op, f"params[{i}]") for i, p in enumerate(_as_list(params, op, "params"))]
        self.written += [(p, f"params[{i}]") for i, p in enumerate(self.params)]
        grads = self._same_length(grads, "grads")
        self.grads = []
        for i, (g, p) in enumerate(zip(grads, self.params)):
            g = as_float(g, p.dtype, op, f"grads[{i}]")
            if g.shape != p.shape:
                raise ValueError(f"{op}: grads[{i}] must have params[{i}]'s shape {p.shape}. "
                                 f"Received: grads[{i}].shape={g.shape}")
            self.grads.append(g)

    def _same_length(self, obj, arg):
        obj = _as_list(obj, self.op, arg)
        if len(obj) != len(self.params):
            raise ValueError(f"{self.op}: {arg} must have one entry per parameter (len(params)={len(self.params)}). "
                             f"Received: len({arg})={len(obj)}")
        return obj

    def state(self, obj, arg, required=True, why=""):
        """A state list written in place; None when the configuration does not use it."""
        if not required:
            return [None] * len(self.params)
        if obj is None:
            raise ValueError(f"{self.op}: {arg} is required {why}. Received: {arg}=None")
        obj = self._same_length(obj, arg)
        out = [_inout(s, self.op, f"{arg}[{i}]", p.shape, p.dtype) for i, (s, p) in enumerate(zip(obj, self.params))]
        self.written += [(s, f"{arg}[{i}]") for i, s in enumerate(out)]
        return out

    def check_distinct(self):
        require_disjoint(self.op, self.written, [(g, f"grads[{i}]") for i, g in enumerate(self.grads)])


def _finite(v, op, arg):
    if not math.isfinite(v):
        raise ValueError(f"{op}: {arg} must be a finite number. Received: {arg}={v:g}")
    return v


def _unit(v, op, arg, hi_open=False):
    if not (v >= 0.0 and (v < 1.0 if hi_open else v <= 1.0)):
        raise ValueError(f"{op}: {arg} must be in [0, 1{')' if hi_open else ']'}. Received: {arg}={v:g}")
    # as in C++: the float32 kernels' value must be below 1 too (Adam's 1 - beta_1**step would be 0)
    if hi_open and not np.float32(v) < 1.0:
        raise ValueError(f"{op}: {arg} must be in [0, 1), also in float32 (it rounds to 1). Received: {arg}={v!r}")
    return v


def _epsilon(v, op):
    if not (v >= 0.0 and math.isfinite(v)):
        raise ValueError(f"{op}: epsilon must be a finite number >= 0. Received: epsilon={v:g}")
    return v


def sgd_update(params, grads, velocities=None, *, learning_rate, momentum=0.0, nesterov=False):
    op = "sgd_update"
    learning_rate = check_number(learning_rate, op, "learning_rate")
    momentum = check_number(momentum, op, "momentum")
    nesterov = check_flag(nesterov, op, "nesterov")
    lr = _finite(learning_rate, op, "learning_rate")
    momentum = _unit(momentum, op, "momentum")
    u = _Update(op, params, grads)
    use_v = np.float32(momentum) > 0
    vs = u.state(velocities, "velocities", use_v, "when momentum > 0")
    u.check_distinct()
    for p, g, v in zip(u.params, u.grads, vs):
        dt = p.dtype.type
        if not use_v:
            p -= g * dt(lr)
            continue
        v[...] = v * dt(momentum) - g * dt(lr)
        if nesterov:
            p += v * dt(momentum) - g * dt(lr)
        else:
            p += v


def adagrad_update(params, grads, accumulators, *, learning_rate, epsilon=1e-7):
    op = "adagrad_update"
    learning_rate = check_number(learning_rate, op, "learning_rate")
    epsilon = check_number(epsilon, op, "epsilon")
    lr = _finite(learning_rate, op, "learning_rate")
    eps = _epsilon(epsilon, op)
    u = _Update(op, params, grads)
    accs = u.state(accumulators, "accumulators")
    u.check_distinct()
    for p, g, acc in zip(u.params, u.grads, accs):
        dt = p.dtype.type
        acc += g * g
        p -= (dt(lr) * g) / np.sqrt(acc + dt(eps))


def rmsprop_update(params, grads, velocities, momentums=None, average_grads=None, *, learning_rate, rho=0.9,
                   momentum=0.0, epsilon=1e-7, centered=False):
    op = "rmsprop_update"
    learning_rate = check_number(learning_rate, op, "learning_rate")
    rho = check_number(rho, op, "rho")
    momentum = check_number(momentum, op, "momentum")
    epsilon = check_number(epsilon, op, "epsilon")
    centered = check_flag(centered, op, "centered")
    lr = _finite(learning_rate, op, "learning_rate")
    rho = _unit(rho, op, "rho")
    momentum = _unit(momentum, op, "momentum")
    eps = _epsilon(epsilon, op)
    u = _Update(op, params, grads)
    use_mom = np.float32(momentum) > 0
    vs = u.state(velocities, "velocities")
    moms = u.state(momentums, "momentums", use_mom, "when momentum > 0")
    avgs = u.state(average_grads, "average_grads", centered, "when centered=True")
    u.check_distinct()
    for p, g, v, mom, avg in zip(u.params, u.grads, vs, moms, avgs):
        dt = p.dtype.type
        v[...] = dt(rho) * v + (dt(1) - dt(rho)) * (g * g)
        if centered:
            avg[...] = dt(rho) * avg + (dt(1) - dt(rho)) * g
            increment = (dt(lr) * g) / np.sqrt(v - avg * avg + dt(eps))
        else:
            increment = (dt(lr) * g) / np.sqrt(v + dt(eps))
        if use_mom:
            mom[...] = dt(momentum) * mom + increment
            p -= mom
        else:
            p -= increment


def _step(step, op):
    """step (already an int, from check_int) must be >= 1."""
    if step < 1:
        raise ValueError(f"{op}: step must be >= 1 (Keras's iterations + 1). Received: step={step}")
    # saturated at 2**63 - 1 as in C++ (int_arg): as good as infinite, where math.pow(beta, 10**400) would
    # raise OverflowError converting the step to a float
    return min(step, 2**63 - 1)


def adam_update(params, grads, ms, vs, *, learning_rate, step, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                v_hats=None):
    op = "adam_update"
    learning_rate = check_number(learning_rate, op, "learning_rate")
    step = check_int(step, op, "step")  # the 1-based step count: a float step is a bug
    beta_1 = check_number(beta_1, op, "beta_1")
    beta_2 = check_number(beta_2, op, "beta_2")
    epsilon = check_number(epsilon, op, "epsilon")
    amsgrad = check_flag(amsgrad, op, "amsgrad")
    lr = _finite(learning_rate, op, "learning_rate")
    t = _step(step, op)
    beta_1 = _unit(beta_1, op, "beta_1", hi_open=True)
    beta_2 = _unit(beta_2, op, "beta_2")
    eps = _epsilon(epsilon, op)
    u = _Update(op, params, grads)
    ms = u.state(ms, "ms")
    vs = u.state(vs, "vs")
    vhs = u.state(v_hats, "v_hats", amsgrad, "when amsgrad=True")
    u.check_distinct()
    for p, g, m, v, vh in zip(u.params, u.grads, ms, vs, vhs):
        dt = p.dtype.type
        h = lambda x: float(dt(x))  # noqa: E731 — the hyper-parameter as the kernel sees it
        alpha = dt(h(lr) * math.sqrt(1.0 - math.pow(h(beta_2), t)) / (1.0 - math.pow(h(beta_1), t)))
        m += (g - m) * (dt(1) - dt(beta_1))
        v += (g * g - v) * (dt(1) - dt(beta_2))
        if amsgrad:
            np.maximum(vh, v, out=vh)
            v = vh
        p -= (m * alpha) / (np.sqrt(v) + dt(eps))


def adadelta_update(params, grads, accumulated_grads, accumulated_deltas, *, learning_rate, rho=0.95, epsilon=1e-7):
    op = "adadelta_update"
    lr = _finite(check_number(learning_rate, op, "learning_rate"), op, "learning_rate")
    rho = _unit(check_number(rho, op, "rho"), op, "rho")
    eps = _epsilon(check_number(epsilon, op, "epsilon"), op)
    u = _Update(op, params, grads)
    ags = u.state(accumulated_grads, "accumulated_grads")
    ads = u.state(accumulated_deltas, "accumulated_deltas")
    u.check_distinct()
    for p, g, ag, ad in zip(u.params, u.grads, ags, ads):
        dt = p.dtype.type
        ag[...] = dt(rho) * ag + (dt(1) - dt(rho)) * (g * g)
        delta = -(np.sqrt(ad + dt(eps)) * g) / np.sqrt(ag + dt(eps))
        ad[...] = dt(rho) * ad + (dt(1) - dt(rho)) * (delta * delta)
        p += dt(lr) * delta


def adamax_update(params, grads, ms, us, *, learning_rate, step, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    op = "adamax_update"
    lr = _finite(check_number(learning_rate, op, "learning_rate"), op, "learning_rate")
    t = _step(check_int(step, op, "step"), op)
    beta_1 = _unit(check_number(beta_1, op, "beta_1"), op, "beta_1", hi_open=True)
    beta_2 = _unit(check_number(beta_2, op, "beta_2"), op, "beta_2")
    eps = _epsilon(check_number(epsilon, op, "epsilon"), op)
    u = _Update(op, params, grads)
    ms = u.state(ms, "ms")
    us = u.state(us, "us")
    u.check_distinct()
    for p, g, m, v in zip(u.params, u.grads, ms, us):
        dt = p.dtype.type
        alpha = dt(float(dt(lr)) / (1.0 - math.pow(float(dt(beta_1)), t)))
        m += (g - m) * (dt(1) - dt(beta_1))
        np.maximum(dt(beta_2) * v, np.abs(g), out=v)
        p -= (m * alpha) / (v + dt(eps))


def nadam_update(params, grads, ms, vs, *, learning_rate, step, u_product, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    op = "nadam_update"
    lr = _finite(check_number(learning_rate, op, "learning_rate"), op, "learning_rate")
    t = _step(check_int(step, op, "step"), op)
    u_product = check_number(u_product, op, "u_product")
    if not 0.0 <= u_product < 1.0:
        raise ValueError(f"{op}: u_product must be in [0, 1) (a product of beta_1·(1 - 0.5·0.96^s)). "
                         f"Received: u_product={u_product:g}")
    beta_1 = _unit(check_number(beta_1, op, "beta_1"), op, "beta_1", hi_open=True)
    beta_2 = _unit(check_number(beta_2, op, "beta_2"), op, "beta_2", hi_open=True)
    eps = _epsilon(check_number(epsilon, op, "epsilon"), op)
    u = _Update(op, params, grads)
    ms = u.state(ms, "ms")
    vs = u.state(vs, "vs")
    u.check_distinct()
    for p, g, m, v in zip(u.params, u.grads, ms, vs):
        dt = p.dtype.type
        b1 = float(dt(beta_1))
        u_t = b1 * (1.0 - 0.5 * math.pow(0.96, t))
        u_next = b1 * (1.0 - 0.5 * math.pow(0.96, t + 1))
        km, kg = dt(u_next / (1.0 - u_product * u_next)), dt((1.0 - u_t) / (1.0 - u_product))
        kv = dt(1.0 / (1.0 - math.pow(float(dt(beta_2)), t)))
        m += (g - m) * (dt(1) - dt(beta_1))
        v += (g * g - v) * (dt(1) - dt(beta_2))
        p -= ((m * km + g * kg) * dt(lr)) / (np.sqrt(v * kv) + dt(eps))


def lion_update(params, grads, ms, *, learning_rate, beta_1=0.9, beta_2=0.99):
    op = "lion_update"
    lr = _finite(check_number(learning_rate, op, "learning_rate"), op, "learning_rate")
    beta_1 = _unit(check_number(beta_1, op, "beta_1"), op, "beta_1")
    beta_2 = _unit(check_number(beta_2, op, "beta_2"), op, "beta_2")
    u = _Update(op, params, grads)
    ms = u.state(ms, "ms")
    u.check_distinct()
    for p, g, m in zip(u.params, u.grads, ms):
        dt = p.dtype.type
        p -= dt(lr) * np.sign(m * dt(beta_1) + g * (dt(1) - dt(beta_1)))
        m[...] = m * dt(beta_2) + g * (dt(1) - dt(beta_2))
