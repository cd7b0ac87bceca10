"""Tests of `triplet_loss` (DUMN Eq. (17)-(19)) against brute-force NumPy mining."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_tf.layers import NTMMemory
from recsys_tf.losses import triplet_loss
from tests import testing

B, N, M, D = 5, 4, 3, 6


def _data(seed=0, shared=True):
    rng = np.random.default_rng(seed)
    lead = () if shared else (B,)
    return (
        rng.normal(size=(B, D)).astype(np.float32),
        rng.normal(size=lead + (N, D)).astype(np.float32),
        rng.normal(size=lead + (M, D)).astype(np.float32),
    )


def _cosine_distance(a, b):  # Eq. (19)
    return 1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


def _numpy_hardest(anchors, positives, negatives, margin, pos_mask=None, neg_mask=None):
    """Every anchor against every valid candidate, by loops."""
    out = np.zeros(len(anchors))
    for b, q in enumerate(anchors):
        pos = positives if positives.ndim == 2 else positives[b]
        neg = negatives if negatives.ndim == 2 else negatives[b]
        pm = np.ones(len(pos), bool) if pos_mask is None else np.asarray(pos_mask, bool)
        nm = np.ones(len(neg), bool) if neg_mask is None else np.asarray(neg_mask, bool)
        pm = pm if pm.ndim == 1 else pm[b]
        nm = nm if nm.ndim == 1 else nm[b]
        d_pos = [_cosine_distance(q, s) for s, ok in zip(pos, pm) if ok]
        d_neg = [_cosine_distance(q, s) for s, ok in zip(neg, nm) if ok]
        if d_pos and d_neg:
            out[b] = max(max(d_pos) - min(d_neg) + margin, 0.0)  # Eq. (17)
    return out


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("margin", [0.0, 0.5, 2.0])
def test_hardest_mining_matches_brute_force(shared, margin):
    anchors, positives, negatives = _data(shared=shared)
    loss = triplet_loss(anchors, positives, negatives, margin=margin)
    assert tuple(loss.shape) == (B,)
    expected = _numpy_hardest(anchors, positives, negatives, margin)
    np.testing.assert_allclose(testing.to_numpy(loss), expected, rtol=1e-5, atol=1e-6)


def test_masks_drop_candidates_and_empty_rows_give_zero():
    anchors, positives, negatives = _data(shared=False)
    rng = np.random.default_rng(3)
    pos_mask = rng.random((B, N)) < 0.6
    neg_mask = rng.random((B, M)) < 0.6
    pos_mask[0] = False  # no positive: loss 0
    neg_mask[1] = False  # no negative: loss 0
    pos_mask[2:, 0] = neg_mask[2:, 0] = True
    loss = testing.to_numpy(
        triplet_loss(anchors, positives, negatives, 0.5, "hardest", pos_mask, neg_mask)
    )
    expected = _numpy_hardest(anchors, positives, negatives, 0.5, pos_mask, neg_mask)
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)
    assert loss[0] == 0 and loss[1] == 0
    # Masked candidates can hold anything.
    noisy_pos = np.where(pos_mask[..., None], positives, 1e3)
    noisy_neg = np.where(neg_mask[..., None], negatives, -1e3)
    np.testing.assert_allclose(
        testing.to_numpy(
            triplet_loss(
                anchors, noisy_pos, noisy_neg, 0.5, "hardest", pos_mask, neg_mask
            )
        ),
        loss,
        rtol=1e-5,
    )
    # A shared pool takes a [N] mask.
    anchors, positives, negatives = _data(shared=True)
    shared_mask = np.array([1, 0, 1, 0], np.int8)
    np.testing.assert_allclose(
        testing.to_numpy(
            triplet_loss(anchors, positives, negatives, positive_mask=shared_mask)
        ),
        _numpy_hardest(anchors, positives, negatives, 0.5, shared_mask),
        rtol=1e-5,
        atol=1e-6,
    )


def test_random_mining_draws_valid_candidates_and_is_bounded_by_the_hardest():
    anchors, positives, negatives = _data(shared=True)
    pos_mask = np.array([1, 1, 0, 1], bool)
    neg_mask = np.array([0, 1, 1], bool)
    margin = 0.3
    hardest = _numpy_hardest(anchors, positives, negatives, margin, pos_mask, neg_mask)
    # Every (valid positive, valid negative) loss, per anchor.
    possible = [
        np.array(
            [
                max(
                    _cosine_distance(q, positives[i])
                    - _cosine_distance(q, negatives[j])
                    + margin,
                    0.0,
                )
                for i in np.flatnonzero(pos_mask)
                for j in np.flatnonzero(neg_mask)
            ]
        )
        for q in anchors
    ]
    generator = keras.random.SeedGenerator(7)
    seen = [set() for _ in range(B)]
    for _ in range(40):
        loss = testing.to_numpy(
            triplet_loss(
                anchors,
                positives,
                negatives,
                margin,
                "random",
                pos_mask,
                neg_mask,
                generator,
            )
        )
        assert np.all(loss <= hardest + 1e-5)
        for b in range(B):
            gaps = np.abs(possible[b] - loss[b])
            assert gaps.min() < 1e-5, (b, loss[b], possible[b])
            seen[b].add(int(np.argmin(gaps)))
    # The draws vary: more than one (positive, negative) pair is picked.
    assert max(len(s) for s in seen) > 1
    # A fixed int seed gives the same draw twice.
    first = triplet_loss(anchors, positives, negatives, margin, "random", seed=3)
    np.testing.assert_array_equal(
        testing.to_numpy(first),
        testing.to_numpy(
            triplet_loss(anchors, positives, negatives, margin, "random", seed=3)
        ),
    )


def test_cosine_distance_ignores_scale():
    anchors, positives, negatives = _data()
    base = testing.to_numpy(triplet_loss(anchors, positives, negatives))
    scaled = testing.to_numpy(
        triplet_loss(7.0 * anchors, 0.1 * positives, 3.0 * negatives)
    )
    np.testing.assert_allclose(scaled, base, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mining", ["hardest", "random"])
def test_gradients_are_finite_and_reach_the_chosen_triplet(mining):
    anchors, positives, negatives = _data(shared=False)
    anchors[0] = 0.0  # a zero anchor must not give NaN
    tensors = [tf.Variable(x) for x in (anchors, positives, negatives)]
    with tf.GradientTape() as tape:
        loss = keras.ops.sum(triplet_loss(*tensors, margin=2.0, mining=mining, seed=1))
    grads = [testing.to_numpy(g) for g in tape.gradient(loss, tensors)]
    for grad in grads:
        assert np.all(np.isfinite(grad))
        assert np.abs(grad).max() > 1e-3
    # With margin 2 every hinge is active: each anchor moves, and exactly one
    # positive and one negative of each row get a gradient.
    assert np.all(np.abs(grads[0][1:]).max(-1) > 0)
    assert np.all((np.abs(grads[1][1:]).max(-1) > 0).sum(-1) == 1)
    assert np.all((np.abs(grads[2][1:]).max(-1) > 0).sum(-1) == 1)


def test_memory_anchor_projected_to_the_embedding_size_trains_the_write():
    """DUMN's sizes: slots of Z = 8, samples of E = 4; `anchor_dim=E` maps q to E
    and the triplet loss reaches the anchor map and the write's erase and add."""
    rng = np.random.default_rng(0)
    f, user = (
        rng.normal(size=(B, 3)).astype(np.float32),
        rng.normal(size=(B, 2)).astype(np.float32),
    )
    s_click, s_unclick = rng.normal(size=(2, B, 4)).astype(np.float32)
    memory = NTMMemory(num_slots=5, slot_dim=8, controller_units=6, anchor_dim=4)
    memory(f, user)

    def loss():
        _, anchor = memory(f, user, return_anchor=True)
        return keras.ops.sum(triplet_loss(anchor, s_click, s_unclick, margin=2.0))

    testing.assert_trainable_gradients(
        memory,
        loss,
        variables=[memory.anchor_kernel, memory.head_kernel, memory.controller_kernel],
    )
    with tf.GradientTape() as tape:
        value = loss()
    grad = testing.to_numpy(tape.gradient(value, memory.head_kernel))
    assert np.abs(grad[:, 16:24]).max() > 1e-6 and np.abs(grad[:, 24:]).max() > 1e-6


def test_bad_arguments_raise():
    anchors, positives, negatives = _data()
    with pytest.raises(ValueError, match="mining"):
        triplet_loss(anchors, positives, negatives, mining="semi_hard")
    with pytest.raises(ValueError, match="margin"):
        triplet_loss(anchors, positives, negatives, margin=-0.1)
    with pytest.raises(ValueError, match="anchors"):
        triplet_loss(anchors[0], positives, negatives)
    with pytest.raises(ValueError, match="positives"):
        triplet_loss(anchors, positives[:, :3], negatives)
    with pytest.raises(ValueError, match="negatives"):
        triplet_loss(anchors, positives, negatives[0])
    with pytest.raises(ValueError, match="mask of `positives`"):
        triplet_loss(anchors, positives, negatives, positive_mask=np.ones(3, bool))


@pytest.mark.parametrize("mining", ["hardest", "random"])
def test_runs_in_a_graph_with_unknown_batch_and_pool_sizes(mining):
    """As in a compiled train step: symbolic batch and candidate counts."""
    anchors, positives, negatives = _data(shared=True)
    generator = keras.random.SeedGenerator(1)
    spec = tf.TensorSpec([None, D], tf.float32)

    @tf.function(input_signature=[spec, spec, spec])
    def graph_loss(a, p, n):
        return triplet_loss(a, p, n, margin=0.5, mining=mining, seed=generator)

    loss = testing.to_numpy(graph_loss(anchors, positives, negatives))
    assert loss.shape == (B,) and np.all(np.isfinite(loss))
    if mining == "hardest":
        np.testing.assert_allclose(
            loss,
            _numpy_hardest(anchors, positives, negatives, 0.5),
            rtol=1e-5,
            atol=1e-6,
        )
    else:
        assert np.all(loss <= _numpy_hardest(anchors, positives, negatives, 0.5) + 1e-5)
