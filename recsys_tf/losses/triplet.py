"""Triplet loss with cosine distance and in-batch mining (DUMN's memory loss)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

MININGS = ("hardest", "random")


def _rank(x: Any) -> int:
    return len(tuple(getattr(x, "shape", ())))


def _unit(x: Any, epsilon: float) -> Any:
    squared = ops.maximum(ops.sum(x * x, axis=-1, keepdims=True), epsilon)
    return x / ops.sqrt(squared)


def _distances(anchors: Any, candidates: Any, epsilon: float) -> Any:
    """Eq. (19): `d(q, s) = 1 - cos(q, s)` for every anchor and candidate, [B, N]."""
    a, c = _unit(anchors, epsilon), _unit(candidates, epsilon)
    if _rank(candidates) == 2:
        return 1.0 - ops.matmul(a, ops.transpose(c))
    return 1.0 - ops.einsum("bd,bnd->bn", a, c)


def _select(distances: Any, valid: Any, score: Any):
    """The distance of the top-`score` valid candidate per anchor, and whether any."""
    # Invalid candidates score below every valid one (scores lie in [-2, 2]).
    chosen = ops.argmax(ops.where(valid, score, -3.0), axis=-1)
    one_hot = ops.one_hot(chosen, ops.shape(distances)[-1], dtype=distances.dtype)
    return ops.sum(one_hot * distances, axis=-1), ops.any(valid, axis=-1)


def triplet_loss(
    anchors: Any,
    positives: Any,
    negatives: Any,
    margin: float = 0.5,
    mining: str = "hardest",
    positive_mask: Any = None,
    negative_mask: Any = None,
    seed: Any = None,
    epsilon: float = 1e-12,
) -> Any:
    """Per-anchor triplet loss with cosine distance and hardest or random mining.

    DUMN Eq. (17)-(19), for the anchor q of one memory (Eq. (18), e.g. q_c from
    `NTMMemory(..., return_anchor=True)`) and its pair of sample sets (s_c as
    positives, s_u as negatives for M_c):

    - Eq. (19): `d(a, b) = 1 - a . b / (|a| |b|)`;
    - Eq. (17): `L = max(d(q, s+) - d(q, s-) + margin, 0)`;
    - "the hardest positive and negative samples in each batch" by cosine
      similarity (`mining="hardest"`, the default): s+ is the valid positive
      farthest from q, s- the valid negative nearest to q; `mining="random"` is
      DUMN_RS (Table 5): s+ and s- drawn uniformly among the valid candidates.

    Eq. (20) sums the four memories' losses; the caller does that and reduces over
    the batch. Candidates are either one pool shared by every anchor (`[N, dim]`,
    e.g. the batch's samples, one per row, as the paper draws them) or a set per
    anchor (`[batch, N, dim]`, e.g. the positions of the row's own sequence).

    Choices where the paper is silent: the default margin (0.5; tune it); an
    anchor with no valid positive or no valid negative gets loss 0; gradients
    reach the anchor and the two chosen candidates (mining itself is not
    differentiated). The anchor (in the memory's slot space, Z = 64) and the
    samples (embedding-layer outputs, E = 16) differ in size: `NTMMemory`'s
    `anchor_dim` maps q into the samples' space with a bias-free linear map, so
    this loss takes anchors and candidates of one width.

    Args:
        anchors: `[batch, dim]`.
        positives: `[N, dim]` shared pool or `[batch, N, dim]` per anchor.
        negatives: `[M, dim]` shared pool or `[batch, M, dim]` per anchor.
        margin: the margin of Eq. (17), >= 0.
        mining: "hardest" or "random".
        positive_mask: optional bool/int `[N]` or `[batch, N]`, 1 = a real sample.
        negative_mask: same for the negatives.
        seed: seed of the random mining (an int or `keras.random.SeedGenerator`;
            a generator gives new draws at every call).
        epsilon: floor of the squared norms in the cosine.

    Returns:
        Tensor `[batch]` of per-anchor losses.

    Example:

    ```python
    read, anchor = memory(f_click, e_user, training=True, return_anchor=True)
    loss = keras.ops.mean(triplet_loss(anchor, s_click, s_unclick, margin=0.5))
    ```

    Reference: Z. Bian et al., "Denoising User-aware Memory Network for
    Recommendation", arXiv:2107.05474, Section 3.6; A. Hermans et al., "In
    Defense of the Triplet Loss for Person Re-Identification", 2017 (batch hard).
    """
    if mining not in MININGS:
        raise ValueError(f"`mining` must be one of {MININGS}. Received: {mining!r}")
    if not float(margin) >= 0:
        raise ValueError(f"`margin` must be >= 0. Received: margin={margin}")
    if _rank(anchors) != 2:
        raise ValueError(
            "`anchors` must have shape [batch, dim]. Received: "
            f"{tuple(getattr(anchors, 'shape', ()))}"
        )
    dim = tuple(anchors.shape)[-1]
    for name, value, mask in (
        ("positives", positives, positive_mask),
        ("negatives", negatives, negative_mask),
    ):
        shape = tuple(getattr(value, "shape", ()))
        if len(shape) not in (2, 3) or shape[-1] != dim:
            raise ValueError(
                f"`{name}` must have shape [N, {dim}] or [batch, N, {dim}] (the "
                f"anchors' width). Received: {shape}"
            )
        if mask is not None and tuple(mask.shape) != shape[:-1]:
            raise ValueError(
                f"The mask of `{name}` must have shape {shape[:-1]}. Received: "
                f"{tuple(mask.shape)}"
            )

    anchors = ops.convert_to_tensor(anchors)
    dtype = anchors.dtype
    distances, valid = [], []
    for value, mask in ((positives, positive_mask), (negatives, negative_mask)):
        d = _distances(anchors, ops.cast(value, dtype), epsilon)
        distances.append(d)
        valid.append(
            ops.ones(ops.shape(d), dtype="bool")
            if mask is None
            else ops.broadcast_to(ops.cast(mask, "bool"), ops.shape(d))
        )
    if mining == "hardest":
        # The farthest positive and the nearest negative.
        scores = [distances[0], -distances[1]]
    else:
        # One draw for both sets, so that an int seed does not pick the same
        # index among the positives and the negatives.
        num_positives = ops.shape(distances[0])[-1]
        noise = keras.random.uniform(
            ops.shape(ops.concatenate(distances, axis=-1)), seed=seed, dtype=dtype
        )
        scores = [noise[:, :num_positives], noise[:, num_positives:]]
    (positive, has_positive), (negative, has_negative) = (
        _select(d, v, s) for d, v, s in zip(distances, valid, scores)
    )
    loss = ops.relu(positive - negative + margin)  # Eq. (17)
    return ops.where(ops.logical_and(has_positive, has_negative), loss, 0.0)


FEEDBACK_PAIRS = {
    "click": "unclick",
    "unclick": "click",
    "like": "dislike",
    "dislike": "like",
}
"""DUMN Eq. (17)'s <positive, negative> samples of each type's memory (l.392-393)."""


TRIPLET_SAMPLES = ("window", "history")
"""Where a row's triplet sample comes from: its window, or one event of its whole
earlier history (`data.history_samples`; DUMN Sec. 3.5)."""


TRIPLET_ARGS = (
    "triplet_weight",
    "triplet_margin",
    "triplet_sampling",
    "triplet_samples",
    "seed",
)
"""The constructor arguments (and attributes, config keys) of a model's triplet
loss: DUMN, AutoInt+UMN, DFN+UMN (`triplet_options`)."""


def triplet_options(weight, margin, mining, samples, seed) -> dict:
    """The `TRIPLET_ARGS` of a model, checked (ValueError) and typed: weight and
    margin >= 0 as floats, `mining` in `MININGS`, `samples` in
    `TRIPLET_SAMPLES`."""
    if samples not in TRIPLET_SAMPLES:
        raise ValueError(
            f"`triplet_samples` must be one of {TRIPLET_SAMPLES}. "
            f"Received: triplet_samples={samples!r}"
        )
    if mining not in MININGS:
        raise ValueError(
            f"`triplet_sampling` must be one of {MININGS}. "
            f"Received: triplet_sampling={mining!r}"
        )
    if not (float(weight) >= 0 and float(margin) >= 0):
        raise ValueError(
            "`triplet_weight` and `triplet_margin` must be >= 0. Received: "
            f"{weight}, {margin}"
        )
    values = (float(weight), float(margin), mining, samples, seed)
    return dict(zip(TRIPLET_ARGS, values))


def paired_types(types) -> tuple:
    """The types of `types` whose pair (`FEEDBACK_PAIRS`) is also there: those
    with a triplet term (no dislike data: like has no negative)."""
    return tuple(t for t in types if FEEDBACK_PAIRS.get(t) in types)


def window_samples(sequences: dict, types, seed: Any) -> dict:
    """One item drawn uniformly from each row's window, for each of `types` in
    that order (the order fixes the random stream).

    Args:
        sequences: type -> (e `[batch, T, dim]`, mask bool `[batch, T]`).
        types: the types to draw from.
        seed: a `keras.random.SeedGenerator` (or int).

    Returns:
        type -> (s `[batch, dim]`, valid bool `[batch]`: the row has an item).
    """
    samples = {}
    for t in types:
        items, mask = sequences[t]
        noise = keras.random.uniform(ops.shape(mask), seed=seed)
        pick = ops.argmax(ops.where(mask, noise, -1.0), axis=1)
        one_hot = ops.one_hot(pick, ops.shape(mask)[1], dtype=items.dtype)
        samples[t] = ops.einsum("bt,btd->bd", one_hot, items), ops.any(mask, 1)
    return samples


def feedback_triplet_term(
    anchors: dict,
    sequences: dict,
    order,
    margin: float = 0.5,
    mining: str = "hardest",
    seed: Any = None,
) -> Any:
    """DUMN Eq. (20): `sum_k mean_batch L_k` (Eq. (17)-(19)), the anchor q_k of
    each memory against the batch's pool of k samples (positives) and of its
    pair's samples (negatives), one sample per row drawn from its own window
    (`window_samples`).

    Args:
        anchors: type -> q_k `[batch, dim]` (Eq. (18), `NTMMemory(...,
            return_anchor=True)` mapped to the items' width).
        sequences: type -> (e `[batch, T, dim]`, mask `[batch, T]`).
        order: the model's sequence types (the draws follow this order).
        margin, mining: of `triplet_loss`.
        seed: a `keras.random.SeedGenerator`, for the draws and random mining.

    Returns:
        The scalar sum over the anchors' types.
    """
    needed = set(anchors) | {FEEDBACK_PAIRS[t] for t in anchors}
    samples = window_samples(sequences, [t for t in order if t in needed], seed)
    total = 0.0
    for t, anchor in anchors.items():
        (positives, has_positive), (negatives, has_negative) = (
            samples[t],
            samples[FEEDBACK_PAIRS[t]],
        )
        total += ops.mean(
            triplet_loss(
                anchor,
                positives,
                negatives,
                margin=margin,
                mining=mining,
                positive_mask=has_positive,
                negative_mask=has_negative,
                seed=seed,
            )
        )
    return total
