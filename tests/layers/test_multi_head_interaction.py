"""Tests of `MultiHeadInteraction` against DUMN Eq. (1)-(5) written in NumPy loops."""

import numpy as np
import pytest

from recsys_tf.layers import MultiHeadInteraction
from tests import testing

B, T, E, DU, DI = 3, 5, 6, 4, 3
# Row 0: two events (left-padded), row 1: full, row 2: one event.
MASK = np.array([[0, 0, 0, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]], np.int8)


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _data(seed=1):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(B, T, E)).astype(np.float32),
        rng.normal(size=(B, DU)).astype(np.float32),
        rng.normal(size=(B, DI)).astype(np.float32),
    )


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _numpy_interaction(layer, e, user, item, mask):
    """Eq. (1)-(5) example by example, head by head, valid positions only."""
    wq, wk, wv, wf, wc = (
        testing.to_numpy(w).astype(np.float64)
        for w in (
            layer.query_kernel,
            layer.key_kernel,
            layer.value_kernel,
            layer.output_kernel,
            layer.attention_kernel,
        )
    )
    heads, chunk = wq.shape[0], e.shape[-1] // wq.shape[0]
    out = np.zeros((e.shape[0], wf.shape[1]))
    for b in range(e.shape[0]):
        valid = np.flatnonzero(mask[b])
        if not len(valid):
            continue
        x = e[b].astype(np.float64)
        per_head = []
        for h in range(heads):
            xh = x[:, h * chunk : (h + 1) * chunk]
            q, k, v = xh @ wq[h], xh @ wk[h], xh @ wv[h]
            head = np.zeros((T, wq.shape[2]))
            for t in range(T):
                a = _softmax((q[t] @ k[valid].T) / np.sqrt(T))  # Eq. (1)
                head[t] = a @ v[valid]
            per_head.append(head)
        o = np.concatenate(per_head, axis=1) @ wf  # Eq. (2)
        scores = np.array(
            [
                max(np.concatenate([user[b], item[b], o[j]]) @ wc[:, 0], 0.0)  # Eq. (3)
                for j in valid
            ]
        )
        alpha = _softmax(scores)  # Eq. (4)
        out[b] = alpha @ o[valid]  # Eq. (5)
    return out


@pytest.mark.parametrize(
    "kwargs, width",
    [
        (dict(num_heads=2), E),
        (dict(num_heads=3, head_dim=4, output_dim=5, scale_length=9), 5),
    ],
)
def test_shapes_config_gradients_and_saving(kwargs, width, tmp_path):
    e, user, item = _data()
    testing.run_layer_test(
        MultiHeadInteraction,
        kwargs,
        e,
        (B, width),
        call_kwargs=dict(user_embedding=user, item_embedding=item, mask=MASK),
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("kwargs", [dict(num_heads=2), dict(num_heads=3, head_dim=4)])
def test_matches_numpy_equations(kwargs):
    e, user, item = _data()
    layer = MultiHeadInteraction(**kwargs)
    out, (scores, alpha) = layer(e, user, item, mask=MASK, return_attention_scores=True)
    expected = _numpy_interaction(layer, e, user, item, MASK)
    np.testing.assert_allclose(testing.to_numpy(out), expected, rtol=1e-4, atol=1e-5)
    alpha = testing.to_numpy(alpha)
    np.testing.assert_allclose(alpha.sum(-1), 1.0, rtol=1e-5)
    assert np.all(alpha[MASK == 0] == 0)
    # No position attends to a padded key (Eq. (1)).
    keys_padded = np.broadcast_to((MASK == 0)[:, None, None, :], scores.shape)
    assert np.all(testing.to_numpy(scores)[keys_padded] == 0)
    # Without a mask every position counts: the same as an all-ones mask.
    np.testing.assert_allclose(
        testing.to_numpy(layer(e, user, item)),
        _numpy_interaction(layer, e, user, item, np.ones_like(MASK)),
        rtol=1e-4,
        atol=1e-5,
    )


def test_padded_positions_do_not_matter_and_empty_rows_give_zero():
    e, user, item = _data()
    layer = MultiHeadInteraction(num_heads=2)
    reference = testing.to_numpy(layer(e, user, item, mask=MASK))
    noisy = e.copy()
    noisy[MASK == 0] = np.random.default_rng(5).normal(0, 100, noisy[MASK == 0].shape)
    np.testing.assert_allclose(
        testing.to_numpy(layer(noisy, user, item, mask=MASK)), reference, rtol=1e-5
    )
    empty = MASK.copy()
    empty[2] = 0
    out = testing.to_numpy(layer(noisy, user, item, mask=empty))
    np.testing.assert_array_equal(out[2], 0.0)
    np.testing.assert_allclose(out[:2], reference[:2], rtol=1e-5)


def test_the_scores_are_scaled_by_sqrt_of_the_sequence_length():
    """Eq. (1) divides by sqrt(T), T the padded length, not by sqrt(head_dim)."""
    e, user, item = _data()
    layer = MultiHeadInteraction(num_heads=2)
    _, (scores, _) = layer(e, user, item, mask=MASK, return_attention_scores=True)
    chunks = e.reshape(B, T, 2, E // 2)
    q = np.einsum("bthc,hck->bhtk", chunks, testing.to_numpy(layer.query_kernel))
    k = np.einsum("bthc,hck->bhtk", chunks, testing.to_numpy(layer.key_kernel))
    logits = np.einsum("bhtk,bhsk->bhts", q, k) / np.sqrt(T)
    logits = np.where(MASK[:, None, None, :] > 0, logits, -np.inf)
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(testing.to_numpy(scores), expected, atol=1e-5)


def test_with_scale_length_the_padding_width_does_not_matter():
    """With `scale_length` = T, extra left padding (or columns cut) leave f_c
    as it is: the trainer may cut a batch to the columns its rows use."""
    e, user, item = _data()
    layer = MultiHeadInteraction(num_heads=2, scale_length=T)
    full = testing.to_numpy(layer(e, user, item, mask=MASK))
    # Every row uses at most the last 2 columns but row 1: cut rows 0 and 2.
    cut = testing.to_numpy(
        layer(e[[0, 2], -2:], user[[0, 2]], item[[0, 2]], mask=MASK[[0, 2], -2:])
    )
    np.testing.assert_allclose(cut, full[[0, 2]], rtol=1e-5, atol=1e-6)
    wider = np.concatenate([np.ones((B, 4, E), np.float32), e], axis=1)
    wide_mask = np.concatenate([np.zeros((B, 4), np.int8), MASK], axis=1)
    out = testing.to_numpy(layer(wider, user, item, mask=wide_mask))
    np.testing.assert_allclose(out, full, rtol=1e-5, atol=1e-6)
    # Without it, sqrt(T) follows the padded width, so the output moves.
    unscaled = MultiHeadInteraction(num_heads=2)
    unscaled(e, user, item, mask=MASK)
    unscaled.set_weights(layer.get_weights())
    moved = testing.to_numpy(unscaled(wider, user, item, mask=wide_mask))
    assert np.abs(moved - full).max() > 1e-4


def test_bad_arguments_and_inputs_raise():
    e, user, item = _data()
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadInteraction(num_heads=0)
    with pytest.raises(ValueError, match="head_dim"):
        MultiHeadInteraction(head_dim=0)
    with pytest.raises(ValueError, match="output_dim"):
        MultiHeadInteraction(output_dim=-1)
    with pytest.raises(ValueError, match="scale_length"):
        MultiHeadInteraction(scale_length=0)
    with pytest.raises(ValueError, match="divisible by `num_heads`"):
        MultiHeadInteraction(num_heads=4)(e, user, item)
    with pytest.raises(ValueError, match="seq_len"):
        MultiHeadInteraction()(e[:, 0], user, item)
    with pytest.raises(ValueError, match="item_embedding"):
        MultiHeadInteraction()(e, user, item[:, None, :])
