"""Evaluation of trained models (and of score functions such as the oracle)."""

from __future__ import annotations

import os

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from recsys_tf import metrics
from recsys_tf.data.input import make_dataset, trim_left_padding

SORTED_BATCH = 1024  # batch of the length-sorted queries of `predict_queries`


def ctr_metrics(labels, probabilities, user_ids) -> dict[str, float]:
    """`auc`, `gauc` and `logloss` of click probabilities."""
    return {
        "auc": metrics.auc(labels, probabilities),
        "gauc": metrics.gauc(user_ids, labels, probabilities),
        "logloss": metrics.logloss(labels, probabilities),
    }


def predict_ctr(model, split, batch_size: int = 8192, transform=None) -> np.ndarray:
    """Click probabilities of a CTR model on a `CTRSplit`; `transform` (a
    `Dataset.map` function of the batches, e.g. `window_trimmer`) when given."""
    dataset = make_dataset(split.features, batch_size=batch_size)
    if transform is not None:
        dataset = dataset.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    logits = model.predict(dataset, verbose=0)
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64).reshape(-1)))


def predict_queries(model, features, batch_size: int = 4096) -> np.ndarray:
    """Query vectors `[n, dim]` of a retrieval model for the given inputs.

    For a model whose queries ignore the padding's width (`padding_invariant`),
    the rows are taken in order of history length, at most `SORTED_BATCH` at a
    time, each batch cut to the columns it uses: the same queries, with little
    work spent on padding. Not for a model compiled with XLA (`model.jit_compile`),
    which would compile a program per batch width.
    """
    if not getattr(model, "padding_invariant", False) or getattr(
        model, "jit_compile", False
    ):
        dataset = make_dataset(features, batch_size=batch_size)
        return np.asarray(model.predict(dataset, verbose=0))
    order = np.argsort(np.asarray(features["history_mask"]).sum(axis=1), kind="stable")
    dataset = make_dataset(
        {name: np.asarray(value)[order] for name, value in features.items()},
        batch_size=min(batch_size, SORTED_BATCH),
    ).map(trim_left_padding)
    queries = np.asarray(model.predict(dataset, verbose=0))
    out = np.empty_like(queries)
    out[order] = queries
    return out


def _queries_and_candidates(model, split, batch_size):
    """Queries `[n, d]` and candidates `[num_items, d]`, item biases folded in."""
    queries = predict_queries(model, split.features(), batch_size)
    queries = model.retrieval_queries(keras.ops.convert_to_tensor(queries))
    return (
        keras.ops.convert_to_numpy(queries),
        keras.ops.convert_to_numpy(model.candidate_embeddings()),
    )


def model_scores(model, split, batch_size: int = 4096):
    """Score function `rows -> [len(rows), num_items]` of a retrieval model.

    Queries are computed once; a call multiplies the rows' queries by every
    candidate (item biases folded in), in float32.
    """
    queries, candidates = _queries_and_candidates(model, split, batch_size)
    candidates = np.ascontiguousarray(candidates.T)
    return lambda rows: queries[rows] @ candidates


def target_ranks(
    score_fn, split, exclude_history: bool = False, chunk_elements: int = 1 << 24
) -> np.ndarray:
    """The 0-based rank of every row's target in full ranking, ties pessimistic.

    ``rank = #{items j != target, j a candidate: s_j >= s_target}``: a tie counts
    against the target (the rule of `metrics.full_ranking_metrics`). Every item
    is a candidate except, with `exclude_history`, the user's items before the
    target (`RetrievalSplit.earlier_items`); the target itself always stays one.
    Scores are computed in chunks of about `chunk_elements` scores, so memory
    stays flat whatever the number of rows.

    Args:
        score_fn: `rows -> [len(rows), num_items]` float scores (no NaN).
        split: a `RetrievalSplit`.
        exclude_history: remove the user's earlier items from the candidates.
        chunk_elements: scores per chunk.

    Returns:
        int32 array [len(split)].
    """
    num_rows = len(split.targets)
    ranks = np.empty(num_rows, np.int32)
    step = 256  # Until the first chunk tells the catalogue size.
    start = 0
    while start < num_rows:
        rows = np.arange(start, min(start + step, num_rows))
        scores = np.asarray(score_fn(rows))
        if np.isnan(scores).any():
            row = rows[np.flatnonzero(np.isnan(scores).any(axis=1))[0]]
            raise ValueError(f"the scores of row {row} contain NaN")
        local = np.arange(len(rows))
        target = scores[local, split.targets[rows]][:, None]
        above = (scores >= target).sum(axis=1) - 1  # -1: the target itself
        if exclude_history:
            row, item = split.earlier_items(rows)
            excluded = scores[row, item] >= target[row, 0]
            above -= np.bincount(row[excluded], minlength=len(rows))
        ranks[rows] = above
        start = rows[-1] + 1
        step = max(1, chunk_elements // scores.shape[1])
    return ranks


def evaluate_scores(score_fn, split, ks=(10, 50, 100), exclude_history=False):
    """Full-ranking metrics of a NumPy score function `rows -> [len(rows), num_items]`."""
    ranks = target_ranks(score_fn, split, exclude_history)
    return metrics.ranking_metrics_from_ranks(ranks, ks)


def evaluate_retrieval(
    model, split, ks=(10, 50, 100), batch_size: int = 4096, exclude_history=False
):
    """Full-ranking HR / NDCG / MRR / recall / precision / F1 @k of a retrieval model."""
    return evaluate_scores(
        model_scores(model, split, batch_size), split, ks, exclude_history
    )


def user_items(log) -> dict[int, np.ndarray]:
    """Every item each user has an event with (any type) in the event log."""
    users = log.events["user_id"].to_numpy(np.int64)
    items = log.events["item_id"].to_numpy(np.int64)
    pairs = np.sort(users * log.num_items + items)  # np.unique's hashing is slower
    pairs = pairs[np.append(True, pairs[1:] != pairs[:-1])]
    users, items = np.divmod(pairs, log.num_items)
    bounds = np.flatnonzero(np.diff(users)) + 1
    return {
        int(u[0]): i for u, i in zip(np.split(users, bounds), np.split(items, bounds))
    }


def sampled_negatives(
    split, num_items: int, seen: dict, num_negatives: int, seed: int
) -> np.ndarray:
    """`num_negatives` items per row, fixed by `seed`, none of them the user's items
    (`seen`, from `user_items`)."""
    exclude = [seen.get(int(u), np.empty(0, np.int64)) for u in split.user_ids]
    return metrics.sample_negatives(
        num_items, split.targets, num_negatives, seed, exclude=exclude
    )


def user_negatives(
    users, num_items: int, seen: dict, num_negatives: int, seed: int
) -> dict[int, np.ndarray]:
    """One list of `num_negatives` items per user, none of them the user's items:
    S3-Rec's protocol, where validation and test share each user's list."""
    users = np.unique(users)
    exclude = [seen.get(int(u), np.empty(0, np.int64)) for u in users]
    drawn = metrics.sample_negatives(
        num_items, np.full(len(users), -1), num_negatives, seed, exclude=exclude
    )
    return dict(zip(users.tolist(), drawn))


def read_negatives_file(path: str, user_originals, item_originals):
    """A published negative list: one line per user, ``user_id neg1 neg2 ...``.

    The ids are the dataset's original ids (S3-Rec's `*_sample.txt` format),
    mapped to codes through `user_originals` / `item_originals` (``originals[code]``,
    as `data_prep.common.read_mapping` returns them; None = the ids are the codes).

    Returns:
        dict user code -> int64 array of item codes.

    Raises:
        ValueError: naming the file and line of an unknown id, a repeated user or
            a line with another number of negatives than the first.
    """
    maps = {}
    for kind, originals in (("user", user_originals), ("item", item_originals)):
        maps[kind] = None if originals is None else pd.Index(originals)
    out, width = {}, None
    with open(path) as f:
        for number, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            codes = []
            for kind, token in zip(["user"] + ["item"] * (len(tokens) - 1), tokens):
                codes.append(_code(path, number, kind, token, maps[kind]))
            user, negatives = codes[0], np.array(codes[1:], np.int64)
            if user in out:
                raise ValueError(f"{path}, line {number}: user {tokens[0]} again")
            if width is None:
                width = len(negatives)
            if len(negatives) != width or not width:
                raise ValueError(
                    f"{path}, line {number}: {len(negatives)} negatives, expected "
                    f"{width or 'at least one'} (as on the first line)"
                )
            out[user] = negatives
    return out


def _code(path, number, kind, token, index) -> int:
    """The code of one original id of a negatives file."""
    if index is None:
        if token.isdigit():
            return int(token)
    else:
        key = int(token) if index.dtype.kind in "iu" and token.isdigit() else token
        position = index.get_indexer([key])[0]
        if position >= 0:
            return int(position)
    raise ValueError(
        f"{path}, line {number}: unknown {kind} id {token!r} (not in the "
        f"dataset's {kind} id table)"
    )


def negatives_of_users(split, per_user: dict, source: str) -> np.ndarray:
    """Each row's negatives from a per-user dict; the target must not be one."""
    missing = [u for u in np.unique(split.user_ids) if int(u) not in per_user]
    if missing:
        raise ValueError(f"{source}: no negatives for user code {missing[0]}")
    negatives = np.stack([per_user[int(u)] for u in split.user_ids])
    clash = (negatives == split.targets[:, None]).any(axis=1)
    if clash.any():
        row = int(np.flatnonzero(clash)[0])
        raise ValueError(
            f"{source}: the negatives of user code {split.user_ids[row]} hold its "
            f"target item code {split.targets[row]}"
        )
    return negatives


def sampled_ranks(model, split, negatives, batch_size: int = 4096) -> np.ndarray:
    """The 0-based rank of each row's target among its negatives, ties pessimistic."""
    queries, candidates = _queries_and_candidates(model, split, batch_size)
    items = np.concatenate([split.targets[:, None], negatives], axis=1)
    return candidate_ranks(np.einsum("nd,nkd->nk", queries, candidates[items]))


def candidate_ranks(scores) -> np.ndarray:
    """The 0-based rank of column 0 (the target) among the other columns (its
    negatives) of each row of `scores` `[n, 1 + num_negatives]`, ties pessimistic."""
    scores = np.asarray(scores)
    return (scores[:, 1:] >= scores[:, :1]).sum(axis=1).astype(np.int32)


def save_outputs(path: str, **arrays) -> None:
    """Saves per-example outputs compactly (ids as int32 when they fit) to `path`
    (an .npz written atomically)."""
    compact = {}
    for name, values in arrays.items():
        values = np.asarray(values)
        if values.dtype.kind in "iu" and values.size and values.max() < 2**31:
            values = values.astype(np.int32)
        compact[name] = values
    temporary = path + ".tmp.npz"
    np.savez_compressed(temporary, **compact)
    os.replace(temporary, path)
