"""Click-prediction metrics: ROC AUC, log loss and group AUC (gAUC).

All functions take NumPy arrays (or anything `np.asarray` accepts) holding the
whole evaluation set, are vectorised, validate their inputs (raising
`ValueError` that names the offending argument) and return plain Python floats.

Labels are binary: booleans or numbers equal to 0 or 1. A score or label vector
may be 1-D ``[n]`` or a model output of shape ``[n, 1]``.
"""

from __future__ import annotations

import numpy as np


def _as_vector(values, name: str) -> np.ndarray:
    """Returns `values` as a non-empty 1-D array, accepting ``[n, 1]`` too."""
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"`{name}` must be 1-D with shape [n] (or [n, 1]). Received: shape={array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"`{name}` must not be empty.")
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise ValueError(f"`{name}` must be numeric. Received: dtype={array.dtype}")
    return array


def _check_labels(labels) -> np.ndarray:
    """Validates binary labels and returns them as float64."""
    labels = _as_vector(labels, "labels")
    labels = labels.astype(np.float64)
    nan = np.isnan(labels)
    if nan.any():
        index = int(np.flatnonzero(nan)[0])
        raise ValueError(
            f"`labels` must not contain NaN. Received: NaN at index {index}"
        )
    bad = (labels != 0) & (labels != 1)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`labels` must be 0 or 1. Received: labels[{index}]={labels[index]!r}"
        )
    return labels


def _check_scores(scores, name: str, size: int) -> np.ndarray:
    """Validates a NaN-free score vector of length `size`, returned as float64."""
    scores = _as_vector(scores, name).astype(np.float64)
    if scores.shape[0] != size:
        raise ValueError(
            f"`labels` and `{name}` must have the same length. "
            f"Received: len(labels)={size}, len({name})={scores.shape[0]}"
        )
    nan = np.isnan(scores)
    if nan.any():
        index = int(np.flatnonzero(nan)[0])
        raise ValueError(
            f"`{name}` must not contain NaN. Received: NaN at index {index}"
        )
    return scores


def _grouped_auc(groups: np.ndarray, labels: np.ndarray, scores: np.ndarray):
    """Mann-Whitney AUC of every group at once.

    Sorts by (group, score); items with equal (group, score) share the average
    of the ranks they span, so ties count one half.

    Args:
        groups: int array [n] with values in ``0..num_groups-1``, every value used.
        labels: float array [n] of 0/1.
        scores: float array [n], NaN-free.

    Returns:
        A tuple ``(auc, size, defined)`` of arrays [num_groups]: the AUC of each
        group (0 where undefined), its number of rows, and whether it holds both
        classes.
    """
    n = labels.shape[0]
    order = np.lexsort((scores, groups))
    sorted_groups = groups[order]
    sorted_scores = scores[order]
    sorted_labels = labels[order]

    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(sorted_groups[1:], sorted_groups[:-1], out=new_group[1:])
    new_tie = new_group.copy()
    new_tie[1:] |= sorted_scores[1:] != sorted_scores[:-1]

    # Average 0-based position of each run of equal (group, score).
    tie_starts = np.flatnonzero(new_tie)
    tie_ends = np.append(tie_starts[1:], n)
    tie_position = (tie_starts + tie_ends - 1) / 2.0
    tie_index = np.cumsum(new_tie) - 1
    group_starts = np.flatnonzero(new_group)
    ranks = tie_position[tie_index] - group_starts[sorted_groups] + 1.0  # 1-based.

    num_groups = group_starts.shape[0]
    size = np.bincount(sorted_groups, minlength=num_groups).astype(np.float64)
    positives = np.bincount(sorted_groups, weights=sorted_labels, minlength=num_groups)
    negatives = size - positives
    positive_rank_sum = np.bincount(
        sorted_groups, weights=ranks * sorted_labels, minlength=num_groups
    )
    defined = (positives > 0) & (negatives > 0)
    pairs = np.where(defined, positives * negatives, 1.0)
    auc = (positive_rank_sum - positives * (positives + 1.0) / 2.0) / pairs
    return np.where(defined, auc, 0.0), size, defined


def auc(labels, scores) -> float:
    """Area under the ROC curve, by the Mann-Whitney rank statistic.

    With ``R`` the sum of the 1-based ranks of the positives among all scores
    (ascending), ``AUC = (R - P (P + 1) / 2) / (P N)`` for ``P`` positives and
    ``N`` negatives. Tied scores get the average of the ranks they span, so a
    positive-negative pair with equal scores counts 1/2 and a constant scorer
    gets exactly 0.5.

    Args:
        labels: binary labels, shape [n] (0/1 or bool).
        scores: real-valued scores or probabilities, shape [n]; higher means
            more likely positive. Infinite values are allowed, NaN is not.

    Returns:
        The AUC as a Python float in [0, 1].

    Raises:
        ValueError: if the inputs are empty, differ in length, are not 1-D,
            contain NaN, if a label is not 0 or 1, or if only one class is present.

    Example:

    >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75

    Reference: Hanley and McNeil, "The meaning and use of the area under a
    receiver operating characteristic (ROC) curve", Radiology 1982.
    """
    labels = _check_labels(labels)
    scores = _check_scores(scores, "scores", labels.shape[0])
    groups = np.zeros(labels.shape[0], dtype=np.int64)
    value, _, defined = _grouped_auc(groups, labels, scores)
    if not defined[0]:
        raise ValueError(
            "`labels` must contain both classes (0 and 1) for AUC to be defined. "
            f"Received: only {int(labels[0])}s"
        )
    return float(value[0])


def logloss(labels, probabilities, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy of predicted probabilities.

    ``-mean(y log p + (1 - y) log(1 - p))`` with ``p`` clipped to
    ``[eps, 1 - eps]`` so that a confident mistake costs a large but finite loss.

    Args:
        labels: binary labels, shape [n] (0/1 or bool).
        probabilities: predicted probabilities of the positive class, shape [n],
            each in [0, 1] (pass ``sigmoid(logits)``, not logits).
        eps: clipping constant, ``0 < eps < 0.5``.

    Returns:
        The mean log loss (natural logarithm) as a Python float.

    Raises:
        ValueError: if the inputs are empty, differ in length, are not 1-D,
            contain NaN, if a label is not 0 or 1, if a probability is outside
            [0, 1], or if `eps` is outside (0, 0.5).

    Example:

    >>> round(logloss([1, 0], [0.5, 0.5]), 6)
    0.693147
    """
    if not 0.0 < eps < 0.5:
        raise ValueError(f"`eps` must be in (0, 0.5). Received: eps={eps!r}")
    labels = _check_labels(labels)
    probabilities = _check_scores(probabilities, "probabilities", labels.shape[0])
    outside = (probabilities < 0.0) | (probabilities > 1.0)
    if outside.any():
        index = int(np.flatnonzero(outside)[0])
        raise ValueError(
            "`probabilities` must be in [0, 1]. "
            f"Received: probabilities[{index}]={probabilities[index]!r}"
        )
    clipped = np.clip(probabilities, eps, 1.0 - eps)
    losses = -(labels * np.log(clipped) + (1.0 - labels) * np.log1p(-clipped))
    return float(losses.mean())


def gauc(user_ids, labels, scores) -> float:
    """Group AUC: per-user AUC averaged with weights = the user's impressions.

    DIN (Zhou et al. 2018) Eq. (9): ``gAUC = sum_u w_u AUC_u / sum_u w_u`` with
    ``w_u`` the number of impressions (rows) of user ``u``. Users whose rows are
    all positive or all negative have no AUC and are left out of both sums. The
    per-user AUC is the Mann-Whitney statistic of `auc`, ties counting one half,
    computed for all users at once by sorting on (user, score).

    Args:
        user_ids: the user (or any group key) of each row, shape [n]; any values
            `np.unique` can sort (ints, strings).
        labels: binary labels, shape [n] (0/1 or bool).
        scores: real-valued scores, shape [n]; NaN is not allowed.

    Returns:
        The gAUC as a Python float in [0, 1].

    Raises:
        ValueError: if the inputs are empty, differ in length, are not 1-D,
            contain NaN, if a label is not 0 or 1, or if no user has both a
            positive and a negative row.

    Example:

    >>> gauc([7, 7, 7, 9, 9, 5], [1, 0, 0, 0, 1, 1], [0.9, 0.1, 0.95, 0.3, 0.2, 0.5])
    0.3

    (User 7: AUC 1/2 over 3 rows; user 9: AUC 0 over 2 rows; user 5 has no
    negative and is skipped: ``(3 * 0.5 + 2 * 0) / 5 = 0.3``.)

    Reference: Zhou et al., "Deep Interest Network for Click-Through Rate
    Prediction", KDD 2018.
    """
    labels = _check_labels(labels)
    scores = _check_scores(scores, "scores", labels.shape[0])
    user_ids = np.asarray(user_ids)
    if user_ids.ndim == 2 and user_ids.shape[1] == 1:
        user_ids = user_ids[:, 0]
    if user_ids.ndim != 1:
        raise ValueError(
            f"`user_ids` must be 1-D with shape [n]. Received: shape={user_ids.shape}"
        )
    if user_ids.shape[0] != labels.shape[0]:
        raise ValueError(
            "`user_ids` and `labels` must have the same length. "
            f"Received: len(user_ids)={user_ids.shape[0]}, len(labels)={labels.shape[0]}"
        )
    if np.issubdtype(user_ids.dtype, np.floating) and np.isnan(user_ids).any():
        raise ValueError("`user_ids` must not contain NaN.")
    _, groups = np.unique(user_ids, return_inverse=True)
    groups = groups.reshape(-1).astype(np.int64)
    value, size, defined = _grouped_auc(groups, labels, scores)
    if not defined.any():
        raise ValueError(
            "gAUC is undefined: no user in `user_ids` has both a positive and a "
            "negative row in `labels`."
        )
    weights = size[defined]
    return float(np.sum(weights * value[defined]) / np.sum(weights))
