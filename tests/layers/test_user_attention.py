"""UserAttention: SDM Eq. (9)-(12) against NumPy, per-query masks, padding."""

import keras
import numpy as np
import pytest

from recsys_tf.layers import UserAttention
from tests import testing

B, T, D, U = 3, 5, 4, 2


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(seed=1, user_dim=U):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(B, T, D)).astype(np.float32)
    user = rng.normal(size=(B, user_dim)).astype(np.float32)
    mask = rng.random((B, T)) < 0.7
    mask[:, -1] = True
    return values, user, mask


def _numpy_scores(layer, values, user):
    values = values.astype(np.float64)
    if layer.score == "dot":
        return np.einsum("btd,bd->bt", values, user)
    if layer.score == "general":
        kernel = testing.to_numpy(layer.query.kernel)
        query = np.tanh(user @ kernel + testing.to_numpy(layer.query.bias))
        return np.einsum("btd,bd->bt", values, query) / np.sqrt(D)
    kernel = testing.to_numpy(layer.scorer.kernel)[:, 0]
    bias = testing.to_numpy(layer.scorer.bias)[0]
    scores = values @ kernel[U:] + (user @ kernel[:U])[:, None] + bias
    return np.tanh(scores) / np.sqrt(D)


def _numpy_pool(scores, values, allowed):
    """softmax over the allowed keys of each row of `allowed` [B, Q, T]."""
    out = np.zeros(allowed.shape[:2] + (values.shape[-1],))
    for b in range(allowed.shape[0]):
        for q in range(allowed.shape[1]):
            keys = np.flatnonzero(allowed[b, q])
            if keys.size:
                w = np.exp(scores[b, keys] - scores[b, keys].max())
                out[b, q] = (w / w.sum()) @ values[b, keys]
    return out


@pytest.mark.parametrize("score", ["dot", "general", "concat"])
def test_layer_contract_and_numpy_reference(score, tmp_path):
    values, user, mask = _inputs(user_dim=D if score == "dot" else U)
    testing.run_layer_test(
        UserAttention,
        {"score": score},
        values,
        (B, D),
        call_kwargs={"user": user, "key_mask": mask},
        expect_trainable_weights=score != "dot",  # "dot" has no weights
        save_dir=tmp_path,
    )
    layer = UserAttention(score)
    out = testing.to_numpy(layer(values, user=user, key_mask=mask))
    expected = _numpy_pool(_numpy_scores(layer, values, user), values, mask[:, None])
    np.testing.assert_allclose(out, expected[:, 0], rtol=1e-5, atol=1e-6)


def test_dot_score_gradients_match_numpy_finite_differences():
    """The weightless "dot" score: d sum(out * r) / d(values, user) against
    central differences of the NumPy pooling in float64."""
    import tensorflow as tf

    values, user, mask = _inputs(user_dim=D)
    layer = UserAttention("dot")
    r = testing._random_projection((B, D))
    inputs = [tf.constant(values), tf.constant(user)]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        total = keras.ops.sum(layer(inputs[0], user=inputs[1], key_mask=mask) * r)
    grads = [testing.to_numpy(g) for g in tape.gradient(total, inputs)]

    def objective(v, u):
        pooled = _numpy_pool(_numpy_scores(layer, v, u), v, mask[:, None])
        return float(np.sum(pooled[:, 0] * r))

    step = 1e-5
    for k, grad in enumerate(grads):
        args = [values.astype(np.float64), user.astype(np.float64)]
        expected = np.zeros(args[k].shape)
        for i in np.ndindex(args[k].shape):
            plus, minus = [a.copy() for a in args], [a.copy() for a in args]
            plus[k][i] += step
            minus[k][i] -= step
            expected[i] = (objective(*plus) - objective(*minus)) / (2 * step)
        assert np.abs(expected).max() > 1e-2
        np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=1e-4)


def test_per_query_masks_pool_each_query_over_its_own_keys(tmp_path):
    values, user, mask = _inputs()
    allowed = np.tril(np.ones((T, T), bool))[None] & mask[:, None, :]
    allowed[0, 0] = False  # a query without keys pools to zeros
    layer = UserAttention("concat", dropout=0.1)
    symbolic = layer(
        keras.Input((T, D)),
        user=keras.Input((U,)),
        key_mask=keras.Input((T, T), dtype="bool"),
    )
    assert tuple(symbolic.shape) == (None, T, D)
    testing.assert_trainable_gradients(
        layer, lambda: keras.ops.sum(layer(values, user=user, key_mask=allowed) ** 2)
    )
    out = testing.to_numpy(layer(values, user=user, key_mask=allowed))
    expected = _numpy_pool(_numpy_scores(layer, values, user), values, allowed)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert not out[0, 0].any()


def test_masked_keys_never_matter():
    values, user, mask = _inputs()
    layer = UserAttention("general")
    out = testing.to_numpy(layer(values, user=user, key_mask=mask))
    noisy = np.where(mask[..., None], values, 1e3).astype(np.float32)
    np.testing.assert_allclose(
        testing.to_numpy(layer(noisy, user=user, key_mask=mask)), out, rtol=1e-6
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="`score`"):
        UserAttention(score="mlp")
    with pytest.raises(ValueError, match="`dropout`"):
        UserAttention(dropout=1.0)


def test_dot_score_needs_equal_sizes():
    values, user, _ = _inputs(user_dim=U)
    with pytest.raises(ValueError, match='score="dot"'):
        UserAttention("dot")(values, user=user)
