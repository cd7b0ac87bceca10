"""Evaluation helpers against brute-force references."""

import numpy as np
import pytest

from recsys_tf import metrics
from recsys_tf.data import retrieval
from recsys_tf.data.retrieval import RetrievalSplit
from recsys_tf.models.baselines.popularity import Popularity
from recsys_tf.training import evaluation
from tests.data.test_builders import _log


def _split(users, targets):
    n = len(users)
    return RetrievalSplit(
        user_ids=np.array(users),
        history=np.zeros((n, 2), int),
        history_mask=np.ones((n, 2), bool),
        targets=np.array(targets),
        timestamps=np.arange(n),
        request_ids=-np.ones(n, int),
        user_features={},
    )


def test_user_items_are_every_item_of_the_users_events():
    log = _log()
    seen = evaluation.user_items(log)
    events = log.events
    for user, items in seen.items():
        expected = np.unique(events.loc[events["user_id"] == user, "item_id"])
        np.testing.assert_array_equal(items, expected)
    assert set(seen) == set(events["user_id"].unique())


def test_sampled_negatives_avoid_the_users_items_and_are_seeded():
    log = _log(num_items=100)
    task = retrieval.build_retrieval_task(log, max_eval_examples=20, seed=0)
    seen = evaluation.user_items(log)
    negatives = evaluation.sampled_negatives(task.test, log.num_items, seen, 3, seed=0)
    for row, user in enumerate(task.test.user_ids):
        assert not set(negatives[row]) & set(seen[user].tolist())
    np.testing.assert_array_equal(
        negatives, evaluation.sampled_negatives(task.test, log.num_items, seen, 3, 0)
    )


def test_user_negatives_one_list_per_user():
    log = _log()
    seen = evaluation.user_items(log)
    per_user = evaluation.user_negatives([3, 1, 3], log.num_items, seen, 3, seed=2)
    assert sorted(per_user) == [1, 3]
    for user, items in per_user.items():
        assert len(set(items.tolist())) == 3
        assert not set(items.tolist()) & set(seen[user].tolist())
    split = _split([3, 1, 3], [seen[3][0], seen[1][0], seen[3][-1]])
    rows = evaluation.negatives_of_users(split, per_user, "shared")
    np.testing.assert_array_equal(rows[0], rows[2])


def test_negatives_of_users_errors():
    split = _split([0, 1], [4, 5])
    with pytest.raises(ValueError, match="f.txt: no negatives for user code 1"):
        evaluation.negatives_of_users(split, {0: np.array([1, 2])}, "f.txt")
    with pytest.raises(ValueError, match="user code 1 hold its target item code 5"):
        evaluation.negatives_of_users(
            split, {0: np.array([1, 2]), 1: np.array([5, 2])}, "f.txt"
        )


def test_read_negatives_file_maps_original_ids(tmp_path):
    path = tmp_path / "Beauty_sample.txt"
    path.write_text("20 300 100\n10 200 300\n\n")
    users, items = np.array([10, 20]), np.array([100, 200, 300])
    got = evaluation.read_negatives_file(str(path), users, items)
    assert {u: v.tolist() for u, v in got.items()} == {1: [2, 0], 0: [1, 2]}
    # Without id tables the ids are the codes.
    got = evaluation.read_negatives_file(str(path), None, None)
    assert got[20].tolist() == [300, 100]
    for text, match in [
        ("10 200 300\n20 300 999\n", r"line 2: unknown item id '999'"),
        ("10 200 300\n30 300 100\n", r"line 2: unknown user id '30'"),
        ("10 200 300\n20 300\n", "line 2: 1 negatives, expected 2"),
        ("10 200\n10 300\n", "line 2: user 10 again"),
    ]:
        path.write_text(text)
        with pytest.raises(ValueError, match=f"Beauty_sample.txt, {match}"):
            evaluation.read_negatives_file(str(path), users, items)


def test_popularity_ties_count_against_the_target():
    # Integer counts: items 0, 1, 2 tie with 3 training targets each.
    model = Popularity(6)
    model.adapt(np.array([3, 3, 3, 1, 0, 0]))
    split = _split([0, 0, 0, 0], [0, 2, 3, 5])
    ranks = evaluation.target_ranks(evaluation.model_scores(model, split), split)
    # Item 0 (or 2) is behind the two other items tied with it; item 5 ties item 4.
    assert ranks.tolist() == [2, 2, 3, 5]
    result = evaluation.evaluate_retrieval(model, split, ks=(1, 3))
    # Lowest-id-first ties (BruteForceRetrieval) would give item 0 a hit@1.
    assert result["hr@1"] == 0.0 and result["hr@3"] == 0.5


def _earlier_items_brute_force(log, split):
    """Each row's distinct earlier positive items of its user, target excluded."""
    events = log.events_of("click")
    order = np.lexsort((events["timestamp"].to_numpy(), events["user_id"].to_numpy()))
    events = events.iloc[order]
    sequences = {}
    for position, (user, item) in enumerate(
        zip(events["user_id"].to_numpy(), events["item_id"].to_numpy())
    ):
        sequences.setdefault(user, []).append((position, item))
    out = []
    for user, index, target in zip(split.user_ids, split.sequence_index, split.targets):
        out.append(sorted({i for p, i in sequences[user] if p < index and i != target}))
    return out


@pytest.mark.parametrize("chunk_elements", [1, 60, 1 << 24])
def test_history_exclusion_matches_full_ranking_reference(chunk_elements):
    log = _log(num_items=12, num_requests=600)
    task = retrieval.build_retrieval_task(log, max_length=2)
    split = task.test
    earlier = _earlier_items_brute_force(log, split)
    local, items = split.earlier_items(np.arange(len(split)))
    got = [sorted(items[local == r].tolist()) for r in range(len(split))]
    assert got == earlier
    # The whole history, beyond max_length = 2, and validation-period items too.
    assert max(map(len, earlier)) > 2
    clicks = log.events_of("click")
    in_validation = clicks[
        clicks["timestamp"].between(
            task.validation.timestamps.min(), task.validation.timestamps.max()
        )
    ]
    validation_items = {
        (u, i) for u, i in zip(in_validation["user_id"], in_validation["item_id"])
    }
    assert any(
        (user, item) in validation_items
        for user, items in zip(split.user_ids, earlier)
        for item in items
    )
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, (len(split), log.num_items)).astype(np.float32)
    ks = (1, 3, 5)
    for exclude_history, exclude in ((False, None), (True, earlier)):
        ranks = evaluation.target_ranks(
            lambda rows: scores[rows], split, exclude_history, chunk_elements
        )
        assert ranks.dtype == np.int32
        reference = metrics.full_ranking_metrics(scores, split.targets, ks, exclude)
        assert metrics.ranking_metrics_from_ranks(ranks, ks) == pytest.approx(reference)


def test_target_ranks_rejects_nan_scores():
    split = _split([0, 1], [0, 1])
    scores = np.array([[0.1, 0.2], [np.nan, 0.3]])
    with pytest.raises(ValueError, match="row 1 contain NaN"):
        evaluation.target_ranks(lambda rows: scores[rows], split)


def test_repeat_consumption_is_detected():
    log = _log()
    clicks = log.events_of("click")
    assert clicks.duplicated(["user_id", "item_id"]).any()
    assert retrieval.build_retrieval_task(log).repeat_consumption
    ratings = log.events_of("rating").drop_duplicates(["user_id", "item_id"])
    assert not ratings.duplicated(["user_id", "item_id"]).any()
    once = type(log)(log.users, log.items, ratings)
    task = retrieval.build_retrieval_task(once, positive_events=("rating",))
    assert not task.repeat_consumption


def test_save_outputs_is_compact(tmp_path):
    path = str(tmp_path / "out.npz")
    evaluation.save_outputs(
        path, user_id=np.arange(5, dtype=np.int64), rank=np.arange(5)
    )
    with np.load(path) as saved:
        assert saved["user_id"].dtype == np.int32 and saved["rank"].dtype == np.int32
        assert saved["rank"].tolist() == list(range(5))


def test_exclusion_lists_are_built_once(monkeypatch):
    task = retrieval.build_retrieval_task(_log(num_items=12, num_requests=600))
    builds = []
    build = RetrievalSplit._build_earlier
    monkeypatch.setattr(
        RetrievalSplit, "_build_earlier", lambda self: builds.append(1) or build(self)
    )
    scores = np.zeros((len(task.test), 12), np.float32)
    for _ in range(3):  # e.g. one validation per epoch
        evaluation.target_ranks(lambda rows: scores[rows], task.test, True, 50)
    assert len(builds) == 1
    assert task.test._earlier[1].dtype == np.int32
