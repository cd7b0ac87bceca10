"""Tests of `TargetAttention` against DSIN's a_k = softmax_k(I_k W X^I) in NumPy."""

import numpy as np
import pytest

from recsys_tf.layers import TargetAttention
from tests import testing

BATCH, SEQ_LEN, KEY_DIM, QUERY_DIM = 4, 5, 3, 2


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _data(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, SEQ_LEN, KEY_DIM)).astype(np.float32)
    q = rng.normal(size=(BATCH, QUERY_DIM)).astype(np.float32)
    mask = np.array(
        [
            [True] * SEQ_LEN,
            [False, False, True, True, True],
            [False] * SEQ_LEN,  # nothing to attend to
            [False, True, False, False, True],
        ]
    )
    return x, q, mask


def _numpy_attention(layer, x, q, mask, scale=False):
    w = testing.to_numpy(layer.kernel).astype(np.float64)
    out = np.zeros((BATCH, KEY_DIM))
    weights = np.zeros((BATCH, SEQ_LEN))
    for b in range(BATCH):
        s = np.array([x[b, k] @ w @ q[b] for k in range(SEQ_LEN)])
        if scale:
            s = s / np.sqrt(KEY_DIM)
        valid = mask[b]
        if not valid.any():
            continue
        a = np.where(valid, np.exp(s - s[valid].max()), 0.0)
        a /= a.sum()
        weights[b] = a
        out[b] = sum(a[k] * x[b, k] for k in range(SEQ_LEN))
    return out, weights


@pytest.mark.parametrize("scale", [False, True])
def test_shapes_config_gradients_and_saving(scale, tmp_path):
    x, q, mask = _data()
    testing.run_layer_test(
        TargetAttention,
        dict(scale=scale),
        x,
        (BATCH, KEY_DIM),
        call_kwargs={"query": q, "mask": mask},
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("scale", [False, True])
def test_matches_numpy(scale):
    x, q, mask = _data()
    layer = TargetAttention(scale=scale)
    out, weights = layer(x, query=q, mask=mask, return_attention_scores=True)
    expected, expected_weights = _numpy_attention(layer, x, q, mask, scale)
    np.testing.assert_allclose(testing.to_numpy(out), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(testing.to_numpy(weights), expected_weights, atol=1e-6)
    assert np.ptp(expected_weights[0]) > 0.01  # the weights are not uniform
    assert (
        testing.to_numpy(out)[2].max() == 0.0 and testing.to_numpy(out)[2].min() == 0.0
    )


def test_without_mask_attends_everywhere():
    x, q, _ = _data()
    layer = TargetAttention()
    out = testing.to_numpy(layer(x, query=q))
    expected, _ = _numpy_attention(layer, x, q, np.ones((BATCH, SEQ_LEN), bool))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_padded_codes_do_not_change_the_output():
    x, q, mask = _data()
    layer = TargetAttention()
    noise = np.random.default_rng(4).normal(size=x.shape).astype(np.float32) * 10
    a = layer(x, query=q, mask=mask)
    b = layer(np.where(mask[..., None], x, noise), query=q, mask=mask)
    np.testing.assert_allclose(testing.to_numpy(a), testing.to_numpy(b), atol=1e-6)


def test_bad_inputs_raise():
    x, q, _ = _data()
    with pytest.raises(ValueError, match="seq_len, key_dim"):
        TargetAttention()(x[:, 0], query=q)
    with pytest.raises(ValueError, match="query_dim"):
        TargetAttention()(x, query=x)
