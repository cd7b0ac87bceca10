"""GatedFusion: SDM Eq. (15)-(16) against NumPy."""

import numpy as np
import pytest

from recsys_tf.layers import GatedFusion
from tests import testing


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(seed=1, shape=(3, 4, 5), user_dim=2):
    rng = np.random.default_rng(seed)
    short = rng.normal(size=shape).astype(np.float32)
    long = rng.normal(size=shape).astype(np.float32)
    user = rng.normal(size=(shape[0], user_dim)).astype(np.float32)
    return short, long, user


@pytest.mark.parametrize("shape", [(3, 5), (3, 4, 5)])
def test_layer_contract_and_numpy_reference(shape, tmp_path):
    short, long, user = _inputs(shape=shape)
    layer_output = testing.run_layer_test(
        GatedFusion,
        {},
        short,
        shape,
        call_kwargs={"long_term": long, "user": user},
        save_dir=tmp_path,
    )
    assert np.isfinite(layer_output).all()
    layer = GatedFusion()
    out = testing.to_numpy(layer(short, long_term=long, user=user))
    kernel = testing.to_numpy(layer.gate.kernel).astype(np.float64)
    bias = testing.to_numpy(layer.gate.bias)
    w1, w2, w3 = kernel[:2], kernel[2 : 2 + shape[-1]], kernel[2 + shape[-1] :]
    user_term = user @ w1
    if len(shape) == 3:
        user_term = user_term[:, None, :]
    gate = 1.0 / (1.0 + np.exp(-(user_term + short @ w2 + long @ w3 + bias)))
    expected = (1.0 - gate) * long + gate * short
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_output_lies_between_the_two_inputs():
    short, long, user = _inputs()
    out = testing.to_numpy(GatedFusion()(short, long_term=long, user=user))
    low, high = np.minimum(short, long), np.maximum(short, long)
    assert ((out >= low - 1e-6) & (out <= high + 1e-6)).all()


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="GatedFusion takes"):
        GatedFusion()(
            np.ones((2, 3, 4, 5), "float32"),
            long_term=np.ones((2, 3, 4, 5), "float32"),
            user=np.ones((2, 2), "float32"),
        )
