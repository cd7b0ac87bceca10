"""Tests of `FactorizationMachine` against the O(k n^2) pairwise sum in NumPy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_tf.layers import FactorizationMachine
from tests import testing


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _embeddings(shape=(6, 4, 3), seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(6, 4, 3), (2, 7, 1), (3, 2, 5)])
def test_shapes_config_and_saving(shape, tmp_path):
    testing.run_layer_test(
        FactorizationMachine,
        {},
        _embeddings(shape),
        (shape[0], 1),
        expect_trainable_weights=False,
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("shape", [(6, 4, 3), (5, 10, 16), (3, 2, 1)])
def test_matches_the_pairwise_sum(shape):
    # sum_{i<j} <e_i, e_j> by the explicit loop over pairs (Rendle 2010, Eq. (1)).
    e = _embeddings(shape)
    out = testing.to_numpy(FactorizationMachine()(e))
    pairwise = testing.numpy_kernel_products(e).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out, pairwise, rtol=1e-5, atol=1e-5)


def test_invariants():
    e = _embeddings()
    layer = FactorizationMachine()
    # A single field has no pair.
    np.testing.assert_array_equal(testing.to_numpy(layer(e[:, :1])), np.zeros((6, 1)))
    # The order of the fields does not matter.
    np.testing.assert_allclose(
        testing.to_numpy(layer(e[:, ::-1])), testing.to_numpy(layer(e)), rtol=1e-5
    )
    # Orthogonal embeddings do not interact.
    orthogonal = np.eye(3, dtype=np.float32)[None].repeat(2, axis=0) * 2.0
    np.testing.assert_allclose(testing.to_numpy(layer(orthogonal)), 0.0, atol=1e-6)


def test_gradient_is_the_sum_of_the_other_fields():
    # d/de_i sum_{i<j} <e_i, e_j> = sum_{j != i} e_j.
    e = _embeddings()
    x = tf.Variable(e)
    layer = FactorizationMachine()
    testing.assert_trainable_gradients(
        layer, lambda: keras.ops.sum(layer(x)), variables=[x]
    )
    with tf.GradientTape() as tape:
        total = keras.ops.sum(layer(x))
    grad = testing.to_numpy(tape.gradient(total, x))
    expected = e.sum(axis=1, keepdims=True) - e
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4, 5)])
def test_bad_input_rank_raises(shape):
    with pytest.raises(ValueError, match=r"\[batch, num_fields, dim\]"):
        FactorizationMachine()(np.zeros(shape, np.float32))
