"""Evaluation of trained models (and of score functions such as the oracle)."""

from __future__ import annotations

import keras
import keras_rs
import numpy as np
import tensorflow as tf

from recsys_tf import metrics
from recsys_tf.data.input import make_dataset


def ctr_metrics(labels, probabilities, user_ids) -> dict[str, float]:
    """`auc`, `gauc` and `logloss` of click probabilities."""
    return {
        "auc": metrics.auc(labels, probabilities),
        "gauc": metrics.gauc(user_ids, labels, probabilities),
        "logloss": metrics.logloss(labels, probabilities),
    }


def predict_ctr(model, split, batch_size: int = 8192) -> np.ndarray:
    """Click probabilities of a CTR model on a `CTRSplit`."""
    logits = model.predict(
        make_dataset(split.features, batch_size=batch_size), verbose=0
    )
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64).reshape(-1)))


def evaluate_ctr(model, split, batch_size: int = 8192) -> dict[str, float]:
    return ctr_metrics(
        split.labels, predict_ctr(model, split, batch_size), split.user_ids
    )


def predict_queries(model, features, batch_size: int = 4096) -> np.ndarray:
    """Query vectors `[n, dim]` of a retrieval model for the given inputs."""
    dataset = make_dataset(features, batch_size=batch_size)
    return np.asarray(model.predict(dataset, verbose=0))


def _queries_and_candidates(model, split, batch_size):
    """Queries `[n, d]` and candidates `[num_items, d]`, item biases folded in."""
    queries = predict_queries(model, split.features(), batch_size)
    queries = model.retrieval_queries(keras.ops.convert_to_tensor(queries))
    return (
        keras.ops.convert_to_numpy(queries),
        keras.ops.convert_to_numpy(model.candidate_embeddings()),
    )


def retrieve_topk(model, split, k: int, batch_size: int = 4096) -> np.ndarray:
    """Top-k item ids over the whole catalogue, via keras-rs BruteForceRetrieval."""
    queries, candidates = _queries_and_candidates(model, split, batch_size)
    retrieval = keras_rs.layers.BruteForceRetrieval(
        candidate_embeddings=tf.constant(candidates),
        k=min(k, candidates.shape[0]),
        return_scores=False,
    )
    out = [
        np.asarray(retrieval(tf.constant(queries[i : i + batch_size])))
        for i in range(0, len(queries), batch_size)
    ]
    return np.concatenate(out).astype(np.int64)


def evaluate_retrieval(model, split, ks=(10, 50, 100), batch_size: int = 4096):
    """Full-ranking HR / NDCG / MRR / recall / precision / F1 @k of a retrieval model."""
    topk = retrieve_topk(model, split, max(ks), batch_size)
    return metrics.ranking_metrics_from_topk(topk, split.targets, ks)


def evaluate_scores(score_fn, split, ks=(10, 50, 100), chunk: int = 2048):
    """Full-ranking metrics of a NumPy score function `rows -> [len(rows), num_items]`."""
    tops = []
    for start in range(0, len(split), chunk):
        rows = np.arange(start, min(start + chunk, len(split)))
        tops.append(metrics.topk_from_scores(score_fn(rows), max(ks)))
    return metrics.ranking_metrics_from_topk(np.concatenate(tops), split.targets, ks)


def user_items(task) -> dict[int, np.ndarray]:
    """Every item each user interacted with anywhere in a retrieval task."""
    users, items = [], []
    for part in task.parts().values():
        users += [part.user_ids, np.repeat(part.user_ids, part.history.shape[1])]
        items += [
            part.targets,
            np.where(part.history_mask, part.history, -1).reshape(-1),
        ]
    users, items = np.concatenate(users), np.concatenate(items)
    keep = items >= 0
    pairs = np.unique(np.stack([users[keep], items[keep]], 1), axis=0)
    bounds = np.flatnonzero(np.diff(pairs[:, 0])) + 1
    return {
        int(chunk[0, 0]): chunk[:, 1] for chunk in np.split(pairs, bounds) if len(chunk)
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


def evaluate_retrieval_sampled(
    model, split, negatives, ks=(10, 50, 100), batch_size: int = 4096
):
    """HR / NDCG / MRR / ... @k of the target ranked among fixed sampled negatives."""
    queries, candidates = _queries_and_candidates(model, split, batch_size)
    target = np.einsum("nd,nd->n", queries, candidates[split.targets])
    negative = np.einsum("nd,nkd->nk", queries, candidates[negatives])
    return metrics.sampled_ranking_metrics(target, negative, ks)
