"""TensorFlow's ``tf.signal`` and ``tf.audio`` (fastnn._signal), the complex-number names
(``tf.complex``, ``tf.math.real``/``imag``/``angle``/``conj``, ``tf.cast`` to and from complex),
and ``keras.utils.audio_dataset_from_directory``, each against an independent computation: NumPy's
FFT, a hand-written STFT with TensorFlow's framing and windows, TensorFlow's documented mel and
DCT formulas written out in float64, WAV files written and read by the stdlib ``wave`` module,
and central finite differences for the tape gradients.
"""

from __future__ import annotations

import io
import os
import struct
import wave

import numpy as np
import pytest

import fastnn as tf
from fastnn import autodiff as ad
from fastnn import layers
from helpers import gradcheck

RNG = np.random.default_rng(30)
X = RNG.standard_normal((3, 40)).astype(np.float32)
Z = (RNG.standard_normal((2, 4, 6)) + 1j * RNG.standard_normal((2, 4, 6))).astype(np.complex64)


def close(got, want, tol=2e-5):
    got = np.asarray(got)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ---- FFTs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, reference, rank", [
    ("fft", np.fft.fft, 1), ("ifft", np.fft.ifft, 1), ("fft2d", np.fft.fft2, 2), ("ifft2d", np.fft.ifft2, 2),
    ("fft3d", np.fft.fftn, 3), ("ifft3d", np.fft.ifftn, 3)])
def test_complex_ffts_match_numpy(name, reference, rank):
    got = getattr(tf.signal, name)(Z)
    assert got.dtype == np.complex64 and hasattr(got, "numpy")
    want = reference(Z.astype(np.complex128), axes=tuple(range(-rank, 0))) if rank > 1 else reference(Z)
    close(got, want, 1e-4)
    z128 = Z.astype(np.complex128)
    assert getattr(tf.signal, name)(z128).dtype == np.complex128


def test_complex_fft_refuses_real_input_and_small_rank():
    with pytest.raises(TypeError, match=r"tf\.signal\.fft: input must be complex64"):
        tf.signal.fft(X)
    with pytest.raises(ValueError, match=r"tf\.signal\.fft2d: input must have at least 2 axes"):
        tf.signal.fft2d(Z[0, 0])


def test_rfft_and_irfft_crop_and_pad_as_numpy():
    for n in (None, 32, 45, 7):
        got = tf.signal.rfft(X, None if n is None else [n])
        assert got.dtype == np.complex64
        close(got, np.fft.rfft(X.astype(np.float64), n), 1e-4)
    spectrum = np.fft.rfft(X.astype(np.float64)).astype(np.complex64)
    back = tf.signal.irfft(spectrum)
    assert back.dtype == np.float32
    close(back, X, 1e-5)
    close(tf.signal.irfft(spectrum, [33]), np.fft.irfft(spectrum, 33), 1e-5)
    assert tf.signal.rfft(X.astype(np.float64)).dtype == np.complex128
    with pytest.raises(TypeError, match=r"tf\.signal\.rfft: input_tensor must be float32"):
        tf.signal.rfft(Z)
    with pytest.raises(ValueError, match=r"tf\.signal\.rfft: fft_length must be 1 positive integer"):
        tf.signal.rfft(X, [0])


def test_rfft2d_and_irfft2d_match_numpy():
    x = RNG.standard_normal((2, 6, 10)).astype(np.float32)
    close(tf.signal.rfft2d(x), np.fft.rfft2(x.astype(np.float64)), 1e-4)
    close(tf.signal.rfft2d(x, [4, 12]), np.fft.rfft2(x.astype(np.float64), s=(4, 12)), 1e-4)
    spectrum = np.fft.rfft2(x.astype(np.float64)).astype(np.complex64)
    close(tf.signal.irfft2d(spectrum), x, 1e-5)
    close(tf.signal.irfft2d(spectrum, [5, 9]), np.fft.irfft2(spectrum, s=(5, 9)), 1e-5)


def test_fftshift_and_ifftshift():
    a = np.arange(24).reshape(4, 6)
    np.testing.assert_array_equal(tf.signal.fftshift(a), np.fft.fftshift(a))
    np.testing.assert_array_equal(tf.signal.fftshift(a, axes=1), np.fft.fftshift(a, axes=1))
    np.testing.assert_array_equal(tf.signal.ifftshift(tf.signal.fftshift(np.arange(7))), np.arange(7))


# ---- frames, windows, STFT -------------------------------------------------------------------------------


def test_frame_counts_of_tensorflows_doc_example():
    audio = np.zeros((3, 9152), np.float32)
    assert tf.signal.frame(audio, 512, 180).shape == (3, 49, 512)
    assert tf.signal.frame(audio, 512, 180, pad_end=True).shape == (3, 51, 512)


def test_frame_values_padding_and_axis():
    x = np.arange(10)
    framed = tf.signal.frame(x, 4, 3, pad_end=True, pad_value=-1)
    np.testing.assert_array_equal(framed, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9], [9, -1, -1, -1]])
    np.testing.assert_array_equal(tf.signal.frame(x, 4, 3), [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    assert tf.signal.frame(x, 11, 2).shape == (0, 11)
    m = np.arange(30).reshape(2, 5, 3)
    got = tf.signal.frame(m, 2, 2, axis=1)
    assert got.shape == (2, 2, 2, 3)
    np.testing.assert_array_equal(got[:, 1], m[:, 2:4])
    with pytest.raises(ValueError, match=r"tf\.signal\.frame: frame_step must be at least 1"):
        tf.signal.frame(x, 4, 0)


def test_overlap_and_add_inverts_frame_of_disjoint_frames_and_adds_overlaps():
    x = np.arange(12.0)
    np.testing.assert_array_equal(tf.signal.overlap_and_add(tf.signal.frame(x, 4, 4), 4), x)
    frames = np.ones((3, 4))
    np.testing.assert_array_equal(tf.signal.overlap_and_add(frames, 2), [1, 1, 2, 2, 2, 2, 1, 1])


def test_windows_follow_tensorflows_formula():
    n = np.arange(8)
    close(tf.signal.hann_window(8), 0.5 - 0.5 * np.cos(2 * np.pi * n / 8), 1e-6)  # periodic
    close(tf.signal.hann_window(8, periodic=False), 0.5 - 0.5 * np.cos(2 * np.pi * n / 7), 1e-6)
    close(tf.signal.hamming_window(8), 0.54 - 0.46 * np.cos(2 * np.pi * n / 8), 1e-6)
    # TensorFlow's periodic flag only changes an even length: an odd one is the symmetric window
    close(tf.signal.hann_window(5), [0, 0.5, 1, 0.5, 0], 1e-6)
    np.testing.assert_array_equal(tf.signal.hann_window(1), [1.0])
    assert tf.signal.hann_window(4).dtype == np.float32
    assert tf.signal.hann_window(4, dtype=tf.float64).dtype == np.float64
    close(tf.signal.kaiser_window(9, beta=5.0), np.kaiser(9, 5.0), 1e-5)
    with pytest.raises(ValueError, match="dtype must be a floating point type"):
        tf.signal.hann_window(4, dtype=tf.int32)


def _numpy_stft(x, frame_length, frame_step, fft_length):
    """A hand-written STFT with TensorFlow's framing (whole frames only) and periodic Hann window."""
    n = np.arange(frame_length)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / (frame_length if frame_length % 2 == 0 else frame_length - 1))
    count = 1 + (x.shape[-1] - frame_length) // frame_step
    frames = np.stack([x[..., i * frame_step:i * frame_step + frame_length] for i in range(count)], axis=-2)
    return np.fft.rfft(frames * window, fft_length)


def test_stft_matches_a_hand_written_stft():
    got = tf.signal.stft(X, frame_length=16, frame_step=6)
    assert got.dtype == np.complex64 and got.shape == (3, 5, 9)  # fft_length: 16; frames 1 + (40 - 16) // 6
    close(got, _numpy_stft(X.astype(np.float64), 16, 6, 16), 1e-4)
    got = tf.signal.stft(X, 15, 6)  # odd length: the symmetric window; fft_length the enclosing power of 2
    close(got, _numpy_stft(X.astype(np.float64), 15, 6, 16), 1e-4)
    got = tf.signal.stft(X, 12, 5, fft_length=20, window_fn=None, pad_end=True)
    padded = np.pad(X.astype(np.float64), [(0, 0), (0, 12 + 5 * 7 - 40)])
    frames = np.stack([padded[:, i * 5:i * 5 + 12] for i in range(8)], axis=1)
    close(got, np.fft.rfft(frames, 20), 1e-4)
    with pytest.raises(TypeError, match=r"tf\.signal\.stft: signals must be float32"):
        tf.signal.stft(np.arange(40), 16, 8)


def test_inverse_stft_reconstructs_with_the_inverse_window():
    # TensorFlow's documented example
    frame_length, frame_step = 400, 160
    waveform = RNG.standard_normal(1000).astype(np.float32)
    stft = tf.signal.stft(waveform, frame_length, frame_step)
    inverse = tf.signal.inverse_stft(stft, frame_length, frame_step,
                                     window_fn=tf.signal.inverse_stft_window_fn(frame_step))
    assert inverse.shape == (160 * 3 + 400,) and inverse.dtype == np.float32
    close(inverse[400:480], waveform[400:480], 1e-4)  # where every sample is covered by all its frames
    hamming = tf.signal.inverse_stft_window_fn(frame_step, forward_window_fn=tf.signal.hamming_window)
    again = tf.signal.inverse_stft(tf.signal.stft(waveform, 400, 160, window_fn=tf.signal.hamming_window), 400, 160,
                                   window_fn=hamming)
    close(again[400:480], waveform[400:480], 1e-4)


# ---- mel scale, MFCC, DCT --------------------------------------------------------------------------------


def _mel_reference(num_mel_bins, num_spectrogram_bins, sample_rate, lower, upper):
    """TensorFlow's documented definition in float64: triangles on the HTK mel scale, DC row zero."""
    def mel(f):
        return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)

    freqs = np.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins)[1:]
    edges = np.linspace(mel(lower), mel(upper), num_mel_bins + 2)
    out = np.zeros((num_spectrogram_bins, num_mel_bins))
    for j in range(num_mel_bins):
        lo, center, hi = edges[j:j + 3]
        m = mel(freqs)
        out[1:, j] = np.maximum(0.0, np.minimum((m - lo) / (center - lo), (hi - m) / (hi - center)))
    return out


def test_linear_to_mel_weight_matrix():
    got = tf.signal.linear_to_mel_weight_matrix()
    assert got.shape == (129, 20) and got.dtype == np.float32
    close(got, _mel_reference(20, 129, 8000, 125.0, 3800.0), 1e-4)
    got = tf.signal.linear_to_mel_weight_matrix(80, 513, 16000, 80.0, 7600.0)
    close(got, _mel_reference(80, 513, 16000, 80.0, 7600.0), 1e-4)
    assert not got[0].any()
    assert tf.signal.linear_to_mel_weight_matrix(dtype=tf.float64).dtype == np.float64
    with pytest.raises(ValueError, match="upper_edge_hertz must not be larger than the Nyquist"):
        tf.signal.linear_to_mel_weight_matrix(upper_edge_hertz=5000.0)
    with pytest.raises(ValueError, match="lower_edge_hertz 500.0 >= upper_edge_hertz 400.0"):
        tf.signal.linear_to_mel_weight_matrix(lower_edge_hertz=500.0, upper_edge_hertz=400.0)
    with pytest.raises(ValueError, match="num_mel_bins must be positive"):
        tf.signal.linear_to_mel_weight_matrix(0)


def _dct_matrix(n, kind):
    """scipy.fftpack's unnormalized DCT matrices (rows: outputs), written out."""
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    if kind == 1:
        m = 2 * np.cos(np.pi * k * i / (n - 1))
        m[:, 0], m[:, -1] = 1, (-1.0) ** np.arange(n)
        return m
    if kind == 2:
        return 2 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))
    if kind == 3:
        m = 2 * np.cos(np.pi * i * (2 * k + 1) / (2 * n))
        m[:, 0] = 1
        return m
    return 2 * np.cos(np.pi * (2 * k + 1) * (2 * i + 1) / (4 * n))


@pytest.mark.parametrize("kind", [1, 2, 3, 4])
def test_dct_matches_the_written_out_definition(kind):
    x = X[:, :9].astype(np.float64)
    close(tf.signal.dct(x, type=kind), x @ _dct_matrix(9, kind).T, 1e-9)
    assert tf.signal.dct(X, type=kind).dtype == np.float32


def test_dct_ortho_idct_and_truncation():
    x = X[:, :8].astype(np.float64)
    ortho = tf.signal.dct(x, norm="ortho")
    weights = np.full(8, np.sqrt(2 / 8))
    weights[0] = np.sqrt(1 / 8)
    close(ortho, (x @ _dct_matrix(8, 2).T) / 2 * weights, 1e-9)
    close(tf.signal.idct(ortho, norm="ortho"), x, 1e-9)
    close(tf.signal.idct(tf.signal.dct(x)) * 0.5 / 8, x, 1e-9)
    close(tf.signal.dct(x, n=5), x[:, :5] @ _dct_matrix(5, 2).T, 1e-9)
    close(tf.signal.dct(x, n=10), np.pad(x, [(0, 0), (0, 2)]) @ _dct_matrix(10, 2).T, 1e-9)
    with pytest.raises(ValueError, match="Normalization is not supported for the Type-I DCT"):
        tf.signal.dct(x, type=1, norm="ortho")
    with pytest.raises(NotImplementedError, match="axis must be -1"):
        tf.signal.dct(x, axis=0)


def test_mfccs_are_tensorflows_scaled_dct2():
    log_mel = RNG.standard_normal((2, 5, 20)).astype(np.float32)
    got = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)
    assert got.dtype == np.float32 and got.shape == log_mel.shape
    close(got, (log_mel.astype(np.float64) @ _dct_matrix(20, 2).T) / np.sqrt(40.0), 1e-4)


# ---- complex numbers -------------------------------------------------------------------------------------


def test_complex_real_imag_angle_conj_abs_and_cast():
    re, im = np.float32([3, -1, 0]), np.float32([4, 0, -2])
    z = tf.complex(re, im)
    assert z.dtype == np.complex64 and hasattr(z, "numpy")
    np.testing.assert_array_equal(tf.math.real(z), re)
    np.testing.assert_array_equal(tf.math.imag(z), im)
    assert tf.math.real(z).dtype == np.float32
    close(tf.math.angle(z), np.arctan2(im, re), 1e-6)
    np.testing.assert_array_equal(tf.math.conj(z), re - 1j * im)
    close(tf.abs(z), [5, 1, 2], 1e-6)
    assert tf.abs(z).dtype == np.float32 and tf.math.abs(z).dtype == np.float32
    assert tf.cast(z, tf.float32).dtype == np.float32
    np.testing.assert_array_equal(tf.cast(z, tf.float32), re)  # TensorFlow keeps the real part
    np.testing.assert_array_equal(tf.cast(re, tf.complex64), re + 0j)
    assert tf.cast(re, tf.complex128).dtype == np.complex128
    assert tf.dtypes.complex64 is tf.complex64 and tf.complex128 is np.complex128
    np.testing.assert_array_equal(tf.math.imag(re), [0, 0, 0])
    np.testing.assert_array_equal(tf.math.angle(np.float32([-2, 3])), np.float32([np.pi, 0]))
    with pytest.raises(TypeError, match=r"tf\.complex: real and imag must both be float32"):
        tf.complex(re, im.astype(np.float64))


def test_speaker_recognition_audio_to_fft():
    """keras.io's speaker recognition preprocessing, written with TensorFlow's names."""
    audio = RNG.standard_normal((2, 16, 1)).astype(np.float32)
    squeezed = tf.squeeze(audio, axis=-1)
    fft = tf.signal.fft(tf.cast(tf.complex(real=squeezed, imag=tf.zeros_like(squeezed)), tf.complex64))
    fft = tf.expand_dims(fft, axis=-1)
    got = tf.math.abs(fft[:, : (squeezed.shape[1] // 2), :])
    close(got, np.abs(np.fft.fft(audio[..., 0]))[:, :8, None], 1e-5)


# ---- gradients on the tape -------------------------------------------------------------------------------


def _tape_check(f, *inputs):
    xs = [np.array(x, dtype=np.float64) for x in inputs]
    leaves = [ad.Tensor(x.copy()) for x in xs]
    y = f(*leaves)
    assert isinstance(y, ad.Tensor)
    w = RNG.uniform(0.5, 1.5, y.shape) * RNG.choice([-1.0, 1.0], y.shape)
    grads = ad.grad(y, leaves, seed=w)
    gradcheck(lambda: float(np.sum(w * np.asarray(f(*xs)))), xs, grads, what="tf.signal gradient", rtol=1e-5,
              atol=1e-7)


C128 = np.complex128


@pytest.mark.parametrize("f", [
    pytest.param(lambda x: tf.math.real(tf.signal.fft2d(tf.cast(x, C128))), id="fnet-tf"),
    pytest.param(lambda x: tf.cast(tf.signal.fft2d(tf.cast(x, C128)), tf.float64), id="fnet-tf-cast"),
    pytest.param(lambda a, b: tf.math.imag(tf.signal.ifft(tf.complex(a, b))) + tf.math.angle(tf.complex(a, b)),
                 id="complex-ifft-angle"),
    pytest.param(lambda x: tf.abs(tf.signal.stft(x, 8, 3, fft_length=10)), id="stft-magnitude"),
    pytest.param(lambda x: tf.abs(tf.signal.stft(x, 7, 4, pad_end=True)), id="stft-pad-end"),
    pytest.param(lambda x: tf.signal.irfft(tf.signal.rfft(x, [25]) * np.linspace(0.5, 2, 13)), id="rfft-irfft"),
    pytest.param(lambda x: tf.math.real(tf.math.conj(tf.signal.rfft2d(x, [3, 7]))), id="rfft2d-conj"),
    pytest.param(lambda x: tf.signal.overlap_and_add(tf.signal.frame(x, 6, 4, axis=-1) ** 2, 3), id="frame-oa"),
    pytest.param(lambda x: tf.signal.dct(x, norm="ortho") + tf.signal.dct(x, type=4, n=5)[..., :1]
                 + tf.signal.idct(x, type=2) - tf.signal.dct(x, type=1, n=30)[..., :20], id="dct-idct"),
    pytest.param(lambda x: tf.signal.fftshift(x, axes=1) * np.arange(20.0), id="fftshift"),
    pytest.param(lambda x: tf.signal.frame(x, 3, 2, axis=0, pad_end=True) * np.arange(20.0), id="frame-axis0"),
])
def test_signal_functions_record_on_the_tape(f):
    inputs = (X[:2, :20], X[1:, 20:]) if f.__code__.co_argcount == 2 else (X[:2, :20],)
    _tape_check(f, *inputs)


def test_mfccs_record_on_the_tape_in_float32():
    x = ad.Tensor(X[:2, :20])
    w = RNG.standard_normal((2, 20)).astype(np.float32)
    (g,) = ad.grad(tf.signal.mfccs_from_log_mel_spectrograms(x), [x], seed=w)
    close(g, w.astype(np.float64) @ _dct_matrix(20, 2) / np.sqrt(40.0), 1e-5)


def test_inverse_stft_records_on_the_tape():
    spectrum = tf.signal.stft(X[0].astype(np.float64), 8, 4)
    re, im = np.real(spectrum), np.imag(spectrum)
    _tape_check(lambda a, b: tf.signal.inverse_stft(tf.complex(a, b), 8, 4), re, im)


def test_gradient_tape_through_tensorflows_fnet_block():
    x = tf.Variable(RNG.standard_normal((2, 3, 4)).astype(np.float32))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.math.real(tf.signal.fft2d(tf.cast(x, tf.complex64))) * np.arange(4.0, dtype=np.float32))
    g = tape.gradient(y, x)
    # d/dx sum(w * Re(F x)) = Re(F^H w) = Re(n * ifft2(w)) for real x
    want = np.real(np.fft.ifft2(np.broadcast_to(np.arange(4.0), (2, 3, 4))) * 12)
    close(g, want, 1e-4)


def test_stft_is_a_graph_layer_on_symbolic_tensors():
    inputs = layers.Input((40,))
    spec = layers.Lambda(lambda x: tf.abs(tf.signal.stft(x, 16, 8)))(inputs)
    model = tf.keras.Model(inputs, spec)
    close(model.predict(X, verbose=0), np.abs(_numpy_stft(X.astype(np.float64), 16, 8, 16)), 1e-4)


# ---- WAV files -------------------------------------------------------------------------------------------


def _wav(samples, rate=16000, width=2):
    """A WAV file written by the stdlib ``wave`` module: ``samples`` (frames, channels) ints."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 1:
            w.writeframes(samples.astype(np.uint8).tobytes())
        elif width == 3:
            w.writeframes(b"".join(int(v).to_bytes(3, "little", signed=True) for v in samples.reshape(-1)))
        else:
            w.writeframes(samples.astype({2: "<i2", 4: "<i4"}[width]).tobytes())
    return buffer.getvalue()


def test_decode_wav_16_bit_scaling_and_shape():
    pcm = np.array([[0], [1], [-1], [16384], [-32768], [32767]], np.int16)
    audio, rate = tf.audio.decode_wav(_wav(pcm))
    assert audio.dtype == np.float32 and audio.shape == (6, 1) and int(rate) == 16000
    assert rate.dtype == np.int32
    np.testing.assert_array_equal(audio, pcm.astype(np.float32) / 32768)
    decoded = tf.audio.decode_wav(_wav(pcm), desired_samples=8)
    assert decoded.audio.shape == (8, 1) and not decoded.audio[6:].any()
    assert tf.audio.decode_wav(_wav(pcm), desired_samples=3).audio.shape == (3, 1)


def test_decode_wav_channels_stereo_and_other_widths():
    stereo = np.array([[100, -200], [300, -400], [500, -600]], np.int16)
    audio, _ = tf.audio.decode_wav(_wav(stereo, 8000))
    np.testing.assert_array_equal(audio, stereo / 32768)
    np.testing.assert_array_equal(tf.audio.decode_wav(_wav(stereo), desired_channels=1)[0], stereo[:, :1] / 32768)
    three = tf.audio.decode_wav(_wav(stereo), desired_channels=3)[0]  # TensorFlow repeats the last channel
    np.testing.assert_array_equal(three, stereo[:, [0, 1, 1]] / 32768)
    mono = tf.audio.decode_wav(_wav(stereo[:, :1]), desired_channels=2)[0]
    np.testing.assert_array_equal(mono, stereo[:, [0, 0]] / 32768)
    eight = np.array([[0], [128], [255]], np.uint8)
    np.testing.assert_array_equal(tf.audio.decode_wav(_wav(eight, width=1))[0], (eight - 128.0) / 128)
    wide = np.array([[-8388608], [1], [8388607]])
    np.testing.assert_array_equal(tf.audio.decode_wav(_wav(wide, width=3))[0], (wide / 2.0 ** 23).astype(np.float32))
    full = np.array([[-2 ** 31], [2 ** 30]], np.int64)
    np.testing.assert_array_equal(tf.audio.decode_wav(_wav(full, width=4))[0], (full / 2.0 ** 31).astype(np.float32))


def test_decode_wav_float_files_and_bad_input():
    values = np.float32([[0.25, -0.5], [1.0, 0.0]])
    data = values.tobytes()
    fmt = struct.pack("<HHIIHH", 3, 2, 22050, 22050 * 8, 8, 32)
    wav = (b"RIFF" + struct.pack("<I", 4 + 8 + 16 + 8 + len(data)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
           + b"data" + struct.pack("<I", len(data)) + data)
    audio, rate = tf.audio.decode_wav(wav)
    np.testing.assert_array_equal(audio, values)
    assert int(rate) == 22050
    with pytest.raises(ValueError, match=r"tf\.audio\.decode_wav: Header mismatch"):
        tf.audio.decode_wav(b"not a wav file")
    with pytest.raises(TypeError, match=r"tf\.audio\.decode_wav: .*a file name\? Read it with tf\.io\.read_file"):
        tf.audio.decode_wav("speech.wav")
    with pytest.raises(ValueError, match=r"tf\.audio\.decode_wav: Data too short"):
        tf.audio.decode_wav(_wav(np.zeros((10, 1), np.int16))[:-4])


def test_encode_wav_round_trips_through_the_stdlib_wave_module(tmp_path):
    audio = np.float32([[0.0, 0.5], [-1.0, 1.0], [0.25, -0.3], [2.0, -2.0], [0.5 / 32768, -0.5 / 32768]])
    encoded = tf.audio.encode_wav(audio, 44100)
    path = tmp_path / "out.wav"
    tf.io.write_file(str(path), encoded)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 2, 44100, 5)
        pcm = np.frombuffer(w.readframes(5), "<i2").reshape(5, 2)
    # TensorFlow's: round half away from zero, clip to [-32768, 32767]
    np.testing.assert_array_equal(pcm, [[0, 16384], [-32768, 32767], [8192, -9830], [32767, -32768], [1, -1]])
    decoded, rate = tf.audio.decode_wav(tf.io.read_file(str(path)))
    np.testing.assert_array_equal(decoded, pcm / 32768)
    assert int(rate) == 44100
    with pytest.raises(ValueError, match=r"tf\.audio\.encode_wav: audio must be 2-D"):
        tf.audio.encode_wav(audio[:, 0], 44100)


# ---- keras.utils.audio_dataset_from_directory -------------------------------------------------------------


def _tree(root, lengths, channels=1):
    """Class folders of 16-bit WAV files: ``lengths`` {class: [samples per file]}; sample k of a
    file of class c is c * 1000 + k (so the decoded values tell which file and where)."""
    for c, (name, sizes) in enumerate(sorted(lengths.items())):
        os.makedirs(root / name, exist_ok=True)
        for i, n in enumerate(sizes):
            pcm = (c * 1000 + np.arange(n))[:, None].repeat(channels, axis=1)
            (root / name / f"clip{i}.wav").write_bytes(_wav(pcm.astype(np.int16)))
    (root / "left" / "notes.txt").write_text("not audio")


def test_audio_dataset_from_directory_pads_to_the_longest_in_each_batch(tmp_path):
    _tree(tmp_path, {"down": [5, 8], "left": [3, 6, 4]})
    ds = tf.keras.utils.audio_dataset_from_directory(tmp_path, batch_size=2, shuffle=False, verbose=False)
    assert ds.class_names == ["down", "left"]
    batches = list(ds)
    assert [b[0].shape for b in batches] == [(2, 8, 1), (2, 6, 1), (1, 4, 1)]
    audio, labels = batches[0]
    assert audio.dtype == np.float32 and labels.dtype == np.int32
    np.testing.assert_array_equal(labels, [0, 0])
    np.testing.assert_array_equal(audio[0, :, 0], np.concatenate([np.arange(5), np.zeros(3)]) / 32768)
    np.testing.assert_array_equal(audio[1, :, 0], np.arange(8) / 32768)
    np.testing.assert_array_equal(batches[1][1], [1, 1])


def test_audio_dataset_output_sequence_length_truncates_and_pads(tmp_path):
    _tree(tmp_path, {"down": [5, 8], "left": [3, 6, 4]})
    ds = tf.keras.utils.audio_dataset_from_directory(tmp_path, batch_size=None, output_sequence_length=6,
                                                     shuffle=False, label_mode="categorical", verbose=False)
    items = list(ds)
    assert [x.shape for x, _ in items] == [(6, 1)] * 5
    np.testing.assert_array_equal(items[1][0][:, 0], np.arange(6) / 32768)  # 8 samples cut to 6
    np.testing.assert_array_equal(items[2][0][:, 0], np.r_[1000, 1001, 1002, 0, 0, 0] / 32768)
    np.testing.assert_array_equal(items[2][1], [0, 1])


def test_audio_dataset_validation_split_and_messages(tmp_path, capsys):
    _tree(tmp_path, {"down": [4] * 5, "left": [4] * 5})
    train, val = tf.keras.utils.audio_dataset_from_directory(tmp_path, batch_size=4, validation_split=0.2,
                                                             subset="both", seed=3, output_sequence_length=4)
    out = capsys.readouterr().out
    assert "Found 10 files belonging to 2 classes." in out and "Using 8 files for training." in out
    assert "Using 2 files for validation." in out
    assert len(train.file_paths) == 8 and len(val.file_paths) == 2
    assert not set(train.file_paths) & set(val.file_paths)
    seen = sorted(int(x[0, 0] * 32768) // 1000 for x, _ in train.unbatch())
    assert len(seen) == 8
    only = tf.keras.utils.audio_dataset_from_directory(tmp_path, labels=None, batch_size=10, shuffle=False,
                                                       verbose=False)
    assert next(iter(only)).shape == (10, 4, 1)


def test_audio_dataset_resampling_and_bad_arguments(tmp_path):
    _tree(tmp_path, {"down": [16000], "left": [8000]})
    ds = tf.keras.utils.audio_dataset_from_directory(tmp_path, batch_size=None, sampling_rate=8000, shuffle=False,
                                                     verbose=False)
    assert [x.shape for x, _ in ds] == [(8000, 1), (4000, 1)]
    fn = "audio_dataset_from_directory"
    with pytest.raises(ValueError, match=f"{fn}: `sampling_rate` should have an integer value"):
        tf.keras.utils.audio_dataset_from_directory(tmp_path, sampling_rate=8000.0)
    with pytest.raises(ValueError, match=f"{fn}: Cannot set both `ragged` and `output_sequence_length`"):
        tf.keras.utils.audio_dataset_from_directory(tmp_path, ragged=True, output_sequence_length=10)
    with pytest.raises(NotImplementedError, match=f"{fn}: ragged=True is not supported"):
        tf.keras.utils.audio_dataset_from_directory(tmp_path, ragged=True)
    with pytest.raises(ValueError, match=f"{fn}: `label_mode` must be one of"):
        tf.keras.utils.audio_dataset_from_directory(tmp_path, label_mode="sparse")


def test_audio_dataset_refuses_a_batch_of_mono_and_stereo(tmp_path):
    _tree(tmp_path / "a", {"down": [4], "left": [4]})
    (tmp_path / "a" / "left" / "clip0.wav").write_bytes(_wav(np.zeros((4, 2), np.int16)))
    ds = tf.keras.utils.audio_dataset_from_directory(tmp_path / "a", batch_size=2, shuffle=False, verbose=False)
    with pytest.raises(ValueError, match="different numbers of channels"):
        next(iter(ds))


# ---- keras.ops's FFTs and STFT ---------------------------------------------------------------------------


@pytest.mark.parametrize("seq, stride, nfft, window, center", [
    (16, 4, 16, "hann", True), (15, 5, 20, "hamming", True), (9, 4, 9, "hann", False)])
def test_keras_stft_and_istft_match_torch(seq, stride, nfft, window, center):
    torch = pytest.importorskip("torch")
    from fastnn import ops

    x = RNG.standard_normal((2, 50))
    maker = torch.hann_window if window == "hann" else torch.hamming_window
    w = maker(seq, periodic=True, dtype=torch.float64)
    re, im = ops.stft(x, seq, stride, nfft, window=window, center=center)
    want = torch.stft(torch.tensor(x), n_fft=nfft, hop_length=stride, win_length=seq, window=w, center=center,
                      return_complex=True).transpose(-2, -1).numpy()
    close(re, want.real, 1e-9)
    close(im, want.imag, 1e-9)
    if seq == nfft and center:
        back = ops.istft((re, im), seq, stride, nfft, window=window, length=50)
        close(back, torch.istft(torch.tensor(want).transpose(-2, -1), n_fft=nfft, hop_length=stride, win_length=seq,
                                window=w, center=True, length=50).numpy(), 1e-9)
        close(back, x, 1e-9)


def test_keras_fft_ops_name_themselves_in_errors():
    from fastnn import ops

    f = np.ones(10, np.float32)
    with pytest.raises(ValueError, match=r"ops\.fft: Input `x` should be a tuple of two tensors"):
        ops.fft(f)
    with pytest.raises(ValueError, match=r"ops\.irfft: .*same shape"):
        ops.irfft((f, f[:4]))
    with pytest.raises(ValueError, match=r"ops\.stft: Invalid input type. Expected `float32` or `float64`"):
        ops.stft(np.arange(10), 4, 2, 4)
    with pytest.raises(ValueError, match=r"ops\.stft: `fft_length` must equal or larger than `sequence_length`"):
        ops.stft(f, 4, 2, 3)
    with pytest.raises(ValueError, match=r"ops\.stft: If a string is passed to `window`"):
        ops.stft(f, 4, 2, 4, window="blackman")
    with pytest.raises(ValueError, match=r"ops\.fft2: Input should have rank >= 2"):
        ops.fft2((f, f))


def test_keras_fnet_layer_trains_through_fft2():
    """keras.io's FNet block (``keras.ops.fft2((x, zeros))[0]``) in a functional model."""
    from fastnn import ops

    class FNetLayer(layers.Layer):
        def __init__(self, dim, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(dim)
            self.norm = layers.LayerNormalization(epsilon=1e-6)

        def call(self, inputs):
            x = ops.fft2((inputs, ops.zeros_like(inputs)))[0]
            return self.norm(x + inputs + self.dense(x))

    x = RNG.standard_normal((32, 4, 6)).astype(np.float32)
    y = (x[:, 0, 0] > 0).astype(np.float32)
    inputs = layers.Input((4, 6))
    h = layers.GlobalAveragePooling1D()(FNetLayer(6)(layers.Dense(6)(inputs)))
    model = tf.keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))
    model.compile(optimizer=tf.keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    losses = model.fit(x, y, epochs=6, batch_size=8, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    symbolic = tf.keras.Model(inputs, ops.fft2((inputs, ops.zeros_like(inputs)))[1])
    close(symbolic.predict(x[:2], verbose=0), np.fft.fft2(x[:2].astype(np.float64)).imag, 1e-4)


def test_complex_gradients_follow_tensorflows_conjugate_convention():
    # TensorFlow's grad · conj(f'(z)): d real(z·z) / db = -2b (unconjugated it came out +2b, and a
    # learnable complex filter climbed its loss instead of descending)
    a, b = np.array([1.0, -0.5]), np.array([0.3, 2.0])
    leaves = [ad.Tensor(a.copy()), ad.Tensor(b.copy())]
    z = tf.complex(leaves[0], leaves[1])
    da, db = ad.grad(tf.math.real(z * z) + tf.math.imag(tf.exp(z))
                     + tf.reshape(tf.math.real(tf.matmul(z[None], z[:, None])), [1]) / 2, leaves)
    # real(z²) = a² - b²; imag(e^z) = e^a sin b; real(z·z) again (1x2 @ 2x1, halved: broadcast over both)
    close(da, 2 * a + np.exp(a) * np.sin(b) + 2 * a, 1e-12)
    close(db, -2 * b + np.exp(a) * np.cos(b) - 2 * b, 1e-12)
    (dabs,) = ad.grad(tf.abs(tf.complex(leaves[0], ad.Tensor(b.copy()))), [leaves[0]])
    close(dabs, a / np.hypot(a, b), 1e-12)  # (|z| is not holomorphic: grad · z / |z|, unconjugated)


def test_a_layer_giving_complex_values_keeps_them():
    # stft in one Lambda, its magnitude in the next (Keras casts floating outputs only)
    from fastnn import keras

    x = RNG.standard_normal((3, 64)).astype(np.float32)
    inp = keras.Input((64,))
    spectrum = keras.layers.Lambda(lambda s: tf.signal.stft(s, 16, 8))(inp)
    model = keras.Model(inp, keras.layers.Lambda(tf.abs)(spectrum))
    close(model.predict(x, verbose=0), np.abs(np.asarray(tf.signal.stft(x, 16, 8))), 1e-5)
