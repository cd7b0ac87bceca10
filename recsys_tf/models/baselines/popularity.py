"""Most-popular retrieval baseline."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from recsys_tf.models.base import RetrievalModel


@keras.saving.register_keras_serializable(package="recsys_tf")
class Popularity(RetrievalModel):
    """Scores every item by its training frequency, the same for every user.

    `s(u, i) = log(1 + n_i)` with `n_i` the number of training targets equal to
    `i`; equal counts tie, and a tie counts against the target in evaluation
    (`recsys_tf.training.evaluation.target_ranks`). It has no trainable weight: `adapt`
    sets the counts.

    Inputs: any dict with a `history` entry (only its batch size is used).
    Output: `[batch, 1]` ones, scored against `[num_items, 1]` log counts.

    Args:
        num_items: catalogue size.
    """

    def __init__(self, num_items, **kwargs):
        super().__init__(**kwargs)
        self.num_items = int(num_items)
        self.log_counts = self.add_weight(
            name="log_counts",
            shape=(self.num_items, 1),
            initializer="zeros",
            trainable=False,
        )

    @classmethod
    def from_task(cls, task, **kwargs):
        """Builds the model for a `RetrievalTask` and sets its counts."""
        model = cls(task.num_items, **kwargs)
        model.adapt(task.item_counts)
        return model

    def adapt(self, item_counts):
        counts = np.asarray(item_counts, np.float32)
        valid = np.isfinite(counts) & (counts >= 0)
        if counts.shape != (self.num_items,) or not valid.all():
            raise ValueError(
                f"`item_counts` must be {self.num_items} finite non-negative counts; "
                f"got shape {counts.shape}"
            )
        self.log_counts.assign(np.log1p(counts)[:, None])

    def input_fields(self):
        """`history` (only its batch size is read)."""
        return {"history": self.num_items}

    def call(self, inputs, training=False):
        first = next(iter(inputs.values()))
        return ops.ones((ops.shape(first)[0], 1), dtype="float32")

    def output_table(self):
        return self.log_counts, None

    def get_config(self):
        config = super().get_config()
        config.update(num_items=self.num_items)
        return config
