"""Tests of the splits, the CTR / retrieval task builders and the tf.data input."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from recsys_tf.data import ctr, retrieval, splits
from recsys_tf.data import input as data_input
from recsys_tf.data.schema import EventLog, validate


def _log(seed=0, num_users=20, num_items=30, num_requests=400):
    rng = np.random.default_rng(seed)
    users = pd.DataFrame(
        {"user_id": np.arange(num_users), "age": rng.integers(0, 3, num_users)}
    )
    items = pd.DataFrame(
        {
            "item_id": np.arange(num_items),
            "category": rng.integers(0, 4, num_items),
            "brand": rng.integers(0, 6, num_items),
        }
    )
    rows = []
    for r in range(num_requests):
        u = int(rng.integers(num_users))
        t = 1_577_836_800 + 60 * r
        shown = rng.choice(num_items, 3, replace=False)
        for i in shown:
            rows.append((u, int(i), t, "impression", 1.0, r))
        for i in shown[: int(rng.integers(0, 3))]:
            rows.append((u, int(i), t + 1, "click", 1.0, r))
        if r % 7 == 0:
            rows.append(
                (u, int(shown[0]), t + 2, "rating", float(rng.integers(1, 6)), r)
            )
    events = pd.DataFrame(
        rows,
        columns=["user_id", "item_id", "timestamp", "event", "value", "request_id"],
    )
    return validate(EventLog(users, items, events))


def test_time_split_never_leaks_future():
    stamps = np.random.default_rng(0).integers(0, 1000, 500)
    parts = splits.time_split(stamps, (0.8, 0.1, 0.1))
    assert stamps[parts == 0].max() < stamps[parts == 1].min()
    assert stamps[parts == 1].max() < stamps[parts == 2].min()
    assert abs((parts == 0).mean() - 0.8) < 0.05


def test_random_split_is_seeded_and_sized():
    a = splits.random_split(1000, (0.8, 0.1, 0.1), seed=3)
    assert np.array_equal(a, splits.random_split(1000, (0.8, 0.1, 0.1), seed=3))
    assert not np.array_equal(a, splits.random_split(1000, (0.8, 0.1, 0.1), seed=4))
    assert np.bincount(a).tolist() == [800, 100, 100]


def test_leave_one_out_split():
    users = np.array([0, 0, 0, 1, 1, 2, 0])
    stamps = np.array([1, 2, 3, 5, 4, 9, 0])
    parts = splits.leave_one_out_split(users, stamps)
    # user 0: times 0,1,2,3 -> the event at t=3 is test, t=2 validation.
    assert parts.tolist() == [0, 1, 2, 2, 0, 0, 0]


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.8, 0.3, 0.1), (-0.1, 0.6, 0.5)])
def test_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        splits.time_split(np.arange(10), fractions)


def test_ctr_task_labels_match_clicks():
    log = _log()
    task = ctr.build_ctr_task(log, crosses=(("user_id", "category"),))
    clicks = set(
        map(
            tuple,
            log.events_of("click")[["user_id", "item_id", "request_id"]].to_numpy(),
        )
    )
    n = sum(len(p) for p in task.parts().values())
    assert n == len(log.events_of("impression"))
    assert set(task.fields) == {
        "user_id",
        "item_id",
        "age",
        "category",
        "brand",
        "user_id_x_category",
    }
    cats = log.items["category"].to_numpy()
    for part in task.parts().values():
        f = part.features
        np.testing.assert_array_equal(f["category"], cats[f["item_id"]])
        np.testing.assert_array_equal(
            f["user_id_x_category"], f["user_id"] * 4 + f["category"]
        )
        for k in range(min(50, len(part))):
            uid, iid = f["user_id"][k], f["item_id"][k]
            # Each impression's label is whether a click of the same request exists.
            matches = [c for c in clicks if c[0] == uid and c[1] == iid]
            if part.labels[k] == 1:
                assert matches
    assert task.train.timestamps.max() <= task.validation.timestamps.min()
    assert task.vocabulary_sizes["user_id_x_category"] == 20 * 4


@pytest.mark.parametrize("label", ["click", "dislike"])
def test_feedback_labels_only_its_own_display(label):
    # (user, item, time, event, request): feedback outside any request
    # (request_id -1) labels only an impression outside any request at the same
    # second; -1 never matches -1 of another time.
    rows = [
        (0, 1, 100, "impression", 5),
        (0, 1, 101, label, 5),  # same request: label 1
        (0, 1, 200, "impression", 9),  # its feedback was in request 5: 0
        (0, 2, 300, "impression", -1),
        (0, 2, 900, label, -1),  # no request, another time: 0
        (0, 3, 400, "impression", -1),
        (0, 3, 400, label, -1),  # no request, same second: 1
        (1, 3, 400, "impression", -1),  # another user: 0
    ]
    events = pd.DataFrame(
        rows, columns=["user_id", "item_id", "timestamp", "event", "request_id"]
    ).assign(value=1.0)
    events["timestamp"] += 1_577_836_800
    users = pd.DataFrame({"user_id": [0, 1]})
    items = pd.DataFrame({"item_id": range(4), "category": 0, "brand": 0})
    frame = ctr.labelled_impressions(validate(EventLog(users, items, events)), label)
    assert list(frame.columns) == list(events.columns) + ["label"]
    np.testing.assert_array_equal(frame["label"], [1, 0, 0, 1, 0])
    np.testing.assert_array_equal(frame["item_id"], [1, 1, 2, 3, 3])


def test_ctr_rating_label_and_random_split():
    log = _log()
    task = ctr.build_ctr_task(
        log, label="rating", split="random", seed=1, rating_threshold=4
    )
    ratings = log.events_of("rating")
    assert sum(len(p) for p in task.parts().values()) == len(ratings)
    assert set(np.unique(task.train.labels)) <= {0.0, 1.0}
    expected = (ratings["value"].to_numpy() >= 4).mean()
    got = np.concatenate([p.labels for p in task.parts().values()]).mean()
    assert got == pytest.approx(expected)


def test_ctr_fields_restrict_what_the_model_gets():
    log = _log()
    full = ctr.build_ctr_task(log, crosses=(("user_id", "category"),))
    task = ctr.build_ctr_task(
        log, crosses=(("user_id", "category"),), fields=("item_id", "user_id")
    )
    assert task.fields == ("item_id", "user_id")
    assert task.vocabulary_sizes == {"item_id": 30, "user_id": 20}
    for name, part in task.parts().items():
        other = full.parts()[name]
        assert sorted(part.features) == ["item_id", "user_id"]
        np.testing.assert_array_equal(
            part.features["item_id"], other.features["item_id"]
        )
        np.testing.assert_array_equal(part.user_ids, other.user_ids)
        np.testing.assert_array_equal(part.labels, other.labels)
    with pytest.raises(ValueError, match=r"fields \['genre'\] are not fields"):
        ctr.build_ctr_task(log, fields=("user_id", "genre"))


def test_ctr_errors():
    log = _log()
    with pytest.raises(ValueError, match="label"):
        ctr.build_ctr_task(log, label="buy")
    with pytest.raises(ValueError, match="unknown field 'colour'"):
        ctr.build_ctr_task(log, crosses=(("user_id", "colour"),))
    with pytest.raises(ValueError, match="no column"):
        ctr.build_ctr_task(log, user_features=("height",))
    no_ratings = validate(
        EventLog(log.users, log.items, log.events[log.events["event"] != "rating"])
    )
    with pytest.raises(ValueError, match="needs rating events"):
        ctr.build_ctr_task(no_ratings, label="rating")


def test_retrieval_histories_are_the_previous_clicks():
    log = _log()
    task = retrieval.build_retrieval_task(log, max_length=4)
    clicks = log.events_of("click").sort_values(["user_id", "timestamp"], kind="stable")
    seqs = {u: g["item_id"].tolist() for u, g in clicks.groupby("user_id")}
    times = {u: g["timestamp"].tolist() for u, g in clicks.groupby("user_id")}
    for part in task.parts().values():
        for r in range(len(part)):
            u = int(part.user_ids[r])
            history = part.history[r][part.history_mask[r]].tolist()
            # The history is a window of the user's clicks ending right before the target.
            pos = times[u].index(part.timestamps[r])
            candidates = [
                p
                for p in range(len(seqs[u]))
                if times[u][p] == part.timestamps[r] and seqs[u][p] == part.targets[r]
            ]
            assert any(seqs[u][max(0, p - 4) : p] == history for p in candidates), (
                u,
                pos,
            )
            assert part.history_mask[r][-1]  # most recent is last (left padding)
            assert (part.history[r][~part.history_mask[r]] == 0).all()
    assert task.train.timestamps.max() <= task.test.timestamps.min()
    np.testing.assert_array_equal(
        task.item_counts, np.bincount(task.train.targets, minlength=log.num_items)
    )


def test_retrieval_leave_one_out_and_caps():
    log = _log()
    task = retrieval.build_retrieval_task(
        log, split="leave_one_out", max_eval_examples=5, seed=0
    )
    assert len(task.test) == 5 and len(task.validation) == 5
    full = retrieval.build_retrieval_task(log, split="leave_one_out")
    assert len(np.unique(full.test.user_ids)) == len(full.test)
    for u, t in zip(full.test.user_ids, full.test.timestamps):
        assert (full.train.timestamps[full.train.user_ids == u] <= t).all()


def test_retrieval_errors():
    log = _log()
    with pytest.raises(ValueError, match="no events of type"):
        retrieval.build_retrieval_task(log, positive_events=("buy",))
    with pytest.raises(ValueError, match="split"):
        retrieval.build_retrieval_task(log, split="random")
    with pytest.raises(ValueError, match="max_length"):
        retrieval.build_retrieval_task(log, max_length=0)


def test_make_dataset_epochs_are_deterministic_permutations():
    features = {"a": np.arange(10), "b": np.arange(10) * 2}
    ds = data_input.make_dataset(
        features, np.arange(10), batch_size=4, shuffle=True, seed=5, epochs=(0, 2)
    )
    batches = [(x["a"].numpy(), y.numpy()) for x, y in ds]
    assert [len(a) for a, _ in batches] == [4, 4, 2, 4, 4, 2]
    first = np.concatenate([a for a, _ in batches[:3]])
    second = np.concatenate([a for a, _ in batches[3:]])
    assert sorted(first) == list(range(10)) and sorted(second) == list(range(10))
    assert not np.array_equal(first, second)
    for a, y in batches:
        np.testing.assert_array_equal(a, y)
    # Resuming at epoch 1 yields exactly the second epoch's batches.
    resumed = data_input.make_dataset(
        features, np.arange(10), batch_size=4, shuffle=True, seed=5, epochs=(1, 2)
    )
    np.testing.assert_array_equal(
        np.concatenate([x["a"].numpy() for x, _ in resumed]), second
    )


def test_make_dataset_buckets_sort_chunks_by_length_and_keep_every_row():
    n, batch, chunk = 23, 3, 2  # chunks of 2 batches = 6 rows
    lengths = np.random.default_rng(0).integers(1, 9, n)
    features = {"a": np.arange(n)}

    def epoch_batches(first, bucket_batches=chunk, seed=5):
        ds = data_input.make_dataset(
            features,
            batch_size=batch,
            shuffle=True,
            seed=seed,
            epochs=(first, first + 1),
            bucket_lengths=lengths,
            bucket_batches=bucket_batches,
        )
        return [x["a"].numpy() for x in ds]

    plain = data_input.make_dataset(
        features, batch_size=batch, shuffle=True, seed=5, epochs=(0, 1)
    )
    permutation = np.concatenate([x["a"].numpy() for x in plain])
    batches = epoch_batches(0)
    rows = np.concatenate(batches)
    assert sorted(rows) == list(range(n))  # every row once per epoch
    # Each batch is a run of the shuffled rows' chunk, sorted by length (stable).
    expected = []
    for start in range(0, n, chunk * batch):
        part = permutation[start : start + chunk * batch]
        part = part[np.argsort(lengths[part], kind="stable")]
        expected += [tuple(part[i : i + batch]) for i in range(0, len(part), batch)]
    assert sorted(map(tuple, batches)) == sorted(expected)
    assert [tuple(b) for b in batches] != expected  # the batch order is shuffled
    assert [tuple(b) for b in epoch_batches(0)] == [tuple(b) for b in batches]
    assert [tuple(b) for b in epoch_batches(1)] != [tuple(b) for b in batches]
    # bucket_batches=0 keeps the plain batches.
    np.testing.assert_array_equal(np.concatenate(epoch_batches(0, 0)), permutation)


def test_trim_left_padding_cuts_the_columns_no_row_uses():
    mask = np.array([[0, 0, 1, 1], [0, 0, 0, 1]], np.int8)
    x = {"history": np.array([[9, 9, 1, 2], [9, 9, 9, 3]]), "history_mask": mask}
    targets = np.array([[0, 0, 5, 6], [0, 0, 0, 7]])
    out, y = data_input.trim_left_padding(x, tf.constant(targets))
    np.testing.assert_array_equal(out["history"], [[1, 2], [9, 3]])
    np.testing.assert_array_equal(out["history_mask"], mask[:, 2:])
    np.testing.assert_array_equal(y, targets[:, 2:])
    # One target per row is kept whole; a batch using every column is unchanged.
    _, last = data_input.trim_left_padding(x, tf.constant([6, 7]))
    np.testing.assert_array_equal(last, [6, 7])
    full = dict(x, history_mask=np.ones_like(mask))
    np.testing.assert_array_equal(
        data_input.trim_left_padding(full)["history"], x["history"]
    )
    # A batch without any event keeps its last column.
    empty = data_input.trim_left_padding(dict(x, history_mask=np.zeros_like(mask)))
    np.testing.assert_array_equal(empty["history"], x["history"][:, -1:])


def test_make_dataset_errors():
    with pytest.raises(ValueError, match="bucket_batches"):
        data_input.make_dataset({"a": np.arange(3)}, bucket_batches=2)
    with pytest.raises(ValueError, match="bucket_lengths"):
        data_input.make_dataset(
            {"a": np.arange(3)}, bucket_lengths=np.ones(2), bucket_batches=2
        )
    with pytest.raises(ValueError, match="same length"):
        data_input.make_dataset({"a": np.arange(3)}, np.arange(4))
    with pytest.raises(ValueError, match="empty"):
        data_input.make_dataset({})
    with pytest.raises(ValueError, match="batch_size"):
        data_input.make_dataset({"a": np.arange(3)}, batch_size=0)


def _ratings_only(log, timestamps="seconds"):
    events = log.events[log.events["event"] == "rating"]
    return EventLog(log.users, log.items, events, {"timestamps": timestamps})


def test_auto_label_and_positive_events_follow_the_data():
    log = _log()
    assert ctr.resolve_label(log, "auto") == "click"
    assert retrieval.default_positive_events(log) == ("click",)
    auto = ctr.build_ctr_task(log, label="auto")
    click = ctr.build_ctr_task(log, label="click")
    np.testing.assert_array_equal(auto.train.labels, click.train.labels)
    ratings = _ratings_only(log)
    assert ctr.resolve_label(ratings, "auto") == "rating"
    assert retrieval.default_positive_events(ratings) == ("rating",)
    task = retrieval.build_retrieval_task(ratings, split="leave_one_out")
    assert set(task.test.targets) <= set(ratings.events["item_id"])


@pytest.mark.parametrize(
    "kind, allowed",
    [
        ("seconds", {"time", "random", "leave_one_out"}),
        ("order", {"random", "leave_one_out"}),
        ("absent", {"random"}),
    ],
)
def test_splits_refused_without_the_timestamps_they_need(kind, allowed):
    log = _ratings_only(_log(num_requests=2000), kind)
    for split in ("time", "random", "leave_one_out"):
        builds = []
        if split != "leave_one_out":
            builds.append(lambda s=split: ctr.build_ctr_task(log, split=s))
        if split != "random":
            builds.append(lambda s=split: retrieval.build_retrieval_task(log, split=s))
        for build in builds:
            if split in allowed:
                build()
            else:
                with pytest.raises(
                    ValueError, match=f"split='{split}' needs real timestamps.*'{kind}'"
                ):
                    build()
    with pytest.raises(ValueError, match="must be one of"):
        splits.check_timestamps_support({"timestamps": "days"}, "random")


def _brute_force_per_position(log, split, max_length, min_history):
    """Per user: the training targets of the ordinary task, last `max_length`, and
    the item before each in the user's click sequence."""
    task = retrieval.build_retrieval_task(
        log, split=split, max_length=max_length, min_history=min_history
    )
    clicks = log.events_of("click")
    order = np.lexsort((clicks["timestamp"].to_numpy(), clicks["user_id"].to_numpy()))
    clicks = clicks.iloc[order]
    expected = {}
    for user in np.unique(task.train.user_ids):
        sequence = clicks["item_id"].to_numpy()[clicks["user_id"].to_numpy() == user]
        stamps = clicks["timestamp"].to_numpy()[clicks["user_id"].to_numpy() == user]
        rows = np.flatnonzero(task.train.user_ids == user)[-max_length:]
        targets = task.train.targets[rows]
        # The row's target is the event with the row's timestamp and history.
        positions = [
            next(
                p
                for p in range(1, len(sequence))
                if stamps[p] == task.train.timestamps[r]
                and sequence[p] == task.train.targets[r]
                and sequence[p - 1] == task.train.history[r, -1]
            )
            for r in rows
        ]
        expected[int(user)] = (sequence[np.array(positions) - 1], targets)
    return task, expected


@pytest.mark.parametrize("split", ["time", "leave_one_out"])
@pytest.mark.parametrize("max_length,min_history", [(4, 1), (50, 1), (5, 2)])
def test_per_position_training_rows_match_a_brute_force_reference(
    split, max_length, min_history
):
    log = _log()
    plain, expected = _brute_force_per_position(log, split, max_length, min_history)
    task = retrieval.build_retrieval_task(
        log,
        split=split,
        max_length=max_length,
        min_history=min_history,
        per_position=True,
    )
    train = task.train
    assert task.per_position and train.per_position
    assert sorted(train.user_ids.tolist()) == sorted(expected)
    assert train.targets.shape == train.history.shape == (len(expected), max_length)
    for r, user in enumerate(train.user_ids):
        inputs, targets = expected[int(user)]
        n = len(targets)
        mask = train.history_mask[r]
        assert not mask[: max_length - n].any() and mask[max_length - n :].all()
        np.testing.assert_array_equal(train.history[r, max_length - n :], inputs)
        np.testing.assert_array_equal(train.targets[r, max_length - n :], targets)
        assert (train.history[r, : max_length - n] == 0).all()
        assert (train.targets[r, : max_length - n] == 0).all()
        # Each position's input is the previous position's target.
        np.testing.assert_array_equal(
            train.history[r, max_length - n + 1 :], targets[:-1]
        )
    # Validation and test are those of the ordinary task; counts are the targets kept.
    for name in ("validation", "test"):
        np.testing.assert_array_equal(
            task.parts()[name].targets, plain.parts()[name].targets
        )
        np.testing.assert_array_equal(
            task.parts()[name].history, plain.parts()[name].history
        )
    kept = np.concatenate([t for _, t in expected.values()])
    np.testing.assert_array_equal(
        task.item_counts, np.bincount(kept, minlength=log.num_items)
    )
    with pytest.raises(ValueError, match="per-position"):
        train.earlier_items(np.array([0]))
