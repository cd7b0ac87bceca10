"""Training losses: sampled softmax (with log-Q correction) and in-batch softmax."""

from recsys_tf.losses.in_batch_softmax import in_batch_softmax_loss
from recsys_tf.losses.sampled_softmax import SampledSoftmax
from recsys_tf.losses.triplet import triplet_loss

__all__ = ["SampledSoftmax", "in_batch_softmax_loss", "triplet_loss"]
