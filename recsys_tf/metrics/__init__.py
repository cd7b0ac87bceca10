"""Evaluation metrics on whole prediction sets (NumPy): AUC, logloss, gAUC and top-K ranking."""

from recsys_tf.metrics.classification import auc, gauc, logloss
from recsys_tf.metrics.ranking import (
    full_ranking_metrics,
    ranking_metrics_from_ranks,
    sample_negatives,
    sampled_ranking_metrics,
)

__all__ = [
    "auc",
    "full_ranking_metrics",
    "gauc",
    "logloss",
    "ranking_metrics_from_ranks",
    "sample_negatives",
    "sampled_ranking_metrics",
]
