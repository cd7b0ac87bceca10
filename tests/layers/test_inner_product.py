"""Tests of `InnerProduct` against a NumPy loop over the field pairs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_tf.layers import InnerProduct
from tests import testing


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _embeddings(shape=(6, 4, 3), seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize(
    "shape, expected", [((6, 4, 3), (6, 6)), ((2, 2, 5), (2, 1)), ((3, 10, 2), (3, 45))]
)
def test_shapes_config_and_saving(shape, expected, tmp_path):
    testing.run_layer_test(
        InnerProduct,
        {},
        _embeddings(shape),
        expected,
        expect_trainable_weights=False,
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("shape", [(6, 4, 3), (5, 10, 16), (3, 2, 1)])
def test_matches_numpy_pairs_in_row_major_order(shape):
    e = _embeddings(shape)
    out = testing.to_numpy(InnerProduct()(e))
    np.testing.assert_allclose(
        out, testing.numpy_kernel_products(e), rtol=1e-5, atol=1e-5
    )


def test_pair_order_on_a_hand_example():
    # Fields 1, 2, 3 times the unit vector: products (0,1)=2, (0,2)=3, (1,2)=6.
    e = np.array([[[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]], np.float32)
    np.testing.assert_array_equal(testing.to_numpy(InnerProduct()(e)), [[2, 3, 6]])


def test_every_input_gets_a_gradient():
    x = tf.Variable(_embeddings())
    layer = InnerProduct()
    projection = np.random.default_rng(2).normal(size=(6, 6)).astype(np.float32)
    testing.assert_trainable_gradients(
        layer, lambda: keras.ops.sum(layer(x) * projection), variables=[x]
    )


@pytest.mark.parametrize("shape", [(4, 3), (4, 1, 3), (2, 3, 4, 5)])
def test_bad_inputs_raise(shape):
    with pytest.raises(ValueError, match="num_fields >= 2"):
        InnerProduct()(np.zeros(shape, np.float32))
