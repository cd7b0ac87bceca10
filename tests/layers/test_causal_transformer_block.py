"""Tests of `CausalTransformerBlock` (SASRec's self-attention block)."""

import numpy as np
import pytest

from recsys_tf.layers import CausalTransformerBlock
from tests import testing

BATCH, LENGTH, UNITS = 3, 5, 8


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, LENGTH, UNITS)).astype(np.float32)
    mask = np.ones((BATCH, LENGTH), bool)
    mask[0, :2] = False  # left padding
    mask[1, :4] = False
    x[~mask] = 0.0
    return x, mask


def _numpy_layer_norm(x, norm, epsilon):
    gamma, beta = (testing.to_numpy(w) for w in norm.weights)
    mean = x.mean(-1, keepdims=True)
    variance = x.var(-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def _numpy_dense(x, dense, activation=None):
    kernel, *bias = (testing.to_numpy(w) for w in dense.weights)
    return testing.numpy_activation(activation, x @ kernel + sum(bias))


def _numpy_block(layer, x, mask):
    """SASRec's block as in the authors' code, one query row at a time."""
    heads, eps = layer.num_heads, layer.epsilon
    normed = _numpy_layer_norm(x, layer.attention_norm, eps)
    q = _numpy_dense(normed, layer.query)
    k = _numpy_dense(x, layer.key)
    v = _numpy_dense(x, layer.value)
    d_h = UNITS // heads
    out = np.zeros_like(x)
    for b in range(x.shape[0]):
        for i in range(x.shape[1]):
            if not mask[b, i]:
                continue
            for h in range(heads):
                cols = slice(h * d_h, (h + 1) * d_h)
                keys = [j for j in range(i + 1) if mask[b, j]]  # causal, real
                scores = np.array([q[b, i, cols] @ k[b, j, cols] for j in keys])
                weights = np.exp(scores / np.sqrt(d_h) - (scores / np.sqrt(d_h)).max())
                weights /= weights.sum()
                out[b, i, cols] = sum(w * v[b, j, cols] for w, j in zip(weights, keys))
    attended = out + normed
    s = _numpy_layer_norm(attended, layer.feed_forward_norm, eps)
    f = _numpy_dense(_numpy_dense(s, layer.inner, "relu"), layer.outer) + s
    return f * mask[..., None]


@pytest.mark.parametrize("num_heads", [1, 2])
def test_shapes_config_gradients_and_saving(num_heads, tmp_path):
    x, mask = _inputs()
    testing.run_layer_test(
        CausalTransformerBlock,
        {"num_heads": num_heads, "dropout": 0.1},
        x,
        (BATCH, LENGTH, UNITS),
        call_kwargs={"mask": mask},
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("num_heads", [1, 2, 4])
def test_matches_numpy_block(num_heads):
    x, mask = _inputs()
    layer = CausalTransformerBlock(num_heads=num_heads)
    output = testing.to_numpy(layer(x, mask=mask))
    np.testing.assert_allclose(
        output, _numpy_block(layer, x, mask), rtol=1e-4, atol=1e-5
    )


def test_a_later_position_never_changes_an_earlier_output():
    x, mask = _inputs()
    layer = CausalTransformerBlock(num_heads=2)
    before = testing.to_numpy(layer(x, mask=mask))
    for t in range(LENGTH):
        changed = x.copy()
        changed[:, t] += np.random.default_rng(t).normal(size=(BATCH, UNITS))
        after = testing.to_numpy(layer(changed, mask=mask))
        np.testing.assert_allclose(after[:, :t], before[:, :t], rtol=1e-6, atol=1e-6)
        assert not np.allclose(after[mask[:, t], t], before[mask[:, t], t])


def test_padding_values_and_width_do_not_change_real_positions():
    x, mask = _inputs()
    layer = CausalTransformerBlock(num_heads=2)
    output = testing.to_numpy(layer(x, mask=mask))
    noisy = np.where(mask[..., None], x, 7.0).astype(np.float32)
    np.testing.assert_allclose(
        testing.to_numpy(layer(noisy, mask=mask)), output, rtol=1e-6, atol=1e-6
    )
    assert (output[~mask] == 0).all()
    # Two more padded columns on the left: the real positions are unchanged.
    wider = np.concatenate([np.zeros((BATCH, 2, UNITS), np.float32), x], axis=1)
    wider_mask = np.concatenate([np.zeros((BATCH, 2), bool), mask], axis=1)
    np.testing.assert_allclose(
        testing.to_numpy(layer(wider, mask=wider_mask))[:, 2:],
        output,
        rtol=1e-5,
        atol=1e-6,
    )


def test_bad_arguments_and_inputs_raise():
    with pytest.raises(ValueError, match="num_heads"):
        CausalTransformerBlock(num_heads=0)
    with pytest.raises(ValueError, match="dropout"):
        CausalTransformerBlock(dropout=1.0)
    with pytest.raises(ValueError, match="divide"):
        CausalTransformerBlock(num_heads=3)(np.zeros((1, 2, UNITS), np.float32))
    with pytest.raises(ValueError, match="seq_len, units"):
        CausalTransformerBlock()(np.zeros((1, UNITS), np.float32))
