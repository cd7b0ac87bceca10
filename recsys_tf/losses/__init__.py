"""Training losses: sampled softmax (with log-Q correction), in-batch softmax and
pair losses (BPR, pointwise, weighted square) against sampled negatives."""

from recsys_tf.losses.in_batch_softmax import in_batch_softmax_loss
from recsys_tf.losses.pair_losses import PAIR_LOSSES, pair_loss
from recsys_tf.losses.sampled_softmax import SampledSoftmax
from recsys_tf.losses.triplet import triplet_loss

__all__ = [
    "PAIR_LOSSES",
    "SampledSoftmax",
    "in_batch_softmax_loss",
    "pair_loss",
    "triplet_loss",
]
