"""Tests of the top-K ranking metrics and the negative sampler against brute-force references."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_tf.metrics import (
    full_ranking_metrics,
    ranking_metrics_from_ranks,
    sample_negatives,
    sampled_ranking_metrics,
)

METRICS = ("hr", "ndcg", "mrr", "recall", "precision", "f1")

# -------------------------------------------------- references


def _row_metrics(ranked, targets, k):
    """Metrics of one ranked list (Python list of ids) for a set of targets, by definition."""
    top = ranked[:k]
    hit_ranks = [r for r, item in enumerate(top) if item in targets]
    hits = len(hit_ranks)
    precision = hits / k
    recall = hits / len(targets)
    f1 = (
        0.0
        if precision + recall == 0
        else 2 * precision * recall / (precision + recall)
    )
    dcg = sum(1 / math.log2(r + 2) for r in hit_ranks)
    idcg = sum(1 / math.log2(r + 2) for r in range(min(len(targets), k)))
    return {
        "hr": float(hits > 0),
        "ndcg": dcg / idcg,
        "mrr": 1 / (hit_ranks[0] + 1) if hit_ranks else 0.0,
        "recall": recall,
        "precision": precision,
        "f1": f1,
    }


def _mean_metrics(per_row_lists, per_row_targets, ks):
    result = {}
    for k in ks:
        rows = [_row_metrics(r, t, k) for r, t in zip(per_row_lists, per_row_targets)]
        for name in METRICS:
            result[f"{name}@{k}"] = sum(row[name] for row in rows) / len(rows)
    return result


def _target_sets(targets):
    targets = np.asarray(targets)
    if targets.ndim == 1:
        targets = targets[:, None]
    return [{int(t) for t in row if t >= 0} for row in targets]


def _excluded_sets(exclude, n):
    if exclude is None:
        return [set() for _ in range(n)]
    if isinstance(exclude, np.ndarray) and exclude.dtype == bool:
        return [set(np.flatnonzero(row).tolist()) for row in exclude]
    return [{int(i) for i in row if i >= 0} for row in exclude]


def _pessimistic_lists(scores, targets, exclude=None):
    """Every row's candidates sorted by score, non-targets before targets on ties."""
    lists = []
    for row, wanted, banned in zip(
        scores, _target_sets(targets), _excluded_sets(exclude, len(scores))
    ):
        candidates = [j for j in range(len(row)) if j not in banned or j in wanted]
        lists.append(sorted(candidates, key=lambda j: (-row[j], j in wanted, j)))
    return lists


def _assert_metrics_equal(actual, expected):
    assert list(actual) == list(expected)
    for key, value in expected.items():
        assert isinstance(actual[key], float)
        assert actual[key] == pytest.approx(value, abs=1e-12), key


def _random_targets(rng, n, num_items, width):
    """Rows of 1..width targets (with repeats and -1 padding)."""
    targets = rng.integers(0, num_items, (n, width))
    padding = rng.random((n, width)) < 0.4
    padding[:, 0] = False
    targets[padding] = -1
    return rng.permuted(targets, axis=1)


# -------------------------------------- ranking_metrics_from_ranks


@pytest.mark.parametrize("seed", range(3))
def test_from_ranks_matches_reference(seed):
    rng = np.random.default_rng(seed)
    ranks = rng.integers(0, 30, 70)
    ks = [1, 3, 10, 40]
    lists = [["neg"] * r + ["target"] for r in ranks]
    expected = _mean_metrics(lists, [{"target"}] * len(lists), ks)
    _assert_metrics_equal(ranking_metrics_from_ranks(ranks, ks), expected)


def test_from_ranks_bad_inputs_raise():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        ranking_metrics_from_ranks(np.zeros((2, 1), int), ks=[1])
    with pytest.raises(ValueError, match="integers"):
        ranking_metrics_from_ranks([0.0, 1.0], ks=[1])
    with pytest.raises(ValueError, match=r"ranks\[1\]=-1"):
        ranking_metrics_from_ranks([0, -1], ks=[1])


# ---------------------------------------- full_ranking_metrics


def test_full_ranking_pessimistic_ties_hand_computed():
    # Item 2 ties item 0, so it ranks behind items 1 and 0: rank 2.
    result = full_ranking_metrics([[0.3, 0.9, 0.3, 0.1]], [2], ks=[1, 2, 3])
    assert (result["hr@2"], result["hr@3"]) == (0.0, 1.0)
    assert result["ndcg@3"] == pytest.approx(1 / math.log2(4))
    assert result["mrr@3"] == pytest.approx(1 / 3)
    assert result["precision@3"] == pytest.approx(1 / 3)
    assert result["f1@3"] == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))


def test_full_ranking_constant_scorer_gets_no_credit():
    n, num_items = 5, 10
    scores = np.zeros((n, num_items))
    targets = np.arange(n)
    result = full_ranking_metrics(scores, targets, ks=[1, 5, 9, 10])
    for k in (1, 5, 9):
        assert result[f"hr@{k}"] == 0.0 and result[f"ndcg@{k}"] == 0.0
    # Every other item goes first: rank 9.
    assert result["hr@10"] == 1.0
    assert result["ndcg@10"] == pytest.approx(1 / math.log2(11))
    # Excluding 4 other items moves the target to rank 5.
    exclude = [[j for j in range(num_items) if j != t][:4] for t in targets]
    result = full_ranking_metrics(scores, targets, ks=[5, 6], exclude=exclude)
    assert (result["hr@5"], result["hr@6"]) == (0.0, 1.0)
    assert result["mrr@6"] == pytest.approx(1 / 6)


def test_full_ranking_multi_target_hand_computed():
    # Ranked list: 0 (0.9), 4 (target, 0.7), 1 (0.5), 2 (target, 0.5, behind the tied 1), 3.
    scores = [[0.9, 0.5, 0.5, 0.1, 0.7]]
    result = full_ranking_metrics(scores, [[2, 4]], ks=[3, 4])
    g1, g3 = 1 / math.log2(3), 1 / math.log2(5)
    expected = {
        "hr@3": 1.0,
        "ndcg@3": g1 / (1 + g1),
        "mrr@3": 0.5,
        "recall@3": 0.5,
        "precision@3": 1 / 3,
        "f1@3": 2 * (1 / 3) * 0.5 / (1 / 3 + 0.5),
        "hr@4": 1.0,
        "ndcg@4": (g1 + g3) / (1 + g1),
        "mrr@4": 0.5,
        "recall@4": 1.0,
        "precision@4": 0.5,
        "f1@4": 2 * 0.5 * 1.0 / 1.5,
    }
    _assert_metrics_equal(result, expected)


def test_full_ranking_target_in_exclude_stays_a_candidate():
    result = full_ranking_metrics([[0.9, 0.95, 0.5]], [0], ks=[1, 2], exclude=[[0, 1]])
    assert result["hr@1"] == 1.0
    result = full_ranking_metrics([[0.9, 0.95, 0.5]], [0], ks=[1, 2])
    assert (result["hr@1"], result["hr@2"]) == (0.0, 1.0)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("width", [1, 3])
@pytest.mark.parametrize("exclusion", [None, "mask", "lists"])
def test_full_ranking_matches_pessimistic_reference(seed, width, exclusion):
    rng = np.random.default_rng(seed)
    n, num_items = 30, 20
    scores = rng.integers(0, 4, (n, num_items)).astype(float)  # Many ties.
    targets = _random_targets(rng, n, num_items, width)
    if width == 1:
        targets = targets[:, 0]
    mask = rng.random((n, num_items)) < 0.3
    exclude = {None: None, "mask": mask, "lists": [np.flatnonzero(m) for m in mask]}[
        exclusion
    ]
    ks = [1, 2, 5, 20]
    expected = _mean_metrics(
        _pessimistic_lists(scores, targets, exclude), _target_sets(targets), ks
    )
    _assert_metrics_equal(full_ranking_metrics(scores, targets, ks, exclude), expected)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_full_ranking_property(data):
    n = data.draw(st.integers(1, 4))
    num_items = data.draw(st.integers(2, 7))
    scores = np.array(
        data.draw(
            st.lists(st.integers(-2, 2), min_size=n * num_items, max_size=n * num_items)
        ),
        dtype=float,
    ).reshape(n, num_items)
    targets = np.array(
        data.draw(
            st.lists(st.integers(-1, num_items - 1), min_size=2 * n, max_size=2 * n)
        )
    ).reshape(n, 2)
    targets[:, 0] = np.maximum(targets[:, 0], 0)
    ks = [1, 2, num_items]
    result = full_ranking_metrics(scores, targets, ks)
    expected = _mean_metrics(
        _pessimistic_lists(scores, targets), _target_sets(targets), ks
    )
    _assert_metrics_equal(result, expected)
    for value in result.values():
        assert 0.0 <= value <= 1.0
    assert result["hr@1"] <= result["hr@2"] <= result[f"hr@{num_items}"] == 1.0


# --------------------------------------------- sampled metrics


def test_sampled_hand_computed():
    # Row 0: 0.7 and the tied 0.5 beat the target (rank 2); row 1: only 0.3 does (rank 1).
    result = sampled_ranking_metrics(
        [0.5, 0.2], [[0.1, 0.7, 0.5], [0.0, 0.1, 0.3]], ks=[2, 3]
    )
    expected = {
        "hr@2": 0.5,
        "ndcg@2": (0 + 1 / math.log2(3)) / 2,
        "mrr@2": (0 + 1 / 2) / 2,
        "recall@2": 0.5,
        "precision@2": (0 + 1 / 2) / 2,
        "f1@2": (0 + 2 / 3) / 2,  # 2 P R / (P + R) with P = 1/2, R = 1.
        "hr@3": 1.0,
        "ndcg@3": (1 / math.log2(4) + 1 / math.log2(3)) / 2,
        "mrr@3": (1 / 3 + 1 / 2) / 2,
        "recall@3": 1.0,
        "precision@3": 1 / 3,
        "f1@3": 0.5,  # 2 (1/3) 1 / (4/3).
    }
    _assert_metrics_equal(result, expected)


def test_sampled_constant_scorer_gets_no_credit():
    result = sampled_ranking_metrics(np.ones(4), np.ones((4, 99)), ks=[10, 99, 100])
    assert result["hr@10"] == result["hr@99"] == 0.0
    assert result["hr@100"] == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_sampled_matches_reference(seed):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 5, 80).astype(float)
    negatives = rng.integers(0, 5, (80, 20)).astype(float)
    ks = [1, 5, 10, 25]
    lists = []
    for t, row in zip(target, negatives):
        rank = sum(1 for x in row if x >= t)
        lists.append(["neg"] * rank + ["target"] + ["neg"] * (len(row) - rank))
    expected = _mean_metrics(lists, [{"target"}] * len(lists), ks)
    _assert_metrics_equal(
        sampled_ranking_metrics(target[:, None], negatives, ks), expected
    )


def test_sampled_with_all_items_equals_full_ranking():
    rng = np.random.default_rng(5)
    n, num_items = 30, 15
    scores = rng.integers(0, 5, (n, num_items)).astype(float)
    targets = rng.integers(0, num_items, n)
    others = np.array([[j for j in range(num_items) if j != t] for t in targets])
    ks = [1, 3, 10]
    _assert_metrics_equal(
        sampled_ranking_metrics(
            scores[np.arange(n), targets],
            np.take_along_axis(scores, others, axis=1),
            ks,
        ),
        full_ranking_metrics(scores, targets, ks),
    )


# -------------------------------------------- sample_negatives


def _check_negatives(negatives, num_items, positives, exclude, num_negatives):
    positives = _target_sets(positives)
    banned = _excluded_sets(exclude, len(positives))
    assert negatives.shape == (len(positives), num_negatives)
    assert negatives.dtype == np.int64
    for row, pos, ban in zip(negatives, positives, banned):
        assert len(set(row.tolist())) == num_negatives
        assert all(0 <= x < num_items for x in row)
        assert not set(row.tolist()) & (pos | ban)


@pytest.mark.parametrize("seed", range(3))
def test_sample_negatives_valid_and_deterministic(seed):
    rng = np.random.default_rng(100 + seed)
    n, num_items, num_negatives = 300, 60, 10
    positives = _random_targets(rng, n, num_items, 3)
    # At most 3 positives + 45 excluded: at least 12 eligible items per row.
    history = [
        rng.choice(num_items, rng.integers(0, 46), replace=False) for _ in range(n)
    ]
    # Leave some rows with exactly num_negatives eligible items (the permutation path).
    history[0] = np.arange(num_items - num_negatives)
    positives[0] = -1
    positives[0, 0] = 0
    first = sample_negatives(
        num_items, positives, num_negatives, seed=seed, exclude=history
    )
    _check_negatives(first, num_items, positives, history, num_negatives)
    assert set(first[0].tolist()) == set(range(num_items - num_negatives, num_items))
    again = sample_negatives(
        num_items, positives, num_negatives, seed=seed, exclude=history
    )
    np.testing.assert_array_equal(first, again)
    other = sample_negatives(
        num_items, positives, num_negatives, seed=seed + 7, exclude=history
    )
    assert not np.array_equal(first, other)
    # The same exclusions as a boolean mask give the same draw.
    mask = np.zeros((n, num_items), dtype=bool)
    for row, ids in enumerate(history):
        mask[row, ids] = True
    np.testing.assert_array_equal(
        first,
        sample_negatives(num_items, positives, num_negatives, seed=seed, exclude=mask),
    )


@pytest.mark.parametrize(
    "num_items, excluded, num_negatives",
    [
        (40, [3, 7, 8], 4),  # Rejection rounds (many eligible items).
        (21, [], 10),  # Rejection with many repeats: usually a second round.
        (9, [3, 7], 4),  # Random permutation (fewer than 2 * num_negatives eligible).
    ],
)
def test_sample_negatives_is_uniform(num_items, excluded, num_negatives):
    n = 20_000
    positives = np.zeros(n, dtype=int)
    negatives = sample_negatives(
        num_items, positives, num_negatives, seed=0, exclude=[excluded] * n
    )
    eligible = [j for j in range(num_items) if j != 0 and j not in excluded]
    counts = np.bincount(negatives.ravel(), minlength=num_items)
    assert counts[[0] + excluded].sum() == 0
    expected = n * num_negatives / len(eligible)
    # Binomial standard deviation is below sqrt(expected); allow 5 of them.
    assert np.abs(counts[eligible] - expected).max() < 5 * math.sqrt(expected)
    # Every slot, not just the set, is uniform (no sorted output).
    first_slot = np.bincount(negatives[:, 0], minlength=num_items)[eligible]
    assert np.abs(first_slot - n / len(eligible)).max() < 5 * math.sqrt(
        n / len(eligible)
    )


def test_sample_negatives_large_is_valid():
    rng = np.random.default_rng(1)
    n, num_items = 20_000, 50_000
    positives = rng.integers(0, num_items, n)
    history = rng.integers(-1, num_items, (n, 30))
    negatives = sample_negatives(num_items, positives, 100, seed=3, exclude=history)
    assert negatives.shape == (n, 100)
    ordered = np.sort(negatives, axis=1)
    assert (ordered[:, 1:] != ordered[:, :-1]).all()
    assert not (negatives == positives[:, None]).any()
    assert not (negatives[:, :, None] == history[:, None, :]).any()


def test_sample_negatives_too_few_eligible_raises():
    with pytest.raises(ValueError, match="row 1 has only 2 eligible items"):
        sample_negatives(5, [[0, -1], [0, 1]], 3, seed=0, exclude=[[], [2]])
    with pytest.raises(ValueError, match="row 0 has only 4 eligible items"):
        sample_negatives(5, [0], 5, seed=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_items": 0}, "`num_items` must be > 0"),
        ({"num_negatives": 0}, "`num_negatives` must be > 0"),
        ({"num_negatives": 2.0}, "`num_negatives` must be an int"),
        ({"positives": [0, 10]}, r"`positives` must hold ids in \[0, 10\)"),
        ({"positives": [0.0, 1.0]}, "`positives` must hold integer ids"),
        ({"positives": []}, "`positives` must be a non-empty"),
        ({"exclude": [[1], [10]]}, r"`exclude` ids must be in \[0, 10\)"),
        ({"exclude": [[1]]}, "`exclude` must have one entry per row"),
        ({"exclude": np.zeros((2, 9), dtype=bool)}, "must have shape"),
    ],
)
def test_sample_negatives_invalid_arguments(kwargs, match):
    arguments = {"num_items": 10, "positives": [0, 1], "num_negatives": 2, "seed": 0}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sample_negatives(**arguments)


# ------------------------------------------------------ errors


@pytest.mark.parametrize("ks", [0, -1, [5, 0], [], [1.5], [True]])
def test_bad_ks_raise(ks):
    with pytest.raises(ValueError, match="`ks`"):
        ranking_metrics_from_ranks([1], ks)
    with pytest.raises(ValueError, match="`ks`"):
        full_ranking_metrics([[0.1, 0.2]], [1], ks)
    with pytest.raises(ValueError, match="`ks`"):
        sampled_ranking_metrics([0.1], [[0.2]], ks)


@pytest.mark.parametrize(
    "targets, match",
    [
        ([0, 4], r"`targets` must hold ids in \[0, 4\)"),
        ([0, -2], r"`targets` must hold ids in \[0, 4\)"),
        ([[0, 1], [-1, -1]], "row 1 has none"),
        ([0, 1, 2], "`targets` must have one row per row of `scores`"),
        ([0.0, 1.0], "`targets` must be an integer array"),
        (
            np.zeros((2, 1, 1), dtype=int),
            r"`targets` must have shape \[n\] or \[n, T\]",
        ),
    ],
)
def test_bad_targets_raise(targets, match):
    with pytest.raises(ValueError, match=match):
        full_ranking_metrics(np.zeros((2, 4)), targets, ks=[1])


def test_full_ranking_bad_scores_raise():
    bad = np.array([[0.1, np.nan], [0.2, 0.3]])
    with pytest.raises(ValueError, match="`scores` must not contain NaN"):
        full_ranking_metrics(bad, [0, 1], ks=[1])
    with pytest.raises(ValueError, match="`scores` must be 2-D"):
        full_ranking_metrics([0.1, 0.2], [0], ks=[1])


def test_bad_exclude_raises():
    with pytest.raises(ValueError, match="must have shape"):
        full_ranking_metrics(
            np.zeros((2, 3)), [0, 1], ks=[1], exclude=np.zeros((2, 4), dtype=bool)
        )
    with pytest.raises(ValueError, match=r"`exclude` ids must be in \[0, 3\)"):
        full_ranking_metrics(np.zeros((2, 3)), [0, 1], ks=[1], exclude=[[0], [3]])
    with pytest.raises(ValueError, match="one entry per row"):
        full_ranking_metrics(np.zeros((2, 3)), [0, 1], ks=[1], exclude=[[0]])
    with pytest.raises(ValueError, match="`exclude` ids must be integers"):
        full_ranking_metrics(np.zeros((2, 3)), [0, 1], ks=[1], exclude=[[0.5], []])


def test_sampled_bad_inputs_raise():
    with pytest.raises(ValueError, match="`target_scores` must not contain NaN"):
        sampled_ranking_metrics([np.nan], [[0.1]], ks=[1])
    with pytest.raises(ValueError, match="`negative_scores` must not contain NaN"):
        sampled_ranking_metrics([0.1], [[np.nan]], ks=[1])
    with pytest.raises(ValueError, match="same number of rows"):
        sampled_ranking_metrics([0.1, 0.2], [[0.1]], ks=[1])
    with pytest.raises(ValueError, match="one target per row"):
        sampled_ranking_metrics([[0.1, 0.2]], [[0.1]], ks=[1])
    with pytest.raises(ValueError, match="`target_scores` must not be empty"):
        sampled_ranking_metrics([], np.zeros((0, 3)), ks=[1])
