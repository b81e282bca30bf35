"""fastnn.layers — Keras-shaped layers over `fastnn.ops`.

A new layer family (convolution, pooling, recurrent) subclasses `Layer` (see
`fastnn.layers.base` for the protocol), decorates its classes with `register_layer` so
`fastnn.models.load_model` may rebuild them, and is imported here.
"""

from .base import Input, InputLayer, InputSpec, KerasTensor, Layer, register_layer, registered_layers
from .core import ELU, Activation, Dense, Dropout, Flatten, LeakyReLU, ReLU, Reshape, Softmax
from .merging import Add, Average, Concatenate, Multiply, Subtract
from .normalization import BatchNormalization
from .recurrent import GRU, LSTM, SimpleRNN


def add(inputs, **kwargs):
    """Functional form of `Add`: ``add([a, b])``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form of `Subtract`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form of `Multiply`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form of `Average`."""
    return Average(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of `Concatenate`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


__all__ = [
    "Layer",
    "InputSpec",
    "KerasTensor",
    "Input",
    "InputLayer",
    "register_layer",
    "registered_layers",
    "Dense",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "Flatten",
    "Reshape",
    "Dropout",
    "BatchNormalization",
    "SimpleRNN",
    "LSTM",
    "GRU",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Concatenate",
    "add",
    "subtract",
    "multiply",
    "average",
    "concatenate",
]
