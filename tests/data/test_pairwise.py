"""Tests of the pairwise-ranking task builder and its negative sampler (MF + M-MLP)."""

import numpy as np
import pandas as pd
import pytest

from recsys_tf.data import pairwise
from recsys_tf.data.schema import EventLog, validate

T0 = 1_577_836_800


def _log(seed=0, num_users=12, num_items=40, num_events=900):
    """Random buys / clicks / carts / favs; user 0 buys but touches nothing else
    before its validation buy (the supportive sampler must fall back for it);
    user 1 buys twice only (dropped)."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in range(num_events):
        u = int(rng.integers(2, num_users))
        kind = rng.choice(["click", "click", "click", "cart", "fav", "buy"])
        rows.append((u, int(rng.integers(num_items)), T0 + n, str(kind)))
    for n, item in enumerate([3, 4, 5, 6]):
        rows.append((0, item, T0 + 10 * n, "buy"))
    rows.append((0, 9, T0 + 100_000, "click"))  # after its validation buy
    rows += [(1, 7, T0 + 5, "buy"), (1, 8, T0 + 6, "buy"), (1, 9, T0 + 7, "click")]
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "event"])
    events["value"] = 1.0
    users = pd.DataFrame({"user_id": np.arange(num_users)})
    items = pd.DataFrame({"item_id": np.arange(num_items), "category": 0, "brand": 0})
    return validate(EventLog(users, items, events))


def _events(log, user, *kinds):
    e = log.events
    e = e[(e.user_id == user) & e.event.isin(kinds)]
    return e.sort_values("timestamp", kind="stable")


def test_leave_one_out_on_the_latest_target_events():
    log = _log()
    task = pairwise.build_pairwise_task(log)
    assert task.feedback_types == ("buy", "click", "cart", "fav")
    assert task.dropped_users == 1  # user 1: two buys
    assert 1 not in task.train.user_ids and 1 not in task.test.user_ids
    for user in np.unique(task.test.user_ids):
        buys = _events(log, user, "buy")
        (row,) = np.flatnonzero(task.test.user_ids == user)
        assert task.test.targets[row] == buys.item_id.iloc[-1]
        (row,) = np.flatnonzero(task.validation.user_ids == user)
        assert task.validation.targets[row] == buys.item_id.iloc[-2]
        train = set(task.train.targets[task.train.user_ids == user].tolist())
        assert train == set(buys.item_id.iloc[:-2].tolist())
    # Distinct training pairs only.
    keys = task.train.user_ids * log.num_items + task.train.targets
    assert len(np.unique(keys)) == len(keys)


def test_training_interactions_end_before_the_validation_target():
    log = _log()
    task = pairwise.build_pairwise_task(log)
    for user in np.unique(task.test.user_ids):
        cutoff = _events(log, user, "buy").timestamp.iloc[-2]
        for kind in ("click", "cart", "fav"):
            e = _events(log, user, kind)
            expected = set(e.item_id[e.timestamp < cutoff].tolist())
            keys = task.interactions[kind]
            got = set((keys[keys // log.num_items == user] % log.num_items).tolist())
            assert got == expected, (user, kind)
    # User 0's click comes after its validation buy: not a training interaction.
    assert task.pair_feedback(0, 9).tolist() == [0, 0, 0, 0]


def test_pair_feedback_matches_the_events():
    log = _log()
    task = pairwise.build_pairwise_task(log)
    users = np.array([[2], [3]])
    items = np.arange(log.num_items)[None, :]
    got = task.pair_feedback(users, items)
    assert got.shape == (2, log.num_items, 4) and got.dtype == np.int8
    for r, u in enumerate(users[:, 0]):
        for c, kind in enumerate(task.feedback_types):
            keys = set(task.interactions[kind].tolist())
            expected = [u * log.num_items + i in keys for i in range(log.num_items)]
            assert got[r, :, c].tolist() == [int(x) for x in expected]


def _user_sets(task):
    def items(kind, user):
        keys = task.interactions[kind]
        return set((keys[keys // task.num_items == user] % task.num_items).tolist())

    bought = {u: items("buy", u) for u in range(task.num_users)}
    touched = {
        u: set().union(*(items(k, u) for k in task.feedback_types[1:]))
        for u in range(task.num_users)
    }
    return bought, touched


def test_supportive_sampler_draws_supportive_only_items():
    task = pairwise.build_pairwise_task(_log())
    sampler = pairwise.NegativeSampler(task, "supportive", num_negatives=4, seed=1)
    bought, touched = _user_sets(task)
    negatives = sampler.sample(epoch=0)
    assert negatives.shape == (len(task.train), 4)
    for user, row in zip(task.train.user_ids, negatives):
        assert not set(row.tolist()) & bought[user]  # never an item the user bought
        if user != 0:  # never an item the user never touched
            assert set(row.tolist()) <= touched[user] - bought[user]


def test_supportive_sampler_falls_back_to_random_and_counts_it():
    task = pairwise.build_pairwise_task(_log())
    sampler = pairwise.NegativeSampler(task, "supportive", num_negatives=3)
    assert sampler.fallback_users == 1  # user 0 touched nothing but its buys
    assert sampler.fallback_rows == int((task.train.user_ids == 0).sum()) == 2
    assert sampler.record() == {
        "negative_sampler": "supportive",
        "train_negatives": 3,
        "fallback_users": 1,
        "fallback_rows": 2,
    }
    rows = sampler.sample(0)[task.train.user_ids == 0]
    assert not set(rows.ravel().tolist()) & {3, 4}  # its training buys
    assert all(len(set(r)) == 3 for r in rows.tolist())  # distinct random items


def test_random_sampler_avoids_bought_items_and_covers_untouched_ones():
    task = pairwise.build_pairwise_task(_log())
    sampler = pairwise.NegativeSampler(task, "random", num_negatives=5)
    assert sampler.fallback_users == 0
    bought, touched = _user_sets(task)
    drawn = np.concatenate([sampler.sample(e) for e in range(20)])
    users = np.tile(task.train.user_ids, 20)
    assert not any(set(r.tolist()) & bought[u] for u, r in zip(users, drawn))
    for user in np.unique(users):  # uniform over all the rest, touched or not
        got = set(drawn[users == user].ravel().tolist())
        assert got == set(range(task.num_items)) - bought[user]
        assert got - touched[user]


def test_negatives_are_seeded_and_redrawn_every_epoch():
    task = pairwise.build_pairwise_task(_log())
    for mode in pairwise.SAMPLERS:
        a = pairwise.NegativeSampler(task, mode, seed=3)
        b = pairwise.NegativeSampler(task, mode, seed=3)
        assert np.array_equal(a.sample(1), b.sample(1))
        assert not np.array_equal(a.sample(0), a.sample(1))
        c = pairwise.NegativeSampler(task, mode, seed=4)
        assert not np.array_equal(a.sample(1), c.sample(1))


def test_train_dataset_batches_and_resumes():
    task = pairwise.build_pairwise_task(_log())
    sampler = pairwise.NegativeSampler(task, "supportive", num_negatives=2, seed=0)
    n = len(task.train)
    batches = [
        x for x, _ in pairwise.train_dataset(task, sampler, 16, seed=5, epochs=(0, 2))
    ]
    assert len(batches) == 2 * -(-n // 16)
    first = {
        k: np.concatenate([b[k].numpy() for b in batches[: -(-n // 16)]])
        for k in batches[0]
    }
    assert sorted(first["item_id"].tolist()) == sorted(task.train.targets.tolist())
    assert first["negatives"].shape == (n, 2)
    np.testing.assert_array_equal(
        first["negative_feedback"],
        task.pair_feedback(first["user_id"][:, None], first["negatives"]),
    )
    np.testing.assert_array_equal(
        first["feedback"], task.pair_feedback(first["user_id"], first["item_id"])
    )
    assert (first["feedback"][:, 0] == 1).all()  # the positives are target pairs
    resumed = [
        x for x, _ in pairwise.train_dataset(task, sampler, 16, seed=5, epochs=(1, 2))
    ]
    for a, b in zip(batches[-len(resumed) :], resumed):
        for key in a:
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


def test_pair_ranks_are_pessimistic():
    split = pairwise.PairwiseSplit(np.array([0, 1]), np.array([5, 6]), np.zeros(2))
    negatives = np.array([[1, 2, 3], [1, 2, 3]])

    def score(users, items):
        return np.where(items == 5, 1.0, np.where(items == 3, 1.0, users * 0.0))

    assert pairwise.pair_ranks(score, split, negatives).tolist() == [1, 3]


def test_bad_arguments_raise():
    log = _log()
    with pytest.raises(ValueError, match="min_target_events"):
        pairwise.build_pairwise_task(log, min_target_events=2)
    with pytest.raises(ValueError, match="no user has min_target_events=900"):
        pairwise.build_pairwise_task(log, min_target_events=900)
    with pytest.raises(ValueError, match="no events of type 'like'"):
        pairwise.build_pairwise_task(log, target_event="like", supportive_events=())
    task = pairwise.build_pairwise_task(log)
    with pytest.raises(ValueError, match="`mode` must be one of"):
        pairwise.NegativeSampler(task, "hard")
    with pytest.raises(ValueError, match="num_negatives"):
        pairwise.NegativeSampler(task, num_negatives=0)
