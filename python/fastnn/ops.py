"""fastnn.ops — the functional API: one function per kernel, forward and backward.

Every op exists twice with the same name and arguments: in C++ (``fastnn._core``, the default) and
in ``fastnn.reference`` (pure NumPy, which also computes in float64). The process-wide backend
(``fastnn.set_backend`` / ``with fastnn.backend("numpy"):``) picks one.

Conventions: arrays in Keras's layouts (dense (N, C), kernels (C, OC), images (N, H, W, C),
sequences (N, T, C)); results are float32 from C++. Backward ops return fresh gradient arrays.
Read-only inputs of another dtype or layout are converted; arrays updated in place (``gemm``'s
``c``, optimizer state) must be float32 and C-contiguous. Bad shapes raise ValueError, bad types
TypeError, each naming the op, the argument, what was expected and what was received. Flags
(``use_bias``, ``need_dx``, ``go_backwards``, ...) take True or False (a ``numpy.bool_``, or an
integer equal to 0 or 1, reads as one); anything else, None included, is a TypeError on both backends.
Numbers (``alpha``, ``learning_rate``, ``momentum``, ``epsilon``, ``rate``, ...) take a Python int or float
or a NumPy integer or floating scalar; integers (``seed``, ``step``) a Python int or NumPy integer; anything
else (a str, None, a bool, a list, an array, even 0-d; for an integer a float) is a TypeError on both
backends. An activation's ``alpha`` may also be None, for the activation's default.

Keras 3's ``keras.ops`` are here too (``from keras import ops`` becomes ``from fastnn import ops``):
``ops.mean``, ``ops.square``, ``ops.exp``, ``ops.concatenate``, ``ops.softmax``... with Keras 3's
names, signatures and defaults, on arrays and on the tensors of custom layers, Lambdas and losses
(with gradients) and of the functional API; see `fastnn._keras_ops`. ``matmul`` is the kernel's
above, which takes such tensors too.
"""

from __future__ import annotations

from ._backend import current as _impl
from . import autodiff as _autodiff
from .autodiff import Operators as _Operators

# ---- GEMM -------------------------------------------------------------------------------------


def matmul(a, b):
    """``a @ b`` for 2-D arrays ``a`` (M, K) and ``b`` (K, N).

    Keras 3's ``ops.matmul`` too: when ``a`` or ``b`` is a tensor (of a custom layer's ``call``, a
    Lambda, a custom loss, or the functional API), or an array that is not 2-D (``tf.matmul`` of
    attention weights (B, T, S) and values (B, S, H)), NumPy's matmul on the autodiff tape
    (`fastnn._keras_ops.matmul`: batched, with gradients). On 2-D arrays it stays this kernel.
    """
    if isinstance(a, _Operators) or isinstance(b, _Operators) or _on_tape(a, b) or \
            getattr(a, "ndim", 2) != 2 or getattr(b, "ndim", 2) != 2:
        return _keras_ops.matmul(a, b)
    return _impl().matmul(a, b)


def _on_tape(*arrays):
    """Whether the tape recording now has a leaf for one of ``arrays`` (an array a GradientTape
    watches, a weight used directly: `fastnn.autodiff._tape_operand`)."""
    leaves = _autodiff.current_leaves() if _autodiff.current_leaves is not None else None
    return leaves is not None and any(_autodiff._tape_operand(x, leaves) is not None for x in arrays)


def gemm(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """``c = alpha * op(a) @ op(b) + beta * c``; op transposes when ``trans_a``/``trans_b``.

    ``c`` (M, N), when given, is updated in place and returned; otherwise a new array is returned.
    """
    return _impl().gemm(a, b, c, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)


def batched_matmul(a, b, *, trans_a=False, trans_b=False):
    """``op(a) @ op(b)`` for each item of a batch: ``a`` (..., M, K), ``b`` (..., K, N) with the same
    batch axes, or ``b`` (K, N) for every item; ``trans_a``/``trans_b`` transpose the last two axes
    (so the gradients of ``c = a @ b`` are ``batched_matmul(dc, b, trans_b=True)`` and
    ``batched_matmul(a, dc, trans_a=True)``). Returns (..., M, N). Each item's product runs on one
    thread; the items are split over the threads (an attention layer's per-head products)."""
    return _impl().batched_matmul(a, b, trans_a=trans_a, trans_b=trans_b)


def attention_forward(q, k, v, *, heads, keep=None, zero_masked=False):
    """Scaled dot-product attention over ``heads`` (MultiHeadAttention's inference forward): per
    sample and head h, ``softmax(q_h @ k_hᵀ) @ v_h`` with q (B, T, heads·dk) already scaled by
    1/sqrt(dk), k (B, S, heads·dk), v (B, S, heads·dv), head h being the h-th slice of the last
    axis; returns (B, T, heads·dv) in the same layout. ``keep`` (B, 1 or heads, T, S) booleans:
    False scores become -1e9 before the softmax (Keras's Softmax mask), and with ``zero_masked``
    their probabilities 0 after it. No gradient: the layer's training path keeps its per-head ops."""
    return _impl().attention_forward(q, k, v, heads=heads, keep=keep, zero_masked=zero_masked)


# ---- Activations ------------------------------------------------------------------------------


def activation_forward(x, activation, alpha=None):
    """``y = activation(x)``, elementwise, or over the last axis for ``"softmax"``.

    ``activation``: linear, relu, leaky_relu, elu, selu, softplus, sigmoid, tanh, softmax,
    hard_sigmoid, relu6, softsign, exponential, celu, hard_tanh (these are fused into the dense
    and convolution kernels, forward and backward), and gelu, silu, mish, hard_silu (whose
    derivative needs the input: `activation_backward_input`). ``alpha``: leaky_relu's
    negative_slope (default 0.2, >= 0), elu's and celu's alpha (default 1.0, > 0), gelu's
    ``approximate`` (0: exact, with erf; 1: the tanh form); ignored by the others.
    """
    return _impl().activation_forward(x, activation, alpha)


def activation_backward(dy, y, activation, alpha=None):
    """``dx = dy * activation'(x)``, computed from the forward output ``y``."""
    return _impl().activation_backward(dy, y, activation, alpha)


def activation_backward_input(dy, x, activation, alpha=None):
    """``dx = dy * activation'(x)`` from the forward INPUT ``x``, for gelu, silu, mish and hard_silu
    (not monotonic: their output does not determine the derivative)."""
    return _impl().activation_backward_input(dy, x, activation, alpha)


# ---- Dense ------------------------------------------------------------------------------------


def dense_forward(x, w, b=None, activation="linear", alpha=None):
    """``y = activation(x @ w + b)``: x (N, C), w (C, OC), b (OC,) or None -> y (N, OC)."""
    return _impl().dense_forward(x, w, b, activation, alpha)


def dense_backward(dy, x, w, y, activation="linear", alpha=None, *, use_bias=True, need_dx=True, need_dw=True):
    """Gradients of ``y = activation(x @ w + b)`` given dy (N, OC) and the forward output y.

    Returns ``(dx, dw, db)``: dx (N, C) or None when ``need_dx`` is False (a first layer needs
    none), dw (C, OC) or None when ``need_dw`` is False (a frozen layer needs none), db (OC,) or
    None when ``use_bias`` is False.
    """
    return _impl().dense_backward(dy, x, w, y, activation, alpha, use_bias=use_bias, need_dx=need_dx, need_dw=need_dw)


# ---- Losses -----------------------------------------------------------------------------------


def loss_forward(y_true, y_pred, loss, from_logits=False, sample_weight=None):
    """The batch loss ``sum_i(w_i * l_i) / N`` as a Python float, with Keras's semantics.

    ``loss``: mean_squared_error (mse), mean_absolute_error (mae), binary_crossentropy,
    categorical_crossentropy, sparse_categorical_crossentropy (``y_true`` integer labels (N,) or
    (N, 1) in [0, C)). ``y_pred`` (N, ...) is flattened per sample, except for the categorical
    ones, which take (N, C) only. Probabilities are clipped to [1e-7, 1 - 1e-7]; ``from_logits`` applies a
    (stable) sigmoid or softmax first. ``sample_weight``: (N,) or None.
    """
    return _impl().loss_forward(y_true, y_pred, loss, from_logits, sample_weight)


def loss_backward(y_true, y_pred, loss, from_logits=False, sample_weight=None):
    """The gradient of `loss_forward`'s value with respect to ``y_pred`` (same shape)."""
    return _impl().loss_backward(y_true, y_pred, loss, from_logits, sample_weight)


def crossentropy_logits_backward(y_true, probs, sigmoid=False, sample_weight=None):
    """Fused output-layer backward: the gradient with respect to the logits ``z``.

    For ``probs = softmax(z)`` and categorical cross-entropy: ``(probs * sum(y_true) - y_true) *
    w / N`` (``y_true`` one-hot (N, C) or integer labels (N,)); with ``sigmoid=True``, for
    ``probs = sigmoid(z)`` and binary cross-entropy: ``(probs - y_true) * w / (N * C)``.
    """
    return _impl().crossentropy_logits_backward(y_true, probs, sigmoid, sample_weight)


# ---- Optimizers, normalisation, dropout (model-layer issue) -----------------------------------

# Optimizer steps take equal-length lists (one entry per parameter) and update the parameters and
# state slots IN PLACE in one fused pass; those arrays must be float32, C-contiguous, writeable and
# of their parameter's shape. Gradients are read-only (converted if needed). A state list the
# configuration does not use (velocities at momentum 0, v_hats without amsgrad...) may be None and
# is ignored when given. They return None.


def sgd_update(params, grads, velocities=None, *, learning_rate, momentum=0.0, nesterov=False):
    """Keras 3 SGD step over lists of arrays, in place.

    ``momentum == 0``: ``p -= learning_rate * g`` (``velocities`` unused). Otherwise
    ``v = momentum * v - learning_rate * g`` then ``p += v``, or with ``nesterov``
    ``p += momentum * v - learning_rate * g``. ``momentum`` in [0, 1].
    """
    return _impl().sgd_update(params, grads, velocities, learning_rate=learning_rate, momentum=momentum,
                              nesterov=nesterov)


def adagrad_update(params, grads, accumulators, *, learning_rate, epsilon=1e-7):
    """Keras 3 Adagrad step, in place: ``acc += g**2; p -= lr * g / sqrt(acc + epsilon)``.

    Keras initialises the accumulators to ``initial_accumulator_value`` (0.1); that is the caller's job.
    """
    return _impl().adagrad_update(params, grads, accumulators, learning_rate=learning_rate, epsilon=epsilon)


def rmsprop_update(params, grads, velocities, momentums=None, average_grads=None, *, learning_rate, rho=0.9,
                   momentum=0.0, epsilon=1e-7, centered=False):
    """Keras 3 RMSprop step, in place.

    ``v = rho * v + (1 - rho) * g**2``; ``centered``: ``a = rho * a + (1 - rho) * g`` and
    ``inc = lr * g / sqrt(v - a**2 + epsilon)``, else ``inc = lr * g / sqrt(v + epsilon)``;
    ``momentum > 0``: ``mom = momentum * mom + inc; p -= mom``, else ``p -= inc``. ``momentums``
    is required iff ``momentum > 0``, ``average_grads`` iff ``centered``.
    """
    return _impl().rmsprop_update(params, grads, velocities, momentums, average_grads, learning_rate=learning_rate,
                                  rho=rho, momentum=momentum, epsilon=epsilon, centered=centered)


def adam_update(params, grads, ms, vs, *, learning_rate, step, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                amsgrad=False, v_hats=None):
    """Keras 3 Adam step, in place; ``step`` is the 1-based step count (Keras's ``iterations + 1``).

    ``alpha = lr * sqrt(1 - beta_2**step) / (1 - beta_1**step)``; ``m += (g - m) * (1 - beta_1)``;
    ``v += (g**2 - v) * (1 - beta_2)``; with ``amsgrad`` ``v_hat = max(v_hat, v)`` replaces ``v``;
    ``p -= m * alpha / (sqrt(v) + epsilon)`` (epsilon outside the square root). ``v_hats`` is
    required iff ``amsgrad``.
    """
    return _impl().adam_update(params, grads, ms, vs, learning_rate=learning_rate, step=step, beta_1=beta_1,
                               beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad, v_hats=v_hats)


def adadelta_update(params, grads, accumulated_grads, accumulated_deltas, *, learning_rate, rho=0.95,
                    epsilon=1e-7):
    """Keras 3 Adadelta step, in place: ``ag = rho * ag + (1 - rho) * g**2``;
    ``delta = -sqrt(ad + epsilon) / sqrt(ag + epsilon) * g``; ``ad = rho * ad + (1 - rho) * delta**2``;
    ``p += learning_rate * delta``."""
    return _impl().adadelta_update(params, grads, accumulated_grads, accumulated_deltas, learning_rate=learning_rate,
                                   rho=rho, epsilon=epsilon)


def adamax_update(params, grads, ms, us, *, learning_rate, step, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras 3 Adamax step, in place; ``step`` is the 1-based step count.

    ``m += (g - m) * (1 - beta_1)``; ``u = max(beta_2 * u, |g|)``;
    ``p -= learning_rate * m / ((1 - beta_1**step) * (u + epsilon))``.
    """
    return _impl().adamax_update(params, grads, ms, us, learning_rate=learning_rate, step=step, beta_1=beta_1,
                                 beta_2=beta_2, epsilon=epsilon)


def nadam_update(params, grads, ms, vs, *, learning_rate, step, u_product, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras 3 Nadam step, in place; ``step`` is the 1-based step count and ``u_product`` the
    optimizer's running product of ``beta_1 * (1 - 0.5 * 0.96**s)`` over s = 1..step.

    With ``u_t`` that factor at ``step`` and ``u_next`` at ``step + 1``: ``m += (g - m) * (1 - beta_1)``;
    ``v += (g**2 - v) * (1 - beta_2)``; ``m_hat = u_next * m / (1 - u_product * u_next) + (1 - u_t) * g
    / (1 - u_product)``; ``p -= learning_rate * m_hat / (sqrt(v / (1 - beta_2**step)) + epsilon)``.
    """
    return _impl().nadam_update(params, grads, ms, vs, learning_rate=learning_rate, step=step, u_product=u_product,
                                beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)


def lion_update(params, grads, ms, *, learning_rate, beta_1=0.9, beta_2=0.99):
    """Keras 3 Lion step, in place: ``p -= learning_rate * sign(beta_1 * m + (1 - beta_1) * g)``;
    ``m = beta_2 * m + (1 - beta_2) * g``."""
    return _impl().lion_update(params, grads, ms, learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2)


def batchnorm_forward(x, gamma, beta, moving_mean, moving_var, *, training, momentum=0.99, epsilon=1e-3):
    """Batch normalisation over every axis but the last (Keras ``axis=-1``): ``(y, mean, inv_std)``.

    x (N, ..., C); gamma, beta (C,) or None (Keras ``scale=False`` / ``center=False``);
    moving_mean, moving_var (C,) float32 arrays. ``training=True``: the batch's mean and biased
    variance (accumulated in double), ``inv_std = 1 / sqrt(var + epsilon)``, and the moving
    statistics are updated IN PLACE: ``moving = moving * momentum + batch * (1 - momentum)``.
    ``training=False``: mean = moving_mean, inv_std = 1 / sqrt(moving_var + epsilon), nothing
    updated. ``y = gamma * (x - mean) * inv_std + beta``; ``mean`` and ``inv_std`` (C,) are what
    `batchnorm_backward` needs.
    """
    return _impl().batchnorm_forward(x, gamma, beta, moving_mean, moving_var, training=training, momentum=momentum,
                                     epsilon=epsilon)


def batchnorm_backward(dy, x, gamma, mean, inv_std, *, training=True, need_dx=True, center=True):
    """Gradients of `batchnorm_forward`: ``(dx, dgamma, dbeta)``.

    ``training=True`` differentiates through the batch statistics; ``training=False`` treats them
    as constants (``dx = gamma * inv_std * dy``). dx is None unless ``need_dx``, dgamma None when
    gamma is None, dbeta None unless ``center``.
    """
    return _impl().batchnorm_backward(dy, x, gamma, mean, inv_std, training=training, need_dx=need_dx,
                                      center=center)


def layernorm_forward(x, gamma, beta, *, epsilon=1e-3):
    """Layer normalisation over the last axis (Keras ``LayerNormalization(axis=-1)``): ``(y, mean,
    inv_std)``.

    x (..., C), C >= 1; gamma, beta (C,) or None (``scale=False`` / ``center=False``). Each row
    (the values of x with the same leading indices) by its own mean and biased variance (in
    double): ``y = gamma * (x - mean) * inv_std + beta``, ``inv_std = 1 / sqrt(var + epsilon)``;
    ``mean`` and ``inv_std`` have x's shape without its last axis.
    """
    return _impl().layernorm_forward(x, gamma, beta, epsilon=epsilon)


def layernorm_backward(dy, x, gamma, mean, inv_std, *, need_dx=True, center=True):
    """Gradients of `layernorm_forward`: ``(dx, dgamma, dbeta)``; dx None unless ``need_dx``,
    dgamma None when gamma is None, dbeta None unless ``center``. The parameter gradients sum over
    rows in a fixed order: they do not depend on the thread count."""
    return _impl().layernorm_backward(dy, x, gamma, mean, inv_std, need_dx=need_dx, center=center)


def groupnorm_forward(x, gamma, beta, *, groups, epsilon=1e-3):
    """Group normalisation, channels last (Keras ``GroupNormalization(axis=-1)``): ``(y, mean,
    inv_std)``.

    x (N, ..., C); ``groups`` a positive divisor of C; gamma, beta (C,) or None. Each sample's
    channels are split into ``groups`` groups of adjacent channels, each normalised by its mean
    and biased variance over the group's channels and every position (in double):
    ``y = gamma * (x - mean) * inv_std + beta``; ``mean`` and ``inv_std`` are (N, groups).
    """
    return _impl().groupnorm_forward(x, gamma, beta, groups=groups, epsilon=epsilon)


def groupnorm_backward(dy, x, gamma, mean, inv_std, *, groups, need_dx=True, center=True):
    """Gradients of `groupnorm_forward`: ``(dx, dgamma, dbeta)``; dx None unless ``need_dx``,
    dgamma None when gamma is None, dbeta None unless ``center``. The parameter gradients sum over
    samples in a fixed order: they do not depend on the thread count."""
    return _impl().groupnorm_backward(dy, x, gamma, mean, inv_std, groups=groups, need_dx=need_dx, center=center)


def dropout_forward(x, rate, seed):
    """Inverted dropout: ``(y, mask)`` with ``y = x * mask / (1 - rate)``, mask uint8 (1 = kept).

    ``rate`` in [0, 1); ``seed`` an int in [0, 2**64). Element i (flat C-order index) is kept
    according to a counter-based hash of (seed, i), so the mask depends only on (seed, shape): the
    same on both backends and for any thread count. ``rate=0`` returns a copy and an all-ones mask.
    """
    return _impl().dropout_forward(x, rate, seed)


def dropout_backward(dy, mask, rate):
    """``dx = dy * mask / (1 - rate)`` for the mask `dropout_forward` returned."""
    return _impl().dropout_backward(dy, mask, rate)


# ---- Convolution and pooling (convolution issue) ----------------------------------------------
#
# Channels-last like Keras: x (N, L, C) / (N, H, W, C) / (N, D, H, W, C); kernels (K, C, OC) /
# (KH, KW, C, OC) / (KD, KH, KW, C, OC). ``strides``, ``dilation_rate`` and ``pool_size`` take an
# int or a tuple with one int per spatial axis. ``padding``: "valid" (no padding) or "same"
# (output size ceil(size / stride), the odd padding pixel after, as Keras/TensorFlow pad), and
# "causal" for 1-D convolution (left padding only).


def conv1d_forward(x, w, b=None, *, strides=1, padding="valid", dilation_rate=1, activation="linear", alpha=None):
    """1-D convolution ``y = activation(conv(x, w) + b)``: x (N, L, C), w (K, C, OC) -> y (N, OL, OC).

    ``padding``: "valid", "same" or "causal". ``activation``/``alpha`` as in `activation_forward`;
    the bias and the activation are fused into the convolution's last pass.
    """
    return _impl().conv1d_forward(x, w, b, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                  activation=activation, alpha=alpha)


def conv2d_forward(x, w, b=None, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1), activation="linear",
                   alpha=None):
    """2-D convolution ``y = activation(conv(x, w) + b)``: x (N, H, W, C), w (KH, KW, C, OC) -> y (N, OH, OW, OC).

    ``padding``: "valid" or "same". Strides > 1 cannot be combined with dilation > 1 (as in Keras).
    """
    return _impl().conv2d_forward(x, w, b, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                  activation=activation, alpha=alpha)


def conv3d_forward(x, w, b=None, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                   activation="linear", alpha=None):
    """3-D convolution: x (N, D, H, W, C), w (KD, KH, KW, C, OC) -> y (N, OD, OH, OW, OC)."""
    return _impl().conv3d_forward(x, w, b, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                  activation=activation, alpha=alpha)


def conv1d_backward(dy, x, w, y=None, *, strides=1, padding="valid", dilation_rate=1, activation="linear",
                    alpha=None, use_bias=True, need_dx=True, need_dw=True):
    """Gradients of `conv1d_forward` given dy and the forward output y (y may be None for "linear").

    Returns ``(dx, dw, db)``: dx like x or None when ``need_dx`` is False (a first layer needs none),
    dw like w or None when ``need_dw`` is False (a frozen layer), db (OC,) or None when ``use_bias``
    is False. dw and db do not depend on the thread count.
    """
    return _impl().conv1d_backward(dy, x, w, y, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                   activation=activation, alpha=alpha, use_bias=use_bias,
                                   need_dx=need_dx, need_dw=need_dw)


def conv2d_backward(dy, x, w, y=None, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                    activation="linear", alpha=None, use_bias=True, need_dx=True, need_dw=True):
    """Gradients ``(dx, dw, db)`` of `conv2d_forward`; see `conv1d_backward`."""
    return _impl().conv2d_backward(dy, x, w, y, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                   activation=activation, alpha=alpha, use_bias=use_bias,
                                   need_dx=need_dx, need_dw=need_dw)


def conv3d_backward(dy, x, w, y=None, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                    activation="linear", alpha=None, use_bias=True, need_dx=True, need_dw=True):
    """Gradients ``(dx, dw, db)`` of `conv3d_forward`; see `conv1d_backward`."""
    return _impl().conv3d_backward(dy, x, w, y, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                   activation=activation, alpha=alpha, use_bias=use_bias,
                                   need_dx=need_dx, need_dw=need_dw)


# Transposed convolution (Keras's Conv1DTranspose/Conv2DTranspose/Conv3DTranspose), the adjoint of
# the convolution: x (N, *in, C), w (*kernel_size, OC, C) -- Keras's transposed layout, output
# channels before input channels -- y (N, *out, OC). Output sizes are Keras's: "valid" gives
# in·stride + max(k_eff - stride, 0), "same" gives in·stride; ``output_padding`` (each < the stride)
# sets (in - 1)·stride + k_eff - 2·pad + output_padding instead, pad = k_eff // 2 for "same", 0 for "valid".


def conv1d_transpose_forward(x, w, b=None, *, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                             activation="linear", alpha=None):
    """1-D transposed convolution: x (N, L, C), w (K, OC, C) -> y (N, OL, OC), bias and activation fused."""
    return _impl().conv1d_transpose_forward(x, w, b, strides=strides, padding=padding, output_padding=output_padding,
                                            dilation_rate=dilation_rate, activation=activation, alpha=alpha)


def conv2d_transpose_forward(x, w, b=None, *, strides=(1, 1), padding="valid", output_padding=None,
                             dilation_rate=(1, 1), activation="linear", alpha=None):
    """2-D transposed convolution: x (N, H, W, C), w (KH, KW, OC, C) -> y (N, OH, OW, OC).

    ``padding``: "valid" or "same"; strides > 1 cannot be combined with dilation > 1 (as in Keras).
    """
    return _impl().conv2d_transpose_forward(x, w, b, strides=strides, padding=padding, output_padding=output_padding,
                                            dilation_rate=dilation_rate, activation=activation, alpha=alpha)


def conv3d_transpose_forward(x, w, b=None, *, strides=(1, 1, 1), padding="valid", output_padding=None,
                             dilation_rate=(1, 1, 1), activation="linear", alpha=None):
    """3-D transposed convolution: x (N, D, H, W, C), w (KD, KH, KW, OC, C) -> y (N, OD, OH, OW, OC)."""
    return _impl().conv3d_transpose_forward(x, w, b, strides=strides, padding=padding, output_padding=output_padding,
                                            dilation_rate=dilation_rate, activation=activation, alpha=alpha)


def conv1d_transpose_backward(dy, x, w, y=None, *, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                              activation="linear", alpha=None, use_bias=True, need_dx=True, need_dw=True):
    """Gradients ``(dx, dw, db)`` of `conv1d_transpose_forward`, as `conv1d_backward` returns them."""
    return _impl().conv1d_transpose_backward(dy, x, w, y, strides=strides, padding=padding,
                                             output_padding=output_padding, dilation_rate=dilation_rate,
                                             activation=activation, alpha=alpha, use_bias=use_bias,
                                             need_dx=need_dx, need_dw=need_dw)


def conv2d_transpose_backward(dy, x, w, y=None, *, strides=(1, 1), padding="valid", output_padding=None,
                              dilation_rate=(1, 1), activation="linear", alpha=None, use_bias=True,
                              need_dx=True, need_dw=True):
    """Gradients ``(dx, dw, db)`` of `conv2d_transpose_forward`."""
    return _impl().conv2d_transpose_backward(dy, x, w, y, strides=strides, padding=padding,
                                             output_padding=output_padding, dilation_rate=dilation_rate,
                                             activation=activation, alpha=alpha, use_bias=use_bias,
                                             need_dx=need_dx, need_dw=need_dw)


def conv3d_transpose_backward(dy, x, w, y=None, *, strides=(1, 1, 1), padding="valid", output_padding=None,
                              dilation_rate=(1, 1, 1), activation="linear", alpha=None, use_bias=True,
                              need_dx=True, need_dw=True):
    """Gradients ``(dx, dw, db)`` of `conv3d_transpose_forward`."""
    return _impl().conv3d_transpose_backward(dy, x, w, y, strides=strides, padding=padding,
                                             output_padding=output_padding, dilation_rate=dilation_rate,
                                             activation=activation, alpha=alpha, use_bias=use_bias,
                                             need_dx=need_dx, need_dw=need_dw)


# Depthwise convolution (Keras's DepthwiseConv1D/DepthwiseConv2D and the first half of
# SeparableConv1D/SeparableConv2D): w (*kernel_size, C, M), Keras's depthwise layout. Each input
# channel c is convolved on its own with M filters; output channel c·M + m is its m-th, so y has
# C·M channels. Geometry (strides, padding, dilation_rate) and output sizes as for `conv1d_forward`.


def depthwise_conv1d_forward(x, w, b=None, *, strides=1, padding="valid", dilation_rate=1, activation="linear",
                             alpha=None):
    """1-D depthwise convolution: x (N, L, C), w (K, C, M) -> y (N, OL, C*M), bias and activation fused.

    ``padding``: "valid", "same" or "causal".
    """
    return _impl().depthwise_conv1d_forward(x, w, b, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                            activation=activation, alpha=alpha)


def depthwise_conv2d_forward(x, w, b=None, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                             activation="linear", alpha=None):
    """2-D depthwise convolution: x (N, H, W, C), w (KH, KW, C, M) -> y (N, OH, OW, C*M)."""
    return _impl().depthwise_conv2d_forward(x, w, b, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                            activation=activation, alpha=alpha)


def depthwise_conv3d_forward(x, w, b=None, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                             activation="linear", alpha=None):
    """3-D depthwise convolution: x (N, D, H, W, C), w (KD, KH, KW, C, M) -> y (N, OD, OH, OW, C*M)."""
    return _impl().depthwise_conv3d_forward(x, w, b, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                            activation=activation, alpha=alpha)


def depthwise_conv1d_backward(dy, x, w, y=None, *, strides=1, padding="valid", dilation_rate=1, activation="linear",
                              alpha=None, use_bias=True, need_dx=True, need_dw=True):
    """Gradients ``(dx, dw, db)`` of `depthwise_conv1d_forward`, as `conv1d_backward` returns them."""
    return _impl().depthwise_conv1d_backward(dy, x, w, y, strides=strides, padding=padding,
                                             dilation_rate=dilation_rate, activation=activation, alpha=alpha,
                                             use_bias=use_bias, need_dx=need_dx, need_dw=need_dw)


def depthwise_conv2d_backward(dy, x, w, y=None, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                              activation="linear", alpha=None, use_bias=True, need_dx=True, need_dw=True):
    """Gradients ``(dx, dw, db)`` of `depthwise_conv2d_forward`."""
    return _impl().depthwise_conv2d_backward(dy, x, w, y, strides=strides, padding=padding,
                                             dilation_rate=dilation_rate, activation=activation, alpha=alpha,
                                             use_bias=use_bias, need_dx=need_dx, need_dw=need_dw)


def depthwise_conv3d_backward(dy, x, w, y=None, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                              activation="linear", alpha=None, use_bias=True, need_dx=True, need_dw=True):
    """Gradients ``(dx, dw, db)`` of `depthwise_conv3d_forward`."""
    return _impl().depthwise_conv3d_backward(dy, x, w, y, strides=strides, padding=padding,
                                             dilation_rate=dilation_rate, activation=activation, alpha=alpha,
                                             use_bias=use_bias, need_dx=need_dx, need_dw=need_dw)


def maxpool1d_forward(x, *, pool_size, strides=None, padding="valid"):
    """Max pooling of x (N, L, C). Returns ``(y, argmax)``; ``strides`` defaults to ``pool_size``.

    ``argmax`` (int32, y's shape) is the flat spatial index of the first maximum of each window;
    keep it for `maxpool1d_backward`.
    """
    return _impl().maxpool1d_forward(x, pool_size=pool_size, strides=strides, padding=padding)


def maxpool2d_forward(x, *, pool_size, strides=None, padding="valid"):
    """Max pooling of x (N, H, W, C) -> ``(y, argmax)``; argmax[n, i, j, c] = h * W + w of the first maximum."""
    return _impl().maxpool2d_forward(x, pool_size=pool_size, strides=strides, padding=padding)


def maxpool3d_forward(x, *, pool_size, strides=None, padding="valid"):
    """Max pooling of x (N, D, H, W, C) -> ``(y, argmax)``; argmax = (d * H + h) * W + w."""
    return _impl().maxpool3d_forward(x, pool_size=pool_size, strides=strides, padding=padding)


def maxpool1d_backward(dy, argmax, x_shape):
    """dx (``x_shape``) of max pooling: each dy added at its window's first maximum."""
    return _impl().maxpool1d_backward(dy, argmax, x_shape)


def maxpool2d_backward(dy, argmax, x_shape):
    """dx (``x_shape``) of `maxpool2d_forward`."""
    return _impl().maxpool2d_backward(dy, argmax, x_shape)


def maxpool3d_backward(dy, argmax, x_shape):
    """dx (``x_shape``) of `maxpool3d_forward`."""
    return _impl().maxpool3d_backward(dy, argmax, x_shape)


def avgpool1d_forward(x, *, pool_size, strides=None, padding="valid"):
    """Average pooling of x (N, L, C); windows on 'same' borders average their real elements only."""
    return _impl().avgpool1d_forward(x, pool_size=pool_size, strides=strides, padding=padding)


def avgpool2d_forward(x, *, pool_size, strides=None, padding="valid"):
    """Average pooling of x (N, H, W, C); see `avgpool1d_forward`."""
    return _impl().avgpool2d_forward(x, pool_size=pool_size, strides=strides, padding=padding)


def avgpool3d_forward(x, *, pool_size, strides=None, padding="valid"):
    """Average pooling of x (N, D, H, W, C); see `avgpool1d_forward`."""
    return _impl().avgpool3d_forward(x, pool_size=pool_size, strides=strides, padding=padding)


def avgpool1d_backward(dy, x_shape, *, pool_size, strides=None, padding="valid"):
    """dx (``x_shape``) of `avgpool1d_forward` with the same pooling arguments."""
    return _impl().avgpool1d_backward(dy, x_shape, pool_size=pool_size, strides=strides, padding=padding)


def avgpool2d_backward(dy, x_shape, *, pool_size, strides=None, padding="valid"):
    """dx (``x_shape``) of `avgpool2d_forward` with the same pooling arguments."""
    return _impl().avgpool2d_backward(dy, x_shape, pool_size=pool_size, strides=strides, padding=padding)


def avgpool3d_backward(dy, x_shape, *, pool_size, strides=None, padding="valid"):
    """dx (``x_shape``) of `avgpool3d_forward` with the same pooling arguments."""
    return _impl().avgpool3d_backward(dy, x_shape, pool_size=pool_size, strides=strides, padding=padding)


def conv1d_maxpool_forward(x, w, b=None, *, strides=1, padding="valid", dilation_rate=1, activation="linear",
                           alpha=None, pool_size, pool_strides=None, pool_padding="valid"):
    """`conv1d_forward` then `maxpool1d_forward` in one pass: returns the pooled ``(y, argmax)``.

    The convolution's output is never stored whole (only cache-sized tiles of it), which saves
    writing and re-reading the largest tensor of a typical CNN. ``activation`` must be elementwise
    (not softmax). ``pool_size``/``pool_strides``/``pool_padding`` are the pooling's arguments.
    """
    return _impl().conv1d_maxpool_forward(x, w, b, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                          activation=activation, alpha=alpha, pool_size=pool_size,
                                          pool_strides=pool_strides, pool_padding=pool_padding)


def conv2d_maxpool_forward(x, w, b=None, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                           activation="linear", alpha=None, pool_size, pool_strides=None, pool_padding="valid"):
    """`conv2d_forward` then `maxpool2d_forward` in one pass (e.g. Conv2D(relu) -> MaxPooling2D).

    Returns the pooled ``(y, argmax)``; argmax indexes the convolution output's spatial positions.
    The C++ kernel computes only the convolution outputs the pool's windows read (11x11 pooled by
    2x2 'valid' reads 10x10); the result is the same as the two ops'.
    """
    return _impl().conv2d_maxpool_forward(x, w, b, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                          activation=activation, alpha=alpha, pool_size=pool_size,
                                          pool_strides=pool_strides, pool_padding=pool_padding)


def conv3d_maxpool_forward(x, w, b=None, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                           activation="linear", alpha=None, pool_size, pool_strides=None, pool_padding="valid"):
    """`conv3d_forward` then `maxpool3d_forward` in one pass; see `conv2d_maxpool_forward`."""
    return _impl().conv3d_maxpool_forward(x, w, b, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                          activation=activation, alpha=alpha, pool_size=pool_size,
                                          pool_strides=pool_strides, pool_padding=pool_padding)


def conv1d_maxpool_backward(dy, argmax, y, x, w, *, strides=1, padding="valid", dilation_rate=1,
                            activation="linear", alpha=None, pool_size, pool_strides=None, pool_padding="valid",
                            use_bias=True, need_dx=True, need_dw=True):
    """Gradients ``(dx, dw, db)`` of `conv1d_maxpool_forward` from the pooled dy, argmax and y.

    The max routes dy to the argmax, where the convolution's output equals the pooled y, so the
    activation's derivative is taken from y: nothing of the full-size output is needed.
    """
    return _impl().conv1d_maxpool_backward(dy, argmax, y, x, w, strides=strides, padding=padding,
                                           dilation_rate=dilation_rate, activation=activation, alpha=alpha,
                                           pool_size=pool_size, pool_strides=pool_strides,
                                           pool_padding=pool_padding, use_bias=use_bias,
                                           need_dx=need_dx, need_dw=need_dw)


def conv2d_maxpool_backward(dy, argmax, y, x, w, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                            activation="linear", alpha=None, pool_size, pool_strides=None, pool_padding="valid",
                            use_bias=True, need_dx=True, need_dw=True):
    """Gradients ``(dx, dw, db)`` of `conv2d_maxpool_forward`; see `conv1d_maxpool_backward`."""
    return _impl().conv2d_maxpool_backward(dy, argmax, y, x, w, strides=strides, padding=padding,
                                           dilation_rate=dilation_rate, activation=activation, alpha=alpha,
                                           pool_size=pool_size, pool_strides=pool_strides,
                                           pool_padding=pool_padding, use_bias=use_bias,
                                           need_dx=need_dx, need_dw=need_dw)


def conv3d_maxpool_backward(dy, argmax, y, x, w, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                            activation="linear", alpha=None, pool_size, pool_strides=None, pool_padding="valid",
                            use_bias=True, need_dx=True, need_dw=True):
    """Gradients ``(dx, dw, db)`` of `conv3d_maxpool_forward`; see `conv1d_maxpool_backward`."""
    return _impl().conv3d_maxpool_backward(dy, argmax, y, x, w, strides=strides, padding=padding,
                                           dilation_rate=dilation_rate, activation=activation, alpha=alpha,
                                           pool_size=pool_size, pool_strides=pool_strides,
                                           pool_padding=pool_padding, use_bias=use_bias,
                                           need_dx=need_dx, need_dw=need_dw)


def global_avgpool_forward(x):
    """y (N, C): the mean of x (N, L, C), (N, H, W, C) or (N, D, H, W, C) over all spatial positions."""
    return _impl().global_avgpool_forward(x)


def global_avgpool_backward(dy, x_shape):
    """dx (``x_shape``) of `global_avgpool_forward` given dy (N, C)."""
    return _impl().global_avgpool_backward(dy, x_shape)


def global_maxpool_forward(x):
    """``(y, argmax)`` (N, C): the max over all spatial positions and the flat index of its first occurrence."""
    return _impl().global_maxpool_forward(x)


def global_maxpool_backward(dy, argmax, x_shape):
    """dx (``x_shape``) of `global_maxpool_forward` given dy (N, C) and its argmax."""
    return _impl().global_maxpool_backward(dy, argmax, x_shape)


# ---- Recurrent (recurrent issue) --------------------------------------------------------------
#
# Sequences are batch-first: x (N, T, C) -> h_seq (N, T, OC). Weights in Keras's layouts with G
# gates: w (C, G*OC), u (OC, G*OC), b (G*OC,) — (2, 3*OC) for a GRU with reset_after (input
# bias, recurrent bias) — or None. LSTM gates i, f, c, o; GRU gates z, r, h. With go_backwards the
# input is read from the last step to the first and h_seq comes in that processing order (Keras).
# The forward pass returns an opaque ``cache`` (a flat array) that its backward needs; it records
# how the forward ran, and a backward given another forward's cache, or other activations,
# direction, reset mode or mask presence, raises ValueError rather than return wrong gradients.
# Backward ops take the upstream gradients dh_seq (N, T, OC) and dh_last (N, OC), either of which may be
# None (zero), and return dx (None unless need_dx), dw, du, db (None unless use_bias; all three
# None when need_dw is False, a frozen layer) and the initial-state gradients. activation / recurrent_activation: any elementwise activation of
# `activation_forward` (tanh, sigmoid, relu, hard_sigmoid, ...), not softmax.
# ``mask`` (N, T) boolean or None: Keras's time-step mask, in x's time order (not reversed by
# go_backwards). A step masked for a sample leaves its states unchanged (h_t = h_{t-1}, and c for
# an LSTM), so h_seq repeats the previous state there; its gradient passes straight through to the
# step before, and dx is 0 there. Give backward the same mask.


def simple_rnn_forward(x, w, u, b=None, h0=None, *, activation="tanh", go_backwards=False, return_sequences=True,
                       recurrent_mask=None, mask=None):
    """SimpleRNN over a sequence: ``h_t = activation(x_t @ w + b + (h_{t-1} * m) @ u)``, h_{-1} = h0.

    x (N, T, C), w (C, OC), u (OC, OC), b (OC,) or None, h0 (N, OC) or None (zeros). Returns
    ``(h_seq, h_last, cache)``: h_seq (N, T, OC), or None when ``return_sequences`` is False;
    h_last (N, OC). ``recurrent_mask`` m (N, OC) or None (ones): Keras's recurrent dropout, the
    same mask at every step, scaling the state only where it enters the recurrent product.
    """
    return _impl().simple_rnn_forward(x, w, u, b, h0, activation=activation, go_backwards=go_backwards,
                                      return_sequences=return_sequences, recurrent_mask=recurrent_mask, mask=mask)


def simple_rnn_backward(dh_seq, dh_last, x, w, u, cache, *, activation="tanh", go_backwards=False, use_bias=True,
                        need_dx=True, need_dw=True, recurrent_mask=None, mask=None):
    """Backpropagation through time of `simple_rnn_forward` (given its recurrent_mask): returns
    ``(dx, dw, du, db, dh0)``."""
    return _impl().simple_rnn_backward(dh_seq, dh_last, x, w, u, cache, activation=activation,
                                       go_backwards=go_backwards, use_bias=use_bias, need_dx=need_dx, need_dw=need_dw,
                                       recurrent_mask=recurrent_mask, mask=mask)


def lstm_forward(x, w, u, b=None, h0=None, c0=None, *, activation="tanh", recurrent_activation="sigmoid",
                 go_backwards=False, return_sequences=True, recurrent_mask=None, mask=None):
    """LSTM over a sequence (Keras gates i, f, c, o).

    ``i, f, o = recurrent_activation(...)``, ``g = activation(...)`` of ``x_t @ w + h_{t-1} @ u + b``
    split in four; ``c_t = f * c_{t-1} + i * g``; ``h_t = o * activation(c_t)``. x (N, T, C),
    w (C, 4*OC), u (OC, 4*OC), b (4*OC,) or None, h0 and c0 (N, OC) or None. Returns
    ``(h_seq, h_last, c_last, cache)``. ``recurrent_mask`` (N, OC) or None: recurrent dropout, as in
    `simple_rnn_forward` (``h_{t-1} * m`` enters the product; the carried state is unmasked).
    """
    return _impl().lstm_forward(x, w, u, b, h0, c0, activation=activation, recurrent_activation=recurrent_activation,
                                go_backwards=go_backwards, return_sequences=return_sequences,
                                recurrent_mask=recurrent_mask, mask=mask)


def lstm_backward(dh_seq, dh_last, dc_last, x, w, u, cache, *, activation="tanh", recurrent_activation="sigmoid",
                  go_backwards=False, use_bias=True, need_dx=True, need_dw=True, recurrent_mask=None, mask=None):
    """Backpropagation through time of `lstm_forward` (given its recurrent_mask): returns
    ``(dx, dw, du, db, dh0, dc0)``.

    ``dc_last`` (N, OC) or None is the gradient reaching the final cell state.
    """
    return _impl().lstm_backward(dh_seq, dh_last, dc_last, x, w, u, cache, activation=activation,
                                 recurrent_activation=recurrent_activation, go_backwards=go_backwards,
                                 use_bias=use_bias, need_dx=need_dx, need_dw=need_dw, recurrent_mask=recurrent_mask,
                                 mask=mask)


def lstm_cell_forward(z, c_prev, *, activation="tanh", recurrent_activation="sigmoid"):
    """One LSTM step over independent rows (a ConvLSTM step's pixels): ``z`` (..., 4*OC) the gates'
    pre-activations [i f c o] (the input and recurrent products and the bias), ``c_prev`` (..., OC).

    Returns ``(gates, c, a, h)``: the activated gates (..., 4*OC), ``c = f*c_prev + i*g``,
    ``a = activation(c)`` and ``h = o*a`` (..., OC each); `lstm_cell_backward` takes them back.
    """
    return _impl().lstm_cell_forward(z, c_prev, activation=activation, recurrent_activation=recurrent_activation)


def lstm_cell_backward(dh, dc, gates, a, c_prev, *, activation="tanh", recurrent_activation="sigmoid"):
    """Gradients of `lstm_cell_forward` from ``dh`` and ``dc`` (None: zeros) reaching its h and c:
    returns ``(dz, dc_prev)``, (..., 4*OC) and (..., OC)."""
    return _impl().lstm_cell_backward(dh, dc, gates, a, c_prev, activation=activation,
                                      recurrent_activation=recurrent_activation)


def gru_forward(x, w, u, b=None, h0=None, *, reset_after=True, activation="tanh", recurrent_activation="sigmoid",
                go_backwards=False, return_sequences=True, recurrent_mask=None, mask=None):
    """GRU over a sequence (Keras gates z, r, h): ``h_t = z * h_{t-1} + (1 - z) * hh``.

    ``z, r = recurrent_activation(x_t @ w_zr + b_zr + h_{t-1} @ u_zr [+ b_rec_zr])``; with
    ``reset_after`` (Keras 3's default, b (2, 3*OC)): ``hh = activation(x_t @ w_h + b_h + r *
    (h_{t-1} @ u_h + b_rec_h))``; without (b (3*OC,)): ``hh = activation(x_t @ w_h + b_h +
    (r * h_{t-1}) @ u_h)``. x (N, T, C), w (C, 3*OC), u (OC, 3*OC). Returns
    ``(h_seq, h_last, cache)``.

    ``recurrent_mask`` (3, N, OC): recurrent dropout as Keras 3's GRUCell does it, one mask per
    gate: h_{t-1} @ u_g becomes (h_{t-1} * recurrent_mask[g]) @ u_g for g = z, r, h (the state
    update still uses h_{t-1} itself). Give backward the same mask.
    """
    return _impl().gru_forward(x, w, u, b, h0, reset_after=reset_after, activation=activation,
                               recurrent_activation=recurrent_activation, go_backwards=go_backwards,
                               return_sequences=return_sequences, recurrent_mask=recurrent_mask, mask=mask)


def gru_backward(dh_seq, dh_last, x, w, u, cache, *, reset_after=True, activation="tanh",
                 recurrent_activation="sigmoid", go_backwards=False, use_bias=True, need_dx=True,
                 need_dw=True, recurrent_mask=None, mask=None):
    """Backpropagation through time of `gru_forward`: returns ``(dx, dw, du, db, dh0)``.

    db has the bias's shape: (2, 3*OC) with ``reset_after``, else (3*OC,).
    """
    return _impl().gru_backward(dh_seq, dh_last, x, w, u, cache, reset_after=reset_after, activation=activation,
                                recurrent_activation=recurrent_activation, go_backwards=go_backwards,
                                use_bias=use_bias, need_dx=need_dx, need_dw=need_dw, recurrent_mask=recurrent_mask,
                                mask=mask)


# ---- Keras 3's keras.ops (fastnn._keras_ops) ------------------------------------------------------
#
# The array functions of Keras 3's ops (numpy, nn, core, math, linalg) under their Keras names, on
# arrays and on tape/symbolic tensors with gradients: the names of `fastnn._keras_ops.__all__`. The
# kernel functions above keep theirs: a Keras name one of them has (matmul) is not among them
# (``matmul`` above hands tensors to Keras's). Some shadow Python builtins in this module (abs, max,
# min, sum, round, all, any, map, slice); its code above uses none of them.
from . import _keras_ops  # noqa: E402
from ._keras_ops import *  # noqa: E402,F401,F403
from ._keras_ops import image, linalg, nn, numpy  # noqa: E402,F401 (Keras 3's keras.ops.nn, .numpy, .linalg, .image)
