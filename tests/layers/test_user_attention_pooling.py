"""Tests of `UserAttentionPooling` against SHAN Eq. (1)-(3) in NumPy."""

import numpy as np
import pytest

from recsys_tf.layers import UserAttentionPooling
from tests import testing

BATCH, SIZE, DIM, QUERY_DIM = 4, 5, 3, 2


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _data(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, SIZE, DIM)).astype(np.float32)
    u = rng.normal(size=(BATCH, QUERY_DIM)).astype(np.float32)
    mask = np.array(
        [
            [True] * SIZE,
            [False, False, True, True, True],
            [False] * SIZE,  # an empty set
            [False, True, False, False, True],
        ]
    )
    return x, u, mask


def _numpy_pooling(layer, x, u, mask, phi=lambda z: np.maximum(z, 0.0)):
    """u^long = sum_j a_j v_j, a_j = softmax_j(u^T phi(W v_j + b)) over the set."""
    w = testing.to_numpy(layer.kernel).astype(np.float64)
    b = testing.to_numpy(layer.bias).astype(np.float64)
    out = np.zeros((len(x), DIM))
    weights = np.zeros((len(x), SIZE))
    for i in range(len(x)):
        if not mask[i].any():
            continue
        s = np.array([u[i] @ phi(x[i, j] @ w + b) for j in range(SIZE)])
        a = np.where(mask[i], np.exp(s - s[mask[i]].max()), 0.0)
        a /= a.sum()
        weights[i] = a
        out[i] = a @ x[i]
    return out, weights


def test_shapes_config_gradients_and_saving(tmp_path):
    x, u, mask = _data()
    testing.run_layer_test(
        UserAttentionPooling,
        dict(kernel_regularizer=0.1),
        x,
        (BATCH, DIM),
        call_kwargs={"query": u, "mask": mask},
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_matches_numpy(activation):
    x, u, mask = _data()
    layer = UserAttentionPooling(activation=activation)
    layer(x, query=u, mask=mask)
    layer.bias.assign(np.array([0.3, -0.2], np.float32))  # a bias that matters
    out, weights = layer(x, query=u, mask=mask, return_attention_scores=True)
    phi = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0.0))
    expected, expected_weights = _numpy_pooling(layer, x, u, mask, phi)
    np.testing.assert_allclose(testing.to_numpy(out), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(testing.to_numpy(weights), expected_weights, atol=1e-6)
    assert np.ptp(expected_weights[0]) > 0.01  # the weights are not uniform
    assert not testing.to_numpy(out)[2].any()  # the empty set: zeros


def test_subsets_of_one_set_equal_separate_calls():
    """inputs [batch, 1, N, dim] with mask [batch, M, N]: M subsets at once."""
    x, u, _ = _data()
    subsets = np.random.default_rng(3).random((BATCH, 6, SIZE)) < 0.5
    subsets[:, 0] = False  # an empty subset
    layer = UserAttentionPooling()
    out = testing.to_numpy(layer(x[:, None], query=u, mask=subsets))
    assert out.shape == (BATCH, 6, DIM)
    assert tuple(
        layer.compute_output_shape(x[:, None].shape, u.shape, subsets.shape)
    ) == (BATCH, 6, DIM)
    for m in range(6):
        np.testing.assert_allclose(
            out[:, m],
            testing.to_numpy(layer(x, query=u, mask=subsets[:, m])),
            rtol=1e-5,
            atol=1e-6,
        )
    # Sets of rank 4 (a set per position) with the same leading shape.
    per_row = np.broadcast_to(x[:, None], (BATCH, 6, SIZE, DIM))
    np.testing.assert_allclose(
        testing.to_numpy(layer(per_row, query=u, mask=subsets)), out, atol=1e-6
    )


def test_padded_vectors_do_not_change_the_output():
    x, u, mask = _data()
    layer = UserAttentionPooling()
    noise = np.random.default_rng(4).normal(size=x.shape).astype(np.float32) * 10
    a = layer(x, query=u, mask=mask)
    b = layer(np.where(mask[..., None], x, noise), query=u, mask=mask)
    np.testing.assert_allclose(testing.to_numpy(a), testing.to_numpy(b), atol=1e-6)


def test_regularizer_is_lambda_a_times_the_squared_kernel():
    x, u, mask = _data()
    layer = UserAttentionPooling(kernel_regularizer=0.1)
    layer(x, query=u, mask=mask)
    kernel = testing.to_numpy(layer.kernel)
    np.testing.assert_allclose(
        float(testing.to_numpy(layer.losses[0])), 0.1 * (kernel**2).sum(), rtol=1e-5
    )


def test_bad_arguments_raise():
    x, u, mask = _data()
    with pytest.raises(ValueError, match="kernel_regularizer"):
        UserAttentionPooling(kernel_regularizer=-1.0)
    with pytest.raises(ValueError, match="N, dim"):
        UserAttentionPooling()(x[:, 0], query=u)
    with pytest.raises(ValueError, match="query_dim"):
        UserAttentionPooling()(x, query=x)
    with pytest.raises(ValueError, match="mask"):
        UserAttentionPooling()(x, query=u, mask=mask[:, 0])
