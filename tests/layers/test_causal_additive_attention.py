"""Tests of `CausalAdditiveAttention` against NARM Eq. (6)-(8) in NumPy."""

import numpy as np
import pytest

from recsys_tf.layers import CausalAdditiveAttention
from tests import testing

BATCH, SEQ_LEN, DIM = 4, 5, 3


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _data(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, SEQ_LEN, DIM)).astype(np.float32)
    mask = np.array(
        [
            [True] * SEQ_LEN,
            [False, False, True, True, True],  # left-padded
            [False] * SEQ_LEN,  # nothing to attend to
            [False, True, False, False, True],
        ]
    )
    return x, mask


def _numpy_attention(layer, x, mask, activation=lambda z: 1 / (1 + np.exp(-z))):
    """c_t = sum_{j <= t, real} a_tj h_j, a_tj = softmax_j(v . sigma(A1 h_t + A2 h_j))."""
    a1, a2, v = (
        testing.to_numpy(w).astype(np.float64)
        for w in (layer.query_kernel, layer.key_kernel, layer.score_vector)
    )
    out = np.zeros((BATCH, SEQ_LEN, DIM))
    weights = np.zeros((BATCH, SEQ_LEN, SEQ_LEN))
    for b in range(BATCH):
        for t in range(SEQ_LEN):
            valid = mask[b] & (np.arange(SEQ_LEN) <= t)
            if not valid.any():
                continue
            s = np.array(
                [v @ activation(x[b, t] @ a1 + x[b, j] @ a2) for j in range(SEQ_LEN)]
            )
            a = np.where(valid, np.exp(s - s[valid].max()), 0.0)
            a /= a.sum()
            weights[b, t] = a
            out[b, t] = a @ x[b]
    return out, weights


@pytest.mark.parametrize("units", [None, 2])
def test_shapes_config_gradients_and_saving(units, tmp_path):
    x, mask = _data()
    testing.run_layer_test(
        CausalAdditiveAttention,
        dict(units=units),
        x,
        (BATCH, SEQ_LEN, DIM),
        call_kwargs={"mask": mask},
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("units", [None, 2])
def test_matches_numpy(units):
    x, mask = _data()
    layer = CausalAdditiveAttention(units=units)
    out, weights = layer(x, mask=mask, return_attention_scores=True)
    expected, expected_weights = _numpy_attention(layer, x, mask)
    np.testing.assert_allclose(testing.to_numpy(out), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(testing.to_numpy(weights), expected_weights, atol=1e-6)
    assert np.ptp(expected_weights[0, -1]) > 0.01  # the weights are not uniform
    assert not testing.to_numpy(out)[2].any()  # no real position: zeros


def test_other_activation_matches_numpy():
    x, mask = _data()
    layer = CausalAdditiveAttention(activation="tanh")
    out = testing.to_numpy(layer(x, mask=mask))
    expected, _ = _numpy_attention(layer, x, mask, np.tanh)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_last_only_is_the_last_position_of_the_full_output():
    x, mask = _data()
    layer = CausalAdditiveAttention()
    full, weights = layer(x, mask=mask, return_attention_scores=True)
    last, last_weights = layer(
        x, mask=mask, last_only=True, return_attention_scores=True
    )
    assert tuple(last.shape) == (BATCH, DIM)
    np.testing.assert_allclose(
        testing.to_numpy(last), testing.to_numpy(full)[:, -1], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        testing.to_numpy(last_weights), testing.to_numpy(weights)[:, -1], atol=1e-6
    )


def test_symbolic_shapes_of_every_output():
    import keras

    layer = CausalAdditiveAttention()
    inputs = keras.Input((SEQ_LEN, DIM))
    assert tuple(layer(inputs).shape) == (None, SEQ_LEN, DIM)
    last, weights = layer(inputs, last_only=True, return_attention_scores=True)
    assert tuple(last.shape) == (None, DIM)
    assert tuple(weights.shape) == (None, SEQ_LEN)
    _, weights = layer(inputs, return_attention_scores=True)
    assert tuple(weights.shape) == (None, SEQ_LEN, SEQ_LEN)


def test_a_later_or_padded_position_never_changes_an_earlier_output():
    x, mask = _data()
    layer = CausalAdditiveAttention()
    before = testing.to_numpy(layer(x, mask=mask))
    for t in range(1, SEQ_LEN):
        changed = x.copy()
        changed[:, t] += 5.0
        after = testing.to_numpy(layer(changed, mask=mask))
        np.testing.assert_allclose(after[:, :t], before[:, :t], rtol=1e-5, atol=1e-6)
    noise = np.random.default_rng(4).normal(size=x.shape).astype(np.float32) * 10
    padded = np.where(mask[..., None], x, noise)
    np.testing.assert_allclose(
        testing.to_numpy(layer(padded, mask=mask)), before, rtol=1e-5, atol=1e-6
    )


def test_without_mask_every_position_is_real():
    x, _ = _data()
    layer = CausalAdditiveAttention()
    out = testing.to_numpy(layer(x))
    expected, _ = _numpy_attention(layer, x, np.ones((BATCH, SEQ_LEN), bool))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_bad_arguments_raise():
    x, _ = _data()
    with pytest.raises(ValueError, match="`units`"):
        CausalAdditiveAttention(units=0)
    with pytest.raises(ValueError, match="seq_len, dim"):
        CausalAdditiveAttention()(x[:, 0])
