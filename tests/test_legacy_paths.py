"""Keras 2's module paths (ported imports of older course notes) and pad_sequences."""

import numpy as np
import pytest

import fastnn


def test_keras_2_module_paths():
    from fastnn.layers.advanced_activations import LeakyReLU
    from fastnn.layers.convolutional import Conv2D, MaxPooling2D, UpSampling2D
    from fastnn.layers.core import Dense, Lambda
    from fastnn.layers.embeddings import Embedding
    from fastnn.layers.merge import concatenate
    from fastnn.utils import np_utils
    from fastnn.utils.np_utils import to_categorical

    layers = fastnn.layers
    assert (Conv2D, MaxPooling2D, UpSampling2D, LeakyReLU, Dense, Lambda, Embedding, concatenate) == \
        (layers.Conv2D, layers.MaxPooling2D, layers.UpSampling2D, layers.LeakyReLU, layers.Dense, layers.Lambda,
         layers.Embedding, layers.concatenate)
    assert np_utils.to_categorical is to_categorical is fastnn.utils.to_categorical


def test_keras_2_experimental_preprocessing_and_separable_paths():
    from fastnn.layers.convolutional import DepthwiseConv2D, SeparableConv2D
    from fastnn.layers.experimental.preprocessing import RandomFlip, RandomRotation, Rescaling

    layers = fastnn.layers
    assert (RandomFlip, RandomRotation, Rescaling, SeparableConv2D, DepthwiseConv2D) == \
        (layers.RandomFlip, layers.RandomRotation, layers.Rescaling, layers.SeparableConv2D, layers.DepthwiseConv2D)


def test_keras_2_paths_under_the_keras_alias():
    # ported `from keras.utils.np_utils import ...` / `from tensorflow.keras.layers.experimental...`:
    # fastnn.keras.utils is a module, not a package, so these names must be registered themselves
    from fastnn.keras.layers.experimental.preprocessing import Rescaling
    from fastnn.keras.optimizers.legacy import Adam
    from fastnn.keras.utils.np_utils import to_categorical
    from fastnn.keras.utils.vis_utils import plot_model

    assert (to_categorical, Rescaling, plot_model) == \
        (fastnn.utils.to_categorical, fastnn.layers.Rescaling, fastnn.utils.plot_model)
    # tf.keras 2.11+'s legacy optimizers took lr= and decay=
    assert Adam is fastnn.keras.optimizers.legacy.Adam is fastnn.optimizers.Adam
    assert float(Adam(lr=0.01, decay=1e-3).learning_rate) == pytest.approx(0.01)


def test_keras_alias_imports_keep_the_modules_own_spec():
    # `from keras.models import Model` ported: the alias must not replace fastnn.models' __spec__
    # (its relative imports then warned "__package__ != __spec__.parent", an error under -W error)
    import subprocess
    import sys

    script = ("from fastnn.keras.layers import Dense, Input\n"
              "from fastnn.keras.models import Model\n"
              "import fastnn.keras.backend as K\n"
              "import fastnn, numpy as np\n"
              "x = Input((3,))\n"
              "Model(x, Dense(2)(x))\n"
              "assert fastnn.models.__spec__.name == 'fastnn.models' and float(K.mean(np.ones(3))) == 1.0\n")
    done = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_pad_sequences_as_keras():
    from fastnn.preprocessing.sequence import pad_sequences

    seqs = [[1, 2, 3], [4, 5], [6]]
    np.testing.assert_array_equal(pad_sequences(seqs), [[1, 2, 3], [0, 4, 5], [0, 0, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2), [[2, 3], [4, 5], [0, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2, truncating="post", padding="post", value=-1),
                                  [[1, 2], [4, 5], [6, -1]])
    assert pad_sequences(seqs).dtype == np.int32 and pad_sequences([[]], maxlen=3).shape == (1, 3)
    vectors = pad_sequences([np.ones((2, 4)), np.ones((1, 4))], dtype="float32")
    assert vectors.shape == (2, 2, 4) and vectors[1, 0].sum() == 0
    assert fastnn.utils.pad_sequences is pad_sequences  # Keras 3's keras.utils.pad_sequences
    with pytest.raises(ValueError, match="padding must be 'pre' or 'post'"):
        pad_sequences(seqs, padding="both")
    with pytest.raises(ValueError, match="every element of `sequences` must be a sequence"):
        pad_sequences([1, 2])
    with pytest.raises(ValueError, match="sequence 1 has elements of shape"):
        pad_sequences([np.ones((2, 4)), np.ones((1, 3))])


def test_keras_2_small_names():
    from fastnn.keras import backend as K
    from fastnn.keras.constraints import maxnorm
    from fastnn.keras.preprocessing.text import hashing_trick, one_hot

    # hashing_trick: each word's hash mod (n - 1) + 1; md5 gives ids that hold from run to run
    import hashlib

    want = [int(hashlib.md5(w.encode()).hexdigest(), 16) % 49 + 1 for w in ("well", "done")]
    assert hashing_trick("Well done!", 50, hash_function="md5") == want
    ids = one_hot("the cat the", 10)
    assert len(ids) == 3 and ids[0] == ids[2] and all(1 <= i <= 9 for i in ids)
    assert maxnorm is fastnn.constraints.MaxNorm
    assert float(K.eval(fastnn.Variable(0.5))) == 0.5
    model = fastnn.Sequential([fastnn.layers.Dense(1, input_shape=(2,))])
    with pytest.raises(RuntimeError, match="use `model.to_json\\(\\)` instead"):
        model.to_yaml()


def test_mixed_precision_says_what_fastnn_computes_in():
    from fastnn.keras import mixed_precision

    mixed_precision.set_global_policy("float32")
    assert mixed_precision.global_policy().compute_dtype == "float32"
    with pytest.raises(ValueError, match="fastnn computes in float32 on the CPU"):
        mixed_precision.set_global_policy("mixed_float16")
    assert fastnn.utils.floatx() == "float32"


def test_dtype_policies_keras_3_names_and_bool_inputs():
    from fastnn import keras

    layer = keras.layers.Dense(2, dtype=keras.DTypePolicy("float64"))
    assert layer.dtype == layer.compute_dtype == layer.variable_dtype == "float64"
    assert layer.dtype_policy.name == "float64"
    assert keras.layers.Dense(2, dtype=keras.mixed_precision.global_policy()).dtype == "float32"
    keras.config.set_dtype_policy("float64")
    try:
        assert keras.config.dtype_policy().name == "float64" and keras.layers.Dense(1).dtype == "float64"
    finally:
        keras.config.set_dtype_policy("float32")
    # a boolean Input (a mask as a model input), as float 0/1 to the float layers
    x, m = keras.Input((4,)), keras.Input((4,), dtype="bool")
    assert m.dtype == "bool"
    model = keras.Model([x, m], keras.layers.Dense(1)(keras.layers.Multiply()([x, m])))
    xs, ms = np.random.default_rng(0).random((3, 4)).astype("float32"), np.array([[1, 0, 1, 0]] * 3, bool)
    kernel, bias = model.layers[-1].get_weights()
    np.testing.assert_allclose(model.predict([xs, ms], verbose=0), (xs * ms) @ kernel + bias, rtol=1e-5, atol=1e-6)
