"""TensorFlow's ``tf.signal`` and ``tf.audio`` for the audio tutorials ("Simple audio recognition",
keras.io's speaker recognition, MFCC pipelines) and the FNet examples, computed with NumPy's FFT.

``tf.signal``: the complex FFTs (``fft``, ``ifft``, ``fft2d``, ``ifft2d``, ``fft3d``, ``ifft3d``:
complex64/complex128 in and out; TensorFlow refuses a real input, ``tf.cast(x, tf.complex64)`` or
``tf.complex(re, im)`` first), the real ones (``rfft``/``irfft`` and their 2-D and 3-D forms:
float32 -> complex64, ``fft_length`` crops or zero-pads the input as TensorFlow's), ``fftshift``,
``ifftshift``, ``frame``, ``overlap_and_add``, ``stft``, ``inverse_stft``,
``inverse_stft_window_fn``, the windows (``hann_window``, ``hamming_window``: TensorFlow's
``periodic`` flag only changes an even length; ``kaiser_window``, ``kaiser_bessel_derived_window``,
``vorbis_window``), ``linear_to_mel_weight_matrix`` (TensorFlow's HTK mel scale ``1127 ln(1 +
f / 700)``, computed in the requested dtype as TensorFlow does), ``mfccs_from_log_mel_spectrograms``
(TensorFlow's unnormalized DCT-II times ``1 / sqrt(2 N)``), ``dct`` and ``idct`` (types 1-4).

These are preprocessing functions first: results are NumPy arrays (complex64 for a float32 signal,
`EagerArray` views with ``.numpy()``). They are linear, so they also record on a GradientTape (and
are one layer of a functional graph on symbolic tensors): a tape tensor in gives a tape tensor out,
complex ones included, with TensorFlow's convention for complex gradients (``d/d re + i d/d im``), so
``tf.math.real(tf.signal.fft2d(tf.cast(x, tf.complex64)))`` (TensorFlow's FNet) trains. Keras 3's
``keras.ops.fft`` / ``fft2`` / ``rfft`` / ``stft``, which take and give (real, imag) pairs, are in
`fastnn._keras_ops`.

``tf.audio``: ``decode_wav`` (TensorFlow's: 16-bit PCM scaled by 1/32768, ``desired_channels`` and
``desired_samples`` padding with zeros or repeating the last channel; fastnn also reads 8-, 24- and
32-bit PCM and 32/64-bit float WAV files, which TensorFlow refuses, scaled into [-1, 1) the same way)
and ``encode_wav`` (16-bit PCM, TensorFlow's rounding and clipping).
"""

from __future__ import annotations

import builtins
import collections
import math

import numpy as np

from . import autodiff
from ._batch_dataset import EagerArray
from .autodiff import Tensor, _result, _value

# ---- arguments and errors ------------------------------------------------------------------------------


def _fail(kind, fn, message):
    """A ``kind`` exception naming ``tf.<fn>`` (passed on as it is by graph functions)."""
    error = kind(f"tf.{fn}: {message}")
    error._fastnn_named = True
    return error


def _signal_op(name):
    """Register the function as the graph function ``"tf.signal.<name>"``: tape tensors record,
    symbolic tensors make a graph layer."""
    def decorate(fn):
        wrapped = autodiff.graph_function("tf.signal." + name)(fn)
        wrapped.__name__ = wrapped.__qualname__ = name
        return wrapped
    return decorate


def _arg(x):
    """A tensor argument: tape tensors and arrays as they are; Python numbers and lists as
    TensorFlow makes them (float32, int32; Python complex numbers complex128)."""
    if isinstance(x, (Tensor, np.ndarray)):
        return x
    if isinstance(x, np.generic):
        return np.asarray(x)
    a = np.asarray(_value(x) if not isinstance(x, (list, tuple)) else [_value(v) for v in x])
    if a.dtype == np.float64:
        return a.astype(np.float32)
    if a.dtype == np.int64:
        return a.astype(np.int32)
    return a


def _val(x):
    return np.asarray(_value(x))


def _int(value, what, fn, low=1):
    """A Python int of at least ``low`` from an int or a 0-d integer tensor."""
    v = _value(value)
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iu":
        v = int(v)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise _fail(TypeError, fn, f"{what} must be an integer. Received: {what}={value!r}")
    if v < low:
        raise _fail(ValueError, fn, f"{what} must be at least {low}. Received: {what}={int(v)}")
    return int(v)


def _complex_of(dtype):
    return np.complex128 if np.dtype(dtype) == np.float64 else np.complex64


def _real_of(dtype):
    return np.float64 if np.dtype(dtype) == np.complex128 else np.float32


def _fit_axis(a, size, axis):
    """``a`` cut or zero-padded at the end of ``axis`` to ``size``."""
    n = a.shape[axis]
    if n == size:
        return a
    if n > size:
        index = [builtins.slice(None)] * a.ndim
        index[axis] = builtins.slice(0, size)
        return a[tuple(index)]
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, size - n)
    return np.pad(a, pad)


def _fit_axes(a, sizes, axes):
    for size, axis in zip(sizes, axes):
        a = _fit_axis(a, size, axis)
    return a


# ---- the complex FFTs ----------------------------------------------------------------------------------


def _complex_fft(name, rank, inverse):
    what = f"{'inverse ' if inverse else ''}{rank}-D FFT"

    @_signal_op(name)
    def transform(input, name=None):
        x = _arg(input)
        xv = _val(x)
        if xv.dtype.kind != "c":
            raise _fail(TypeError, f"signal.{transform.__name__}", f"input must be complex64 or complex128 "
                        f"(tf.cast(x, tf.complex64) or tf.complex(real, imag) first; tf.signal.rfft takes real "
                        f"signals). Received dtype {xv.dtype}")
        if xv.ndim < rank:
            raise _fail(ValueError, f"signal.{transform.__name__}", f"input must have at least {rank} axes. "
                        f"Received shape {xv.shape}")
        axes = tuple(builtins.range(-rank, 0))
        n = math.prod(xv.shape[-rank:])
        if n == 0:
            return _result(xv.copy(), (x,), lambda g: (np.zeros_like(xv),))
        y = (np.fft.ifftn if inverse else np.fft.fftn)(xv, axes=axes).astype(xv.dtype)

        def backward(g):  # (the adjoint: TensorFlow's gradient n * ifft(g), or fft(g) / n)
            g = np.asarray(g)
            d = np.fft.fftn(g, axes=axes) / n if inverse else np.fft.ifftn(g, axes=axes) * n
            return (d.astype(xv.dtype),)

        return _result(y, (x,), backward)

    transform.__doc__ = f"The {what} over the last {rank} ax{'is' if rank == 1 else 'es'} of a complex tensor."
    return transform


fft, ifft = _complex_fft("fft", 1, False), _complex_fft("ifft", 1, True)
fft2d, ifft2d = _complex_fft("fft2d", 2, False), _complex_fft("ifft2d", 2, True)
fft3d, ifft3d = _complex_fft("fft3d", 3, False), _complex_fft("ifft3d", 3, True)


def _lengths(fft_length, rank, default, fn):
    """``fft_length`` as ``rank`` positive ints (``[n]``, or an int for rank 1), else ``default``."""
    if fft_length is None:
        return tuple(default)
    v = _value(fft_length)
    values = np.asarray(v).reshape(-1) if not isinstance(v, (list, tuple)) else [_value(e) for e in v]
    values = [np.asarray(e).item() if isinstance(e, np.ndarray) else e for e in values]
    if len(values) != rank or not builtins.all(isinstance(e, (int, np.integer)) and not isinstance(e, (bool, np.bool_))
                                               and e > 0 for e in values):
        raise _fail(ValueError, fn, f"fft_length must be {rank} positive integer{'s' if rank > 1 else ''} "
                    f"(a list of {rank}). Received: fft_length={fft_length!r}")
    return tuple(int(e) for e in values)


def _rfft_weights(n, dtype):
    """How many times each of the n // 2 + 1 bins of a real signal's spectrum counts in the
    inverse transform: 1 for the DC (and the Nyquist bin of an even length), else 2."""
    c = np.full(n // 2 + 1, 2.0)
    c[0] = 1.0
    if n % 2 == 0:
        c[-1] = 1.0
    return c.astype(dtype)


def _transform_input(input_tensor, kind, rank, fn, arg="input_tensor"):
    """A transform's input, checked: real (``kind`` "f") or complex ("c") with at least ``rank``
    axes; the tensor, its value and the last ``rank`` axes."""
    x = _arg(input_tensor)
    xv = _val(x)
    if xv.dtype.kind != kind:
        want = "float32 or float64 (real values; tf.signal.fft takes complex ones)" if kind == "f" else \
            "complex64 or complex128 (an rfft's result)"
        raise _fail(TypeError, fn, f"{arg} must be {want}. Received dtype {xv.dtype}")
    if xv.ndim < rank:
        raise _fail(ValueError, fn, f"{arg} must have at least {rank} ax{'is' if rank == 1 else 'es'}. Received shape "
                                    f"{xv.shape}")
    return x, xv, tuple(builtins.range(-rank, 0))


def _real_fft(name, rank):
    @_signal_op(name)
    def transform(input_tensor, fft_length=None, name=None):
        fn = f"signal.{transform.__name__}"
        x, xv, axes = _transform_input(input_tensor, "f", rank, fn)
        lengths = _lengths(fft_length, rank, xv.shape[-rank:], fn)
        if 0 in lengths:
            raise _fail(ValueError, fn, f"the FFT length must be positive. Received an input of shape {xv.shape}")
        cdtype = _complex_of(xv.dtype)
        y = np.fft.rfftn(xv, s=lengths, axes=axes).astype(cdtype)

        def backward(g):  # the adjoint of (crop/pad, full FFT, keep the first n // 2 + 1 bins)
            full = np.zeros(xv.shape[:-rank] + lengths, dtype=cdtype)
            full[..., :y.shape[-1]] = g
            d = np.real(np.fft.ifftn(full, axes=axes)) * math.prod(lengths)
            return (_fit_axes(d, xv.shape[-rank:], axes).astype(xv.dtype),)

        return _result(y, (x,), backward)

    transform.__doc__ = (f"The {rank}-D FFT of a real signal over its last {rank} ax{'is' if rank == 1 else 'es'}: "
                         f"the fft_length[-1] // 2 + 1 unique bins (complex64 for float32).")
    return transform


def _inverse_real_fft(name, rank):
    @_signal_op(name)
    def transform(input_tensor, fft_length=None, name=None):
        fn = f"signal.{transform.__name__}"
        x, xv, axes = _transform_input(input_tensor, "c", rank, fn)
        lengths = _lengths(fft_length, rank, xv.shape[-rank:-1] + (2 * (xv.shape[-1] - 1),), fn)
        if builtins.min(lengths) < 1:
            raise _fail(ValueError, fn, f"cannot infer fft_length from an input of shape {xv.shape}; give it")
        rdtype = _real_of(xv.dtype)
        y = np.fft.irfftn(xv, s=lengths, axes=axes).astype(rdtype)

        def backward(g):
            d = np.fft.rfftn(np.asarray(g), axes=axes) * (_rfft_weights(lengths[-1], rdtype) / math.prod(lengths))
            return (_fit_axes(d, xv.shape[-rank:], axes).astype(xv.dtype),)

        return _result(y, (x,), backward)

    transform.__doc__ = (f"The inverse of the {rank}-D rfft: a real signal of fft_length samples (default: "
                         f"2 * (bins - 1) on the last axis), from its n // 2 + 1 unique bins.")
    return transform


rfft, rfft2d, rfft3d = (_real_fft(n, r) for n, r in (("rfft", 1), ("rfft2d", 2), ("rfft3d", 3)))
irfft, irfft2d, irfft3d = (_inverse_real_fft(n, r) for n, r in (("irfft", 1), ("irfft2d", 2), ("irfft3d", 3)))


def _shift(name, inverse):
    @_signal_op(name)
    def shift(x, axes=None, name=None):
        t = _arg(x)
        xv = _val(t)
        if axes is not None:
            axes = [axes] if isinstance(axes, (int, np.integer)) else [int(a) for a in np.asarray(_value(axes)).reshape(-1)]
            for a in axes:
                if not -xv.ndim <= a < builtins.max(xv.ndim, 1):
                    raise _fail(ValueError, f"signal.{shift.__name__}", f"axis {a} is out of range for a tensor of "
                                f"rank {xv.ndim}")
        forward, back = (np.fft.ifftshift, np.fft.fftshift) if inverse else (np.fft.fftshift, np.fft.ifftshift)
        return _result(forward(xv, axes), (t,), lambda g: (back(np.asarray(g), axes),))

    where = "the zero frequency returns to the start" if inverse else "the zero frequency is at the centre"
    shift.__doc__ = f"``x`` rolled so that {where} (every axis, or ``axes``), as NumPy's {name}."
    return shift


fftshift, ifftshift = _shift("fftshift", False), _shift("ifftshift", True)


# ---- frames --------------------------------------------------------------------------------------------


@_signal_op("frame")
def frame(signal, frame_length, frame_step, pad_end=False, pad_value=0, axis=-1, name=None):
    """``signal``'s ``axis`` cut into frames of ``frame_length``, one every ``frame_step``
    samples: that axis becomes (frames, frame_length). Without ``pad_end``, only whole frames
    (``1 + (N - frame_length) // frame_step``, at least 0); with it, ``ceil(N / frame_step)``
    frames, the last ones padded with ``pad_value``."""
    fn = "signal.frame"
    x = _arg(signal)
    xv = _val(x)
    length, step = _int(frame_length, "frame_length", fn), _int(frame_step, "frame_step", fn)
    if xv.ndim < 1:
        raise _fail(ValueError, fn, f"signal must have at least 1 axis. Received shape {xv.shape}")
    axis = _int(axis, "axis", fn, low=-xv.ndim)
    if axis >= xv.ndim:
        raise _fail(ValueError, fn, f"axis {axis} is out of range for a signal of rank {xv.ndim}")
    axis %= xv.ndim
    n = xv.shape[axis]
    padded = xv
    if pad_end:
        count = -(-n // step)
        extra = builtins.max(0, length + step * (count - 1) - n)
        if extra:
            pad = [(0, 0)] * xv.ndim
            pad[axis] = (0, extra)
            padded = np.pad(xv, pad, constant_values=np.asarray(_value(pad_value)).astype(xv.dtype))
    else:
        count = builtins.max(0, 1 + (n - length) // step)
    index = np.arange(count)[:, None] * step + np.arange(length)[None, :]
    out = np.take(padded, index, axis=axis)

    def backward(g):
        g = np.moveaxis(np.asarray(g), (axis, axis + 1), (-2, -1))
        lead = g.shape[:-2]
        rows = math.prod(lead)
        d = np.zeros((rows, padded.shape[axis]), dtype=g.dtype)
        np.add.at(d, (builtins.slice(None), index.reshape(-1)), g.reshape(rows, -1))
        d = d[:, :n].reshape(lead + (n,))
        return (np.moveaxis(d, -1, axis),)

    return _result(out, (x,), backward)


@_signal_op("overlap_and_add")
def overlap_and_add(signal, frame_step, name=None):
    """Frames (..., frames, frame_length) added back together, one every ``frame_step`` samples:
    (..., (frames - 1) * frame_step + frame_length)."""
    fn = "signal.overlap_and_add"
    x = _arg(signal)
    xv = _val(x)
    step = _int(frame_step, "frame_step", fn)
    if xv.ndim < 2:
        raise _fail(ValueError, fn, f"signal must have at least 2 axes (..., frames, frame_length). Received shape "
                    f"{xv.shape}")
    count, length = xv.shape[-2:]
    size = builtins.max(0, (count - 1) * step + length)
    index = (np.arange(count)[:, None] * step + np.arange(length)[None, :]).reshape(-1)
    lead = xv.shape[:-2]
    rows = math.prod(lead)
    out = np.zeros((rows, size), dtype=xv.dtype)
    np.add.at(out, (builtins.slice(None), index), xv.reshape(rows, -1))
    return _result(out.reshape(lead + (size,)), (x,),
                   lambda g: (np.asarray(g)[..., index].reshape(xv.shape),))


# ---- windows -------------------------------------------------------------------------------------------


def _window_args(window_length, dtype, fn):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise _fail(ValueError, fn, f"dtype must be a floating point type. Found {dtype.name}")
    return _int(window_length, "window_length", fn, low=0), dtype


def _raised_cosine(fn, window_length, periodic, dtype, a, b):
    n, dtype = _window_args(window_length, dtype, f"signal.{fn}")
    if n == 1:
        return np.ones(1, dtype)
    even = 1 - n % 2
    denominator = dtype.type(n + int(builtins.bool(_value(periodic))) * even - 1)  # (periodic: only an even length)
    count = np.arange(n).astype(dtype)
    cos_arg = dtype.type(2 * np.pi) * count / denominator
    return (dtype.type(a) - dtype.type(b) * np.cos(cos_arg)).astype(dtype)


def hann_window(window_length, periodic=True, dtype=np.float32, name=None):
    """TensorFlow's Hann window, ``0.5 - 0.5 cos(2 pi n / N')``, computed in ``dtype``: N' is the
    length for an even periodic window, else the length - 1 (TensorFlow's: an odd length is the
    symmetric window even with ``periodic=True``)."""
    return _raised_cosine("hann_window", window_length, periodic, dtype, 0.5, 0.5)


def hamming_window(window_length, periodic=True, dtype=np.float32, name=None):
    """TensorFlow's Hamming window, ``0.54 - 0.46 cos(2 pi n / N')`` (N' as `hann_window`'s)."""
    return _raised_cosine("hamming_window", window_length, periodic, dtype, 0.54, 0.46)


def kaiser_window(window_length, beta=12.0, dtype=np.float32, name=None):
    """TensorFlow's Kaiser window (NumPy's ``np.kaiser``), in ``dtype``."""
    n, dtype = _window_args(window_length, dtype, "signal.kaiser_window")
    if n == 1:
        return np.ones(1, dtype)
    half = (np.float32(n) - np.float32(1.0)) / np.float32(2.0)
    arg = np.arange(-half, half + np.float32(0.1), dtype=np.float32).astype(np.float64)
    beta = float(_value(beta))
    num = beta * np.sqrt(np.maximum(0.0, 1.0 - np.square(arg / float(half))))
    return (np.i0(num) / np.i0(beta)).astype(dtype)


def kaiser_bessel_derived_window(window_length, beta=12.0, dtype=np.float32, name=None):
    """TensorFlow's Kaiser-Bessel-derived window (for the MDCT)."""
    n, dtype = _window_args(window_length, dtype, "signal.kaiser_bessel_derived_window")
    kaiser = kaiser_window(n // 2 + 1, beta, np.float64)
    cumulative = np.cumsum(kaiser)
    half = np.sqrt(cumulative[:-1] / cumulative[-1])
    return np.concatenate([half, half[::-1]]).astype(dtype)


def vorbis_window(window_length, dtype=np.float32, name=None):
    """TensorFlow's Vorbis power-complementary window, ``sin(pi / 2 sin(pi (n + 0.5) / N) ** 2)``."""
    n, dtype = _window_args(window_length, dtype, "signal.vorbis_window")
    arg = np.arange(n).astype(dtype)
    return np.sin(dtype.type(np.pi / 2.0) * np.power(np.sin(dtype.type(np.pi) / dtype.type(n)
                                                            * (arg + dtype.type(0.5))), dtype.type(2.0))).astype(dtype)


# ---- the short-time Fourier transform -------------------------------------------------------------------


def _enclosing_power_of_two(value):
    """2**N for the smallest N with 2**N >= value (TensorFlow's formula)."""
    return int(2 ** np.ceil(np.log(value) / np.log(2.0)))


def _window(window_fn, length, dtype, fn):
    window = _val(window_fn(length, dtype=dtype))
    if window.shape != (length,):
        raise _fail(ValueError, fn, f"window_fn must return a window of shape ({length},). Received shape "
                    f"{window.shape}")
    return window.astype(dtype, copy=False)


@_signal_op("stft")
def stft(signals, frame_length, frame_step, fft_length=None, window_fn=hann_window, pad_end=False, name=None):
    """The short-time Fourier transform of real ``signals`` (..., samples): frames of
    ``frame_length`` every ``frame_step`` samples (`frame`), each times ``window_fn(frame_length)``
    (a periodic Hann window by default; None: no window), then the ``fft_length``-point `rfft`
    (default: the smallest power of 2 >= frame_length). (..., frames, fft_length // 2 + 1),
    complex64 for float32 signals."""
    fn = "signal.stft"
    x, xv, _ = _transform_input(signals, "f", 1, fn, "signals")
    length, step = _int(frame_length, "frame_length", fn), _int(frame_step, "frame_step", fn)
    n = _enclosing_power_of_two(length) if fft_length is None else _int(fft_length, "fft_length", fn)
    framed = frame(x, length, step, pad_end=pad_end)
    if window_fn is not None:
        framed = framed * _window(window_fn, length, xv.dtype, fn)
    return rfft(framed, [n])


def inverse_stft_window_fn(frame_step, forward_window_fn=hann_window, name=None):
    """A window function for `inverse_stft`: the forward window divided by the sum of the squares
    of the windows overlapping each sample (Griffin and Lim's equation 7, TensorFlow's), so that
    ``inverse_stft(stft(x))`` gives x back away from the ends."""
    step = _int(frame_step, "frame_step", "signal.inverse_stft_window_fn")

    def inverse_window(frame_length, dtype=np.float32):
        length = _int(frame_length, "frame_length", "signal.inverse_stft_window_fn")
        forward = _val(forward_window_fn(length, dtype=dtype)).astype(dtype, copy=False)
        overlaps = -(-length // step)
        denom = np.pad(np.square(forward), (0, overlaps * step - length)).reshape(overlaps, step)
        denom = np.tile(denom.sum(axis=0, keepdims=True), (overlaps, 1)).reshape(-1)
        return (forward / denom[:length]).astype(dtype)

    return inverse_window


@_signal_op("inverse_stft")
def inverse_stft(stfts, frame_length, frame_step, fft_length=None, window_fn=hann_window, name=None):
    """The inverse of `stft`: each frame's `irfft`, cut or zero-padded to ``frame_length``, times
    ``window_fn(frame_length)`` (pass ``inverse_stft_window_fn(frame_step)`` to reconstruct), added
    back together (`overlap_and_add`): (..., samples)."""
    fn = "signal.inverse_stft"
    x = _arg(stfts)
    xv = _val(x)
    if xv.dtype.kind != "c":
        raise _fail(TypeError, fn, f"stfts must be complex64 or complex128 (an stft's result). Received dtype "
                    f"{xv.dtype}")
    if xv.ndim < 2:
        raise _fail(ValueError, fn, f"stfts must have at least 2 axes (..., frames, bins). Received shape {xv.shape}")
    length, step = _int(frame_length, "frame_length", fn), _int(frame_step, "frame_step", fn)
    n = _enclosing_power_of_two(length) if fft_length is None else _int(fft_length, "fft_length", fn)
    frames = irfft(x, [n])
    if n != length:
        frames = _fit_last(frames, length)
    if window_fn is not None:
        frames = frames * _window(window_fn, length, _real_of(xv.dtype), fn)
    return overlap_and_add(frames, step)


def _fit_last(x, size):
    """``x`` cut or zero-padded at the end of its last axis to ``size`` (recorded on a tape)."""
    xv = _val(x)
    n = xv.shape[-1]
    return _result(_fit_axis(xv, size, -1), (x,), lambda g: (_fit_axis(np.asarray(g), n, -1),))


# ---- the mel scale, MFCCs and the DCT ---------------------------------------------------------------------

_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def _hertz_to_mel(frequencies, dtype):
    f = np.asarray(frequencies, dtype=dtype)
    return (dtype.type(_MEL_HIGH_FREQUENCY_Q) * np.log(dtype.type(1.0) + f / dtype.type(_MEL_BREAK_FREQUENCY_HERTZ))
            ).astype(dtype)


def _tf_linspace(start, stop, num, dtype):
    """TensorFlow's ``linspace`` in ``dtype``: start, start + i * delta, ..., stop exactly."""
    start, stop = dtype.type(start), dtype.type(stop)
    if num == 1:
        return np.array([start], dtype)
    delta = (stop - start) / dtype.type(num - 1)
    middle = start + np.arange(1, num - 1).astype(dtype) * delta
    return np.concatenate([[start], middle, [stop]]).astype(dtype)


def linear_to_mel_weight_matrix(num_mel_bins=20, num_spectrogram_bins=129, sample_rate=8000, lower_edge_hertz=125.0,
                                upper_edge_hertz=3800.0, dtype=np.float32, name=None):
    """A (num_spectrogram_bins, num_mel_bins) matrix that maps a linear spectrogram's bins (0 to
    sample_rate / 2) onto ``num_mel_bins`` triangular bands evenly spaced on the mel scale from
    ``lower_edge_hertz`` to ``upper_edge_hertz`` (``spectrogram @ matrix``): TensorFlow's, with
    the HTK mel scale ``1127 ln(1 + f / 700)``, the DC bin's row zero, computed in ``dtype``."""
    fn = "signal.linear_to_mel_weight_matrix"
    num_mel_bins = _int(num_mel_bins, "num_mel_bins", fn, low=-(2 ** 62))
    bins = _int(num_spectrogram_bins, "num_spectrogram_bins", fn, low=-(2 ** 62))
    sample_rate = float(np.asarray(_value(sample_rate)))
    lower_edge_hertz, upper_edge_hertz = float(_value(lower_edge_hertz)), float(_value(upper_edge_hertz))
    dtype = np.dtype(dtype)
    if num_mel_bins <= 0:
        raise _fail(ValueError, fn, f"num_mel_bins must be positive. Got: {num_mel_bins}")
    if bins <= 0:
        raise _fail(ValueError, fn, f"num_spectrogram_bins must be positive. Got: {bins}")
    if sample_rate <= 0.0:
        raise _fail(ValueError, fn, f"sample_rate must be positive. Got: {sample_rate}")
    if lower_edge_hertz < 0.0:
        raise _fail(ValueError, fn, f"lower_edge_hertz must be non-negative. Got: {lower_edge_hertz}")
    if lower_edge_hertz >= upper_edge_hertz:
        raise _fail(ValueError, fn, f"lower_edge_hertz {lower_edge_hertz:.1f} >= upper_edge_hertz "
                    f"{upper_edge_hertz:.1f}")
    if upper_edge_hertz > sample_rate / 2:
        raise _fail(ValueError, fn, f"upper_edge_hertz must not be larger than the Nyquist frequency (sample_rate / "
                    f"2). Got: {upper_edge_hertz} for sample_rate: {sample_rate}")
    if dtype.kind != "f":
        raise _fail(ValueError, fn, f"dtype must be a floating point type. Got: {dtype.name}")
    nyquist = dtype.type(sample_rate) / dtype.type(2.0)
    linear = _tf_linspace(0.0, nyquist, bins, dtype)[1:]  # (HTK leaves out the DC bin)
    spectrogram_mel = _hertz_to_mel(linear, dtype)[:, None]
    edges = _tf_linspace(_hertz_to_mel(lower_edge_hertz, dtype), _hertz_to_mel(upper_edge_hertz, dtype),
                         num_mel_bins + 2, dtype)
    lower, center, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    lower_slopes = (spectrogram_mel - lower) / (center - lower)
    upper_slopes = (upper - spectrogram_mel) / (upper - center)
    weights = np.maximum(dtype.type(0), np.minimum(lower_slopes, upper_slopes)).astype(dtype)
    return np.pad(weights, [(1, 0), (0, 0)])


def _dct_values(x, kind, norm):
    """TensorFlow's DCT of type ``kind`` over the last axis of the array ``x`` (scipy.fftpack's
    definitions), computed in float64."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    if kind == 1:
        return np.real(np.fft.rfft(np.concatenate([x, x[..., -2:0:-1]], axis=-1)))
    if kind == 2:
        scale = 2.0 * np.exp(-1j * np.arange(n) * np.pi * 0.5 / n)
        y = np.real(np.fft.rfft(x, 2 * n)[..., :n] * scale)
        if norm == "ortho":
            weights = np.full(n, 0.5 / np.sqrt(n) * np.sqrt(2.0))
            weights[0] = 0.5 / np.sqrt(n)
            y = y * weights
        return y
    if kind == 3:
        if norm == "ortho":
            weights = np.full(n, np.sqrt(n) * np.sqrt(0.5))
            weights[0] = np.sqrt(n)
            x = x * weights
        else:
            x = x * n
        scale = 2.0 * np.exp(1j * np.arange(n) * np.pi * 0.5 / n)
        return np.fft.irfft(scale * x, 2 * n)[..., :n]
    y = _dct_values(np.concatenate([x, np.zeros_like(x)], axis=-1), 2, None)[..., 1::2]  # type 4
    return y * (np.sqrt(0.5) / np.sqrt(n)) if norm == "ortho" else y


def _dct(fn, input, kind, n, axis, norm):
    if isinstance(axis, (bool, np.bool_)) or axis != -1:
        raise _fail(NotImplementedError, fn, f"axis must be -1. Got: {axis}")
    if n is not None and (isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1):
        raise _fail(ValueError, fn, f"n should be a positive integer or None. Received: n={n!r}")
    if kind not in (1, 2, 3, 4):
        raise _fail(ValueError, fn, f"Types I, II, III and IV (I)DCT are supported. Received: type={kind!r}")
    if norm not in (None, "ortho"):
        raise _fail(ValueError, fn, f"Unknown normalization. Expected None or 'ortho', got: {norm!r}")
    x, xv, _ = _transform_input(input, "f", 1, fn, "input")
    if kind == 1:
        if norm == "ortho":
            raise _fail(ValueError, fn, "Normalization is not supported for the Type-I DCT.")
        if (n or xv.shape[-1]) < 2:
            raise _fail(ValueError, fn, "Type-I DCT requires the dimension to be greater than one.")
    size = xv.shape[-1] if n is None else int(n)
    fitted = _fit_axis(xv, size, -1)
    y = _dct_values(fitted, kind, norm).astype(xv.dtype)

    def backward(g):  # the transpose of the transform's matrix (each row: the DCT of a unit vector)
        matrix = _dct_values(np.eye(size), kind, norm)
        return (_fit_axis(np.asarray(g) @ matrix.T, xv.shape[-1], -1).astype(xv.dtype),)

    return _result(y, (x,), backward)


@_signal_op("dct")
def dct(input, type=2, n=None, axis=-1, norm=None, name=None):  # noqa: A002 (TensorFlow's names)
    """TensorFlow's DCT (types 1 to 4, scipy.fftpack's definitions; ``norm="ortho"`` orthonormal)
    over the last axis, its first ``n`` values (or zero-padded to n)."""
    return _dct("signal.dct", input, type, n, axis, norm)


@_signal_op("idct")
def idct(input, type=2, n=None, axis=-1, norm=None, name=None):  # noqa: A002
    """TensorFlow's inverse DCT: the DCT of type 3 for type 2 and the reverse (1 and 4 are their
    own); without ``norm="ortho"``, ``idct(dct(x)) == 2 * N * x``."""
    kind = {1: 1, 2: 3, 3: 2, 4: 4}.get(type, type) if isinstance(type, int) else type
    return _dct("signal.idct", input, kind, n, axis, norm)


@_signal_op("mfccs_from_log_mel_spectrograms")
def mfccs_from_log_mel_spectrograms(log_mel_spectrograms, name=None):
    """The MFCCs of log-magnitude mel spectrograms (..., num_mel_bins): TensorFlow's (HTK's)
    DCT-II, ``dct(x) / sqrt(2 * num_mel_bins)``, float32."""
    fn = "signal.mfccs_from_log_mel_spectrograms"
    x = _arg(log_mel_spectrograms)
    xv = _val(x)
    if xv.dtype != np.float32:
        if xv.dtype.kind not in "fiu":
            raise _fail(TypeError, fn, f"expected float32 log mel spectrograms. Received dtype {xv.dtype}")
        x = autodiff.cast(x, np.float32) if isinstance(x, Tensor) else xv.astype(np.float32)
    if xv.ndim < 1 or xv.shape[-1] == 0:
        raise _fail(ValueError, fn, f"num_mel_bins must be positive. Got: an input of shape {xv.shape}")
    bins = xv.shape[-1]
    return dct(x) * np.float32(1.0 / np.sqrt(np.float32(bins) * np.float32(2.0)))


# ---- the module ----------------------------------------------------------------------------------------

_SIGNAL_NAMES = ["fft", "ifft", "fft2d", "ifft2d", "fft3d", "ifft3d", "rfft", "irfft", "rfft2d", "irfft2d", "rfft3d",
                 "irfft3d", "fftshift", "ifftshift", "frame", "overlap_and_add", "hann_window", "hamming_window",
                 "kaiser_window", "kaiser_bessel_derived_window", "vorbis_window", "stft", "inverse_stft",
                 "inverse_stft_window_fn", "linear_to_mel_weight_matrix", "mfccs_from_log_mel_spectrograms", "dct",
                 "idct"]


# ---- WAV files -----------------------------------------------------------------------------------------

DecodeWav = collections.namedtuple("DecodeWav", ["audio", "sample_rate"])

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE


def _wav_bytes(contents, fn):
    """The bytes in ``contents``: bytes, or a 0-d tensor of them (`tf.io.read_file`'s)."""
    value = _value(contents)
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise _fail(ValueError, fn, f"contents must be scalar (one WAV file's bytes), got shape {value.shape}")
        value = np.asarray(value)[()]
    if isinstance(value, (bytes, bytearray, memoryview, np.bytes_)):
        return bytes(value)
    if isinstance(value, str):
        raise _fail(TypeError, fn, f"expected the WAV file's bytes (tf.io.read_file(path)'s result). Received a text "
                    f"string {value[:80]!r}: a file name? Read it with tf.io.read_file first")
    raise _fail(TypeError, fn, f"expected the WAV file's bytes (tf.io.read_file(path)'s result). Received "
                f"{type(value).__name__}")


def decode_wav_bytes(data, fn="audio.decode_wav"):
    """The samples of a WAV file's bytes as float32 (samples, channels) in [-1, 1), and its sample
    rate: PCM of 8 bits ((v - 128) / 128), 16 (v / 32768, TensorFlow's), 24 or 32 bits (v / 2**23,
    v / 2**31), or 32/64-bit IEEE float (as they are); WAVE_FORMAT_EXTENSIBLE of these too."""
    def bad(message):
        return _fail(ValueError, fn, message)

    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise bad(f"Header mismatch: expected a RIFF WAVE file. Found {data[:4]!r}...{data[8:12]!r}")
    offset, fmt, raw = 12, None, None
    while offset + 8 <= len(data):
        chunk_id, size = data[offset:offset + 4], int.from_bytes(data[offset + 4:offset + 8], "little")
        offset += 8
        if chunk_id == b"fmt ":
            if size < 16 or offset + 16 > len(data):
                raise bad(f"Bad format chunk size for WAV: Expected at least 16, but got {size}")
            code, channels, rate, _, block_align, bits = (int.from_bytes(data[offset + a:offset + b], "little")
                                                          for a, b in ((0, 2), (2, 4), (4, 8), (8, 12), (12, 14),
                                                                       (14, 16)))
            if code == _EXTENSIBLE and size >= 26 and offset + 26 <= len(data):
                code = int.from_bytes(data[offset + 24:offset + 26], "little")  # (the subformat GUID's first 2 bytes)
            if channels < 1:
                raise bad(f"Bad number of channels for WAV: Expected at least 1, but got {channels}")
            supported = (code == _PCM and bits in (8, 16, 24, 32)) or (code == _FLOAT and bits in (32, 64))
            if not supported:
                raise bad(f"unsupported WAV sample format (format code {code}, {bits} bits per sample): fastnn reads "
                          f"8, 16, 24 and 32-bit PCM and 32/64-bit float WAV files (TensorFlow reads 16-bit PCM only)")
            width = bits // 8
            if block_align < channels * width:
                raise bad(f"Bad bytes per sample in WAV header: Expected {channels * width} but got {block_align}")
            fmt = (code, channels, rate, block_align, width)
        elif chunk_id == b"data":
            if fmt is None:
                raise bad("the data chunk comes before the format chunk ('fmt ')")
            if raw is not None:
                raise bad("More than one data chunk found in WAV")
            if size > 2 ** 31 - 1:
                raise bad(f"WAV data chunk 'data' is too large: {size} bytes, but the limit is {2 ** 31 - 1}")
            count = size // fmt[3]
            if offset + count * fmt[3] > len(data):
                raise bad(f"Data too short when trying to read string: the data chunk declares {size} bytes, "
                          f"{len(data) - offset} are there")
            raw = data[offset:offset + count * fmt[3]]
        offset += size + (size & 1)  # (RIFF chunks are padded to an even size)
    if fmt is None:
        raise bad("No format chunk ('fmt ') found in WAV")
    if raw is None:
        raise bad("No data chunk found in WAV")
    code, channels, rate, block_align, width = fmt
    frames = np.frombuffer(raw, dtype=np.uint8).reshape(-1, block_align)[:, :channels * width]
    frames = np.ascontiguousarray(frames).reshape(-1, channels, width)
    if code == _FLOAT:
        audio = frames.reshape(-1).view("<f4" if width == 4 else "<f8").reshape(-1, channels).astype(np.float32)
    elif width == 1:
        audio = (frames[..., 0].astype(np.float32) - 128.0) / 128.0
    elif width == 3:
        value = (frames[..., 0].astype(np.int32) | (frames[..., 1].astype(np.int32) << 8)
                 | (frames[..., 2].astype(np.int32) << 16))
        value = np.where(value >= 2 ** 23, value - 2 ** 24, value)
        audio = value.astype(np.float32) / np.float32(2 ** 23)
    else:
        kind = "<i2" if width == 2 else "<i4"
        audio = frames.reshape(-1).view(kind).reshape(-1, channels).astype(np.float32) / np.float32(2 ** (8 * width - 1))
    return audio.astype(np.float32, copy=False), rate


def decode_wav(contents, desired_channels=-1, desired_samples=-1, name=None):
    """TensorFlow's ``tf.audio.decode_wav``: a WAV file's bytes (`tf.io.read_file`'s result) as
    ``(audio, sample_rate)``: float32 audio (samples, channels) in [-1, 1) (16-bit PCM divided by
    32768), int32 sample rate. ``desired_channels`` (-1: the file's) keeps the first channels or
    repeats the last one; ``desired_samples`` (-1: the file's) cuts or pads with zeros.
    Besides TensorFlow's 16-bit PCM, 8/24/32-bit PCM and 32/64-bit float files are read."""
    fn = "audio.decode_wav"
    channels = _int(desired_channels, "desired_channels", fn, low=-1)
    samples = _int(desired_samples, "desired_samples", fn, low=-1)
    audio, rate = decode_wav_bytes(_wav_bytes(contents, fn), fn)
    if channels != -1 and channels != audio.shape[1]:
        source = np.minimum(np.arange(channels), audio.shape[1] - 1)
        audio = audio[:, source]
    if samples != -1 and samples != audio.shape[0]:
        audio = _fit_axis(audio, samples, 0)
    return DecodeWav(np.ascontiguousarray(audio, dtype=np.float32).view(EagerArray),
                     np.asarray(rate, dtype=np.int32).view(EagerArray))


def encode_wav_bytes(audio, sample_rate):
    """16-bit PCM WAV bytes of float32 (samples, channels) audio, as TensorFlow writes them."""
    scaled = np.asarray(audio, dtype=np.float32) * np.float32(32768.0)
    wide = scaled.astype(np.float64)
    rounded = np.where(wide >= 0, np.floor(wide + 0.5), np.ceil(wide - 0.5))  # (C's roundf: half away from zero)
    pcm = np.clip(np.nan_to_num(rounded), -32768, 32767).astype("<i2")
    channels = audio.shape[1]
    data = pcm.tobytes()
    header = b"".join([
        b"RIFF", (36 + len(data)).to_bytes(4, "little"), b"WAVE",
        b"fmt ", (16).to_bytes(4, "little"), (1).to_bytes(2, "little"), channels.to_bytes(2, "little"),
        int(sample_rate).to_bytes(4, "little"), (int(sample_rate) * 2 * channels).to_bytes(4, "little"),
        (2 * channels).to_bytes(2, "little"), (16).to_bytes(2, "little"),
        b"data", len(data).to_bytes(4, "little"),
    ])
    return header + data


def encode_wav(audio, sample_rate, name=None):
    """TensorFlow's ``tf.audio.encode_wav``: float32 audio (samples, channels) as the bytes of a
    16-bit PCM WAV file (a 0-d bytes tensor, for `tf.io.write_file`): each value times 32768,
    rounded half away from zero and clipped to [-32768, 32767]."""
    fn = "audio.encode_wav"
    a = _val(audio)
    if a.ndim != 2:
        raise _fail(ValueError, fn, f"audio must be 2-D (samples, channels), got shape {a.shape}")
    if a.dtype != np.float32:
        raise _fail(TypeError, fn, f"audio must be float32. Received dtype {a.dtype}")
    if not 0 < a.shape[1] < 2 ** 16:
        raise _fail(ValueError, fn, f"num_channels must be in (0, 2^16), got: {a.shape[1]}")
    rate = _value(sample_rate)
    rate = int(np.asarray(rate)) if isinstance(rate, np.ndarray) and rate.ndim == 0 else rate
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, np.integer)) or not 0 < rate < 2 ** 31:
        raise _fail(ValueError, fn, f"sample_rate must be a positive int32 scalar. Received: {sample_rate!r}")
    from ._image import _bytes_tensor

    return _bytes_tensor(encode_wav_bytes(a, int(rate)))


_AUDIO_NAMES = ["decode_wav", "encode_wav"]


def make_modules():
    """The ``fastnn.signal`` and ``fastnn.audio`` modules (TensorFlow's tf.signal and tf.audio)."""
    import types

    signal = types.ModuleType("fastnn.signal", "TensorFlow's tf.signal (fastnn._signal): " + ", ".join(_SIGNAL_NAMES)
                              + ".")
    signal.__dict__.update({n: globals()[n] for n in _SIGNAL_NAMES})
    audio = types.ModuleType("fastnn.audio", "TensorFlow's tf.audio (fastnn._signal): decode_wav, encode_wav.")
    audio.__dict__.update({n: globals()[n] for n in _AUDIO_NAMES})
    return signal, audio


__all__ = _SIGNAL_NAMES + _AUDIO_NAMES + ["DecodeWav", "decode_wav_bytes", "encode_wav_bytes", "make_modules"]
