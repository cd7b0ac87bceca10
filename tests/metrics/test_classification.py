"""Tests of AUC, logloss and gAUC against brute-force references and hand-computed values."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_tf.metrics import auc, gauc, logloss

# -------------------------------------------------- references


def _pairwise_auc(labels, scores):
    """AUC by visiting every positive-negative pair: 1 if ordered, 1/2 if tied."""
    positives = [s for y, s in zip(labels, scores) if y == 1]
    negatives = [s for y, s in zip(labels, scores) if y == 0]
    total = 0.0
    for p in positives:
        for q in negatives:
            total += 1.0 if p > q else 0.5 if p == q else 0.0
    return total / (len(positives) * len(negatives))


def _reference_gauc(user_ids, labels, scores):
    """Impression-weighted mean of the per-user pairwise AUC, users with one class skipped."""
    rows = {}
    for u, y, s in zip(user_ids, labels, scores):
        rows.setdefault(u, []).append((y, s))
    numerator = denominator = 0.0
    for pairs in rows.values():
        ys = [y for y, _ in pairs]
        if 0 < sum(ys) < len(ys):
            numerator += len(pairs) * _pairwise_auc(ys, [s for _, s in pairs])
            denominator += len(pairs)
    return numerator / denominator


def _reference_logloss(labels, probabilities, eps=1e-7):
    total = 0.0
    for y, p in zip(labels, probabilities):
        p = min(max(p, eps), 1 - eps)
        total -= math.log(p) if y == 1 else math.log(1 - p)
    return total / len(labels)


def _random_case(seed, n, num_levels=None):
    """Random labels with both classes and scores, optionally from few levels (many ties)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    labels[:2] = [0, 1]
    if num_levels is None:
        scores = rng.normal(size=n)
    else:
        scores = rng.integers(0, num_levels, n) / num_levels
    return labels, scores


# --------------------------------------------------------- auc


def test_auc_hand_computed():
    # Positive 0.35 beats 0.1, loses to 0.4; positive 0.8 beats both: 3 of 4 pairs.
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # Positive 0.5 ties negative 0.5 (1/2) and beats 0.2; positive 0.9 beats both: 3.5 / 4.
    assert auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(0.875)
    assert auc([0, 0, 1], [0.1, 0.2, 0.3]) == 1.0
    assert auc([1, 1, 0], [0.1, 0.2, 0.3]) == 0.0


def test_auc_constant_scorer_is_one_half():
    labels, _ = _random_case(0, 101)
    assert auc(labels, np.full(101, 3.0)) == 0.5


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("num_levels", [None, 3, 20])
def test_auc_matches_pairwise_reference(seed, num_levels):
    labels, scores = _random_case(seed, 150, num_levels)
    assert auc(labels, scores) == pytest.approx(
        _pairwise_auc(labels, scores), abs=1e-12
    )


def test_auc_accepts_bools_column_vectors_and_infinities():
    labels = np.array([False, True, False, True])
    scores = np.array([[-np.inf], [np.inf], [0.0], [0.0]])
    # inf beats both negatives; 0.0 ties 0.0 and beats -inf: (2 + 1.5) / 4.
    assert auc(labels, scores) == pytest.approx(0.875)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.integers(-5, 5)), min_size=2, max_size=40
    ).filter(lambda rows: 0 < sum(y for y, _ in rows) < len(rows))
)
def test_auc_properties(rows):
    labels = np.array([y for y, _ in rows])
    scores = np.array([s for _, s in rows], dtype=float)
    value = auc(labels, scores)
    assert value == pytest.approx(_pairwise_auc(labels, scores), abs=1e-12)
    # Negating the scores swaps wins and losses; ties stay ties.
    assert value + auc(labels, -scores) == pytest.approx(1.0)
    # Only the order matters.
    assert auc(labels, np.exp(scores) * 7 + 1) == pytest.approx(value)


# ----------------------------------------------------- logloss


def test_logloss_hand_computed():
    expected = -(math.log(0.8) + math.log(1 - 0.4)) / 2
    assert logloss([1, 0], [0.8, 0.4]) == pytest.approx(expected)
    assert logloss([1, 0], [0.5, 0.5]) == pytest.approx(math.log(2))


def test_logloss_clips_confident_mistakes():
    # p = 1 for a negative costs -log(eps), not infinity; p = 0 for a negative costs -log(1 - eps).
    assert logloss([0, 0], [1.0, 0.0], eps=1e-7) == pytest.approx(
        (-math.log(1e-7) - math.log(1 - 1e-7)) / 2
    )
    assert logloss([1], [0.0], eps=1e-3) == pytest.approx(-math.log(1e-3))


@pytest.mark.parametrize("seed", range(4))
def test_logloss_matches_reference(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    probabilities = rng.random(200)
    probabilities[:3] = [0.0, 1.0, 0.5]
    assert logloss(labels, probabilities) == pytest.approx(
        _reference_logloss(labels, probabilities), rel=1e-12
    )


# -------------------------------------------------------- gauc


def test_gauc_hand_computed():
    # User 7: positive 0.9 beats 0.1, loses to 0.95 -> 1/2 over 3 rows; user 9: 0 over 2 rows;
    # user 5 has no negative and is left out: (3 * 0.5 + 2 * 0) / 5.
    user_ids = [7, 7, 7, 9, 9, 5]
    labels = [1, 0, 0, 0, 1, 1]
    scores = [0.9, 0.1, 0.95, 0.3, 0.2, 0.5]
    assert gauc(user_ids, labels, scores) == pytest.approx(0.3)


def test_gauc_ties_are_per_user():
    # Equal scores across users must not interact: both users have AUC 1/2 from their own tie.
    assert gauc([0, 0, 1, 1], [0, 1, 1, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5
    # User "a": 1 of 1 pairs; user "b": ties 1/2 on one of 2 pairs, 0 on the other -> 1/4.
    value = gauc(["a", "a", "b", "b", "b"], [1, 0, 1, 0, 0], [2.0, 1.0, 1.0, 1.0, 3.0])
    assert value == pytest.approx((2 * 1.0 + 3 * 0.25) / 5)


def test_gauc_single_user_equals_auc():
    labels, scores = _random_case(3, 80, num_levels=5)
    assert gauc(np.zeros(80, dtype=int), labels, scores) == pytest.approx(
        auc(labels, scores)
    )


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("num_levels", [None, 4])
def test_gauc_matches_reference(seed, num_levels):
    rng = np.random.default_rng(seed + 1000)  # Not the stream of the labels.
    labels, scores = _random_case(seed, 400, num_levels)
    user_ids = rng.integers(0, 60, 400) * 1000 - 7  # Sparse, negative ids are fine.
    assert gauc(user_ids, labels, scores) == pytest.approx(
        _reference_gauc(user_ids, labels, scores), abs=1e-12
    )


def test_gauc_many_users_matches_reference():
    rng = np.random.default_rng(11)
    n = 20_000
    user_ids = rng.integers(0, 3_000, n)
    labels = rng.integers(0, 2, n)
    scores = rng.integers(0, 10, n).astype(float)
    assert gauc(user_ids, labels, scores) == pytest.approx(
        _reference_gauc(user_ids, labels, scores), abs=1e-12
    )


# ------------------------------------------------------ errors


@pytest.mark.parametrize(
    "labels, scores, match",
    [
        ([0, 1, np.nan], [0.1, 0.2, 0.3], "`labels` must not contain NaN"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "`labels` must be 0 or 1"),
        ([0, 1, 0.5], [0.1, 0.2, 0.3], "`labels` must be 0 or 1"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "`scores` must not contain NaN"),
        ([0, 1, 1], [0.1, 0.2], "same length"),
        ([], [], "`labels` must not be empty"),
        ([[0, 1], [1, 0]], [[0.1, 0.2], [0.3, 0.4]], "`labels` must be 1-D"),
        (["a", "b"], [0.1, 0.2], "`labels` must be numeric"),
    ],
)
def test_invalid_inputs_raise(labels, scores, match):
    with pytest.raises(ValueError, match=match):
        auc(labels, scores)
    with pytest.raises(ValueError, match=match.replace("`scores`", "`probabilities`")):
        logloss(labels, scores)
    with pytest.raises(ValueError, match=match):
        gauc(np.zeros(len(labels)), labels, scores)


def test_auc_one_class_raises():
    with pytest.raises(ValueError, match="both classes"):
        auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="both classes"):
        auc([0], [0.1])


def test_logloss_bad_probabilities_and_eps_raise():
    with pytest.raises(ValueError, match=r"`probabilities` must be in \[0, 1\]"):
        logloss([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match=r"`probabilities` must be in \[0, 1\]"):
        logloss([0, 1], [-0.1, 0.5])
    for eps in (0.0, -1e-7, 0.5):
        with pytest.raises(ValueError, match="`eps`"):
            logloss([0, 1], [0.5, 0.5], eps=eps)


def test_gauc_errors():
    with pytest.raises(ValueError, match="no user"):
        gauc([0, 0, 1, 1], [1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(
        ValueError, match="`user_ids` and `labels` must have the same length"
    ):
        gauc([0, 0, 1], [1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="`user_ids` must not contain NaN"):
        gauc([0.0, np.nan], [1, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="`user_ids` must be 1-D"):
        gauc(np.zeros((2, 2)), [1, 0], [0.1, 0.2])
