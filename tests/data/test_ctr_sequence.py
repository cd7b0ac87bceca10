"""Tests of the behaviour-sequence CTR builder and of `SequenceWindows`."""

import keras
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_tf.data.ctr_sequence import (
    MERGED,
    SEQUENCE_TYPES,
    build_ctr_sequence_task,
)
from recsys_tf.data.input import SequenceWindows, make_dataset, window_trimmer
from recsys_tf.data.schema import EventLog, validate
from recsys_tf.training import evaluation

T0 = 1_600_000_000
FEEDBACK = ("like", "dislike", "cart", "fav", "buy")


def random_log(seed, num_users=3, num_requests=10, per_page=3, unique_items=True):
    """A small event log: pages of impressions, clicks and feedback on them.

    Request times collide on purpose (ties across requests of one user), the
    impressions of one page may differ by a second (a request that starts before
    some of its instances), feedback may come 0 s after its click, and gaps of
    more than 30 minutes make several click sessions. With `unique_items`, every
    impression shows its own item, so an item names the event it came from.
    """
    rng = np.random.default_rng(seed)
    rows, item = [], 0
    for r in range(num_requests):
        user = int(rng.integers(num_users))
        t = T0 + 600 * int(rng.integers(0, 3 * num_requests))
        for _ in range(int(rng.integers(1, per_page + 1))):
            shown = item if unique_items else int(rng.integers(0, 5))
            item += 1
            at = t + int(rng.integers(0, 2))
            rows.append((user, shown, at, "impression", r))
            if rng.random() < 0.5:
                clicked = at + int(rng.choice([0, 1, 5]))
                rows.append((user, shown, clicked, "click", r))
                for kind in FEEDBACK:
                    if rng.random() < 0.4:
                        rows.append(
                            (user, shown, clicked + int(rng.integers(0, 2)), kind, r)
                        )
    events = pd.DataFrame(
        rows, columns=["user_id", "item_id", "timestamp", "event", "request_id"]
    )
    events["value"] = 1.0
    num_items = max(item, 5)
    items = pd.DataFrame(
        {
            "item_id": np.arange(num_items),
            "category": rng.integers(0, 4, num_items),
            "brand": np.zeros(num_items, int),
        }
    )
    users = pd.DataFrame({"user_id": np.arange(num_users)})
    return validate(EventLog(users, items, events, {"name": "toy"}))


def cut(part, batch_size=None):
    """Every model input of a part as NumPy, in row order."""
    n = len(part)
    batches = make_dataset(part.features, batch_size=batch_size or n)
    out = {}
    for x in batches:
        for k, v in x.items():
            out.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def eager_cut(part):
    """The sequence inputs of every row of a part, cut eagerly by the same
    `SequenceWindows.cut` that `make_dataset` maps (no tf.data to trace)."""
    out = {}
    for name, spec in part.features.items():
        if isinstance(spec, SequenceWindows):
            x = spec.cut(name, spec.tensors(), spec.start, spec.end)
            out.update({k: v.numpy() for k, v in x.items()})
    return out


def type_events(log, kind):
    """(user, item, timestamp, request, log position) of one feedback type."""
    e = log.events.reset_index(drop=True)
    if kind == "unclick":
        clicks = set(
            map(
                tuple,
                e[e.event == "click"][["user_id", "item_id", "request_id"]].values,
            )
        )
        keep = (e.event == "impression") & ~pd.Series(
            [tuple(x) in clicks for x in e[["user_id", "item_id", "request_id"]].values]
        )
    else:
        keep = e.event == kind
    sub = e[keep]
    return list(zip(sub.user_id, sub.item_id, sub.timestamp, sub.request_id, sub.index))


def reference_history(log, kind, user, t, request):
    """The brute-force history: the user's events of `kind` strictly before
    min(t, the first time of `request`), by (time, log order)."""
    e = log.events
    begin = e[e.request_id == request].timestamp.min()
    cutoff = min(t, begin)
    history = [x for x in type_events(log, kind) if x[0] == user and x[2] < cutoff]
    return [x[1] for x in sorted(history, key=lambda x: (x[2], x[4]))]


def reference_sessions(log, user, t, request, sessions, length):
    e = log.events
    cutoff = min(t, e[e.request_id == request].timestamp.min())
    clicks = sorted(
        (x for x in type_events(log, "click") if x[0] == user and x[2] < cutoff),
        key=lambda x: (x[2], x[4]),
    )
    out = []
    for x in clicks:
        if not out or x[2] - out[-1][-1][2] > 1800:
            out.append([])
        out[-1].append(x)
    return [[x[1] for x in s[-length:]] for s in out[-sessions:]]


def left_pad(items, length):
    items = list(items)[-length:]
    return [0] * (length - len(items)) + items, [0] * (length - len(items)) + [1] * len(
        items
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_windows_match_brute_force(seed):
    log = random_log(seed, num_requests=14)
    T = 4
    task = build_ctr_sequence_task(
        log, max_length=T, num_sessions=2, session_length=2, fractions=(0.5, 0.25, 0.25)
    )
    assert task.sequence_types == SEQUENCE_TYPES
    assert task.item_features == ("item_id", "category")
    category = log.items["category"].to_numpy()
    for part in task.parts().values():
        x = cut(part, batch_size=3)  # several batches, the last one short
        for row in range(len(part)):
            args = (part.user_ids[row], part.timestamps[row], part.request_ids[row])
            for kind in task.sequence_types:
                items, mask = left_pad(reference_history(log, kind, *args), T)
                assert x[f"{kind}_item_id"][row].tolist() == items, (kind, row)
                assert x[f"{kind}_mask"][row].tolist() == mask
                expected = np.where(np.array(mask) == 1, category[items], 0)
                assert x[f"{kind}_category"][row].tolist() == expected.tolist()
            sessions = reference_sessions(log, *args, sessions=2, length=2)
            sessions = [[]] * (2 - len(sessions)) + sessions
            for s, session in enumerate(sessions):
                items, mask = left_pad(session, 2)
                assert x["session_item_id"][row, s].tolist() == items, (row, s)
                assert x["session_mask"][row, s].tolist() == mask


@pytest.mark.parametrize("seed", [0, 1])
def test_dislike_label_matches_brute_force_and_its_windows_do_not_leak(seed):
    """DUMN Table 7: an impression is positive when the user marked the same item
    dislike in the same request; the instances, split and every window (unclick
    included: the impressions not clicked) are the click task's, so no window
    holds the instance's own dislike."""
    log = random_log(seed, num_requests=14)
    options = dict(max_length=4, fractions=(0.5, 0.25, 0.25))
    task = build_ctr_sequence_task(log, label="dislike", **options)
    clicked = build_ctr_sequence_task(log, label="click", **options)
    e = log.events
    dislikes = set(
        map(tuple, e[e.event == "dislike"][["user_id", "item_id", "request_id"]].values)
    )
    for name, part in task.parts().items():
        other = clicked.parts()[name]
        np.testing.assert_array_equal(part.user_ids, other.user_ids)
        np.testing.assert_array_equal(part.timestamps, other.timestamps)
        items = part.features["item_id"]
        expected = [
            float((u, i, r) in dislikes)
            for u, i, r in zip(part.user_ids, items, part.request_ids)
        ]
        np.testing.assert_array_equal(part.labels, expected)
        x, x_click = cut(part), cut(other)
        assert set(x) == set(x_click)
        for key in x:
            np.testing.assert_array_equal(x[key], x_click[key], err_msg=key)
        # Every impression shows its own item: the item never enters its windows.
        for t in task.sequence_types:
            held = (x[f"{t}_item_id"] == items[:, None]) & (x[f"{t}_mask"] == 1)
            assert not held.any(), t
    assert 0 < sum(p.labels.sum() for p in task.parts().values())


def test_dislike_label_needs_dislike_events():
    log = random_log(0, num_requests=6)
    events = log.events[log.events.event != "dislike"].reset_index(drop=True)
    bare = validate(EventLog(log.users, log.items, events, {"name": "toy"}))
    with pytest.raises(ValueError, match="label='dislike' needs dislike events"):
        build_ctr_sequence_task(bare, label="dislike")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    num_users=st.integers(1, 4),
    num_requests=st.integers(3, 16),
    T=st.integers(1, 5),
)
def test_no_leakage_property(seed, num_users, num_requests, T):
    """No sequence item has a timestamp at or after its instance's, nor comes from
    its request; every validation / test instance is later than every training one."""
    log = random_log(seed, num_users, num_requests)
    try:
        task = build_ctr_sequence_task(
            log, max_length=T, num_sessions=2, session_length=T
        )
    except ValueError as error:  # a tiny log may leave a part or a type empty
        assert "is empty" in str(error) or "has no" in str(error)
        return
    events = log.events
    # Every impression shows its own item: (type, item) names one event.
    when = {
        (k, i): (t, q)
        for k, i, t, q in zip(
            events.event.astype(str),
            events.item_id,
            events.timestamp,
            events.request_id,
        )
    }
    train_last = task.train.timestamps.max()
    assert task.validation.timestamps.min() > train_last
    assert task.test.timestamps.min() > train_last
    for part in task.parts().values():
        x = eager_cut(part)
        for kind in task.sequence_types + ("session",):
            source = {"unclick": "impression", "session": "click"}.get(kind, kind)
            items = x[f"{kind}_item_id"].reshape(len(part), -1)
            mask = x[f"{kind}_mask"].reshape(len(part), -1).astype(bool)
            for row, col in zip(*np.nonzero(mask)):
                t, q = when[(source, items[row, col])]
                assert t < part.timestamps[row]
                assert q != part.request_ids[row]
            assert (items[~mask] == 0).all()


def test_equal_timestamps_and_own_request_never_enter():
    """An instance sees its user's events strictly before min(its time, the first
    time of its request): an event at its own time (another request) does not
    enter, nor a click of its own request made before it."""
    rows = [
        (0, 0, T0, "impression", 0),
        (0, 0, T0, "click", 0),
        (0, 1, T0 + 10, "impression", 1),
        (0, 1, T0 + 12, "click", 1),  # request 1's click, before its 2nd impression
        (0, 2, T0 + 15, "impression", 1),
        (0, 3, T0 + 10, "impression", 2),
        (0, 3, T0 + 10, "click", 2),  # the same second as request 1's start
        (0, 4, T0 + 9, "impression", 3),
        (0, 4, T0 + 9, "click", 3),
        (0, 5, T0 + 20, "impression", 4),
    ]
    events = pd.DataFrame(
        rows, columns=["user_id", "item_id", "timestamp", "event", "request_id"]
    ).assign(value=1.0)
    items = pd.DataFrame({"item_id": range(6), "category": range(6), "brand": 0})
    log = validate(EventLog(pd.DataFrame({"user_id": [0]}), items, events))
    task = build_ctr_sequence_task(
        log,
        sequence_types=("click",),
        item_features=(),
        max_length=3,
        split="random",
        fractions=(0.6, 0.2, 0.2),
    )
    seen = {}
    for part in task.parts().values():
        x = cut(part)
        for row in range(len(part)):
            real = x["click_item_id"][row][x["click_mask"][row] == 1].tolist()
            seen[int(part.features["item_id"][row])] = real
    assert seen == {
        0: [],
        4: [0],  # its own click (same second) does not enter
        1: [0, 4],  # request 2's click in the same second does not enter
        2: [0, 4],  # request 1 began at t0+10: its click at t0+12 never enters
        3: [0, 4],
        5: [4, 3, 1],  # the last T = 3, oldest first
    }


def test_rating_data_maps_like_and_dislike():
    """ML-1M style: like = rating >= 4, dislike = rating <= 2; no click types."""
    ratings = [
        (0, 0, T0, 5.0),
        (0, 1, T0 + 1, 2.0),
        (0, 2, T0 + 2, 3.0),
        (0, 3, T0 + 3, 4.0),
    ]
    ratings += [(0, 4, T0 + 4 + k, 1.0) for k in range(6)]
    events = pd.DataFrame(ratings, columns=["user_id", "item_id", "timestamp", "value"])
    events["event"] = "rating"
    items = pd.DataFrame({"item_id": range(5), "category": 0, "brand": 0})
    log = validate(
        EventLog(pd.DataFrame({"user_id": [0]}), items, events, {"name": "ml"})
    )
    task = build_ctr_sequence_task(log, max_length=3, fractions=(0.6, 0.2, 0.2))
    assert task.sequence_types == ("like", "dislike")
    x = cut(task.train)
    row = np.flatnonzero(task.train.timestamps == T0 + 4)[0]
    assert x["like_item_id"][row].tolist() == [0, 0, 3]
    assert x["like_mask"][row].tolist() == [0, 1, 1]
    assert x["dislike_item_id"][row].tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="sequence type 'click'.*'ml'"):
        build_ctr_sequence_task(log, sequence_types=("like", "click"))


def test_missing_type_names_type_and_dataset():
    log = random_log(0)
    log.events = log.events[log.events.event != "dislike"]
    with pytest.raises(ValueError, match="sequence type 'dislike'.*'toy'"):
        build_ctr_sequence_task(log, sequence_types=("click", "dislike"))
    task = build_ctr_sequence_task(log, fractions=(0.5, 0.25, 0.25))
    assert "dislike" not in task.sequence_types
    with pytest.raises(ValueError, match="not feedback types"):
        build_ctr_sequence_task(log, sequence_types=("clicks",))
    with pytest.raises(ValueError, match="item_features"):
        build_ctr_sequence_task(log, item_features=("colour",))


def test_windows_under_shuffle_and_subset_follow_their_rows():
    log = random_log(3, num_requests=16)
    task = build_ctr_sequence_task(log, max_length=3, fractions=(0.5, 0.25, 0.25))
    part = task.train
    features = dict(part.features, row=np.arange(len(part)))
    whole = cut(part)
    shuffled = make_dataset(features, batch_size=4, shuffle=True, seed=1)
    for x in shuffled:
        rows = x["row"].numpy()
        for k, v in x.items():
            if k != "row":
                np.testing.assert_array_equal(v.numpy(), whole[k][rows], err_msg=k)
    rows = np.array([2, 0])
    subset = {k: v[rows] for k, v in part.features.items()}
    x = next(iter(make_dataset(subset, batch_size=2)))
    np.testing.assert_array_equal(
        x["click_item_id"].numpy(), whole["click_item_id"][rows]
    )


def test_window_trimmer_cuts_each_sequence_on_its_own_mask():
    """Each type's outputs lose the leading columns no row of the batch uses,
    cut on that type's mask; sessions ([batch, S, L]) and fields stay whole."""
    log = random_log(5, num_requests=24)
    task = build_ctr_sequence_task(
        log, sequence_types=("click", "like"), max_length=8, num_sessions=2
    )
    part = task.train
    whole = cut(part, batch_size=4)
    trim = window_trimmer(part.features)
    batches = list(make_dataset(part.features, part.labels, batch_size=4).map(trim))
    start, widths = 0, set()
    for x, y in batches:
        n = len(y)
        for t in ("click", "like"):
            mask = whole[f"{t}_mask"][start : start + n]
            used = mask.any(axis=0)
            first = int(np.argmax(used)) if used.any() else mask.shape[1] - 1
            widths.add((t, mask.shape[1] - first))
            for k in (f"{t}_item_id", f"{t}_category", f"{t}_mask"):
                np.testing.assert_array_equal(
                    x[k].numpy(), whole[k][start : start + n, first:], err_msg=k
                )
        for k in ("session_item_id", "session_mask", "user_id"):
            np.testing.assert_array_equal(x[k].numpy(), whole[k][start : start + n])
        start += n
    assert start == len(part)
    assert len(widths) > 2  # the batches were cut to several widths
    # Without windows there is nothing to cut.
    assert window_trimmer({"user_id": np.arange(3)}) is None


def test_sequence_windows_checks_offsets():
    with pytest.raises(ValueError, match="row 1: expected 0 <= start <= end <= 3"):
        SequenceWindows(np.arange(3), np.array([0, 2]), np.array([1, 1]), 2, {})
    with pytest.raises(ValueError, match="go together"):
        SequenceWindows(
            np.arange(3),
            np.zeros(1, int),
            np.ones(1, int),
            2,
            {},
            segment_of=np.zeros(3, int),
        )


def test_empty_sequence_gives_padding_only():
    w = SequenceWindows(
        np.zeros(0, np.int32),
        np.zeros(2, np.int32),
        np.zeros(2, np.int32),
        3,
        {"item_id": None},
    )
    x = next(iter(make_dataset({"user_id": np.arange(2), "click": w}, batch_size=2)))
    assert x["click_item_id"].numpy().tolist() == [[0] * 3] * 2
    assert x["click_mask"].numpy().sum() == 0


class CountClicks(keras.Model):
    def call(self, inputs):
        return keras.ops.sum(keras.ops.cast(inputs["click_mask"], "float32"), axis=1)


def test_predict_ctr_reads_the_windows():
    log = random_log(4, num_requests=16)
    task = build_ctr_sequence_task(log, max_length=3, fractions=(0.5, 0.25, 0.25))
    part = task.test
    probability = evaluation.predict_ctr(CountClicks(), part, batch_size=2)
    count = cut(part)["click_mask"].sum(axis=1)
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(-count)), rtol=1e-6)


def test_sessions_cut_at_30_minute_gaps():
    """Hand-made clicks: gaps of 1800 s stay in one session, 1801 s split."""
    times = [0, 100, 1900, 3701, 3702, 3703, 9000]
    rows = [(0, i, T0 + t, "click", i) for i, t in enumerate(times)]
    rows += [(0, i, T0 + t, "impression", i) for i, t in enumerate(times)]
    events = pd.DataFrame(
        rows, columns=["user_id", "item_id", "timestamp", "event", "request_id"]
    ).assign(value=1.0)
    items = pd.DataFrame({"item_id": range(7), "category": 0, "brand": 0})
    log = validate(EventLog(pd.DataFrame({"user_id": [0]}), items, events))
    task = build_ctr_sequence_task(
        log,
        sequence_types=("click",),
        item_features=(),
        num_sessions=3,
        session_length=2,
        fractions=(0.5, 0.2, 0.3),
    )
    part = task.test
    row = int(np.flatnonzero(part.timestamps == T0 + 9000)[0])
    x = cut(part)
    # sessions before t=9000: [0, 1, 2] (gaps 100, 1800), [3, 4, 5]; none other.
    assert x["session_item_id"][row].tolist() == [[0, 0], [1, 2], [4, 5]]
    assert x["session_mask"][row].tolist() == [[0, 0], [1, 1], [1, 1]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_merged_sequence_matches_brute_force(seed):
    """DUMN_AF's "all" sequence: the merged types' events strictly before the
    cutoff, time-ordered (ties in SEQUENCE_TYPES order), the last T."""
    log = random_log(seed, num_requests=14)
    T, merged = 5, ("dislike", "click", "unclick", "like")
    task = build_ctr_sequence_task(
        log,
        sequence_types=("click", MERGED),
        merged_types=merged,
        max_length=T,
        fractions=(0.5, 0.25, 0.25),
    )
    assert task.sequence_types == ("click", MERGED)
    order = [t for t in SEQUENCE_TYPES if t in merged]
    for part in task.parts().values():
        x = cut(part, batch_size=3)
        for row in range(len(part)):
            user, t, request = (
                part.user_ids[row],
                part.timestamps[row],
                part.request_ids[row],
            )
            begin = log.events[log.events.request_id == request].timestamp.min()
            history = sorted(
                (e[2], order.index(kind), e[4], e[1])
                for kind in merged
                for e in type_events(log, kind)
                if e[0] == user and e[2] < min(t, begin)
            )
            items, mask = left_pad([h[-1] for h in history], T)
            assert x[f"{MERGED}_item_id"][row].tolist() == items, row
            assert x[f"{MERGED}_mask"][row].tolist() == mask
            assert set(x) >= {f"{MERGED}_category", "click_item_id"}


def test_merged_sequence_options_are_checked():
    log = random_log(0)
    with pytest.raises(ValueError, match="needs merged_types"):
        build_ctr_sequence_task(log, sequence_types=(MERGED,))
    with pytest.raises(ValueError, match="needs merged_types"):
        build_ctr_sequence_task(log, sequence_types=("click",), merged_types=("click",))
    with pytest.raises(ValueError, match="merged_types.*not feedback types"):
        build_ctr_sequence_task(log, sequence_types=(MERGED,), merged_types=("rate",))


def _like_reference(log, like_events, user, t, request):
    """The like window by brute force: the user's events of any type in
    `like_events` strictly before the cutoff, by (time, log order)."""
    e = log.events.reset_index(drop=True)
    begin = e[e.request_id == request].timestamp.min()
    keep = e[e.event.isin(like_events) & (e.user_id == user)]
    keep = keep[keep.timestamp < min(t, begin)]
    return [i for _, _, i in sorted(zip(keep.timestamp, keep.index, keep.item_id))]


@pytest.mark.parametrize("seed", [0, 1])
def test_like_events_make_one_like_sequence(seed):
    """DUMN's like (Sec. 4.1.1): the like type holds the events of every type
    of `like_events`, time-ordered, cut by the same leakage rule; fav left out
    here, so it must not enter."""
    log = random_log(seed, num_requests=14)
    T, like_events = 4, ("like", "cart", "buy")
    task = build_ctr_sequence_task(
        log,
        sequence_types=("like", "fav"),
        like_events=like_events,
        max_length=T,
        fractions=(0.5, 0.25, 0.25),
    )
    plain = build_ctr_sequence_task(
        log, sequence_types=("like",), max_length=T, fractions=(0.5, 0.25, 0.25)
    )
    differs = False
    for name, part in task.parts().items():
        x, y = cut(part, batch_size=3), cut(plain.parts()[name])
        for row in range(len(part)):
            args = (part.user_ids[row], part.timestamps[row], part.request_ids[row])
            items, mask = left_pad(_like_reference(log, like_events, *args), T)
            assert x["like_item_id"][row].tolist() == items, (name, row)
            assert x["like_mask"][row].tolist() == mask
            fav, _ = left_pad(reference_history(log, "fav", *args), T)
            assert x["fav_item_id"][row].tolist() == fav
            alone, _ = left_pad(reference_history(log, "like", *args), T)
            assert y["like_item_id"][row].tolist() == alone
            differs |= alone != items
    assert differs  # the default (like events alone) is another sequence


def test_like_events_give_a_like_sequence_to_data_without_like():
    """Taobao display ads: cart / fav / buy but no like event. By default the
    like type is missing (an error naming it); with like_events it exists."""
    log = random_log(2, num_requests=14)
    log.events = log.events[~log.events.event.isin(("like", "dislike"))]
    with pytest.raises(ValueError, match="sequence type 'like'.*'toy'"):
        build_ctr_sequence_task(
            log, sequence_types=("click", "like"), fractions=(0.5, 0.25, 0.25)
        )
    task = build_ctr_sequence_task(
        log,
        sequence_types=("click", "unclick", "like"),
        like_events=("like", "fav", "cart", "buy"),
        fractions=(0.5, 0.25, 0.25),
    )
    x = cut(task.test)
    row = int(np.argmax(x["like_mask"].sum(axis=1)))
    assert x["like_mask"][row].sum() > 0
    test = task.test
    args = (test.user_ids[row], test.timestamps[row], test.request_ids[row])
    expected = _like_reference(log, ("fav", "cart", "buy"), *args)
    assert x["like_item_id"][row][x["like_mask"][row] == 1].tolist() == expected[-100:]


def test_like_events_are_checked():
    log = random_log(0)
    for bad in [("rating",), ("click", "like"), ()]:
        with pytest.raises(ValueError, match="like_events must be a non-empty subset"):
            build_ctr_sequence_task(log, like_events=bad)


def test_history_samples_come_from_the_whole_earlier_history():
    """DUMN's triplet samples (Sec. 3.5: "from the data of all user
    interactions"): each row's drawn event is one of its type's events before
    the cutoff, also beyond the last T; none when that history is empty; the
    same batch draws the same, a shuffled epoch anew; the trimmer leaves it."""
    log = random_log(4, num_requests=20)
    T = 1
    task = build_ctr_sequence_task(
        log,
        sequence_types=("click", "unclick"),
        max_length=T,
        history_samples=True,
        fractions=(0.5, 0.25, 0.25),
    )
    part = task.test
    x = cut(part, batch_size=5)
    assert x["click_sample_item_id"].shape == (len(part), 1)
    beyond = 0
    for row in range(len(part)):
        args = (part.user_ids[row], part.timestamps[row], part.request_ids[row])
        for kind in ("click", "unclick"):
            history = reference_history(log, kind, *args)
            assert x[f"{kind}_sample_mask"][row, 0] == (len(history) > 0)
            if history:
                item = x[f"{kind}_sample_item_id"][row, 0]
                assert item in history, (kind, row)
                beyond += item not in history[-T:]
            else:
                assert x[f"{kind}_sample_item_id"][row, 0] == 0
    assert beyond > 0  # not only the window
    again = cut(part, batch_size=5)
    np.testing.assert_array_equal(
        again["click_sample_item_id"], x["click_sample_item_id"]
    )
    trim = window_trimmer(part.features)
    batch = next(iter(make_dataset(part.features, batch_size=len(part)).map(trim)))
    assert tuple(batch["click_sample_item_id"].shape) == (len(part), 1)
    assert "click_sample_item_id" not in build_ctr_sequence_task(
        log, sequence_types=("click",), fractions=(0.5, 0.25, 0.25)
    ).test.features["click"].output_names("click")


def test_history_samples_are_uniform_and_redrawn_each_shuffled_epoch():
    """One row whose history holds 4 events: over 800 shuffled epochs each is
    drawn about a quarter of the time."""
    values = np.arange(1, 9, dtype=np.int32)
    windows = SequenceWindows(
        values,
        start=np.array([2, 0], np.int32),
        end=np.array([6, 0], np.int32),
        length=2,
        lookups={"item_id": None},
        sample=True,
    )
    data = make_dataset(
        {"click": windows}, batch_size=2, shuffle=True, seed=3, epochs=(0, 800)
    )
    drawn = np.array([b["click_sample_item_id"].numpy() for b in data])
    masks = np.array([b["click_sample_mask"].numpy() for b in data])
    first = drawn[:, :, 0][masks[:, :, 0] == 1]
    assert len(first) == 800 and set(first) == {3, 4, 5, 6}
    counts = np.bincount(first, minlength=7)[3:7]
    assert counts.min() > 150 and counts.max() < 250, counts
    assert (drawn[masks == 0] == 0).all() and masks.sum() == 800
