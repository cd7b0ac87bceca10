"""Tests of `pair_loss` against independent NumPy computations."""

import numpy as np
import pytest
import tensorflow as tf

from recsys_tf.losses import PAIR_LOSSES, pair_loss
from tests import testing

POSITIVE = np.array([1.5, -0.5, 0.0], np.float32)
NEGATIVES = np.array([[0.5, 2.0], [-1.0, 0.3], [0.0, 0.0]], np.float32)


def _numpy(loss, positive, negatives, weight=1.0):
    p = positive.astype(np.float64)
    n = negatives.astype(np.float64)
    if loss == "bpr":
        return np.mean(-np.log(1.0 / (1.0 + np.exp(-(p[:, None] - n)))), axis=1)
    if loss == "pointwise":
        labels = np.concatenate([np.ones((len(p), 1)), np.zeros_like(n)], axis=1)
        logits = np.concatenate([p[:, None], n], axis=1)
        return testing.numpy_bce_with_logits(labels, logits).mean(axis=1)
    per = np.concatenate([weight * (1 - p[:, None]) ** 2, n**2], axis=1)
    return per.mean(axis=1)


@pytest.mark.parametrize("loss", PAIR_LOSSES)
def test_matches_numpy(loss):
    got = testing.to_numpy(pair_loss(POSITIVE, NEGATIVES, loss, positive_weight=3.0))
    np.testing.assert_allclose(got, _numpy(loss, POSITIVE, NEGATIVES, 3.0), rtol=1e-6)


def test_bpr_by_hand():
    # -ln sigmoid(1.5 - 0.5) and -ln sigmoid(1.5 - 2.0), averaged.
    expected = (np.log1p(np.exp(-1.0)) + np.log1p(np.exp(0.5))) / 2
    got = testing.to_numpy(pair_loss(POSITIVE[:1], NEGATIVES[:1], "bpr"))
    np.testing.assert_allclose(got, [expected], rtol=1e-6)


@pytest.mark.parametrize("loss", PAIR_LOSSES)
def test_gradients_push_the_positive_up_and_the_negatives_down(loss):
    positive = tf.Variable(POSITIVE * 0.1)
    negatives = tf.Variable(np.abs(NEGATIVES) * 0.1 + 0.05)  # > 0: WMF pulls to 0
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(pair_loss(positive, negatives, loss))
    g_pos, g_neg = tape.gradient(total, [positive, negatives])
    assert (g_pos.numpy() < 0).all() and np.isfinite(g_neg.numpy()).all()
    assert (g_neg.numpy() > 0).all()


def test_unknown_loss_raises():
    with pytest.raises(ValueError, match="`loss` must be one of"):
        pair_loss(POSITIVE, NEGATIVES, "hinge")
