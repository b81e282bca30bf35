"""tf.train.Checkpoint and CheckpointManager, as TensorFlow's checkpoint guide and its GAN and
Transformer tutorials use them: values named by where they are held, restored into objects made
again (a subclassed model before it has weights: they wait for its first call), the optimizer's
state and step count, numbered saves and max_to_keep."""

import os

import numpy as np
import pytest

import fastnn as tf


class Net(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.l1 = tf.keras.layers.Dense(5)

    def call(self, x):
        return self.l1(x)


X = np.arange(10, dtype=np.float32)[:, None]
Y = X * 5 + np.arange(5, dtype=np.float32)


def train_step(net, optimizer):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.abs(net(X) - Y))
    optimizer.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))


def test_guide_resumes_a_subclassed_model_and_its_optimizer_exactly(tmp_path):
    tf.keras.utils.set_random_seed(0)
    net, opt = Net(), tf.keras.optimizers.Adam(0.1)
    ckpt = tf.train.Checkpoint(step=tf.Variable(1), optimizer=opt, net=net)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path / "tf_ckpts"), max_to_keep=3)
    assert manager.latest_checkpoint is None
    status = ckpt.restore(manager.latest_checkpoint)  # (no checkpoint yet: nothing happens)
    with pytest.raises(AssertionError, match="nothing is being restored"):
        status.assert_consumed()
    for _ in range(4):
        train_step(net, opt)
        ckpt.step.assign_add(1)
    path = manager.save()
    assert path == str(tmp_path / "tf_ckpts" / "ckpt-1") and int(ckpt.save_counter) == 1
    saved = [w.copy() for w in net.weights]
    train_step(net, opt)
    expected = [w.copy() for w in net.weights]

    # a new process's objects: the model has no weights yet, the optimizer no state
    net2, opt2 = Net(), tf.keras.optimizers.Adam(0.1)
    ckpt2 = tf.train.Checkpoint(step=tf.Variable(1), optimizer=opt2, net=net2)
    manager2 = tf.train.CheckpointManager(ckpt2, str(tmp_path / "tf_ckpts"), max_to_keep=3)
    assert manager2.latest_checkpoint == path
    ckpt2.restore(manager2.latest_checkpoint)
    assert int(ckpt2.step) == 5 and int(opt2.iterations) == 4
    net2(X[:1])  # (its weights are made now, with the restored values)
    for a, b in zip(net2.weights, saved):
        np.testing.assert_array_equal(a, b)
    train_step(net2, opt2)  # the optimizer's moments were restored too: the same step as before
    for a, b in zip(net2.weights, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert manager2.save() == str(tmp_path / "tf_ckpts" / "ckpt-2")  # (the save counter goes on)


def test_manager_keeps_the_last_max_to_keep(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0]))
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2, checkpoint_name="model")
    paths = [manager.save() for _ in range(4)]
    assert manager.checkpoints == paths[2:]
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model-3", "model-4"]
    assert tf.train.latest_checkpoint(str(tmp_path)) == paths[-1]
    assert tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2).checkpoints == paths[2:]
    assert manager.save(checkpoint_number=100) == str(tmp_path / "model-100")


def test_functional_model_with_its_compiled_optimizer(tmp_path):
    def make():
        tf.keras.utils.set_random_seed(1)
        inp = tf.keras.Input((1,))
        model = tf.keras.Model(inp, tf.keras.layers.Dense(5, name="out")(tf.keras.layers.Dense(3, name="h")(inp)))
        model.compile(tf.keras.optimizers.RMSprop(0.01), "mse")
        return model

    model = make()
    model.fit(X, Y, epochs=2, verbose=0)
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    model.fit(X, Y, epochs=1, verbose=0)
    expected = model.predict(X, verbose=0)
    other = make()
    tf.train.Checkpoint(model=other).restore(path).assert_consumed()
    assert int(other.optimizer.iterations) == 2
    other.fit(X, Y, epochs=1, verbose=0)
    np.testing.assert_allclose(other.predict(X, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_mismatches_are_clear_and_change_nothing(tmp_path):
    path = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0]), w=tf.Variable(3.0)).write(str(tmp_path / "c"))
    v = tf.Variable([0.0, 0.0, 0.0])
    w = tf.Variable(0.0)
    with pytest.raises(ValueError, match=r"shapes differ: v: \(2,\) in file, \(3,\) here"):
        tf.train.Checkpoint(v=v, w=w).restore(path)
    assert float(w) == 0.0
    status = tf.train.Checkpoint(w=w).restore(path)
    assert float(w) == 3.0
    status.assert_existing_objects_matched()
    with pytest.raises(AssertionError, match=r"not matched to any object: \['v'\]"):
        status.assert_consumed()
    status.expect_partial()
    with pytest.raises(AssertionError, match=r"objects with no value in the file: \['u'\]"):
        tf.train.Checkpoint(w=w, u=tf.Variable(1.0)).restore(path).assert_consumed()
    with pytest.raises(ValueError, match="not something a checkpoint can hold"):
        tf.train.Checkpoint(step=3)
    with pytest.raises(ValueError, match="max_to_keep must be a positive integer"):
        tf.train.CheckpointManager(tf.train.Checkpoint(w=w), str(tmp_path), max_to_keep=0)


def test_int_variables_and_integer_tensors_as_indices():
    step = tf.Variable(7)
    assert int(step) == 7 and list(range(3))[: tf.constant(2)] == [0, 1]
    with pytest.raises(TypeError, match="only integer tensors"):
        list(range(3))[: tf.Variable(1.5)]


def test_dcgan_tutorial_restores_into_models_made_again_with_new_layer_names(tmp_path):
    # the DCGAN tutorial: Checkpoint(generator_optimizer, discriminator_optimizer, generator,
    # discriminator); a notebook that makes the models again gets "dense_5" for "dense_1"
    def make():
        generator = tf.keras.Sequential([tf.keras.layers.Dense(4, input_shape=(2,)),
                                         tf.keras.layers.BatchNormalization(), tf.keras.layers.Dense(3)])
        discriminator = tf.keras.Sequential([tf.keras.layers.Dense(1)])  # (built by its first call)
        return generator, discriminator, tf.keras.optimizers.Adam(1e-3), tf.keras.optimizers.Adam(1e-3)

    def checkpoint(g, d, g_opt, d_opt):
        return tf.train.Checkpoint(generator_optimizer=g_opt, discriminator_optimizer=d_opt, generator=g,
                                   discriminator=d)

    g, d, g_opt, d_opt = make()
    noise = np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(d(g(noise, training=True)))
    g_opt.apply_gradients(zip(tape.gradient(loss, g.trainable_variables), g.trainable_variables))
    path = checkpoint(g, d, g_opt, d_opt).save(str(tmp_path / "training_checkpoints" / "ckpt"))
    g2, d2, g_opt2, d_opt2 = make()
    assert g2.layers[0].name != g.layers[0].name
    checkpoint(g2, d2, g_opt2, d_opt2).restore(tf.train.latest_checkpoint(str(tmp_path / "training_checkpoints")))
    np.testing.assert_array_equal(g2.predict(noise, verbose=0), g.predict(noise, verbose=0))
    np.testing.assert_array_equal(d2.predict(noise[:, :1].repeat(3, 1), verbose=0), d.predict(noise[:, :1].repeat(3, 1), verbose=0))
    assert path.endswith("ckpt-1") and int(g_opt2.iterations) == 1


@pytest.mark.parametrize("make_optimizer", [lambda: tf.keras.optimizers.Nadam(0.01),
                                            lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9)])
def test_the_optimizers_numbers_are_restored_too(tmp_path, make_optimizer):
    # a learning rate lowered by ReduceLROnPlateau and Nadam's momentum-cache product are state
    def make():
        tf.keras.utils.set_random_seed(0)
        model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(5)])
        model.compile(make_optimizer(), "mse")
        return model

    model = make()
    model.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    model.optimizer.learning_rate = 0.003125
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    other = make()
    tf.train.Checkpoint(model=other).restore(path).assert_consumed()
    assert float(other.optimizer.learning_rate) == pytest.approx(0.003125)
    model.fit(X, Y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    other.fit(X, Y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_save_lists_only_the_latest_in_the_state_file(tmp_path):
    # TensorFlow's Checkpoint.save records all_model_checkpoint_paths=[file_path]: the state file
    # (and each save's time) does not grow with the saves
    import fastnn as tf

    ckpt = tf.train.Checkpoint(step=tf.Variable(1))
    for _ in range(5):
        path = ckpt.save(str(tmp_path / "ck"))
    assert tf.train.latest_checkpoint(str(tmp_path)) == path
    assert len((tmp_path / "checkpoint").read_text().splitlines()) == 2
