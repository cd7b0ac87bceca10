"""Tests of `MLP` against a NumPy dense stack built from the layer's own weights."""

import keras
import numpy as np
import pytest

from recsys_tf.layers import MLP
from tests import testing


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(shape=(6, 5), seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize(
    "init_kwargs, input_shape, expected_shape",
    [
        (dict(units=(4, 3)), (6, 5), (6, 3)),
        (dict(units=(4, 1), output_activation=None), (6, 5), (6, 1)),
        (dict(units=(7,), activation="tanh"), (2, 3, 5), (2, 3, 7)),
        (dict(units=(4, 4, 2), dropout=0.25, kernel_regularizer=1e-3), (6, 5), (6, 2)),
    ],
)
def test_shapes_config_gradients_and_saving(
    init_kwargs, input_shape, expected_shape, tmp_path
):
    testing.run_layer_test(
        MLP, init_kwargs, _inputs(input_shape), expected_shape, save_dir=tmp_path
    )


def test_matches_numpy_relu_stack():
    # Default output_activation="same": every layer, the last included, is ReLU.
    x = _inputs()
    layer = MLP((4, 3))
    out = testing.to_numpy(layer(x))
    expected = testing.numpy_dense_stack(x, testing.mlp_params(layer), ["relu", "relu"])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # The final ReLU really clips something, and leaves something positive.
    assert (out == 0).any() and (out > 0).any()


def test_hidden_activation_and_linear_output_match_numpy():
    x = _inputs((6, 5))
    layer = MLP((4, 3, 2), activation="tanh", output_activation=None)
    layer(x)
    # Non-zero biases so that a dropped bias would show.
    for dense in layer.dense_layers:
        dense.bias.assign(np.linspace(-0.5, 0.5, dense.units).astype(np.float32))
    out = testing.to_numpy(layer(x))
    expected = testing.numpy_dense_stack(
        x, testing.mlp_params(layer), ["tanh", "tanh", None]
    )
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert (out < 0).any(), "a linear output layer must allow negative logits"


def test_dropout_only_in_training_and_only_between_layers():
    x = _inputs((64, 5))
    layer = MLP((32, 3), dropout=0.5, output_activation=None)
    inference = testing.to_numpy(layer(x, training=False))
    expected = testing.numpy_dense_stack(x, testing.mlp_params(layer), ["relu", None])
    np.testing.assert_allclose(inference, expected, rtol=1e-5, atol=1e-6)
    training = testing.to_numpy(layer(x, training=True))
    assert not np.allclose(training, inference), "dropout=0.5 had no effect in training"

    # A single layer is the output layer: no dropout after it, even in training.
    single = MLP((3,), dropout=0.5)
    np.testing.assert_array_equal(
        testing.to_numpy(single(x, training=True)),
        testing.to_numpy(single(x, training=False)),
    )


def test_kernel_regularizer_adds_l2_of_kernels_only():
    x = _inputs()
    layer = MLP((4, 3), kernel_regularizer=0.01)
    layer(x)
    expected = 0.01 * sum(
        np.sum(np.square(kernel)) for kernel, _ in testing.mlp_params(layer)
    )
    total = sum(float(testing.to_numpy(loss)) for loss in layer.losses)
    np.testing.assert_allclose(total, expected, rtol=1e-5)

    unregularised = MLP((4, 3))
    unregularised(x)
    assert unregularised.losses == []


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(units=()),
        dict(units=(4, 0)),
        dict(units=(-1,)),
        dict(units=(4,), dropout=1.0),
        dict(units=(4,), dropout=-0.1),
        dict(units=(4,), kernel_regularizer=-1e-3),
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        MLP(**kwargs)


def test_gradient_check_flags_a_dead_layer():
    # The harness must be able to fail: with every first-layer ReLU dead, the first
    # kernel and bias get exactly zero gradient.
    x = _inputs()
    layer = MLP((4, 3), output_activation=None)
    layer(x)
    layer.dense_layers[0].bias.assign(np.full(4, -1e3, np.float32))
    projection = np.ones((6, 3), np.float32)
    with pytest.raises(AssertionError, match="dense_0/kernel: all-zero gradient"):
        testing.assert_trainable_gradients(
            layer, lambda: keras.ops.sum(layer(x) * projection)
        )


@pytest.mark.parametrize("activation", ["dice", "prelu"])
def test_adaptive_activations_shapes_config_gradients_and_saving(activation, tmp_path):
    testing.run_layer_test(
        MLP,
        dict(units=(4, 2), activation=activation, output_activation=None),
        _inputs((2, 3, 5)),
        (2, 3, 2),
        save_dir=tmp_path,
    )


def test_prelu_matches_numpy_with_one_slope_per_unit():
    x = _inputs((2, 3, 5))
    layer = MLP((4, 2), activation="prelu", output_activation=None)
    layer(x)
    slopes = np.array([0.1, -0.2, 0.3, 0.5], np.float32)
    prelu = layer.activation_layers[0]
    assert prelu.alpha.shape == (1, 4)
    prelu.alpha.assign(slopes[None])
    (k0, b0), (k1, b1) = testing.mlp_params(layer)
    h = x @ k0 + b0
    h = np.where(h > 0, h, slopes * h)
    np.testing.assert_allclose(
        testing.to_numpy(layer(x)), h @ k1 + b1, rtol=1e-5, atol=1e-6
    )


def test_dice_gets_training_and_mask():
    x = _inputs((2, 3, 5))
    mask = np.array([[True, True, False], [True, False, False]])
    layer = MLP((4,), activation="dice")
    layer(x)
    dice = layer.activation_layers[0]
    ((kernel, bias),) = testing.mlp_params(layer)
    s = (x @ kernel + bias)[mask].astype(np.float64)
    out = testing.to_numpy(layer(x, training=True, mask=mask))[mask]
    p = 1.0 / (1.0 + np.exp(-(s - s.mean(0)) / np.sqrt(s.var(0) + 1e-8)))
    np.testing.assert_allclose(out, p * s, rtol=1e-4, atol=1e-6)
    assert np.any(testing.to_numpy(dice.moving_mean) != 0.0)
