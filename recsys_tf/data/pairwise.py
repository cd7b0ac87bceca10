"""Pairwise-ranking task builder with multiple implicit feedback (MF + M-MLP).

One feedback type is the target (purchases), the others support it (clicks / page
views, carts, favs): "MF + M-MLP" Section 3.1. A training example is a user, one
of the user's target items and `num_negatives` negative items redrawn every epoch
by a `NegativeSampler`: either from the items the user touched only through
supportive feedback (the paper's sampler), or uniformly from the items the user
never gave the target feedback (the control, "random").

Evaluation is leave-one-out on the target events: each user's latest target event
goes to test, the second latest to validation (`splits.leave_one_out_split`);
users with fewer than `min_target_events` target events are dropped and counted.
The training interactions of a user (every type) are the user's events strictly
before the validation target's time, so nothing after the held-out events is
learnt from; the supportive events on a held-out item before that time stay, as
the paper keeps "the remaining interaction records" (l.366-367).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from recsys_tf import metrics
from recsys_tf.data import splits
from recsys_tf.data.schema import EventLog
from recsys_tf.training.evaluation import candidate_ranks

SAMPLERS = ("supportive", "random")


@dataclasses.dataclass
class PairwiseSplit:
    """One part of a pairwise task: row r pairs `user_ids[r]` with `targets[r]`.

    Attributes:
        user_ids: int64 [n].
        targets: int64 [n] a target-type item of the user (train: each distinct
            training (user, item) target pair; validation / test: the held-out one).
        timestamps: int64 [n] time of the (first) target event.
        owner: the `PairwiseTask` of the part.
    """

    user_ids: np.ndarray
    targets: np.ndarray
    timestamps: np.ndarray
    # The task this part belongs to (its interactions feed the negative sampler).
    owner: PairwiseTask | None = dataclasses.field(
        default=None, repr=False, compare=False
    )

    def __len__(self) -> int:
        return len(self.targets)

    def features(self) -> dict[str, np.ndarray]:
        """The model inputs of the (user, target item) pairs."""
        return {"user_id": self.user_ids, "item_id": self.targets}


@dataclasses.dataclass
class PairwiseTask:
    """A pairwise-ranking task: target-type pairs to rank above negatives.

    Attributes:
        train / validation / test: `PairwiseSplit`s.
        num_users / num_items: vocabulary sizes (the log's).
        feedback_types: the target type first, then the supportive types the
            log has, e.g. ("buy", "click", "cart", "fav").
        interactions: type -> sorted int64 keys `user * num_items + item` of the
            training interactions of that type.
        dropped_users: users with events of the target type but too few of them.
        min_target_events: the threshold they missed.
    """

    train: PairwiseSplit
    validation: PairwiseSplit
    test: PairwiseSplit
    num_users: int
    num_items: int
    feedback_types: tuple[str, ...]
    interactions: dict[str, np.ndarray]
    dropped_users: int
    min_target_events: int

    def parts(self):
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def pair_feedback(self, users, items) -> np.ndarray:
        """int8 `[..., len(feedback_types)]`: 1 where the training interactions hold
        an event of that type between `users` and `items` (same shape, broadcast)."""
        users, items = np.broadcast_arrays(np.asarray(users), np.asarray(items))
        keys = users.astype(np.int64) * self.num_items + items
        columns = []
        for kind in self.feedback_types:
            table = self.interactions[kind]
            position = np.clip(np.searchsorted(table, keys), 0, max(len(table) - 1, 0))
            columns.append(table[position] == keys if len(table) else keys < 0)
        return np.stack(columns, axis=-1).astype(np.int8)


def build_pairwise_task(
    log: EventLog,
    target_event: str = "buy",
    supportive_events: tuple[str, ...] = ("click", "cart", "fav"),
    min_target_events: int = 3,
) -> PairwiseTask:
    """Turns an event log into a leave-one-out pairwise-ranking task.

    Args:
        log: a validated event log.
        target_event: the target feedback type.
        supportive_events: supportive types; those absent from the log are left
            out of `feedback_types` (their branches would never learn).
        min_target_events: users with fewer target events are dropped (one each
            for test, validation and training at least: >= 3).

    Returns:
        A `PairwiseTask`.
    """
    where = log.path or "event log"
    if min_target_events < 3:
        raise ValueError(
            "`min_target_events` must be >= 3 (one target event each for test, "
            f"validation and training). Received: {min_target_events}"
        )
    if target_event in supportive_events:
        raise ValueError(
            f"the target event {target_event!r} is also in supportive_events "
            f"{tuple(supportive_events)}"
        )
    splits.check_timestamps_support(log.meta, "leave_one_out", where)
    events = log.events_of(target_event, *supportive_events)
    users = events["user_id"].to_numpy(np.int64)
    items = events["item_id"].to_numpy(np.int64)
    stamps = events["timestamp"].to_numpy(np.int64)
    kinds = events["event"].astype(str).to_numpy()
    is_target = kinds == target_event
    if not is_target.any():
        raise ValueError(f"{where}: no events of type {target_event!r} (the target)")
    counts = np.bincount(users[is_target], minlength=log.num_users)
    kept = counts >= min_target_events
    dropped = int(((counts > 0) & ~kept).sum())
    if not kept.any():
        raise ValueError(
            f"{where}: no user has min_target_events={min_target_events} events of "
            f"type {target_event!r} (the most any user has: {counts.max()})"
        )
    rows = np.flatnonzero(is_target & kept[users])
    parts = splits.leave_one_out_split(users[rows], stamps[rows])
    # Each kept user's validation target time: the end of the user's training data.
    cutoff = np.full(log.num_users, np.iinfo(np.int64).min)
    validation = rows[parts == 1]
    cutoff[users[validation]] = stamps[validation]
    train_rows = np.concatenate(
        [rows[parts == 0], np.flatnonzero(~is_target & (stamps < cutoff[users]))]
    )
    present = [target_event] + [
        t for t in supportive_events if (kinds[train_rows] == t).any()
    ]
    interactions = {
        t: np.unique(
            users[train_rows][kinds[train_rows] == t] * log.num_items
            + items[train_rows][kinds[train_rows] == t]
        )
        for t in present
    }

    def part(index):
        chosen = rows[parts == index]
        if index == 0:  # one row per distinct (user, item) pair, its first time
            order = np.lexsort((stamps[chosen], items[chosen], users[chosen]))
            chosen = chosen[order]
            keys = users[chosen] * log.num_items + items[chosen]
            chosen = chosen[np.append(True, keys[1:] != keys[:-1])]
        return PairwiseSplit(users[chosen], items[chosen], stamps[chosen])

    task = PairwiseTask(
        train=part(0),
        validation=part(1),
        test=part(2),
        num_users=log.num_users,
        num_items=log.num_items,
        feedback_types=tuple(present),
        interactions=interactions,
        dropped_users=dropped,
        min_target_events=min_target_events,
    )
    for split in task.parts().values():
        split.owner = task
    return task


def _per_user(keys: np.ndarray, num_users: int, num_items: int):
    """CSR (offsets [num_users + 1], items) of sorted `user * num_items + item` keys."""
    users, items = np.divmod(keys, num_items)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=num_users))])
    return offsets, items


class NegativeSampler:
    """Draws the training negatives of a `PairwiseTask`, anew every epoch.

    "supportive" (MF + M-MLP Section 3.1): uniformly, with replacement, among the
    items the user touched in training through supportive feedback only (never
    through the target type); a user without such an item falls back to
    "random" and is counted in `fallback_users`. "random" (the control, and the
    sampler of the single-feedback baselines): `num_negatives` distinct items
    drawn uniformly among those the user never gave the target feedback in
    training (the held-out items are unknown to training, so they may be drawn).

    Args:
        task: a `PairwiseTask`.
        mode: "supportive" or "random".
        num_negatives: negatives per positive (the paper's ng-x).
        seed: epoch e draws with `np.random.default_rng([seed, e])`.
    """

    def __init__(self, task: PairwiseTask, mode="supportive", num_negatives=3, seed=0):
        if mode not in SAMPLERS:
            raise ValueError(
                f"`mode` must be one of {SAMPLERS}. Received: mode={mode!r}"
            )
        if num_negatives < 1:
            raise ValueError(
                f"`num_negatives` must be >= 1. Received: num_negatives={num_negatives}"
            )
        self.task = task
        self.mode = mode
        self.num_negatives = int(num_negatives)
        self.seed = int(seed)
        target = task.interactions[task.feedback_types[0]]
        self._bought = _per_user(target, task.num_users, task.num_items)
        supportive = np.unique(
            np.concatenate(
                [task.interactions[t] for t in task.feedback_types[1:]]
                + [np.empty(0, np.int64)]
            )
        )
        only = supportive[~np.isin(supportive, target)]
        self._supportive = _per_user(only, task.num_users, task.num_items)
        users = task.train.user_ids
        available = np.diff(self._supportive[0])[users]
        self._fallback_rows = (
            np.flatnonzero(available == 0)
            if mode == "supportive"
            else np.arange(len(users))
        )
        self.fallback_users = (
            int(len(np.unique(users[self._fallback_rows])))
            if mode == "supportive"
            else 0
        )
        self.fallback_rows = len(self._fallback_rows) if mode == "supportive" else 0

    def record(self) -> dict:
        """What results.json reports about the sampler."""
        return {
            "negative_sampler": self.mode,
            "train_negatives": self.num_negatives,
            "fallback_users": self.fallback_users,
            "fallback_rows": self.fallback_rows,
        }

    def sample(self, epoch: int) -> np.ndarray:
        """int64 `[len(task.train), num_negatives]` negatives of epoch `epoch`."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        users = self.task.train.user_ids
        out = np.empty((len(users), self.num_negatives), np.int64)
        offsets, items = self._supportive
        if self.mode == "supportive":
            start = offsets[users]
            count = offsets[users + 1] - start
            draw = np.floor(rng.random(out.shape) * count[:, None]).astype(np.int64)
            has = count > 0
            out[has] = items[start[has, None] + draw[has]]
        rows = self._fallback_rows
        if len(rows):
            offsets, bought = self._bought
            exclude = [bought[offsets[u] : offsets[u + 1]] for u in users[rows]]
            out[rows] = metrics.sample_negatives(
                self.task.num_items,
                np.full(len(rows), -1),
                self.num_negatives,
                rng,
                exclude=exclude,
            )
        return out


def train_dataset(
    task: PairwiseTask,
    sampler: NegativeSampler,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    epochs: tuple[int, int | None] = (0, 1),
):
    """Batches `(x, positive items)` of training examples, negatives redrawn every
    epoch (the models' losses read `x` only).

    `x` holds `user_id`, `item_id` (the positive) int64 [B], `negatives`
    int64 [B, x], and the training feedback of each scored pair (for the
    per-branch update rule of MF + M-MLP): `feedback` int8 [B, T] and
    `negative_feedback` int8 [B, x, T], T = len(task.feedback_types). Epoch e uses
    `sampler.sample(e)` and, with `shuffle`, the row order of
    `np.random.default_rng([seed, e, 1])`, so a run resumed at epoch e sees the
    batches an uninterrupted run would have seen.

    Args:
        epochs: (first, end): the epochs yielded one after the other; end None =
            forever.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: {batch_size}")
    first, end = epochs
    split = task.train
    positive_feedback = task.pair_feedback(split.user_ids, split.targets)
    x, types = sampler.num_negatives, len(task.feedback_types)

    def batches():
        epoch = first
        while end is None or epoch < end:
            negatives = sampler.sample(epoch)
            feedback = task.pair_feedback(split.user_ids[:, None], negatives)
            order = (
                np.random.default_rng([seed, epoch, 1]).permutation(len(split))
                if shuffle
                else np.arange(len(split))
            )
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                yield (
                    {
                        "user_id": split.user_ids[rows],
                        "item_id": split.targets[rows],
                        "feedback": positive_feedback[rows],
                        "negatives": negatives[rows],
                        "negative_feedback": feedback[rows],
                    },
                    split.targets[rows],
                )
            epoch += 1

    signature = {
        "user_id": tf.TensorSpec([None], tf.int64),
        "item_id": tf.TensorSpec([None], tf.int64),
        "feedback": tf.TensorSpec([None, types], tf.int8),
        "negatives": tf.TensorSpec([None, x], tf.int64),
        "negative_feedback": tf.TensorSpec([None, x, types], tf.int8),
    }
    dataset = tf.data.Dataset.from_generator(
        batches, output_signature=(signature, tf.TensorSpec([None], tf.int64))
    )
    return dataset.prefetch(2)


def pair_ranks(score_fn, split: PairwiseSplit, negatives: np.ndarray) -> np.ndarray:
    """The 0-based rank of each row's target among its `negatives` [n, k] (ties
    pessimistic, `evaluation.candidate_ranks`), from `score_fn(users, items) ->
    scores` over flat pair arrays."""
    items = np.concatenate([split.targets[:, None], negatives], axis=1)
    users = np.repeat(split.user_ids, items.shape[1])
    scores = np.asarray(score_fn(users, items.reshape(-1)), np.float64)
    return candidate_ranks(scores.reshape(items.shape))
