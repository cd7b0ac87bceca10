"""Tests of `CrossNetwork` against DCN Eq. (3) with the explicit outer product."""

import numpy as np
import pytest

from recsys_tf.layers import CrossNetwork
from tests import testing


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(shape=(5, 6), seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _numpy_cross(layer, x0):
    """Eq. (3) as written: `x_{l+1} = x_0 x_l^T w_l + b_l + x_l`, `x_0 x_l^T` formed."""
    x0 = np.asarray(x0, np.float64)
    x = x0
    for kernel, bias in zip(layer.kernels, layer.biases):
        outer = np.einsum("bi,bj->bij", x0, x)  # [batch, d, d]
        w = testing.to_numpy(kernel).astype(np.float64)  # [d, 1]
        x = (outer @ w)[..., 0] + testing.to_numpy(bias) + x
    return x


@pytest.mark.parametrize("num_layers", [1, 3])
def test_shapes_config_gradients_and_saving(num_layers, tmp_path):
    testing.run_layer_test(
        CrossNetwork,
        dict(num_layers=num_layers, bias_initializer="random_normal"),
        _inputs(),
        (5, 6),
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("num_layers", [1, 2, 4])
def test_matches_numpy_outer_product_form(num_layers):
    x = _inputs()
    layer = CrossNetwork(num_layers, bias_initializer="random_normal")
    out = testing.to_numpy(layer(x))
    assert len(layer.kernels) == len(layer.biases) == num_layers
    # Non-zero biases, so a dropped bias shows.
    assert all(np.abs(testing.to_numpy(b)).max() > 0 for b in layer.biases)
    np.testing.assert_allclose(out, _numpy_cross(layer, x), rtol=1e-4, atol=1e-4)


def test_degree_of_the_polynomial_is_num_layers_plus_one():
    """DCN Sec. 3 (polynomial approximation): with zero biases, x_L is a polynomial
    of degree L + 1 in x_0, so along t -> f(t x_0) its (L+2)-th finite difference
    vanishes while the (L+1)-th does not."""
    num_layers = 2
    layer = CrossNetwork(num_layers)
    x = _inputs((3, 4))
    layer(x)
    ts = np.arange(num_layers + 3, dtype=np.float64)
    values = np.stack([_numpy_cross(layer, t * x) for t in ts])
    np.testing.assert_allclose(testing.to_numpy(layer(2 * x)), values[2], rtol=1e-4)
    assert np.abs(np.diff(values, n=num_layers + 1, axis=0)).max() > 1e-3
    np.testing.assert_allclose(
        np.diff(values, n=num_layers + 2, axis=0), 0.0, atol=1e-8
    )


def test_bad_arguments_and_inputs_raise():
    with pytest.raises(ValueError, match="num_layers"):
        CrossNetwork(0)
    with pytest.raises(ValueError, match=r"\[batch, d\]"):
        CrossNetwork(1)(np.ones((2, 3, 4), np.float32))
