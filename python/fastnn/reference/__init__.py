"""fastnn.reference — the pure-NumPy backend: every op of ``fastnn.ops`` with the same name and
arguments. It is the oracle for the tests and the baseline for the benchmarks, and it computes in
float64 when given float64 (for finite-difference gradient checks). It never imports the C++ side.
"""

# ---- GEMM, activations, dense, losses ---------------------------------------------------------
from .gemm import gemm, matmul
from .activations import activation_backward, activation_forward
from .dense import dense_backward, dense_forward
from .losses import crossentropy_logits_backward, loss_backward, loss_forward

# ---- Optimizers, normalisation, dropout (model-layer issue) -----------------------------------
from .optim import adagrad_update, adam_update, rmsprop_update, sgd_update
from .norm import batchnorm_backward, batchnorm_forward, dropout_backward, dropout_forward

# ---- Convolution and pooling (convolution issue) ----------------------------------------------

# ---- Recurrent (recurrent issue) --------------------------------------------------------------
from .rnn import (gru_backward, gru_forward, lstm_backward, lstm_forward, simple_rnn_backward,
                  simple_rnn_forward)
