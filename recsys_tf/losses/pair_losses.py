"""Losses of a positive pair's score against its sampled negatives' scores."""

from __future__ import annotations

from keras import ops

PAIR_LOSSES = ("bpr", "pointwise", "weighted_square")


def pair_loss(positive, negatives, loss="bpr", positive_weight=1.0):
    """Per-example loss of `positive` scores `[batch]` against `negatives` `[batch, x]`.

    - "bpr" (Rendle et al. 2009, BPR-Opt): the mean over the x negatives j of
      `-ln sigmoid(s_ui - s_uj)`, on the scores before any sigmoid.
    - "pointwise" (He et al. 2017, NCF Eq. 7): the binary cross-entropy of the
      positive (label 1) and of each negative (label 0) on logits, averaged over
      the 1 + x instances.
    - "weighted_square" (Hu et al. 2008, WMF Eq. 3): `c_ui (p_ui - s_ui)^2` with
      preference p = 1, confidence c = `positive_weight` for the positive and
      p = 0, c = 1 for each negative, averaged over the 1 + x instances; the
      unobserved entries of the full matrix are replaced by the sampled ones.

    Args:
        positive: float `[batch]` scores of the positive pairs.
        negatives: float `[batch, x]` scores of their negatives.
        loss: one of `PAIR_LOSSES`.
        positive_weight: the positive's confidence c (weighted_square only).

    Returns:
        float `[batch]`.
    """
    if loss not in PAIR_LOSSES:
        raise ValueError(
            f"`loss` must be one of {PAIR_LOSSES}. Received: loss={loss!r}"
        )
    positive = ops.cast(positive, "float32")
    negatives = ops.cast(negatives, "float32")
    if loss == "bpr":
        return ops.mean(ops.softplus(negatives - positive[:, None]), axis=1)
    count = ops.cast(ops.shape(negatives)[1] + 1, "float32")
    if loss == "pointwise":
        total = ops.softplus(-positive) + ops.sum(ops.softplus(negatives), axis=1)
    else:
        total = positive_weight * ops.square(1.0 - positive) + ops.sum(
            ops.square(negatives), axis=1
        )
    return total / count
