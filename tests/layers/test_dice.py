"""Tests of `Dice` against DIN Eq. (9) written in NumPy."""

import numpy as np
import pytest

from recsys_tf.layers import Dice
from tests import testing


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(shape=(6, 4), seed=1):
    rng = np.random.default_rng(seed)
    # Per-unit offsets and scales, so that the statistics matter.
    return (
        rng.normal(size=shape) * [0.5, 1.0, 2.0, 3.0] + [1.0, -1.0, 0.0, 2.0]
    ).astype(np.float32)


def _numpy_dice(s, alpha, mean, variance, epsilon=1e-8):
    s = np.asarray(s, np.float64)
    mean, variance = np.asarray(mean), np.asarray(variance)
    p = 1.0 / (1.0 + np.exp(-(s - mean) / np.sqrt(variance + epsilon)))
    return p * s + (1.0 - p) * alpha * s


@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4)])
def test_shapes_config_gradients_and_saving(shape, tmp_path):
    testing.run_layer_test(Dice, {}, _inputs(shape), shape, save_dir=tmp_path)


def test_training_uses_batch_statistics_and_updates_moving_averages():
    x = _inputs((3, 5, 4))
    layer = Dice(momentum=0.9)
    layer(x)
    alpha = np.array([0.1, -0.2, 0.3, 0.25], np.float32)
    layer.alpha.assign(alpha)
    out = testing.to_numpy(layer(x, training=True))
    flat = x.reshape(-1, 4).astype(np.float64)
    mean, variance = flat.mean(0), flat.var(0)  # biased, over every axis but the last
    np.testing.assert_allclose(
        out, _numpy_dice(x, alpha, mean, variance), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        testing.to_numpy(layer.moving_mean), 0.1 * mean, rtol=1e-5
    )
    np.testing.assert_allclose(
        testing.to_numpy(layer.moving_variance), 0.9 + 0.1 * variance, rtol=1e-5
    )


def test_inference_uses_moving_averages_and_changes_nothing():
    x = _inputs()
    layer = Dice()
    layer(x)
    layer.alpha.assign(np.full(4, 0.2, np.float32))
    layer.moving_mean.assign(np.array([0.5, -0.5, 0.0, 1.0], np.float32))
    layer.moving_variance.assign(np.array([2.0, 0.5, 1.0, 4.0], np.float32))
    out = testing.to_numpy(layer(x, training=False))
    expected = _numpy_dice(x, 0.2, [0.5, -0.5, 0.0, 1.0], [2.0, 0.5, 1.0, 4.0])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        testing.to_numpy(layer.moving_mean), [0.5, -0.5, 0.0, 1.0]
    )


def test_zero_statistics_give_prelu():
    # Eq. (8): with E[s] = 0 and Var[s] -> 0, p(s) is the step function.
    x = _inputs()
    layer = Dice(epsilon=1e-12)
    layer(x)
    layer.alpha.assign(np.full(4, 0.3, np.float32))
    layer.moving_mean.assign(np.zeros(4, np.float32))
    layer.moving_variance.assign(np.zeros(4, np.float32))
    out = testing.to_numpy(layer(x))
    np.testing.assert_allclose(out, np.where(x > 0, x, 0.3 * x), rtol=1e-5, atol=1e-6)


def test_masked_positions_do_not_enter_the_batch_statistics():
    x = _inputs((3, 5, 4))
    mask = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]], bool)
    layer = Dice()
    layer(x)
    out = testing.to_numpy(layer(x, training=True, mask=mask))
    valid = x[mask].astype(np.float64)
    expected = _numpy_dice(x, 0.0, valid.mean(0), valid.var(0))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # Changing the padded values changes neither the valid outputs nor the averages.
    changed = np.where(mask[..., None], x, 100.0).astype(np.float32)
    fresh = Dice()
    fresh(x)
    np.testing.assert_allclose(
        testing.to_numpy(fresh(changed, training=True, mask=mask))[mask],
        out[mask],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        testing.to_numpy(fresh.moving_mean), testing.to_numpy(layer.moving_mean)
    )


@pytest.mark.parametrize("kwargs", [dict(epsilon=0.0), dict(momentum=1.0)])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        Dice(**kwargs)
