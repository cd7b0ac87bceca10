"""CTR task builder: event log -> instances with categorical fields and a label."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from recsys_tf.data import hashing, splits
from recsys_tf.data.schema import EventLog

LABELS = ("auto", "click", "dislike", "rating")
HASH_BUCKETS = 1 << 20


@dataclasses.dataclass
class CTRSplit:
    """One part of a CTR task.

    Attributes:
        features: field name -> int64 codes [n].
        labels: float32 [n] in {0, 1}.
        user_ids: int64 [n] (for gAUC).
        timestamps: int64 [n].
        truth: float64 [n] planted true preference (simulated data) or None.
        request_ids: int64 [n] request of each instance (-1 where the log has
            none), or None.
    """

    features: dict[str, np.ndarray]
    labels: np.ndarray
    user_ids: np.ndarray
    timestamps: np.ndarray
    truth: np.ndarray | None = None
    request_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)


@dataclasses.dataclass
class CTRTask:
    """A CTR task: the three parts and the vocabulary size of every field."""

    train: CTRSplit
    validation: CTRSplit
    test: CTRSplit
    fields: tuple[str, ...]
    vocabulary_sizes: dict[str, int]

    def parts(self):
        return {"train": self.train, "validation": self.validation, "test": self.test}


def resolve_label(log: EventLog, label: str) -> str:
    """`label`, with "auto" resolved: "click" when the log has impressions, else
    "rating" (ML-1M style rating data)."""
    if label != "auto":
        return label
    return "click" if (log.events["event"] == "impression").any() else "rating"


def labelled_impressions(log: EventLog, label: str = "click") -> pd.DataFrame:
    """The impression events of `log`, each with `label` 1.0 when the same user
    gave the same item `label` feedback ("click" or "dislike") in the same
    request (request_id >= 0; outside any request, request_id < 0, at the same
    timestamp), else 0.0."""
    if label not in ("click", "dislike"):
        raise ValueError(
            f"`label` must be 'click' or 'dislike'. Received: label={label!r}"
        )
    return _instances(log, label, 0.0)


def _instances(log: EventLog, label: str, rating_threshold: float) -> pd.DataFrame:
    events = log.events
    if label in ("click", "dislike"):
        impressions = log.events_of("impression")
        if impressions.empty:
            raise ValueError(
                f"{log.path or 'event log'}: label={label!r} needs impression events "
                "(each shown item); this dataset has none. Use label='rating' for "
                "rating data."
            )
        feedback = log.events_of(label)
        if "request_id" in events.columns:
            # request_id < 0 is "no request": such a row labels, and is labelled
            # by, only a row outside any request at the same second, never one of
            # another time (matching -1 with -1 would).
            keys = ["user_id", "item_id", "request_id", "_time"]
            impressions, feedback = (
                f.assign(_time=np.where(f["request_id"] >= 0, -1, f["timestamp"]))
                for f in (impressions, feedback)
            )
        else:
            keys = ["user_id", "item_id", "timestamp"]
        clicks = feedback[keys].drop_duplicates()
        if clicks.empty:
            raise ValueError(
                f"{log.path or 'event log'}: label={label!r} needs {label} events; "
                "this dataset has none"
                + (" (DUMN Table 7 cannot run on it)" if label == "dislike" else "")
            )
        clicks = clicks.assign(label=np.float32(1.0))
        frame = impressions.merge(clicks, on=keys, how="left")
        frame["label"] = frame["label"].fillna(0.0).astype(np.float32)
        return frame.drop(columns="_time", errors="ignore")
    ratings = log.events_of("rating")
    if ratings.empty:
        raise ValueError(
            f"{log.path or 'event log'}: label='rating' needs rating events; this "
            "dataset has none."
        )
    frame = ratings.copy()
    frame["label"] = (frame["value"] >= rating_threshold).astype(np.float32)
    return frame


def build_ctr_task(
    log: EventLog,
    label: str = "auto",
    split: str = "time",
    fractions=(0.8, 0.1, 0.1),
    seed: int = 0,
    user_features: tuple[str, ...] | None = None,
    item_features: tuple[str, ...] | None = None,
    crosses: tuple[tuple[str, str], ...] = (),
    rating_threshold: float = 4.0,
    fields: tuple[str, ...] = (),
) -> CTRTask:
    """Turns an event log into CTR instances with categorical fields.

    Instances are impressions labelled by whether the same user clicked the same
    item in the same request (`label="click"`), or marked it as dislike in the
    same request (`label="dislike"`, DUMN Table 7's task; a dislike in a later
    request labels nothing: the label is the feedback on this display), or
    ratings labelled
    `value >= rating_threshold` (`label="rating"`, the ML-1M CTR convention of
    AutoDenoise and pytorch-fm); `label="auto"` picks "click" when the log has
    impressions, else "rating".

    Fields: `user_id`, `item_id`, the user and item feature columns (all integer
    columns of the users / items tables not starting with `truth_` when None), and
    one crossed field per pair in `crosses` (the exact product code, or its
    SplitMix64 hash modulo 2^20 when the product vocabulary is larger: a real
    64-bit mix, so codes congruent modulo 2^20 do not collide systematically).

    Args:
        log: a validated event log.
        label: "auto", "click", "dislike" or "rating".
        split: "time" (global time quantiles, the default) or "random" (seeded).
        fractions: train / validation / test fractions.
        seed: seed of the random split.
        user_features: user columns to use; None = all.
        item_features: item columns to use; None = all.
        crosses: pairs of fields to cross for wide models.
        rating_threshold: positive threshold for `label="rating"` (a rating is
            positive when `value >= rating_threshold`).
        fields: the fields given to the model, in this order (crosses by their
            `a_x_b` name); () = every field. The pytorch-fm MovieLens dataset
            of AutoDenoise uses `("user_id", "item_id")` only.

    Returns:
        A `CTRTask`.
    """
    if label not in LABELS:
        raise ValueError(f"`label` must be one of {LABELS}. Received: label={label!r}")
    if split not in ("time", "random"):
        raise ValueError(
            f"`split` must be 'time' or 'random' for CTR. Received: split={split!r}"
        )
    splits.check_timestamps_support(log.meta, split, log.path or "event log")
    frame = _instances(log, resolve_label(log, label), rating_threshold)
    users = log.users.set_index("user_id")
    items = log.items.set_index("item_id")
    if user_features is None:
        user_features = tuple(c for c in users.columns if not c.startswith("truth_"))
    if item_features is None:
        item_features = tuple(c for c in items.columns if not c.startswith("truth_"))
    for name, table, columns in (
        ("users", users, user_features),
        ("items", items, item_features),
    ):
        unknown = [c for c in columns if c not in table.columns]
        if unknown:
            raise ValueError(
                f"{name} table has no column(s) {unknown}; it has {list(table.columns)}"
            )
    user_idx = frame["user_id"].to_numpy()
    item_idx = frame["item_id"].to_numpy()
    features = {
        "user_id": user_idx.astype(np.int64),
        "item_id": item_idx.astype(np.int64),
    }
    vocab = {"user_id": log.num_users, "item_id": log.num_items}
    for column in user_features:
        values = users[column].to_numpy()
        features[column] = values[user_idx].astype(np.int64)
        vocab[column] = int(values.max()) + 1
    for column in item_features:
        values = items[column].to_numpy()
        features[column] = values[item_idx].astype(np.int64)
        vocab[column] = int(values.max()) + 1
    for a, b in crosses:
        for field in (a, b):
            if field not in features:
                raise ValueError(
                    f"cross ({a!r}, {b!r}): unknown field {field!r}; fields are "
                    f"{sorted(features)}"
                )
        size = vocab[a] * vocab[b]
        code = features[a] * vocab[b] + features[b]
        if size > HASH_BUCKETS:
            code = (hashing.splitmix64(code) % HASH_BUCKETS).astype(np.int64)
            size = HASH_BUCKETS
        features[f"{a}_x_{b}"] = code
        vocab[f"{a}_x_{b}"] = size
    if fields:
        unknown = [f for f in fields if f not in features]
        if unknown:
            raise ValueError(
                f"fields {unknown} are not fields of this CTR task; it has "
                f"{list(features)}"
            )
        features = {f: features[f] for f in fields}
        vocab = {f: vocab[f] for f in fields}
    timestamps = frame["timestamp"].to_numpy(np.int64)
    if split == "time":
        parts = splits.time_split(timestamps, fractions)
    else:
        parts = splits.random_split(len(frame), fractions, seed)
    truth = frame["truth_pref"].to_numpy() if "truth_pref" in frame.columns else None
    labels = frame["label"].to_numpy(np.float32)
    requests = (
        frame["request_id"].to_numpy(np.int64)
        if "request_id" in frame.columns
        else np.full(len(frame), -1, np.int64)
    )

    def part(index):
        mask = parts == index
        if not mask.any():
            raise ValueError(
                f"the {splits.PARTS[index]} part of the split is "
                f"empty (fractions={tuple(fractions)}, {len(frame)} instances)"
            )
        return CTRSplit(
            features={k: v[mask] for k, v in features.items()},
            labels=labels[mask],
            user_ids=user_idx[mask].astype(np.int64),
            timestamps=timestamps[mask],
            truth=None if truth is None else truth[mask],
            request_ids=requests[mask],
        )

    return CTRTask(
        train=part(0),
        validation=part(1),
        test=part(2),
        fields=tuple(features),
        vocabulary_sizes=vocab,
    )
