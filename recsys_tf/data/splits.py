"""Train / validation / test splits that never leak the future into training."""

from __future__ import annotations

import numpy as np

SPLITS = ("time", "random", "leave_one_out")
PARTS = ("train", "validation", "test")
"""Names of the part indices 0, 1, 2 that the split functions assign."""


# What the timestamps of a dataset mean (`meta.json` "timestamps"; real seconds
# when absent) and which splits each supports.
TIMESTAMP_SPLITS = {
    "seconds": ("time", "random", "leave_one_out"),
    "order": ("random", "leave_one_out"),
    "absent": ("random",),
}


def check_timestamps_support(meta: dict, split: str, where: str = "event log") -> None:
    """Refuses a split the dataset's timestamps cannot support.

    A global time split needs real times; leave-one-out needs at least each user's
    order; data without timestamps (e.g. ML-1M ratings without their times) only
    supports the random split.
    """
    kind = meta.get("timestamps", "seconds")
    if kind not in TIMESTAMP_SPLITS:
        raise ValueError(
            f"{where}: meta 'timestamps' must be one of {sorted(TIMESTAMP_SPLITS)}, "
            f"got {kind!r}"
        )
    if split not in TIMESTAMP_SPLITS[kind]:
        raise ValueError(
            f"{where}: split={split!r} needs real timestamps, but this dataset's are "
            f"{kind!r}; it supports split in {TIMESTAMP_SPLITS[kind]}"
        )


def check_fractions(fractions) -> tuple[float, float, float]:
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(
            "`fractions` must be three non-negative numbers (train, validation, "
            f"test) summing to 1. Received: fractions={fractions}"
        )
    return fractions


def time_split(timestamps: np.ndarray, fractions=(0.8, 0.1, 0.1)) -> np.ndarray:
    """Assigns each row to 0 (train), 1 (validation) or 2 (test) by global time.

    The two cut points are the `fractions` quantiles of `timestamps`; every row at
    or after a cut goes to the later part, so no training row is later than any
    validation or test row.

    Returns:
        int8 array [n] of part indices.
    """
    fractions = check_fractions(fractions)
    timestamps = np.asarray(timestamps)
    if timestamps.size == 0:
        raise ValueError("`timestamps` is empty: nothing to split.")
    cuts = np.quantile(timestamps, [fractions[0], fractions[0] + fractions[1]])
    cuts = np.ceil(cuts).astype(timestamps.dtype)
    parts = np.zeros(len(timestamps), np.int8)
    parts[timestamps >= cuts[0]] = 1
    parts[timestamps >= cuts[1]] = 2
    return parts


def random_split(n: int, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> np.ndarray:
    """Seeded random split of `n` rows (the AutoDenoise / pytorch-fm ML-1M protocol)."""
    fractions = check_fractions(fractions)
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    parts = np.empty(n, np.int8)
    parts[order[:n_train]] = 0
    parts[order[n_train : n_train + n_val]] = 1
    parts[order[n_train + n_val :]] = 2
    return parts


def leave_one_out_split(user_ids: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """Per user: last event -> test (2), second last -> validation (1), rest -> train.

    Ties in time are broken by row order. Users with one event only keep it for
    training; with two, the last goes to test and none to validation.
    """
    user_ids = np.asarray(user_ids)
    order = np.lexsort((np.arange(len(user_ids)), timestamps, user_ids))
    sorted_users = user_ids[order]
    is_last = np.ones(len(order), bool)
    is_last[:-1] = sorted_users[1:] != sorted_users[:-1]
    is_second = np.zeros(len(order), bool)
    is_second[:-1] = is_last[1:] & ~is_last[:-1]
    # A user with a single event keeps it for training.
    first = np.ones(len(order), bool)
    first[1:] = sorted_users[1:] != sorted_users[:-1]
    parts_sorted = np.zeros(len(order), np.int8)
    parts_sorted[is_last & ~first] = 2
    second_first = np.zeros(len(order), bool)
    second_first[:-1] = first[:-1] & is_last[1:]
    parts_sorted[is_second & ~second_first] = 1
    parts = np.empty(len(order), np.int8)
    parts[order] = parts_sorted
    return parts
