"""Tests of `BiasEncoding` against DSIN's BE_(k,t,c) = w^K_k + w^T_t + w^C_c."""

import numpy as np
import pytest

from recsys_tf.layers import BiasEncoding
from tests import testing

SHAPE = (2, 3, 4, 5)  # batch, sessions, session length, dim


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(seed=1):
    return np.random.default_rng(seed).normal(size=SHAPE).astype(np.float32)


def test_shapes_config_gradients_and_saving(tmp_path):
    testing.run_layer_test(
        BiasEncoding,
        dict(initializer="random_normal"),
        _inputs(),
        SHAPE,
        save_dir=tmp_path,
    )


def test_matches_numpy_loops():
    x = _inputs()
    layer = BiasEncoding()
    layer(x)
    rng = np.random.default_rng(3)
    for weight in (layer.session_bias, layer.position_bias, layer.unit_bias):
        weight.assign(rng.normal(size=weight.shape).astype(np.float32))
    wk, wt, wc = (
        testing.to_numpy(w)
        for w in (layer.session_bias, layer.position_bias, layer.unit_bias)
    )
    expected = np.array(x, np.float64)
    for k in range(SHAPE[1]):
        for t in range(SHAPE[2]):
            for c in range(SHAPE[3]):
                expected[:, k, t, c] += wk[k] + wt[t] + wc[c]
    np.testing.assert_allclose(testing.to_numpy(layer(x)), expected, rtol=1e-6)
    assert [w.shape for w in layer.trainable_weights] == [(3,), (4,), (5,)]


def test_starts_as_the_identity():
    x = _inputs()
    np.testing.assert_array_equal(testing.to_numpy(BiasEncoding()(x)), x)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="num_sessions, session_length, dim"):
        BiasEncoding()(np.zeros((2, 3, 4), np.float32))
