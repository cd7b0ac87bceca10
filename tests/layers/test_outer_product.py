"""Tests of `OuterProduct` (kernel products) against a NumPy loop over the pairs."""

import numpy as np
import pytest

from recsys_tf.layers import InnerProduct, OuterProduct
from tests import testing


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _embeddings(shape=(6, 4, 3), seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("kernel_type", ["mat", "vec", "num"])
@pytest.mark.parametrize("shape, expected", [((6, 4, 3), (6, 6)), ((2, 2, 5), (2, 1))])
def test_shapes_config_gradients_and_saving(kernel_type, shape, expected, tmp_path):
    testing.run_layer_test(
        OuterProduct,
        dict(kernel_type=kernel_type, kernel_regularizer=1e-3),
        _embeddings(shape),
        expected,
        save_dir=tmp_path,
    )


@pytest.mark.parametrize(
    "kernel_type, kernel_shape", [("mat", (6, 3, 3)), ("vec", (6, 3)), ("num", (6,))]
)
def test_matches_numpy_kernel_products(kernel_type, kernel_shape):
    e = _embeddings()
    layer = OuterProduct(kernel_type)
    layer(e)
    assert tuple(layer.kernel.shape) == kernel_shape
    # A non-symmetric kernel, so that swapping e_i and e_j would show.
    kernel = np.random.default_rng(3).normal(size=kernel_shape).astype(np.float32)
    layer.kernel.assign(kernel)
    out = testing.to_numpy(layer(e))
    np.testing.assert_allclose(
        out, testing.numpy_kernel_products(e, kernel, kernel_type), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("kernel_type", ["mat", "vec", "num"])
def test_identity_kernels_give_the_inner_products(kernel_type):
    e = _embeddings()
    layer = OuterProduct(kernel_type)
    layer(e)
    identity = {"mat": np.eye(3)[None].repeat(6, 0), "vec": np.ones((6, 3))}
    layer.kernel.assign(identity.get(kernel_type, np.ones(6)).astype(np.float32))
    np.testing.assert_allclose(
        testing.to_numpy(layer(e)), testing.to_numpy(InnerProduct()(e)), rtol=1e-5
    )


def test_kernel_regularizer_adds_l2_of_the_kernel():
    e = _embeddings()
    layer = OuterProduct(kernel_regularizer=0.01)
    layer(e)
    kernel = testing.to_numpy(layer.kernel)
    total = sum(float(testing.to_numpy(loss)) for loss in layer.losses)
    np.testing.assert_allclose(total, 0.01 * np.sum(kernel**2), rtol=1e-5)
    unregularised = OuterProduct()
    unregularised(e)
    assert unregularised.losses == []


@pytest.mark.parametrize(
    "kwargs", [dict(kernel_type="foo"), dict(kernel_regularizer=-1.0)]
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        OuterProduct(**kwargs)


@pytest.mark.parametrize("shape", [(4, 3), (4, 1, 3)])
def test_bad_inputs_raise(shape):
    with pytest.raises(ValueError, match="num_fields >= 2"):
        OuterProduct()(np.zeros(shape, np.float32))
