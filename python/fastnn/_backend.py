"""Which implementation `fastnn.ops` dispatches to: the C++ kernels or the NumPy reference.

The setting is process-wide. `fastnn.backend("numpy")` works both as a call that sets it and as a
context manager that restores the previous backend on exit.
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import _core, _ctc, autodiff, reference, utils

_MODULES = {"cpp": _core, "numpy": reference}
_NAMES = tuple(_MODULES)
_current_name = "cpp"
_current_module = _core


def get_backend() -> str:
    """Return the name of the active backend: ``"cpp"`` or ``"numpy"``."""
    return _current_name


def set_backend(name: str) -> None:
    """Make ``name`` (``"cpp"`` or ``"numpy"``) the process-wide backend of `fastnn.ops`."""
    global _current_name, _current_module
    if name not in _MODULES:
        raise ValueError(f"set_backend: unknown backend. Expected one of {_NAMES}. Received: name={name!r}")
    _current_name = name
    _current_module = _MODULES[name]


def float_kernels(dtype):
    """A context in which `fastnn.ops` computes in ``dtype``: the NumPy backend for float64 (the C++
    kernels compute in float32, so a float64 array given to a Keras-level function, an activation
    or a loss, would come back float32-accurate); otherwise nothing changes."""
    return backend("numpy") if np.dtype(dtype) == np.float64 else contextlib.nullcontext()


class backend:
    """Select the backend of `fastnn.ops`.

    ``fastnn.backend("numpy")`` switches the process to the NumPy reference; used as
    ``with fastnn.backend("numpy"): ...`` it switches only inside the block.
    """

    def __init__(self, name: str):
        self._previous = get_backend()
        set_backend(name)
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        set_backend(self._previous)
        return False

    # ``from keras import backend as K`` in a course script becomes ``from fastnn import backend
    # as K``: the class also carries Keras 2's backend functions (``K.mean``, ``K.exp``...), with
    # gradients (`fastnn.autodiff`), attached below.

    @staticmethod
    def clear_session():
        from .utils import clear_session
        clear_session()

    @staticmethod
    def image_data_format():
        return "channels_last"

    @staticmethod
    def set_image_data_format(data_format):
        """Keras's layout switch: fastnn's layers are channels_last only, so that is all it takes."""
        if data_format != "channels_last":
            raise ValueError(f"set_image_data_format: fastnn's layers use data_format='channels_last' only. "
                             f"Received: data_format={data_format!r}")


backend.ctc_batch_cost = staticmethod(_ctc.ctc_batch_cost)  # (the OCR examples' CTC layer)
backend.ctc_decode = staticmethod(_ctc.k_ctc_decode)
backend.ctc_label_dense_to_sparse = staticmethod(lambda labels, label_lengths: __import__(
    "fastnn._sparse", fromlist=["_sparse"]).ctc_label_dense_to_sparse(labels, label_lengths))

for _name in autodiff.FUNCTIONS:
    setattr(backend, _name, staticmethod(getattr(autodiff, _name)))
backend.eval = staticmethod(autodiff.get_value)  # (Keras 2's K.eval(x): its value)
backend.set_floatx = staticmethod(utils.set_floatx)


def current():
    """The module implementing the active backend (``fastnn._core`` or ``fastnn.reference``)."""
    return _current_module
