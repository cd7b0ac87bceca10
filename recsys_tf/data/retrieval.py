"""Next-item retrieval task builder: event log -> (history, next item) examples."""

from __future__ import annotations

import dataclasses

import numpy as np

from recsys_tf.data import ctr_sequence, splits
from recsys_tf.data.schema import MAX_TIMESTAMP, EventLog


@dataclasses.dataclass
class RetrievalSplit:
    """One part of a retrieval task; row r predicts `targets[r]` from its history.

    A per-position part (`build_retrieval_task(per_position=True)`, training
    only) has one row per user and a target per position: `targets[r, t]` is the
    item that follows `history[r, t]`, so position t predicts it from
    `history[r, :t + 1]`; `history_mask` marks the real positions of both.

    Attributes:
        user_ids: int64 [n].
        history: int64 [n, max_length] item ids, oldest first, most recent in the
            last column; left-padded with 0 where `history_mask` is False.
        history_mask: bool [n, max_length].
        targets: int64 [n] the next positive item ([n, max_length] per position,
            0 where `history_mask` is False).
        timestamps: int64 [n] time of the target event ([n, max_length] per
            position).
        request_ids: int64 [n] request of the target event (-1 if unknown;
            [n, max_length] per position).
        user_features: column name -> int64 [n] user feature codes.
        sequence: int64 [events] the positive items of every user, sorted by
            user then time (one array shared by the parts of a task), or None.
        sequence_start: int64 [n] index in `sequence` of the user's first item.
        sequence_index: int64 [n] index in `sequence` of the target's own event.
        per_position: whether `targets` holds one target per position.
        sessions: with sessions (`build_retrieval_task(max_session_length=...)`),
            "history_session_position" int32 [n, max_length]: how many earlier
            items of its session each history position has in the window (0 at the
            first item of a session and at padding), and "history_long_term" int32
            [n, max_length]: how many items before that session, within the
            long-term horizon and the window, it has (`SESSION_INPUTS`).
    """

    user_ids: np.ndarray
    history: np.ndarray
    history_mask: np.ndarray
    targets: np.ndarray
    timestamps: np.ndarray
    request_ids: np.ndarray
    user_features: dict[str, np.ndarray]
    sequence: np.ndarray | None = None
    sequence_start: np.ndarray | None = None
    sequence_index: np.ndarray | None = None
    per_position: bool = False
    sessions: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    _earlier: tuple | None = dataclasses.field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.targets)

    def features(self) -> dict[str, np.ndarray]:
        """The model inputs of this part."""
        return {
            "user_id": self.user_ids,
            "history": self.history,
            "history_mask": self.history_mask,
            **self.user_features,
            **self.sessions,
        }

    def earlier_items(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """The user's items before each row's target, for full-ranking exclusion.

        For row r: every distinct item of the user's positive events before the
        target in the user's time-ordered sequence (the whole history, not only
        the last `max_length`, whatever part those events fall in), except the
        target item itself. Equal timestamps keep the event log's order, as the
        histories do. The lists of all rows are built once, on first use, and
        kept as int32 (offsets, items).

        Args:
            rows: int array of row indices.

        Returns:
            (local, items): int64 arrays of the same length; `local` indexes
            `rows`, each (local, item) pair appears once.
        """
        if self.per_position:
            raise ValueError(
                "a per-position RetrievalSplit (training) has no earlier-items "
                "lists: evaluation parts have one target per row"
            )
        if self._earlier is None:
            self._earlier = self._build_earlier()
        offsets, items = self._earlier
        rows = np.asarray(rows)
        return _gather(offsets[rows], offsets[rows + 1] - offsets[rows], items)

    def _build_earlier(self, block: int = 4096):
        if self.sequence is None:
            raise ValueError(
                "this RetrievalSplit has no `sequence`: build it with "
                "`build_retrieval_task` to exclude the users' earlier items"
            )
        counts, parts = [], []
        for start in range(0, len(self), block):
            rows = np.arange(start, min(start + block, len(self)))
            starts = self.sequence_start[rows]
            local, items = _gather(
                starts, self.sequence_index[rows] - starts, self.sequence
            )
            keep = items != self.targets[rows][local]
            local, items = local[keep], items[keep]
            width = int(items.max()) + 1 if items.size else 1
            keys = np.sort(local * width + items)  # np.unique's hashing is slower
            keys = keys[np.append(True, keys[1:] != keys[:-1])] if keys.size else keys
            local, items = np.divmod(keys, width)
            counts.append(np.bincount(local, minlength=len(rows)))
            parts.append(items.astype(np.int32))
        offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts))])
        return offsets.astype(np.int64), np.concatenate(parts)


def _gather(starts: np.ndarray, lengths: np.ndarray, values: np.ndarray):
    """(local, values[starts[i]:starts[i] + lengths[i]]) of every slice i, flattened."""
    local = np.repeat(np.arange(len(starts)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(
        np.cumsum(lengths) - lengths, lengths
    )
    return local, values[np.repeat(starts, lengths) + offsets].astype(np.int64)


@dataclasses.dataclass
class RetrievalTask:
    """A next-item retrieval task over the whole catalogue."""

    train: RetrievalSplit
    validation: RetrievalSplit
    test: RetrievalSplit
    num_users: int
    num_items: int
    user_vocabulary_sizes: dict[str, int]
    item_counts: np.ndarray  # training frequency of each item as a target
    # Examples of each evaluation part before `max_eval_examples` cut it.
    eval_totals: dict[str, int] = dataclasses.field(default_factory=dict)
    # Whether some (user, item) pair occurs in several positive events.
    repeat_consumption: bool = False
    # Whether the training part has one target per position (`per_position`).
    per_position: bool = False
    # The items' side features (category, brand, ...): name -> code per item.
    item_features: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def parts(self):
        return {"train": self.train, "validation": self.validation, "test": self.test}


SESSION_INPUTS = ("history_session_position", "history_long_term")
"""Model inputs of the session option of `build_retrieval_task`."""


def _session_extents(users, stamps, user_start, gap, max_session_length, horizon):
    """(position, long_term) int64 [events] of a (user, time)-sorted sequence: how
    many earlier events of its own session each event has, and how many events
    before that session lie within `horizon` seconds of the session's first event
    (0 = no limit: every earlier event of the user). Sessions as SDM cuts them
    (`ctr_sequence.sessions`: a gap of more than `gap` seconds, 0 = no gap rule,
    or `max_session_length` events, 0 = no limit)."""
    gap = gap if gap > 0 else np.iinfo(np.int64).max
    segment_of, segment_start = ctr_sequence.sessions(
        users, stamps, gap, max_session_length
    )
    first = segment_start[segment_of].astype(np.int64)
    if horizon > 0:
        keys = users * (MAX_TIMESTAMP + 1) + stamps
        since = users * (MAX_TIMESTAMP + 1) + np.maximum(stamps[first] - horizon, 0)
        long_first = np.searchsorted(keys, since, side="left")
    else:
        long_first = user_start
    events = np.arange(len(users))
    return events - first, first - long_first


def _history_sessions(extents, index, mask) -> dict[str, np.ndarray]:
    """The session inputs (`SESSION_INPUTS`) of history rows whose column c holds
    event `index[r, c]` where `mask` is True, each count cut to the window (the
    columns before c)."""
    position, long_term = (
        np.where(mask, e[np.clip(index, 0, None)], 0) for e in extents
    )
    column = np.arange(index.shape[1])[None, :]
    position = np.minimum(position, column)
    long_term = np.minimum(long_term, column - position)
    return {
        SESSION_INPUTS[0]: position.astype(np.int32),
        SESSION_INPUTS[1]: long_term.astype(np.int32),
    }


def _user_starts(users: np.ndarray) -> np.ndarray:
    """Index of each row's user's first row in a user-sorted sequence."""
    n = len(users)
    starts = np.ones(n, bool)
    starts[1:] = users[1:] != users[:-1]
    return np.maximum.accumulate(np.where(starts, np.arange(n), 0))


def _histories(items: np.ndarray, user_start: np.ndarray, max_length: int):
    """Histories of every row of a (user, time)-sorted positive sequence."""
    offsets = np.arange(-max_length, 0)
    index = np.arange(len(items))[:, None] + offsets[None, :]
    mask = index >= user_start[:, None]
    history = np.where(mask, items[np.clip(index, 0, None)], 0)
    return history.astype(np.int64), mask


def _per_position_rows(users: np.ndarray, rows: np.ndarray, max_length: int):
    """(user row, column) of each of `rows` in a per-position part, or -1.

    `rows` are sorted (by user, then time); each user's last `max_length` of them
    fill its row right-aligned, the last one in column `max_length - 1`.
    """
    owner = users[rows]
    first = np.ones(len(rows), bool)
    first[1:] = owner[1:] != owner[:-1]
    user_row = np.cumsum(first) - 1
    last = np.append(np.flatnonzero(first[1:]), len(rows) - 1)  # per user row
    from_end = last[user_row] - np.arange(len(rows))
    column = np.where(from_end < max_length, max_length - 1 - from_end, -1)
    return user_row, column


def default_positive_events(log: EventLog) -> tuple[str, ...]:
    """("click",) when the log has clicks (simulator, Taobao, KuaiRand), else
    ("rating",) (every rating of ML-1M or Netflix is a positive)."""
    return ("click",) if (log.events["event"] == "click").any() else ("rating",)


def build_retrieval_task(
    log: EventLog,
    positive_events: tuple[str, ...] = (),
    split: str = "time",
    fractions=(0.8, 0.1, 0.1),
    max_length: int = 50,
    min_history: int = 1,
    user_features: tuple[str, ...] | None = None,
    max_eval_examples: int | None = None,
    seed: int = 0,
    per_position: bool = False,
    session_gap: int = 0,
    max_session_length: int = 0,
    long_term_seconds: int = 0,
) -> RetrievalTask:
    """Turns an event log into next-item examples.

    Each positive event (one of `positive_events`) with at least `min_history`
    earlier positives of the same user becomes an example: the last `max_length`
    earlier positives predict its item. The split assigns examples by the time of
    their target (`split="time"`: global quantiles, so training never sees a later
    target) or per user (`"leave_one_out"`: last target to test, second last to
    validation). Histories contain only earlier events, whatever the part.

    With `per_position`, the training part holds one row per user instead of one
    per target (SASRec's training examples, Kang & McAuley 2018 Sec. III-A): the
    user's last `max_length` training targets, each at the position that follows
    its predecessor, `targets[r, t]` after `history[r, t]` (the item before it),
    left-padded. A causal model then trains on every prefix at the cost of one
    sequence, not one copy per prefix. The targets are those of the ordinary
    training part (the same `min_history`); a user's earlier targets beyond
    `max_length` are left out, as SASRec does (a larger `max_length` keeps them).

    With `session_gap` or `max_session_length` > 0, every part also gets the
    session inputs of SDM (Lv et al. 2019, Sec. 3.1; `RetrievalSplit.sessions`):
    each user's positives are cut into sessions (a gap of more than `session_gap`
    seconds or `max_session_length` items starts a new one; SDM: 10 minutes, 50),
    and each history position gets its short-term session (its own session up to
    itself) and its long-term behaviours (the items before that session, within
    `long_term_seconds` of its start; SDM: 7 days; 0 = all), both cut to the
    window of `max_length` items. They are computed from the history's own events:
    never from a target or a later event.

    Args:
        log: a validated event log.
        positive_events: event types that make the sequence; empty = "click"
            when the log has clicks, else "rating" (`default_positive_events`).
        split: "time" or "leave_one_out".
        fractions: train / validation / test fractions of the time split.
        max_length: history length L.
        min_history: minimum number of earlier positives for an example.
        user_features: user columns given to the model (None = all non-truth).
        max_eval_examples: if set, validation and test keep at most this many
            examples each, drawn with `seed` (to bound full-ranking cost).
        seed: seed of that draw.
        per_position: one training row per user with a target per position.
        session_gap: seconds of a gap that starts a new session (0 = no gap rule).
        max_session_length: items after which a session ends (0 = no limit;
            sessions are built when this or `session_gap` is > 0).
        long_term_seconds: horizon of the long-term behaviours before a session
            (0 = every earlier item in the window).

    Returns:
        A `RetrievalTask`.
    """
    if split not in ("time", "leave_one_out"):
        raise ValueError(
            "`split` must be 'time' or 'leave_one_out' for retrieval. "
            f"Received: split={split!r}"
        )
    if max_length < 1 or min_history < 1:
        raise ValueError(
            "`max_length` and `min_history` must be >= 1. Received: "
            f"max_length={max_length}, min_history={min_history}"
        )
    splits.check_timestamps_support(log.meta, split, log.path or "event log")
    if min(session_gap, max_session_length, long_term_seconds) < 0:
        raise ValueError(
            "`session_gap`, `max_session_length` and `long_term_seconds` must be "
            f">= 0. Received: session_gap={session_gap}, max_session_length="
            f"{max_session_length}, long_term_seconds={long_term_seconds}"
        )
    if (session_gap or long_term_seconds) and log.meta.get(
        "timestamps", "seconds"
    ) != "seconds":
        raise ValueError(
            f"{log.path or 'event log'}: session_gap / long_term_seconds need "
            f"timestamps in seconds, but this dataset's are "
            f"{log.meta.get('timestamps')!r}; set them to 0 (sessions of "
            "max_session_length items)"
        )
    positive_events = tuple(positive_events) or default_positive_events(log)
    events = log.events_of(*positive_events)
    if events.empty:
        raise ValueError(
            f"{log.path or 'event log'}: no events of type {positive_events}; "
            "nothing to build sequences from."
        )
    order = np.lexsort((events["timestamp"].to_numpy(), events["user_id"].to_numpy()))
    events = events.iloc[order]
    users = events["user_id"].to_numpy(np.int64)
    items = events["item_id"].to_numpy(np.int64)
    stamps = events["timestamp"].to_numpy(np.int64)
    requests = (
        events["request_id"].to_numpy(np.int64)
        if "request_id" in events.columns
        else np.full(len(events), -1, np.int64)
    )
    user_start = _user_starts(users)
    history, mask = _histories(items, user_start, max_length)
    extents = None
    if session_gap or max_session_length:
        extents = _session_extents(
            users,
            stamps,
            user_start,
            session_gap,
            max_session_length,
            long_term_seconds,
        )
    if split == "time":
        parts = splits.time_split(stamps, fractions)
    else:
        parts = splits.leave_one_out_split(users, stamps)
    keep = mask.sum(axis=1) >= min(min_history, max_length)
    table = log.users.set_index("user_id")
    if user_features is None:
        user_features = tuple(c for c in table.columns if not c.startswith("truth_"))
    unknown = [c for c in user_features if c not in table.columns]
    if unknown:
        raise ValueError(f"users table has no column(s) {unknown}")
    vocab = {c: int(table[c].max()) + 1 for c in user_features}
    rng = np.random.default_rng(seed)
    totals = {}

    def part(index):
        rows = np.flatnonzero(keep & (parts == index))
        if index:
            totals[splits.PARTS[index]] = len(rows)
        if index and max_eval_examples is not None and len(rows) > max_eval_examples:
            rows = np.sort(rng.choice(rows, max_eval_examples, replace=False))
        if len(rows) == 0:
            raise ValueError(
                f"the {splits.PARTS[index]} part of the "
                f"{split} split has no example (min_history={min_history})"
            )
        return RetrievalSplit(
            user_ids=users[rows],
            history=history[rows],
            history_mask=mask[rows],
            targets=items[rows],
            timestamps=stamps[rows],
            request_ids=requests[rows],
            user_features={
                c: table[c].to_numpy(np.int64)[users[rows]] for c in user_features
            },
            sequence=items,
            sequence_start=user_start[rows],
            sequence_index=rows,
            sessions=(
                {}
                if extents is None
                else _history_sessions(
                    extents,
                    rows[:, None] + np.arange(-max_length, 0)[None, :],
                    mask[rows],
                )
            ),
        )

    def per_position_part():
        rows = np.flatnonzero(keep & (parts == 0))
        if len(rows) == 0:
            raise ValueError(
                f"the train part of the {split} split has no example "
                f"(min_history={min_history})"
            )
        user_row, column = _per_position_rows(users, rows, max_length)
        rows, user_row, column = (
            rows[column >= 0],
            user_row[column >= 0],
            column[column >= 0],
        )
        shape = (user_row[-1] + 1, max_length)
        grid = {
            name: np.zeros(shape, np.int64)
            for name in ("history", "targets", "timestamps", "request_ids")
        }
        for name, values in (
            ("history", items[rows - 1]),  # rows have >= 1 earlier positive
            ("targets", items[rows]),
            ("timestamps", stamps[rows]),
            ("request_ids", requests[rows]),
        ):
            grid[name][user_row, column] = values
        mask = np.zeros(shape, bool)
        mask[user_row, column] = True
        sessions = {}
        if extents is not None:
            index = np.zeros(shape, np.int64)
            index[user_row, column] = rows - 1  # the history item's event
            sessions = _history_sessions(extents, index, mask)
        owners = np.zeros(shape[0], np.int64)
        owners[user_row] = users[rows]
        return RetrievalSplit(
            user_ids=owners,
            history_mask=mask,
            user_features={
                c: table[c].to_numpy(np.int64)[owners] for c in user_features
            },
            per_position=True,
            sessions=sessions,
            **grid,
        )

    train = per_position_part() if per_position else part(0)
    trained = train.targets[train.history_mask] if per_position else train.targets
    counts = np.bincount(trained, minlength=log.num_items).astype(np.int64)
    pairs = np.sort(users * log.num_items + items)
    repeats = bool((pairs[1:] == pairs[:-1]).any())
    return RetrievalTask(
        train=train,
        validation=part(1),
        test=part(2),
        num_users=log.num_users,
        num_items=log.num_items,
        user_vocabulary_sizes=vocab,
        item_counts=counts,
        eval_totals=totals,
        repeat_consumption=repeats,
        per_position=per_position,
        item_features={
            c: log.items[c].to_numpy(np.int64)
            for c in log.items.columns
            if c != "item_id"
        },
    )
