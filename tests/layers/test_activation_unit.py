"""Tests of `ActivationUnit` against DIN Eq. (3) written in NumPy loops."""

import numpy as np
import pytest

from recsys_tf.layers import ActivationUnit
from tests import testing

MASK = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]], bool)


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(batch=3, steps=5, dim=4, seed=1):
    rng = np.random.default_rng(seed)
    behaviours = rng.normal(size=(batch, steps, dim)).astype(np.float32)
    target = rng.normal(size=(batch, dim)).astype(np.float32)
    return behaviours, target


def _numpy_unit(layer, behaviours, target, mask, activation):
    """Eq. (3) position by position: sum_j a(e_j, v_A) e_j over valid j."""
    params = testing.mlp_params(layer.mlp)
    activations = [activation] * len(layer.hidden_units) + [None]
    out = np.zeros((len(behaviours), behaviours.shape[2]))
    weights = np.zeros(mask.shape)
    for b in range(len(behaviours)):
        for j in range(behaviours.shape[1]):
            if not mask[b, j]:
                continue
            e, v = behaviours[b, j].astype(np.float64), target[b].astype(np.float64)
            z = np.concatenate([e, v, e - v, e * v])[None]
            weights[b, j] = testing.numpy_dense_stack(z, params, activations)[0, 0]
            out[b] += weights[b, j] * e
    return out, weights


@pytest.mark.parametrize("activation", ["dice", "prelu", "sigmoid"])
def test_shapes_config_gradients_and_saving(activation, tmp_path):
    behaviours, target = _inputs()
    testing.run_layer_test(
        ActivationUnit,
        dict(hidden_units=(6, 3), activation=activation),
        behaviours,
        (3, 4),
        call_kwargs=dict(target=target, mask=MASK),
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("activation", ["sigmoid", "dice"])
def test_matches_numpy_without_softmax(activation):
    behaviours, target = _inputs()
    layer = ActivationUnit((6, 3), activation=activation)
    layer(behaviours, target, mask=MASK)
    for dense in layer.mlp.dense_layers:  # non-zero biases, so a dropped one shows
        dense.bias.assign(np.linspace(-0.5, 0.5, dense.units).astype(np.float32))
    pooled, weights = layer(behaviours, target, mask=MASK, return_attention_scores=True)
    # In inference Dice uses its moving averages (0 and 1 when fresh) and alpha = 0:
    # f(s) = sigmoid(s / sqrt(1 + eps)) s.
    numpy_activation = "sigmoid" if activation == "sigmoid" else "silu"
    with np.errstate(all="ignore"):
        expected, expected_weights = _numpy_unit(
            layer, behaviours, target, MASK, numpy_activation
        )
    np.testing.assert_allclose(
        testing.to_numpy(weights), expected_weights, rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(testing.to_numpy(pooled), expected, rtol=1e-4, atol=1e-6)
    # No softmax: the weights of a row do not sum to one.
    sums = testing.to_numpy(weights).sum(1)
    assert not np.allclose(sums, 1.0)


def test_padding_does_not_change_the_output_in_training_or_inference():
    behaviours, target = _inputs()
    changed = np.where(MASK[..., None], behaviours, 7.0).astype(np.float32)
    for training in (False, True):
        outputs = []
        for values in (behaviours, changed):
            testing.set_seed()
            layer = ActivationUnit((6, 3))
            outputs.append(
                testing.to_numpy(layer(values, target, mask=MASK, training=training))
            )
        np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-6, atol=1e-7)
    # Without the mask, the padded values do count.
    layer = ActivationUnit((6, 3))
    assert not np.allclose(
        testing.to_numpy(layer(behaviours, target)),
        testing.to_numpy(layer(changed, target)),
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="hidden_units"):
        ActivationUnit(hidden_units=(4, 0))
    behaviours, target = _inputs()
    with pytest.raises(ValueError, match="target"):
        ActivationUnit((4,))(behaviours, target[:, :3])
    with pytest.raises(ValueError, match="behaviours"):
        ActivationUnit((4,))(target, target)
