"""Top-K ranking metrics (HR, NDCG, MRR, recall, precision, F1 @K) and negative sampling.

Conventions shared by every function here:

- Item ids are ints in ``[0, num_items)``.
- ``targets`` holds the relevant items of each row: an int array ``[n]`` (one
  target per row) or ``[n, T]`` padded with ``-1`` (several targets, e.g. the
  next k items). A target repeated in a row counts once; a row without any
  valid target is an error.
- Relevance is binary. Per row, with ``hits`` the targets among the first ``k``
  ranked items and ``|targets|`` the number of distinct targets:

  - ``hr@k``: 1 if ``hits`` is not empty, else 0;
  - ``recall@k``: ``|hits| / |targets|``;
  - ``precision@k``: ``|hits| / k``;
  - ``f1@k``: ``2 P R / (P + R)`` (0 when ``P + R = 0``), which equals
    ``2 |hits| / (k + |targets|)``;
  - ``ndcg@k``: ``sum over hits of 1 / log2(rank + 2)`` divided by the same sum
    for an ideal list with ``min(|targets|, k)`` hits in front (ranks 0-based);
  - ``mrr@k``: ``1 / (rank + 1)`` of the first hit if it is within ``k``, else 0.

  Every metric is computed per row and then averaged over rows; results are
  returned as ``{"hr@10": ..., "ndcg@10": ..., ...}`` with plain Python floats.
- Ties are broken against the target (pessimistic), the one rule of the
  project (`full_ranking_metrics`, `sampled_ranking_metrics`, and the trainer's
  `recsys_tf.training.evaluation.target_ranks` feeding
  `ranking_metrics_from_ranks`): the 0-based rank of a target is the number of
  other candidates whose score is ``>=`` its score. A constant scorer therefore
  gets no credit.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

# -------------------------------------------------- validation


def _is_int(value) -> bool:
    """Whether `value` is a Python or NumPy integer (bools excluded)."""
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, bool
    )


def _as_ks(ks) -> tuple[int, ...]:
    """Returns `ks` (an int or an iterable of ints, each > 0) as a deduplicated tuple."""
    if _is_int(ks):
        ks = (ks,)
    try:
        ks = list(ks)
    except TypeError:
        raise ValueError(
            f"`ks` must be an int or a sequence of ints. Received: ks={ks!r}"
        ) from None
    result = []
    for k in ks:
        if not _is_int(k):
            raise ValueError(f"every k in `ks` must be an int. Received: k={k!r}")
        if k <= 0:
            raise ValueError(f"every k in `ks` must be > 0. Received: k={k!r}")
        if int(k) not in result:
            result.append(int(k))
    if not result:
        raise ValueError("`ks` must not be empty.")
    return tuple(result)


def _as_score_matrix(scores, name: str) -> np.ndarray:
    """Validates a non-empty, NaN-free, 2-D float score matrix."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(
            f"`{name}` must be 2-D with shape [n, num_items]. Received: shape={scores.shape}"
        )
    if scores.size == 0:
        raise ValueError(f"`{name}` must not be empty. Received: shape={scores.shape}")
    if not (np.issubdtype(scores.dtype, np.number) or scores.dtype == np.bool_):
        raise ValueError(f"`{name}` must be numeric. Received: dtype={scores.dtype}")
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    nan = np.isnan(scores)
    if nan.any():
        row, column = np.argwhere(nan)[0]
        raise ValueError(
            f"`{name}` must not contain NaN. Received: NaN at row {row}, column {column}"
        )
    return scores


def _as_targets(
    targets, num_rows: int, num_items: int | None, rows_of: str
) -> np.ndarray:
    """Validates targets and returns them as int64 [n, T] with repeats set to -1.

    Args:
        targets: int array [n] or [n, T], -1 for padding.
        num_rows: expected n.
        num_items: if given, ids must be < num_items.
        rows_of: name of the argument that fixes n, for error messages.

    Returns:
        int64 array [n, T]: each row sorted ascending, padding and repeated ids
        replaced by -1.
    """
    targets = np.asarray(targets)
    if targets.ndim == 1:
        targets = targets[:, None]
    if targets.ndim != 2:
        raise ValueError(
            f"`targets` must have shape [n] or [n, T]. Received: shape={targets.shape}"
        )
    if targets.shape[0] == 0:
        raise ValueError("`targets` must not be empty.")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(
            f"`targets` must be an integer array of item ids. Received: dtype={targets.dtype}"
        )
    if targets.shape[0] != num_rows:
        raise ValueError(
            f"`targets` must have one row per row of `{rows_of}`. "
            f"Received: len(targets)={targets.shape[0]}, len({rows_of})={num_rows}"
        )
    targets = targets.astype(np.int64)
    upper = np.iinfo(np.int64).max if num_items is None else num_items
    bad = (targets < -1) | (targets >= upper)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        expected = "ids >= 0" if num_items is None else f"ids in [0, {num_items})"
        raise ValueError(
            f"`targets` must hold {expected}, or -1 for padding. "
            f"Received: targets[{row}, {column}]={targets[row, column]}"
        )
    targets = np.sort(targets, axis=1)
    if targets.shape[1] > 1:
        repeated = targets[:, 1:] == targets[:, :-1]
        targets[:, 1:][repeated] = -1
    empty = ~(targets >= 0).any(axis=1)
    if empty.any():
        raise ValueError(
            "every row of `targets` must hold at least one item id (not only -1 padding). "
            f"Received: row {int(np.flatnonzero(empty)[0])} has none"
        )
    return targets


def _exclusion_pairs(
    exclude, num_rows: int, num_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Returns (rows, items) of every excluded item, from a mask or per-row id lists."""
    if isinstance(exclude, np.ndarray) and exclude.dtype == np.bool_:
        if exclude.shape != (num_rows, num_items):
            raise ValueError(
                "a boolean `exclude` mask must have shape [n, num_items] = "
                f"{(num_rows, num_items)}. Received: shape={exclude.shape}"
            )
        rows, items = np.nonzero(exclude)
        return rows.astype(np.int64), items.astype(np.int64)
    if (
        isinstance(exclude, np.ndarray)
        and exclude.ndim == 2
        and exclude.dtype != object
    ):
        per_row = exclude  # An id matrix padded with -1.
    else:
        if isinstance(exclude, (str, bytes)) or not isinstance(exclude, Iterable):
            raise ValueError(
                "`exclude` must be a boolean mask [n, num_items] or a sequence of "
                f"per-row id arrays. Received: {type(exclude).__name__}"
            )
        per_row = []
        for ids in exclude:
            ids = np.asarray(ids).reshape(-1)
            per_row.append(ids.astype(np.int64) if ids.size == 0 else ids)
    if len(per_row) != num_rows:
        raise ValueError(
            f"`exclude` must have one entry per row. Received: {len(per_row)} entries "
            f"for {num_rows} rows"
        )
    if isinstance(per_row, np.ndarray):
        lengths = np.full(num_rows, per_row.shape[1], dtype=np.int64)
        items = per_row.reshape(-1)
    else:
        lengths = np.array([ids.shape[0] for ids in per_row], dtype=np.int64)
        items = np.concatenate(per_row) if num_rows else np.zeros(0, np.int64)
    if items.size and not np.issubdtype(items.dtype, np.integer):
        raise ValueError(
            f"`exclude` ids must be integers. Received: dtype={items.dtype}"
        )
    items = items.astype(np.int64)
    rows = np.repeat(np.arange(num_rows, dtype=np.int64), lengths)
    bad = (items < -1) | (items >= num_items)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`exclude` ids must be in [0, {num_items}) (or -1 for padding). "
            f"Received: {items[index]} in row {rows[index]}"
        )
    keep = items >= 0
    return rows[keep], items[keep]


def _exclusion_mask(exclude, num_rows: int, num_items: int) -> np.ndarray:
    """Returns `exclude` as a dense boolean mask [n, num_items]."""
    if isinstance(exclude, np.ndarray) and exclude.dtype == np.bool_:
        _exclusion_pairs(exclude, num_rows, num_items)  # Shape check only.
        return exclude
    mask = np.zeros((num_rows, num_items), dtype=bool)
    rows, items = _exclusion_pairs(exclude, num_rows, num_items)
    mask[rows, items] = True
    return mask


# ------------------------------------------------ metrics core


def _metrics_from_positions(positions: np.ndarray, num_targets: np.ndarray, ks) -> dict:
    """Averages the ranking metrics over rows from the 0-based positions of targets.

    Args:
        positions: float array [n, T]: position of each distinct target in the
            ranked list, ``inf`` if it is absent (or a padding slot). Finite
            positions are distinct within a row.
        num_targets: int array [n], number of distinct targets per row (>= 1).
        ks: validated tuple of cutoffs.

    Returns:
        Dict ``{"hr@k", "ndcg@k", "mrr@k", "recall@k", "precision@k", "f1@k"}``
        for every k, in the order of `ks`.
    """
    num_targets = num_targets.astype(np.float64)
    # 1 / log2(position + 2) is 0 for position = inf.
    gains = 1.0 / np.log2(positions + 2.0)
    first = positions.min(axis=1)
    ideal = np.cumsum(1.0 / np.log2(np.arange(max(ks), dtype=np.float64) + 2.0))
    results = {}
    for k in ks:
        inside = positions < k
        hits = inside.sum(axis=1).astype(np.float64)
        dcg = np.where(inside, gains, 0.0).sum(axis=1)
        idcg = ideal[np.minimum(num_targets, k).astype(np.int64) - 1]
        results[f"hr@{k}"] = float(np.mean(hits > 0))
        results[f"ndcg@{k}"] = float(np.mean(dcg / idcg))
        results[f"mrr@{k}"] = float(
            np.mean(np.where(first < k, 1.0 / (first + 1.0), 0.0))
        )
        results[f"recall@{k}"] = float(np.mean(hits / num_targets))
        results[f"precision@{k}"] = float(np.mean(hits / k))
        results[f"f1@{k}"] = float(np.mean(2.0 * hits / (k + num_targets)))
    return results


# -------------------------------------------------- public API


def ranking_metrics_from_ranks(ranks, ks) -> dict:
    """HR, NDCG, MRR, recall, precision and F1 @k of one target per row from its rank.

    ``ranks[r]`` is the 0-based rank of row r's target among its candidates,
    computed with pessimistic ties (the number of other candidates scoring
    ``>=`` the target, as `full_ranking_metrics` and `sampled_ranking_metrics`
    do). Then ``hr@k = recall@k = [rank < k]``, ``ndcg@k = hr@k / log2(rank +
    2)``, ``mrr@k = hr@k / (rank + 1)``, ``precision@k = hr@k / k`` and ``f1@k
    = 2 hr@k / (k + 1)``, averaged over rows.

    Args:
        ranks: int array [n] of ranks >= 0.
        ks: an int or a sequence of ints > 0, the cut-offs.

    Returns:
        Dict mapping ``"hr@k"``, ``"ndcg@k"``, ``"mrr@k"``, ``"recall@k"``,
        ``"precision@k"``, ``"f1@k"`` for every k in `ks` to the mean over rows.

    Raises:
        ValueError: if `ranks` is empty, not 1-D, not integer or negative, or if
            `ks` is empty or holds a k <= 0.

    Example:

    >>> ranking_metrics_from_ranks([0, 3], ks=[1])["hr@1"]
    0.5
    """
    ks = _as_ks(ks)
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or ranks.size == 0:
        raise ValueError(
            f"`ranks` must be a non-empty 1-D array. Received: shape={ranks.shape}"
        )
    if not np.issubdtype(ranks.dtype, np.integer):
        raise ValueError(f"`ranks` must hold integers. Received: dtype={ranks.dtype}")
    if (ranks < 0).any():
        row = int(np.flatnonzero(ranks < 0)[0])
        raise ValueError(f"`ranks` must be >= 0. Received: ranks[{row}]={ranks[row]}")
    positions = ranks.astype(np.float64)[:, None]
    return _metrics_from_positions(positions, np.ones(len(ranks)), ks)


def full_ranking_metrics(scores, targets, ks, exclude=None) -> dict:
    """Ranking metrics @k of the targets among all items, with pessimistic ties.

    Every item of a row is a candidate except the excluded ones; a target is
    always a candidate, even if `exclude` lists it (so repeat consumption is not
    made unrankable). The 0-based rank of a target ``t`` among the non-target
    candidates is ``c_t = #{j not a target, not excluded: s_j >= s_t}``: ties
    go against the target, and a constant scorer gets no credit. With one
    target per row its rank is ``c_t`` and it is a hit @k iff ``c_t < k``.

    With several targets, the ranked list is: score descending, and among equal
    scores every non-target before every target (targets tied with each other
    are interchangeable, as relevance is binary). The target with the i-th
    highest score (0-based) then sits at position ``c_t + i``.

    Ranks are computed by counting, in O(n * num_items * T), without sorting;
    the metric definitions are in the module docstring.

    Args:
        scores: float array [n, num_items]; NaN is not allowed, ``-inf`` is.
        targets: int array [n] or [n, T] of item ids in ``[0, num_items)``,
            ``-1`` padded; repeated ids count once.
        ks: an int or a sequence of ints > 0, the cut-offs.
        exclude: optional items to remove from the candidates: a boolean mask
            [n, num_items] or a sequence of n per-row id arrays (``-1`` ignored).

    Returns:
        Dict mapping ``"hr@k"``, ``"ndcg@k"``, ``"mrr@k"``, ``"recall@k"``,
        ``"precision@k"``, ``"f1@k"`` for every k in `ks` to the mean over rows.

    Raises:
        ValueError: if `scores` is not a non-empty 2-D array or contains NaN, if
            `ks` is empty or holds a k <= 0, if `targets` has another number of
            rows, ids outside ``[0, num_items)`` or a row with no target, or if
            `exclude` is malformed.

    Example:

    >>> m = full_ranking_metrics([[0.3, 0.9, 0.3, 0.1]], [2], ks=[1, 2])
    >>> m["hr@1"], m["hr@2"], m["mrr@2"]
    (0.0, 0.0, 0.0)

    (Item 2 ties with item 0, so its rank is 2: items 1 and 0 go first.)
    """
    ks = _as_ks(ks)
    scores = _as_score_matrix(scores, "scores")
    num_rows, num_items = scores.shape
    targets = _as_targets(targets, num_rows, num_items, "scores")
    valid = targets >= 0
    row_index = np.arange(num_rows)[:, None]
    target_scores = np.where(valid, scores[row_index, np.maximum(targets, 0)], -np.inf)

    eligible = None
    if exclude is not None:
        eligible = ~_exclusion_mask(exclude, num_rows, num_items)
        columns = np.where(valid, targets, 0)
        rows = np.broadcast_to(row_index, targets.shape)
        eligible[rows[valid], columns[valid]] = True  # Targets stay candidates.

    # c_t = #{eligible j: s_j >= s_t} - #{targets u: s_u >= s_t}.
    at_least = np.zeros(targets.shape, dtype=np.int64)
    for column in range(targets.shape[1]):
        if not valid[:, column].any():
            continue
        above = scores >= target_scores[:, column : column + 1]
        if eligible is not None:
            above &= eligible
        at_least[:, column] = above.sum(axis=1)
    targets_above = (
        (target_scores[:, None, :] >= target_scores[:, :, None]) & valid[:, None, :]
    ).sum(axis=2)
    others_above = at_least - targets_above

    # Position of the i-th best target = its count of non-targets above + i.
    order = np.lexsort((-target_scores, ~valid), axis=1)
    sorted_valid = np.take_along_axis(valid, order, axis=1)
    sorted_others = np.take_along_axis(others_above, order, axis=1)
    positions = np.where(
        sorted_valid, sorted_others + np.arange(targets.shape[1]), np.inf
    ).astype(np.float64)
    return _metrics_from_positions(positions, valid.sum(axis=1), ks)


def sample_negatives(
    num_items: int, positives, num_negatives: int, seed, exclude=None
) -> np.ndarray:
    """Draws distinct negative items per row, uniformly among the eligible ones.

    The eligible items of a row are all of ``[0, num_items)`` except its
    positives and its `exclude` ids (typically every item the user interacted
    with). Each row gets `num_negatives` distinct eligible ids, a uniform
    sample without replacement, in random order. The sampler works on a row's
    eligible *ranks* ``r in [0, E)`` and maps them to ids by skipping the
    row's sorted forbidden ids, so it never builds a dense [n, num_items] mask:
    rows with ``E >= 2 * num_negatives`` use vectorised rejection rounds
    (rejecting only repeats), the others a random permutation of ``[0, E)``.

    Args:
        num_items: size of the item vocabulary (> 0).
        positives: int array [n] or [n, T] of the row's positive ids in
            ``[0, num_items)``, ``-1`` padded; n sets the number of rows.
        num_negatives: negatives per row (> 0).
        seed: seed of `np.random.default_rng`; the same seed and inputs give
            the same output.
        exclude: optional further ids to avoid per row: a boolean mask
            [n, num_items] or a sequence of n per-row id arrays (``-1`` ignored).

    Returns:
        int64 array [n, num_negatives] of item ids.

    Raises:
        ValueError: if `num_items` or `num_negatives` is not > 0, if `positives`
            or `exclude` is malformed or holds ids outside ``[0, num_items)``, or
            if a row has fewer than `num_negatives` eligible items (the message
            names the first such row).

    Example:

    >>> negatives = sample_negatives(10, [0, 1], num_negatives=3, seed=0, exclude=[[2], []])
    >>> negatives.shape
    (2, 3)
    """
    for name, value in (("num_items", num_items), ("num_negatives", num_negatives)):
        if not _is_int(value):
            raise ValueError(f"`{name}` must be an int. Received: {name}={value!r}")
        if value <= 0:
            raise ValueError(f"`{name}` must be > 0. Received: {name}={value}")
    num_items = int(num_items)
    num_negatives = int(num_negatives)
    positives = np.asarray(positives)
    if positives.ndim == 1:
        positives = positives[:, None]
    if positives.ndim != 2 or positives.shape[0] == 0:
        raise ValueError(
            f"`positives` must be a non-empty array [n] or [n, T]. Received: shape={positives.shape}"
        )
    if not np.issubdtype(positives.dtype, np.integer):
        raise ValueError(
            f"`positives` must hold integer ids. Received: dtype={positives.dtype}"
        )
    num_rows = positives.shape[0]
    positives = positives.astype(np.int64)
    bad = (positives < -1) | (positives >= num_items)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise ValueError(
            f"`positives` must hold ids in [0, {num_items}) or -1 for padding. "
            f"Received: positives[{row}, {column}]={positives[row, column]}"
        )

    # Forbidden ids of every row as sorted, unique keys row * num_items + id.
    rows = np.repeat(np.arange(num_rows, dtype=np.int64), positives.shape[1])
    items = positives.reshape(-1)
    keep = items >= 0
    rows, items = rows[keep], items[keep]
    if exclude is not None:
        exclude_rows, exclude_items = _exclusion_pairs(exclude, num_rows, num_items)
        rows = np.concatenate([rows, exclude_rows])
        items = np.concatenate([items, exclude_items])
    forbidden = np.sort(rows * num_items + items)
    if forbidden.size > 1:  # np.unique's hashing is far slower than sort-and-compare.
        forbidden = forbidden[np.append(True, forbidden[1:] != forbidden[:-1])]
    forbidden_rows, forbidden_items = np.divmod(forbidden, num_items)
    num_forbidden = np.bincount(forbidden_rows, minlength=num_rows)
    num_eligible = num_items - num_forbidden
    short = num_eligible < num_negatives
    if short.any():
        row = int(np.flatnonzero(short)[0])
        raise ValueError(
            f"row {row} has only {num_eligible[row]} eligible items (num_items={num_items} "
            f"minus {num_forbidden[row]} positives and excluded ids), fewer than "
            f"num_negatives={num_negatives}"
        )

    rng = np.random.default_rng(seed)
    ranks = np.full((num_rows, num_negatives), -1, dtype=np.int64)

    # Small rows: the first num_negatives entries of a random permutation of [0, E).
    small = np.flatnonzero(num_eligible < 2 * num_negatives)
    if small.size:
        width = int(num_eligible[small].max())
        noise = rng.random((small.size, width))
        noise[np.arange(width)[None, :] >= num_eligible[small][:, None]] = np.inf
        ranks[small] = np.argsort(noise, axis=1)[:, :num_negatives]

    # Large rows: draw ranks uniformly, keep the first occurrence of each.
    filled = np.zeros(num_rows, dtype=np.int64)
    filled[small] = num_negatives
    active = np.flatnonzero(filled < num_negatives)
    while active.size:
        need = num_negatives - filled[active]
        width = int(need.max()) + int(need.max()) // 4 + 4
        draws = rng.integers(
            0, num_eligible[active][:, None], size=(active.size, width)
        )
        # Earlier picks go first so that a repeat of one is rejected (none yet in
        # the first round).
        earlier = ranks[active] if filled[active].any() else ranks[active, :0]
        combined = np.concatenate([earlier, draws], axis=1)
        # Sorting value * width + column (faster than a stable argsort) groups
        # equal values with the earliest column first.
        total = combined.shape[1]
        packed = np.sort(combined * total + np.arange(total), axis=1)
        values, columns = np.divmod(packed, total)
        first = np.ones(packed.shape, dtype=bool)
        first[:, 1:] = values[:, 1:] != values[:, :-1]
        is_first = np.empty_like(first)
        np.put_along_axis(is_first, columns, first, axis=1)
        new = is_first[:, earlier.shape[1] :]
        slot = filled[active][:, None] + np.cumsum(new, axis=1) - 1
        accept = new & (slot < num_negatives)
        accept_rows = np.broadcast_to(active[:, None], accept.shape)[accept]
        ranks[accept_rows, slot[accept]] = draws[accept]
        filled[active] = np.minimum(slot[:, -1] + 1, num_negatives)
        active = active[filled[active] < num_negatives]

    # Rank r of row i -> the r-th eligible id: r + #{forbidden ids f of row i with
    # f - (number of forbidden ids of row i below f) <= r}.
    starts = np.concatenate([[0], np.cumsum(num_forbidden)[:-1]])
    skip = forbidden_items - (np.arange(forbidden.size) - starts[forbidden_rows])
    skip_keys = forbidden_rows * (num_items + 1) + skip
    query = np.arange(num_rows, dtype=np.int64)[:, None] * (num_items + 1) + ranks
    skipped = np.searchsorted(skip_keys, query, side="right") - starts[:, None]
    return ranks + skipped


def sampled_ranking_metrics(target_scores, negative_scores, ks) -> dict:
    """Ranking metrics @k of one target ranked among its sampled negatives.

    The protocol of NCF-style evaluation: each row's target is ranked against
    ``N`` sampled negatives. Its 0-based rank is ``#{negatives with score >=
    target score}``: ties go against the target, so a constant scorer gets no
    credit. Then ``hr@k = [rank < k]``, ``ndcg@k = hr@k / log2(rank + 2)``,
    ``mrr@k = hr@k / (rank + 1)``, ``recall@k = hr@k``, ``precision@k =
    hr@k / k`` and ``f1@k = 2 hr@k / (k + 1)``, averaged over rows.

    Args:
        target_scores: float array [n] (or [n, 1]) of target scores.
        negative_scores: float array [n, N] of the negatives' scores.
        ks: an int or a sequence of ints > 0, the cut-offs (k > N is allowed:
            every row is then a hit).

    Returns:
        Dict mapping ``"hr@k"``, ``"ndcg@k"``, ``"mrr@k"``, ``"recall@k"``,
        ``"precision@k"``, ``"f1@k"`` for every k in `ks` to the mean over rows.

    Raises:
        ValueError: if an input is empty, has the wrong rank, contains NaN, if
            the row counts differ, or if `ks` is empty or holds a k <= 0.

    Example:

    >>> m = sampled_ranking_metrics([0.5, 0.2], [[0.1, 0.7, 0.5], [0.0, 0.1, 0.3]], ks=[2])
    >>> m["hr@2"], m["mrr@2"]
    (0.5, 0.25)

    (Row 0: 0.7 and the tied 0.5 beat the target, rank 2, a miss at k=2; row 1:
    rank 1, a hit with reciprocal rank 1/2.)
    """
    ks = _as_ks(ks)
    target_scores = np.asarray(target_scores)
    if target_scores.ndim == 2 and target_scores.shape[1] == 1:
        target_scores = target_scores[:, 0]
    if target_scores.ndim != 1:
        raise ValueError(
            "`target_scores` must have shape [n] (one target per row). "
            f"Received: shape={target_scores.shape}"
        )
    target_scores = _as_score_matrix(target_scores[:, None], "target_scores")[:, 0]
    negative_scores = _as_score_matrix(negative_scores, "negative_scores")
    if negative_scores.shape[0] != target_scores.shape[0]:
        raise ValueError(
            "`target_scores` and `negative_scores` must have the same number of rows. "
            f"Received: {target_scores.shape[0]} and {negative_scores.shape[0]}"
        )
    rank = (negative_scores >= target_scores[:, None]).sum(axis=1)
    return ranking_metrics_from_ranks(rank, ks)
