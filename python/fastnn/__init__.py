"""fastnn: fast CPU training and inference of classic neural networks, NumPy arrays in and out.

The kernels are C++17 with OpenMP (``fastnn._core``); ``fastnn.ops`` is the functional API over
them and ``fastnn.reference`` their pure-NumPy twin. See ``fastnn.info()`` for the build.
"""

import builtins as _builtins
import sys as _sys

from . import _core
from ._backend import backend, get_backend, set_backend
from . import datasets, ops, reference

# ---- the Keras-shaped model layer ------------------------------------------------------------
from . import activations, callbacks, constraints, initializers, layers, losses, metrics, models, optimizers
from . import regularizers
from . import data, mixed_precision, preprocessing, random, saving, utils
from ._legacy import register_keras_2_paths
from .layers import Input, Layer
from .models import Model, Sequential, load_model
from ._gradient_tape import GradientTape
from .utils import clear_session, set_random_seed
from .mixed_precision import DTypePolicy  # (Keras 3's keras.DTypePolicy)

register_keras_2_paths()  # fastnn.layers.convolutional, fastnn.utils.np_utils... for older notes
for _name in ("register_keras_serializable", "get_custom_objects", "custom_object_scope", "CustomObjectScope",
              "get_registered_name", "get_registered_object"):  # (tf.keras 2 had them in keras.utils)
    setattr(utils, _name, getattr(saving, _name))

# TensorFlow's tf.keras is fastnn itself: after `import fastnn as tf`, a TF 2 script's
# tf.keras.layers.Dense, tf.keras.Sequential, tf.keras.losses... are fastnn's
keras = _sys.modules[__name__]
from ._legacy import register_keras_alias  # noqa: E402

register_keras_alias(keras)  # (from fastnn.keras.layers import Dense)

# ...and the rest of such a script's tf.* names: tf.shape, tf.concat, tf.reduce_mean, tf.function,
# tf.nn, tf.math, tf.config (fastnn.ops under TensorFlow's names; kept out of __all__, since tf.print,
# tf.range, tf.abs, tf.round and tf.bool would shadow builtins)
from . import _tensorflow  # noqa: E402

_tensorflow.register(keras)

__version__ = _core.__version__


def version() -> str:
    """Keras 3's ``keras.version()``: this package's version."""
    return __version__


def get_num_threads() -> int:
    """Number of threads the kernels use (``OMP_NUM_THREADS`` at import, else the core count)."""
    return _core.get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the number of threads the kernels use; ``n`` must be a positive int."""
    _core.set_num_threads(n)


def info() -> dict:
    """Describe this build and machine: version, compiler, OpenMP, threads, SIMD path, CUDA."""
    import platform

    import numpy

    return {
        "version": __version__,
        "compiler": _core.compiler,
        "openmp": _builtins.bool(_core.openmp),
        "num_threads": _core.get_num_threads(),
        "simd": _core.gemm_kernel(),
        "cuda": _builtins.bool(_core.cuda_built),
        "backend": get_backend(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
    }


__all__ = [
    "__version__",
    "backend",
    "get_backend",
    "set_backend",
    "get_num_threads",
    "set_num_threads",
    "info",
    "data",
    "datasets",
    "ops",
    "reference",
    "activations",
    "callbacks",
    "constraints",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "preprocessing",
    "random",
    "saving",
    "utils",
    "Input",
    "Layer",
    "Model",
    "Sequential",
    "GradientTape",
    "load_model",
    "clear_session",
    "set_random_seed",
]
