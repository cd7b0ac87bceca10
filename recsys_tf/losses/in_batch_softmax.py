"""In-batch negatives softmax with log-Q correction (two-tower retrieval loss)."""

from __future__ import annotations

from typing import Any

import keras
import keras_rs
import numpy as np
from keras import ops

# Logit given to masked entries: far below any real logit, yet finite so that
# `logit - max_logit` cannot overflow.
_MASKED_LOGIT = float(np.finfo(np.float32).min) / 100.0


def _static_shape(x: Any) -> tuple:
    return tuple(getattr(x, "shape", ()))


def in_batch_softmax_loss(
    query_embeddings: Any,
    item_embeddings: Any,
    item_ids: Any = None,
    item_sampling_probabilities: Any = None,
    remove_accidental_hits: bool = True,
) -> Any:
    """Softmax cross entropy with the other items of the batch as negatives.

    Row `i` pairs query `q_i` with its positive item `e_i`; the items of the
    other rows are its negatives. With `s_ij = q_i . e_j` and `p_j` the
    probability that item `j` is in a batch (its sampling probability):

        s'_ij = s_ij - log p_j                       (log-Q correction)
        s'_ij = -inf  if j != i and item_ids[j] == item_ids[i]
        loss_i = -s'_ii + log sum_j exp(s'_ij)

    The correction (Yi et al., 2019, Eq. (3)) is applied to every column,
    the positive included, through `keras_rs.layers.SamplingProbabilityCorrection`,
    which clips `p_j` to `[1e-6, 1]` first. Since popular items show up in
    many batches as negatives, uncorrected in-batch softmax under-scores them;
    the correction removes that bias. The masking drops off-diagonal columns
    that hold the row's own item again (a popular item can appear several times
    in one batch); masked entries get the logit `float32.min / 100`, so they
    receive zero probability and zero gradient.

    The masking is computed here with `keras.ops` rather than with
    `keras_rs.layers.RemoveAccidentalHits`: in keras-rs 0.4.0 that layer adds
    `smallest_normal / 100` (about 1e-40) to the duplicate logits, which leaves
    them unchanged (keras-team/keras-rs pull request #206).

    Shapes: `query_embeddings [batch, dim]`, `item_embeddings [batch, dim]`,
    `item_ids [batch]`, `item_sampling_probabilities [batch]` ->
    loss `[batch]`. Computed in float32 (float64 if both embeddings are).

    Args:
        query_embeddings: `[batch, dim]` query (user) tower outputs.
        item_embeddings: `[batch, dim]` item tower outputs; row `i` is the
            positive of query `i`.
        item_ids: int `[batch]` item ids of the rows. Required when
            `remove_accidental_hits=True`, unused otherwise.
        item_sampling_probabilities: `[batch]` probability of each row's item
            being sampled into a batch (e.g. its estimated frequency), or None
            for no correction.
        remove_accidental_hits: bool. Mask off-diagonal duplicates of the
            row's item.

    Returns:
        Tensor `[batch]` of per-example losses (the caller reduces them).

    Example:

    ```python
    loss = in_batch_softmax_loss(user_vecs, item_vecs, item_ids, item_probs)
    loss = keras.ops.mean(loss)
    ```

    Reference:
        Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large Corpus
        Item Recommendations", RecSys 2019.
    """
    q_shape = _static_shape(query_embeddings)
    e_shape = _static_shape(item_embeddings)
    if len(q_shape) != 2 or len(e_shape) != 2:
        raise ValueError(
            "`query_embeddings` and `item_embeddings` must have shape "
            f"[batch, dim]. Received: {q_shape} and {e_shape}"
        )
    for axis in (0, 1):
        if None not in (q_shape[axis], e_shape[axis]) and (
            q_shape[axis] != e_shape[axis]
        ):
            raise ValueError(
                "`query_embeddings` and `item_embeddings` must have the same "
                f"shape. Received: {q_shape} and {e_shape}"
            )
    for name, value in (
        ("item_ids", item_ids),
        ("item_sampling_probabilities", item_sampling_probabilities),
    ):
        if value is None:
            continue
        shape = _static_shape(value)
        if len(shape) != 1 or (
            None not in (shape[0], q_shape[0]) and shape[0] != q_shape[0]
        ):
            raise ValueError(
                f"`{name}` must have shape [batch] with batch={q_shape[0]}. "
                f"Received: {shape}"
            )
    if remove_accidental_hits and item_ids is None:
        raise ValueError(
            "`item_ids` is required when remove_accidental_hits=True. "
            "Received: item_ids=None"
        )

    standardize = keras.backend.standardize_dtype
    both_f64 = all(
        standardize(getattr(x, "dtype", "float32")) == "float64"
        for x in (query_embeddings, item_embeddings)
    )
    dtype = "float64" if both_f64 else "float32"
    queries = ops.cast(query_embeddings, dtype)
    items = ops.cast(item_embeddings, dtype)
    logits = ops.matmul(queries, ops.transpose(items))

    if item_sampling_probabilities is not None:
        probabilities = ops.cast(item_sampling_probabilities, dtype)
        probabilities = ops.broadcast_to(probabilities[None, :], ops.shape(logits))
        correction = keras_rs.layers.SamplingProbabilityCorrection(dtype=dtype)
        logits = correction(logits, probabilities)

    if remove_accidental_hits:
        ids = ops.convert_to_tensor(item_ids)
        positions = ops.arange(ops.shape(ids)[0])
        duplicate = ops.logical_and(
            ops.equal(ids[:, None], ids[None, :]),
            ops.not_equal(positions[:, None], positions[None, :]),
        )
        logits = ops.where(duplicate, ops.cast(_MASKED_LOGIT, dtype), logits)

    return ops.logsumexp(logits, axis=1) - ops.diagonal(logits)
