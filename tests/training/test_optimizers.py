"""LazyAdam against a NumPy Adam applied to the looked-up rows only."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_tf.training.optimizers import LazyAdam, get_optimizer


def _numpy_lazy_adam(table, steps, lr=0.1, b1=0.9, b2=0.999, eps=1e-7):
    w = table.copy()
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, (ids, grads) in enumerate(steps, start=1):
        g = np.zeros_like(w)
        np.add.at(g, ids, grads)
        rows = np.unique(ids)
        m[rows] = b1 * m[rows] + (1 - b1) * g[rows]
        v[rows] = b2 * v[rows] + (1 - b2) * g[rows] ** 2
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        w[rows] -= alpha * m[rows] / (np.sqrt(v[rows]) + eps)
    return w


def test_sparse_updates_match_numpy_and_leave_other_rows():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(6, 3)).astype(np.float32)
    var = keras.Variable(table)
    opt = LazyAdam(learning_rate=0.1)
    opt.build([var])
    steps = [
        (np.array([0, 2, 2]), rng.normal(size=(3, 3)).astype(np.float32)),
        (np.array([2, 5]), rng.normal(size=(2, 3)).astype(np.float32)),
        (np.array([0]), rng.normal(size=(1, 3)).astype(np.float32)),
    ]
    for ids, grads in steps:
        grad = tf.IndexedSlices(
            tf.constant(grads), tf.constant(ids), tf.constant([6, 3])
        )
        opt.apply_gradients([(grad, var)])
    expected = _numpy_lazy_adam(table, steps)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(var), expected, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(var)[[1, 3, 4]], table[[1, 3, 4]]
    )


def test_dense_gradient_is_plain_adam():
    rng = np.random.default_rng(1)
    start = rng.normal(size=(4,)).astype(np.float32)
    a, b = keras.Variable(start), keras.Variable(start)
    lazy, plain = LazyAdam(0.05), keras.optimizers.Adam(0.05)
    for _ in range(3):
        g = tf.constant(rng.normal(size=(4,)).astype(np.float32))
        lazy.apply_gradients([(g, a)])
        plain.apply_gradients([(g, b)])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-6
    )


def _two_sparse_steps(optimizer):
    """Embedding rows after a step on rows [3, 7], then a step on row [3] only."""
    keras.utils.set_random_seed(0)
    layer = keras.layers.Embedding(50, 4)
    layer.build((None,))
    tables = [keras.ops.convert_to_numpy(layer.embeddings).copy()]
    for ids in ([3, 7], [3]):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(tf.constant(ids)) ** 2)
        grads = tape.gradient(loss, layer.trainable_variables)
        assert isinstance(grads[0], tf.IndexedSlices)
        optimizer.apply_gradients(zip(grads, layer.trainable_variables))
        tables.append(keras.ops.convert_to_numpy(layer.embeddings).copy())
    return tables


def _changed(before, after):
    return np.flatnonzero(np.any(after != before, axis=1)).tolist()


def test_embedding_rows_not_looked_up_keep_their_value():
    start, first, second = _two_sparse_steps(LazyAdam(0.1))
    assert _changed(start, first) == [3, 7]
    # Step 2 looks up row 3 only: row 7 keeps its value although its moments
    # are non-zero (dense Adam would move it with the decayed first moment).
    assert _changed(first, second) == [3]
    _, _, dense = _two_sparse_steps(keras.optimizers.Adam(0.1))
    assert _changed(first, dense) == [3, 7]


def test_bad_arguments():
    with pytest.raises(ValueError, match="amsgrad"):
        LazyAdam(amsgrad=True)
    with pytest.raises(ValueError, match="weight_decay"):
        LazyAdam(weight_decay=0.1)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        get_optimizer("adamm", 0.1)
    assert isinstance(get_optimizer("sgd", 0.1), keras.optimizers.SGD)


def test_config_round_trip():
    opt = LazyAdam(learning_rate=0.02, beta_1=0.8, epsilon=1e-6)
    again = LazyAdam.from_config(opt.get_config())
    assert again.get_config() == opt.get_config()
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(restored, LazyAdam)
    assert restored.get_config() == opt.get_config()
