"""SHAN's queries against a NumPy computation of Eq. (1)-(7) per position, and its
Eq. (8) regularisation (the shared sequential checks are in test_sequential.py)."""

import numpy as np
import pytest

from recsys_tf.models import SHAN
from tests import testing
from tests.models.test_sequential import LENGTH, NUM_ITEMS, NUM_USERS, _batch


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _pool(layer, vectors, user):
    """sum_j a_j x_j, a_j = softmax_j(u^T ReLU(W x_j + b)); zeros for no vector."""
    if len(vectors) == 0:
        return np.zeros_like(user)
    w, b = (testing.to_numpy(v).astype(np.float64) for v in (layer.kernel, layer.bias))
    scores = np.maximum(vectors @ w + b, 0.0) @ user
    a = np.exp(scores - scores.max())
    return (a / a.sum()) @ vectors


def _numpy_queries(model, x):
    """u^hybrid of every position t: L = real items at j <= t - window, S = real
    items at t - window < j <= t; u^long joins S only when L is non-empty."""
    items = testing.to_numpy(model.item_embeddings).astype(np.float64)
    users = testing.to_numpy(model.user_embeddings).astype(np.float64)
    window = model.short_term_length
    out = np.zeros((len(x["history"]), LENGTH, model.embedding_dim))
    for b, (history, mask) in enumerate(zip(x["history"], x["history_mask"])):
        u = users[x["user_id"][b]]
        for t in range(LENGTH):
            long_set = [items[history[j]] for j in range(t - window + 1) if mask[j]]
            short = [
                items[history[j]]
                for j in range(max(0, t - window + 1), t + 1)
                if mask[j]
            ]
            if long_set:
                short = [
                    _pool(model.long_term_attention, np.array(long_set), u)
                ] + short
            out[b, t] = _pool(model.short_term_attention, np.array(short), u)
    return out


@pytest.mark.parametrize("window", [1, 2, 4])
def test_queries_match_numpy_eq_1_to_6(window):
    x, _ = _batch()
    model = SHAN(NUM_ITEMS, NUM_USERS, embedding_dim=6, short_term_length=window)
    model(x)
    rng = np.random.default_rng(0)  # biases that matter
    for layer in (model.long_term_attention, model.short_term_attention):
        layer.bias.assign(rng.normal(0, 0.5, layer.bias.shape).astype("float32"))
    expected = _numpy_queries(model, x)
    real = x["history_mask"]
    every = testing.to_numpy(model.encode(x))
    np.testing.assert_allclose(every[real], expected[real], rtol=1e-5, atol=1e-6)
    last = testing.to_numpy(model(x))
    np.testing.assert_allclose(last, expected[:, -1], rtol=1e-5, atol=1e-6)
    # The long-term set matters: it differs from the short-term pooling alone.
    assert real[:, : -window - 1].any()


def test_the_user_embedding_is_the_query():
    x, _ = _batch()
    model = SHAN(NUM_ITEMS, NUM_USERS, embedding_dim=6)
    other = dict(x, user_id=(x["user_id"] + 1) % NUM_USERS)
    assert not np.allclose(testing.to_numpy(model(x)), testing.to_numpy(model(other)))


def test_regularisation_is_eq_8():
    x, y = _batch()
    plain = SHAN(NUM_ITEMS, NUM_USERS, embedding_dim=6, loss="softmax")
    model = SHAN(
        NUM_ITEMS,
        NUM_USERS,
        embedding_dim=6,
        loss="softmax",
        embeddings_l2=0.1,
        attention_l2=0.2,
    )
    plain(x)
    model(x)
    model.set_weights(plain.get_weights())
    items = (
        testing.to_numpy(model.item_embeddings)[x["history"]]
        * x["history_mask"][..., None]
    )
    users = testing.to_numpy(model.user_embeddings)[x["user_id"]]
    kernels = [
        testing.to_numpy(layer.kernel)
        for layer in (model.long_term_attention, model.short_term_attention)
    ]
    penalty = 0.1 * ((items**2).sum() + (users**2).sum()) / len(users) + 0.2 * sum(
        (k**2).sum() for k in kernels
    )
    gap = testing.model_loss(model, x, y, training=False) - testing.model_loss(
        plain, x, y, training=False
    )
    np.testing.assert_allclose(float(testing.to_numpy(gap)), penalty, rtol=1e-4)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="short_term_length"):
        SHAN(NUM_ITEMS, NUM_USERS, short_term_length=0)
    with pytest.raises(ValueError, match="embeddings_l2"):
        SHAN(NUM_ITEMS, NUM_USERS, embeddings_l2=-1.0)
