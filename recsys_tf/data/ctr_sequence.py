"""Behaviour-sequence CTR task builder: CTR instances plus each user's earlier
feedback sequences, cut per batch in the input pipeline (issue 19).

The instances, their fields, labels and split are exactly the CTR task's
(`ctr.build_ctr_task`). Beside them, for every feedback type `t` of
`sequence_types`, each instance sees its user's most recent `max_length` (T)
items of type `t` that happened strictly before it, oldest first: as model inputs
`f"{t}_item_id"`, `f"{t}_{feat}"` for the item features and `f"{t}_mask"`, all
[batch, T] (see `recsys_tf.data.input.SequenceWindows`). With `num_sessions` (S)
> 0, the click history cut into sessions (DSIN's rule: a gap of more than 30
minutes between two clicks starts a new one) gives `session_item_id`,
`session_{feat}` and `session_mask` [batch, S, L]: the most recent S sessions,
each holding its most recent L = `session_length` items (DSIN's paper does not say
which items of a longer session are kept; here the latest ones).

Feedback types, from the data (a type exists when the log holds its events):

- click: the `click` events (their own timestamps);
- unclick: the impressions not clicked, i.e. the CTR instances labelled 0 (data
  with impressions only), at their impression's time;
- like / dislike: the `like` / `dislike` events (KuaiRand: is_like / is_hate; the
  simulator: its like and dislike feedback); with `like_events` the like type
  holds the events of every type named there (DUMN Sec. 4.1.1, l.435-437: "the
  items purchased, added to the shopping cart and labeled with like" are its
  explicit like: `("like", "fav", "cart", "buy")`, fav being Taobao's "labelled
  with like", our reading); on rating data without like / dislike events
  (ML-1M), like = a rating >= 4 and dislike = a rating <= 2 (fixed thresholds,
  DUMN's "like / dislike" read on five stars);
- cart / fav / buy: those events (the simulator, Taobao).

Merged sequence (DUMN_AF, DUMN Table 6): the type `MERGED` ("all") in
`sequence_types` is one sequence holding the events of every type of
`merged_types`, time-ordered (ties: in `SEQUENCE_TYPES` order, then as within
each type), cut by the same leakage rule; it gives `all_item_id`, `all_{feat}`
and `all_mask`. The type of each event is not given (DUMN_AF reads one sequence).

Leakage rule. An instance at time t in request q sees the events of its user
with timestamp < min(t, the first timestamp of any event of q): events at t
itself (equal timestamps) never enter, and no event of its own request ever
enters, whatever its time. (On data without request ids the cutoff is t.) Ties
among earlier events keep the event log's order (unclick: the instances' order,
training part first).

Memory. Each type's events are stored once, sorted by user then time (int32
items), and each instance holds two int32 offsets per type (its user's first
event and its cutoff); the [batch, T] windows exist only inside a batch. The
sessions reuse the click sequence with a session index per click.
DUMN's task as the trainer loads and builds it (click / unclick / like /
dislike, T = 100; `python -m experiments.bench --only_task_build`, one run per
source in a fresh process beside two training jobs, load average 5) took 1.2 s
on the simulator size small (1,525,855 events; 960,000 / 120,000 / 120,000
impressions), peak RSS 0.99 GB after the imports and load and 1.21 GB after the
build, and 0.5 s on KuaiRand-Pure (327,000 events; 178,294 / 22,288 / 22,287
impressions), 0.89 GB and 1.04 GB.

Measured on the 2-core machine shared with other jobs (load average 6-16, so
times vary by a factor of about 4), every type the data has, item_features
("category",), T = 100, S = 5, L = 10; time of this function, peak RSS of the
whole process (TensorFlow, pandas and the event log take 770-870 MB before the
build):

- simulator size small (1.2 M impressions, 7 types): 0.7-4.6 s (the CTR task
  alone: 0.7-3.3 s), peak RSS 1,107 MB (the CTR task alone: 1,077 MB);
- KuaiRand-Pure (222,869 impressions, click / unclick / like / dislike):
  0.6-2.2 s (the CTR task alone: 0.4-1.7 s), peak RSS 937 MB (937 MB).

Cutting the windows in tf.data (batch 1024, T = 100, simulator, load average
16): 11 ms per batch for one type, 75 ms for all seven (the CTR fields alone:
1-2 ms).

Materialised windows would take 1.2 M x 7 x 100 x 9 bytes (item, category,
mask) = 7.6 GB on the simulator. Command (after `make data`, and a first run on
`kuairand` to convert it under data/):

    PYTHONPATH=. /usr/bin/time -f "%M KB peak" python -c "import time; \
    from recsys_tf.data.schema import read_event_log; \
    from recsys_tf.data.ctr_sequence import build_ctr_sequence_task as build; \
    log = read_event_log('data/synthetic_small'); t = time.time(); \
    build(log, max_length=100, num_sessions=5, session_length=10); \
    print(time.time() - t)"
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from recsys_tf.data import ctr
from recsys_tf.data.input import SequenceWindows
from recsys_tf.data.schema import MAX_TIMESTAMP, EventLog

SEQUENCE_TYPES = ("click", "unclick", "like", "dislike", "cart", "fav", "buy")
"""Feedback types a behaviour sequence can hold, in this order."""

MERGED = "all"
"""The one time-ordered sequence of the `merged_types` (DUMN_AF)."""

SESSION_GAP_SECONDS = 30 * 60
"""DSIN: a gap of more than 30 minutes between two clicks starts a new session."""

LIKE_EVENTS = ("like", "fav", "cart", "buy")
"""Event types the like sequence can be made of (`like_events`)."""

LIKE_RATING = 4.0
DISLIKE_RATING = 2.0
"""On rating data without like / dislike events: like = a rating >= 4, dislike =
a rating <= 2."""


@dataclasses.dataclass
class CTRSequenceTask(ctr.CTRTask):
    """A CTR task whose parts' `features` also hold `SequenceWindows`, one per
    feedback type (key = the type) and "session" when `num_sessions` > 0.

    `fields` and `vocabulary_sizes` are the CTR task's; sequence inputs use the
    vocabulary of the field they name (`click_category` -> "category").
    """

    sequence_types: tuple[str, ...] = ()
    item_features: tuple[str, ...] = ("item_id",)
    max_length: int = 100
    num_sessions: int = 0
    session_length: int = 0
    dataset: str = ""


def dataset_name(log: EventLog) -> str:
    """The dataset's name for messages: meta.json `name`, else its folder."""
    return str(log.meta.get("name") or log.path or "event log")


def feedback_events(
    log: EventLog,
    instances: ctr.CTRTask | None = None,
    unclicked=None,
    like_events: tuple[str, ...] = ("like",),
) -> dict:
    """The events of every feedback type the data has.

    Args:
        log: a validated event log.
        instances: its CTR task with click labels, whose instances labelled 0
            are the unclick events (None: no unclick type, unless `unclicked`).
        unclicked: (user_ids, item_ids, timestamps) of the unclick events, when
            the CTR task's labels are not clicks (DUMN Table 7's dislike label).
        like_events: the event types of the like type (`LIKE_EVENTS`).

    Returns:
        type -> (user_ids, item_ids, timestamps) int64 arrays, in `SEQUENCE_TYPES`
        order, for the types present.
    """
    kind = log.events["event"]
    columns = log.events[["user_id", "item_id", "timestamp"]]

    def of(mask):
        return tuple(columns[c].to_numpy(np.int64)[mask] for c in columns)

    out = {}
    for name in SEQUENCE_TYPES:
        if name == "unclick":
            if unclicked is not None:
                out[name] = tuple(np.asarray(v, np.int64) for v in unclicked)
            elif instances is not None:
                zero = [(p, p.labels == 0) for p in instances.parts().values()]
                out[name] = (
                    np.concatenate([p.user_ids[z] for p, z in zero]),
                    np.concatenate([p.features["item_id"][z] for p, z in zero]),
                    np.concatenate([p.timestamps[z] for p, z in zero]),
                )
            continue
        if name == "like" and kind.isin(like_events).any():
            out[name] = of(kind.isin(like_events).to_numpy())
            continue
        if name in ("like", "dislike") and not kind.isin(("like", "dislike")).any():
            ratings = kind == "rating"
            if ratings.any():
                value = log.events["value"].to_numpy()
                if name == "like":
                    out[name] = of(ratings.to_numpy() & (value >= LIKE_RATING))
                else:
                    out[name] = of(ratings.to_numpy() & (value <= DISLIKE_RATING))
            continue
        mask = (kind == name).to_numpy()
        if mask.any():
            out[name] = of(mask)
    return out


def request_starts(log: EventLog) -> pd.Series | None:
    """The first timestamp of every request (any event type), indexed by
    request id (sorted); None when the log has no request ids."""
    if "request_id" not in log.events.columns:
        return None
    events = log.events[log.events["request_id"] >= 0]
    return events.groupby("request_id", sort=True)["timestamp"].min()


def cutoffs(part: ctr.CTRSplit, starts: pd.Series | None) -> np.ndarray:
    """min(t, the first timestamp of its request) of every instance of `part`:
    it sees only the events strictly before (`starts` from `request_starts`)."""
    cutoff = part.timestamps.astype(np.int64)
    if starts is None or part.request_ids is None:
        return cutoff
    known = np.flatnonzero(part.request_ids >= 0)
    ids = starts.index.to_numpy(np.int64)
    position = np.searchsorted(ids, part.request_ids[known])
    inside = position < len(ids)
    known, position = known[inside], position[inside]
    match = ids[position] == part.request_ids[known]
    known, position = known[match], position[match]
    cutoff[known] = np.minimum(cutoff[known], starts.to_numpy(np.int64)[position])
    return cutoff


@dataclasses.dataclass
class _Sequence:
    """One type's events sorted by (user, time): items, and the search keys."""

    items: np.ndarray  # int32 [events]
    keys: np.ndarray  # int64 [events] user * (MAX_TIMESTAMP + 1) + timestamp
    user_start: np.ndarray  # int64 [num_users + 1]
    timestamps: np.ndarray  # int64 [events]

    @classmethod
    def of(cls, users, items, timestamps, num_users):
        order = np.lexsort((timestamps, users))
        users = users[order]
        if num_users * (MAX_TIMESTAMP + 1) >= 2**63:
            raise ValueError(f"{num_users} users: too many for 64-bit search keys")
        return cls(
            items=items[order].astype(np.int32),
            keys=users * (MAX_TIMESTAMP + 1) + timestamps[order],
            user_start=np.searchsorted(users, np.arange(num_users + 1)),
            timestamps=timestamps[order],
        )

    def offsets(self, users, queries):
        """(start, end) int32 of each instance: its user's first event and the
        first one at or after its cutoff (`queries` from `_queries`)."""
        start = self.user_start[users]
        keys, order = queries
        end = np.empty(len(users), np.int64)
        end[order] = np.searchsorted(self.keys, keys)
        return start.astype(np.int32), end.astype(np.int32)


def _queries(users, cutoffs):
    """The sorted search keys of (user, cutoff) and their order: one sort serves
    every type (sorted queries search several times faster)."""
    keys = users * (MAX_TIMESTAMP + 1) + cutoffs
    order = np.argsort(keys, kind="stable")
    return keys[order], order


def sessions(users, timestamps, gap: int = SESSION_GAP_SECONDS, max_length: int = 0):
    """(segment_of [events], segment_start [sessions + 1]) of a (user, time)-sorted
    sequence: a new user or a gap of more than `gap` seconds starts a session
    (DSIN's rule); with `max_length` > 0 a session also ends after `max_length`
    events, the next one starting a new session (SDM's rule, Lv et al. 2019
    Sec. 3.1: at most 50 items per session)."""
    n = len(timestamps)
    new = np.ones(n, bool)
    new[1:] = (users[1:] != users[:-1]) | (np.diff(timestamps) > gap)
    if max_length > 0:
        start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
        new = (np.arange(n) - start) % max_length == 0
    segment_of = (np.cumsum(new) - 1).astype(np.int32)
    segment_start = np.append(np.flatnonzero(new), n).astype(np.int32)
    return segment_of, segment_start


def check_options(
    sequence_types,
    max_length,
    num_sessions,
    session_length,
    merged_types=(),
    like_events=("like",),
):
    """Refuses unknown feedback types and lengths no task can use (ValueError)."""
    if not like_events or any(t not in LIKE_EVENTS for t in like_events):
        raise ValueError(
            f"like_events must be a non-empty subset of {LIKE_EVENTS}. "
            f"Received: {tuple(like_events)}"
        )
    unknown = [t for t in sequence_types if t not in SEQUENCE_TYPES + (MERGED,)]
    if unknown:
        raise ValueError(
            f"sequence_types {unknown} are not feedback types; expected a subset "
            f"of {SEQUENCE_TYPES + (MERGED,)}"
        )
    unknown = [t for t in merged_types if t not in SEQUENCE_TYPES]
    if unknown:
        raise ValueError(
            f"merged_types {unknown} are not feedback types; expected a subset of "
            f"{SEQUENCE_TYPES}"
        )
    if (MERGED in sequence_types) != bool(merged_types):
        raise ValueError(
            f"the {MERGED!r} sequence needs merged_types and merged_types need "
            f"{MERGED!r} in sequence_types. Received: sequence_types="
            f"{tuple(sequence_types)}, merged_types={tuple(merged_types)}"
        )
    if max_length < 1 or session_length < 1 or num_sessions < 0:
        raise ValueError(
            "max_length and session_length must be >= 1 and num_sessions >= 0. "
            f"Received: max_length={max_length}, session_length={session_length}, "
            f"num_sessions={num_sessions}"
        )


def build_ctr_sequence_task(
    log: EventLog,
    sequence_types: tuple[str, ...] = (),
    item_features: tuple[str, ...] = ("category",),
    max_length: int = 100,
    num_sessions: int = 0,
    session_length: int = 10,
    merged_types: tuple[str, ...] = (),
    like_events: tuple[str, ...] = ("like",),
    history_samples: bool = False,
    **ctr_options,
) -> CTRSequenceTask:
    """The CTR task of `log` (`ctr.build_ctr_task(log, **ctr_options)`: label,
    split, fractions, seed, crosses, rating_threshold, fields) with per-impression
    feedback sequences (`add_sequences`, which has the other arguments)."""
    return add_sequences(
        log,
        ctr.build_ctr_task(log, **ctr_options),
        label=ctr_options.get("label", "auto"),
        sequence_types=sequence_types,
        item_features=item_features,
        max_length=max_length,
        num_sessions=num_sessions,
        session_length=session_length,
        merged_types=merged_types,
        like_events=like_events,
        history_samples=history_samples,
    )


def add_sequences(
    log: EventLog,
    task: ctr.CTRTask,
    label: str = "auto",
    sequence_types: tuple[str, ...] = (),
    item_features: tuple[str, ...] = ("category",),
    max_length: int = 100,
    num_sessions: int = 0,
    session_length: int = 10,
    merged_types: tuple[str, ...] = (),
    like_events: tuple[str, ...] = ("like",),
    history_samples: bool = False,
) -> CTRSequenceTask:
    """The CTR task `task` of `log` with per-impression feedback sequences.

    Args:
        log: a validated event log.
        task: its CTR task (`ctr.build_ctr_task`).
        label: the `label` it was built with (click labels give the unclick
            type; with "dislike" the unclick type is the impressions not clicked).
        sequence_types: feedback types of `SEQUENCE_TYPES` to give the model;
            () = every type the data has.
        item_features: item feature columns (CTR fields) given beside each
            sequence item's id (the same vocabulary as the CTR field).
        max_length: T, the most recent items per type.
        num_sessions: S, the most recent click sessions (0 = no session inputs).
        session_length: L, the most recent items per session.
        merged_types: the types of the `MERGED` sequence (needed exactly when
            `sequence_types` holds it).
        like_events: the event types the like type holds (`LIKE_EVENTS`;
            default: the like events alone).
        history_samples: each type's batches also carry one event drawn
            uniformly from the instance's whole history of that type before
            its cutoff (`SequenceWindows.sample`; DUMN's triplet samples).

    Returns:
        A `CTRSequenceTask`.

    Raises:
        ValueError: a requested type the data lacks (naming the type and the
            dataset), an unknown type or item feature, or bad lengths.
    """
    name = dataset_name(log)
    check_options(
        sequence_types,
        max_length,
        num_sessions,
        session_length,
        merged_types,
        like_events,
    )
    features = ("item_id",) + tuple(f for f in item_features if f != "item_id")
    missing = [f for f in features if f not in task.fields]
    if missing:
        raise ValueError(
            f"item_features: {missing} are not fields of the CTR task (data.fields "
            f"{list(task.fields)}); sequence items need the target's item fields"
        )
    not_item = [f for f in features[1:] if f not in log.items.columns]
    if not_item:
        raise ValueError(
            f"item_features: {not_item} are not columns of the items table; it has "
            f"{list(log.items.columns)}"
        )
    resolved = ctr.resolve_label(log, label)
    if resolved == "dislike":
        # The instances are the impressions; those not clicked are the unclick type.
        frame = ctr.labelled_impressions(log, "click")
        zero = frame[frame["label"] == 0]
        unclicked = tuple(
            zero[c].to_numpy(np.int64) for c in ("user_id", "item_id", "timestamp")
        )
        events = feedback_events(log, unclicked=unclicked, like_events=like_events)
    else:
        events = feedback_events(
            log, task if resolved == "click" else None, like_events=like_events
        )
    wanted = tuple(sequence_types) or tuple(events)
    sources = tuple(t for t in wanted if t != MERGED) + tuple(merged_types)
    for kind in sources + (("click",) if num_sessions else ()):
        if kind not in events:
            raise ValueError(
                f"sequence type {kind!r}: the dataset {name!r} has no {kind} "
                f"feedback (it has {list(events)}); turn it off in "
                "data.sequence_types"
                + (" / data.num_sessions" if kind == "click" else "")
            )
    items = log.items
    lookups = {"item_id": None}
    for column in features[1:]:
        lookups[column] = items[column].to_numpy().astype(np.int32)
    sequences = {
        kind: _Sequence.of(*events[kind], log.num_users)
        for kind in wanted + (("click",) if num_sessions else ())
        if kind != MERGED
    }
    if merged_types:
        merged = [t for t in SEQUENCE_TYPES if t in merged_types]  # tie order
        sequences[MERGED] = _Sequence.of(
            *(np.concatenate([events[t][i] for t in merged]) for i in range(3)),
            log.num_users,
        )
    del events
    segments = (
        sessions(
            sequences["click"].keys // (MAX_TIMESTAMP + 1),
            sequences["click"].timestamps,
        )
        if num_sessions
        else None
    )
    starts = request_starts(log)

    def part(split: ctr.CTRSplit) -> ctr.CTRSplit:
        queries = _queries(split.user_ids, cutoffs(split, starts))
        inputs = dict(split.features)
        for kind in wanted:
            start, end = sequences[kind].offsets(split.user_ids, queries)
            inputs[kind] = SequenceWindows(
                sequences[kind].items,
                start,
                end,
                max_length,
                lookups,
                sample=history_samples,
            )
        if num_sessions:
            start, end = sequences["click"].offsets(split.user_ids, queries)
            inputs["session"] = SequenceWindows(
                sequences["click"].items,
                start,
                end,
                session_length,
                lookups,
                segment_of=segments[0],
                segment_start=segments[1],
                num_segments=num_sessions,
            )
        return dataclasses.replace(split, features=inputs)

    return CTRSequenceTask(
        train=part(task.train),
        validation=part(task.validation),
        test=part(task.test),
        fields=task.fields,
        vocabulary_sizes=task.vocabulary_sizes,
        sequence_types=wanted,
        item_features=features,
        max_length=max_length,
        num_sessions=num_sessions,
        session_length=session_length,
        dataset=name,
    )
