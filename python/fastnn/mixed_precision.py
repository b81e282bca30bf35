"""fastnn.mixed_precision — Keras's ``keras.mixed_precision``, as far as it applies to fastnn.

fastnn computes in float32 on the CPU (its kernels are float32; a CPU gains nothing from float16
arithmetic), so the only dtype policy is ``"float32"`` (or ``"float64"`` on the NumPy backend, as
`fastnn.utils.set_floatx` gives). ``set_global_policy("mixed_float16")``, the line of Chollet's
chapter 13 and of GPU tutorials, is refused with a clear message instead of being ignored."""

from __future__ import annotations

from . import utils


class Policy:
    """A dtype policy: ``name``, ``compute_dtype`` and ``variable_dtype`` (one dtype in fastnn)."""

    def __init__(self, name):
        self.name = _checked(name, "Policy")

    @property
    def compute_dtype(self):
        return self.name

    @property
    def variable_dtype(self):
        return self.name

    def __repr__(self):
        return f'<Policy "{self.name}">'


DTypePolicy = Policy  # (Keras 3's name: keras.DTypePolicy, keras.dtype_policies.DTypePolicy)


def _checked(name, who):
    name = getattr(name, "name", name)
    if name in ("float32", "float64"):
        return name
    if isinstance(name, str) and ("float16" in name or "bfloat16" in name):
        raise ValueError(f"mixed_precision.{who}: fastnn computes in float32 on the CPU, so it has no mixed or "
                         f"16-bit policy (a CPU gains nothing from float16 arithmetic). Leave out the policy line. "
                         f"Received: {name!r}")
    raise ValueError(f"mixed_precision.{who}: expected 'float32' (or 'float64'). Received: {name!r}")


def set_global_policy(policy):
    """Keras's global dtype policy: ``"float32"`` (the default) or ``"float64"``; a mixed one is refused."""
    utils.set_floatx(_checked(policy, "set_global_policy"))


def global_policy():
    return Policy(utils.floatx())


set_policy = set_global_policy  # (TF 2.3's experimental name)

__all__ = ["DTypePolicy", "Policy", "set_global_policy", "global_policy"]
