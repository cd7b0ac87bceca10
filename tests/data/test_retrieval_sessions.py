"""The session inputs of the retrieval builder (SDM's short-term sessions and
long-term behaviours): a brute-force reference that only ever reads the events
before each target, and perturbations of the targets."""

import numpy as np
import pytest

from recsys_tf.data import retrieval
from recsys_tf.data.schema import EventLog, validate
from tests.data.test_builders import _log

POSITION, LONG = retrieval.SESSION_INPUTS


def _sorted_clicks(log):
    clicks = log.events_of("click")
    order = np.lexsort((clicks["timestamp"].to_numpy(), clicks["user_id"].to_numpy()))
    return clicks.iloc[order]


def _reference(earlier_stamps, gap, max_session_length, horizon):
    """(position, long_term) of every event of `earlier_stamps` (one user's clicks
    before a target, in order), by walking the sessions one event at a time."""
    start, starts = 0, []
    for i in range(len(earlier_stamps)):
        if i and (
            (gap and earlier_stamps[i] - earlier_stamps[i - 1] > gap)
            or (max_session_length and i - start == max_session_length)
        ):
            start = i
        starts.append(start)
    position = [i - s for i, s in enumerate(starts)]
    long_term = [
        sum(
            1
            for j in range(s)
            if not horizon or earlier_stamps[j] >= earlier_stamps[s] - horizon
        )
        for s in starts
    ]
    return position, long_term


def _expected_row(stamps, target, max_length, options, columns=None):
    """The session inputs of a history row predicting event `target` (an index in
    the user's clicks `stamps`), from the events before it only; `columns` = the
    window's size (per-position rows: their column + 1, the values of the last
    column of the window being at column `columns - 1`)."""
    width = max_length if columns is None else columns
    position, long_term = _reference(stamps[:target], *options)
    out = np.zeros((2, max_length), np.int64)
    for column in range(width):
        event = target - width + column
        if event >= 0:
            p = min(position[event], column)
            out[:, column] = p, min(long_term[event], column - p)
    return out


# (session_gap, max_session_length, long_term_seconds)
OPTIONS = [(600, 4, 1800)] + [
    pytest.param(*o, marks=pytest.mark.slow)
    for o in [(600, 0, 0), (600, 3, 0), (0, 2, 0), (0, 1, 900)]
]


@pytest.mark.parametrize("split", ["time", "leave_one_out"])
@pytest.mark.parametrize("gap, max_session_length, horizon", OPTIONS)
def test_session_inputs_match_a_reference_reading_only_earlier_events(
    split, gap, max_session_length, horizon
):
    options = (gap, max_session_length, horizon)
    log, max_length = _log(), 5
    kwargs = dict(
        split=split,
        max_length=max_length,
        session_gap=options[0],
        max_session_length=options[1],
        long_term_seconds=options[2],
    )
    task = retrieval.build_retrieval_task(log, **kwargs)
    clicks = _sorted_clicks(log)
    users = clicks["user_id"].to_numpy()
    stamps = clicks["timestamp"].to_numpy()
    checked = 0
    for part in task.parts().values():
        assert set(part.sessions) == set(retrieval.SESSION_INPUTS)
        assert set(retrieval.SESSION_INPUTS) <= set(part.features())
        for r in range(len(part)):
            own = stamps[users == part.user_ids[r]]
            target = part.sequence_index[r] - part.sequence_start[r]
            expected = _expected_row(own, target, max_length, options)
            got = np.stack([part.sessions[POSITION][r], part.sessions[LONG][r]])
            np.testing.assert_array_equal(got, expected, err_msg=f"row {r}")
            checked += 1
    assert checked > 50
    # Per position (training): column c predicts the row's c-th kept target from
    # the c + 1 columns up to it.
    per_position = retrieval.build_retrieval_task(log, per_position=True, **kwargs)
    train = per_position.train
    for r, user in enumerate(train.user_ids):
        own = stamps[users == user]
        rows = np.flatnonzero(task.train.user_ids == user)[-max_length:]
        first = max_length - len(rows)
        for j, row in enumerate(rows):
            target = task.train.sequence_index[row] - task.train.sequence_start[row]
            c = first + j
            expected = _expected_row(own, target, max_length, options, columns=c + 1)
            got = [train.sessions[POSITION][r, c], train.sessions[LONG][r, c]]
            assert got == list(expected[:, c]), (r, c)
        assert not train.sessions[POSITION][r, :first].any()
        assert not train.sessions[LONG][r, :first].any()


def test_sessions_are_cut_as_sdm_says():
    """Hand-made clicks: 10-minute gaps and 3-item sessions, a 1-hour horizon."""
    import pandas as pd

    times = [0, 60, 120, 180, 2000, 2100, 9000, 9060]
    events = pd.DataFrame(
        {
            "user_id": 0,
            "item_id": np.arange(len(times)) % 4,
            "timestamp": 1_600_000_000 + np.array(times),
            "event": "click",
            "value": 1.0,
        }
    )
    log = validate(
        EventLog(
            pd.DataFrame({"user_id": [0]}),
            pd.DataFrame({"item_id": np.arange(4), "category": 0, "brand": 0}),
            events,
        )
    )
    test = retrieval.build_retrieval_task(
        log,
        split="leave_one_out",
        max_length=8,
        session_gap=600,
        max_session_length=3,
        long_term_seconds=3600,
    ).test
    # History: the first 7 clicks. Sessions: {0,60,120} {180} {2000,2100} {9000}.
    np.testing.assert_array_equal(test.sessions[POSITION][0], [0, 0, 1, 2, 0, 0, 1, 0])
    # {180}: 3 before it; {2000, 2100}: the 4 before it lie within the hour;
    # {9000}: none of the 6 before it lies within the hour.
    np.testing.assert_array_equal(test.sessions[LONG][0], [0, 0, 0, 0, 3, 4, 4, 0])


def test_the_target_and_later_events_never_change_a_row():
    """Leave-one-out: moving each user's last click (the test target) right after
    the one before it, or a month later, changes no history's session inputs; a
    validation row is the same whether or not its user's test event exists."""
    log = _log()
    options = dict(
        split="leave_one_out", max_length=6, session_gap=600, long_term_seconds=3000
    )
    base = retrieval.build_retrieval_task(log, **options)
    clicks = _sorted_clicks(log)
    last = clicks.groupby("user_id").tail(1).index
    second = clicks.drop(last).groupby("user_id").tail(1)
    for shift in ("close", "far"):
        events = log.events.copy()
        if shift == "close":
            previous = second.set_index("user_id")["timestamp"] + 1
            users = events.loc[last, "user_id"]
            moved_to = previous.reindex(users).to_numpy()
            keep = np.isnan(moved_to)
            events.loc[last, "timestamp"] = np.where(
                keep, events.loc[last, "timestamp"], moved_to
            ).astype(np.int64)
        else:
            events.loc[last, "timestamp"] += 30 * 86400
        moved = retrieval.build_retrieval_task(
            validate(EventLog(log.users, log.items, events)), **options
        )
        for name in ("validation", "test"):
            for key in retrieval.SESSION_INPUTS:
                np.testing.assert_array_equal(
                    moved.parts()[name].sessions[key], base.parts()[name].sessions[key]
                )
    # Without the test events, the validation targets become the test targets.
    cut = retrieval.build_retrieval_task(
        validate(EventLog(log.users, log.items, log.events.drop(last))), **options
    )
    rows = np.isin(base.validation.user_ids, cut.test.user_ids)
    np.testing.assert_array_equal(base.validation.user_ids[rows], cut.test.user_ids)
    for key in retrieval.SESSION_INPUTS:
        np.testing.assert_array_equal(
            cut.test.sessions[key],
            base.validation.sessions[key][rows],
        )


def test_bad_session_options_raise():
    log = _log()
    with pytest.raises(ValueError, match="must be >= 0"):
        retrieval.build_retrieval_task(log, session_gap=-1)
    order = EventLog(log.users, log.items, log.events, {"timestamps": "order"})
    with pytest.raises(ValueError, match="timestamps in seconds"):
        retrieval.build_retrieval_task(order, split="leave_one_out", session_gap=600)
    plain = retrieval.build_retrieval_task(log)
    assert plain.train.sessions == {}
    assert not set(retrieval.SESSION_INPUTS) & set(plain.train.features())
