"""fastnn.reference — the pure-NumPy backend: every op of ``fastnn.ops`` with the same name and
arguments. It is the oracle for the tests and the baseline for the benchmarks, and it computes in
float64 when given float64 (for finite-difference gradient checks). It never imports the C++ side.
"""

# ---- GEMM, activations, dense, losses ---------------------------------------------------------
from .gemm import attention_forward, batched_matmul, gemm, matmul
from .activations import activation_backward, activation_backward_input, activation_forward
from .dense import dense_backward, dense_forward
from .losses import crossentropy_logits_backward, loss_backward, loss_forward

# ---- Optimizers, normalisation, dropout (model-layer issue) -----------------------------------
from .optim import (adadelta_update, adagrad_update, adam_update, adamax_update, lion_update, nadam_update,
                    rmsprop_update, sgd_update)
from .norm import (batchnorm_backward, batchnorm_forward, dropout_backward, dropout_forward, groupnorm_backward,
                   groupnorm_forward, layernorm_backward, layernorm_forward)

# ---- Convolution and pooling (convolution issue) ----------------------------------------------
from .conv import (
    conv1d_backward,
    conv1d_forward,
    conv2d_backward,
    conv2d_forward,
    conv3d_backward,
    conv3d_forward,
    conv1d_transpose_backward,
    conv1d_transpose_forward,
    conv2d_transpose_backward,
    conv2d_transpose_forward,
    conv3d_transpose_backward,
    conv3d_transpose_forward,
    depthwise_conv1d_backward,
    depthwise_conv1d_forward,
    depthwise_conv2d_backward,
    depthwise_conv2d_forward,
    depthwise_conv3d_backward,
    depthwise_conv3d_forward,
)
from .pool import (
    avgpool1d_backward,
    conv1d_maxpool_backward,
    conv1d_maxpool_forward,
    conv2d_maxpool_backward,
    conv2d_maxpool_forward,
    conv3d_maxpool_backward,
    conv3d_maxpool_forward,
    avgpool1d_forward,
    avgpool2d_backward,
    avgpool2d_forward,
    avgpool3d_backward,
    avgpool3d_forward,
    global_avgpool_backward,
    global_avgpool_forward,
    global_maxpool_backward,
    global_maxpool_forward,
    maxpool1d_backward,
    maxpool1d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    maxpool3d_backward,
    maxpool3d_forward,
)

# ---- Recurrent (recurrent issue) --------------------------------------------------------------
from .rnn import (gru_backward, gru_forward, lstm_backward, lstm_cell_backward, lstm_cell_forward, lstm_forward,
                  simple_rnn_backward, simple_rnn_forward)

__all__ = [
    "activation_backward", "activation_backward_input", "activation_forward", "adadelta_update", "adagrad_update",
    "adam_update", "adamax_update", "attention_forward", "avgpool1d_backward",
    "avgpool1d_forward", "avgpool2d_backward", "avgpool2d_forward", "avgpool3d_backward", "avgpool3d_forward",
    "batched_matmul", "batchnorm_backward", "batchnorm_forward", "conv1d_backward", "conv1d_forward",
    "conv1d_maxpool_backward", "conv1d_maxpool_forward", "conv1d_transpose_backward", "conv1d_transpose_forward",
    "conv2d_backward", "conv2d_forward", "conv2d_maxpool_backward", "conv2d_maxpool_forward",
    "conv2d_transpose_backward", "conv2d_transpose_forward", "conv3d_backward", "conv3d_forward",
    "conv3d_maxpool_backward", "conv3d_maxpool_forward", "conv3d_transpose_backward", "conv3d_transpose_forward",
    "crossentropy_logits_backward", "dense_backward", "dense_forward", "depthwise_conv1d_backward",
    "depthwise_conv1d_forward", "depthwise_conv2d_backward", "depthwise_conv2d_forward",
    "depthwise_conv3d_backward", "depthwise_conv3d_forward", "dropout_backward", "dropout_forward", "gemm",
    "global_avgpool_backward", "global_avgpool_forward", "global_maxpool_backward", "global_maxpool_forward",
    "groupnorm_backward", "groupnorm_forward", "layernorm_backward", "layernorm_forward",
    "gru_backward", "gru_forward", "loss_backward", "loss_forward", "lstm_backward", "lstm_cell_backward",
    "lstm_cell_forward", "lstm_forward", "matmul", "maxpool1d_backward", "maxpool1d_forward", "maxpool2d_backward",
    "maxpool2d_forward", "maxpool3d_backward", "maxpool3d_forward", "rmsprop_update", "sgd_update",
    "simple_rnn_backward", "simple_rnn_forward", "lion_update", "nadam_update",
]
