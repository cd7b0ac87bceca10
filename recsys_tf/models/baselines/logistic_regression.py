"""Logistic regression over one-hot categorical fields."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import FieldEmbedding
from recsys_tf.models.base import CTRModel, stack_fields


@keras.saving.register_keras_serializable(package="recsys_tf")
class LogisticRegression(CTRModel):
    """`logit = b + sum_f w_f[x_f]`: one weight per code of every field.

    The classic CTR baseline (the wide part of Wide & Deep alone); crossed fields
    from the task builder make it the "LR with cross features" of DUMN / DIN tables.

    Inputs: dict field -> int `[batch]`. Output: logits `[batch]`.

    Args:
        fields: names of the fields.
        vocabulary_sizes: their vocabulary sizes.
        l2: L2 factor on the looked-up weights.
    """

    def __init__(self, fields, vocabulary_sizes, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        if len(fields) != len(vocabulary_sizes):
            raise ValueError("`fields` and `vocabulary_sizes` differ in length.")
        self.fields = tuple(fields)
        self.vocabulary_sizes = tuple(int(v) for v in vocabulary_sizes)
        self.l2 = l2
        self.linear = FieldEmbedding(
            self.vocabulary_sizes,
            1,
            embeddings_initializer="zeros",
            embeddings_regularizer=l2,
            name="linear",
        )
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")

    @classmethod
    def from_task(cls, task, fields=None, **kwargs):
        """Builds the model for a `CTRTask` (every field, crosses included)."""
        fields = tuple(task.fields if fields is None else fields)
        return cls(fields, [task.vocabulary_sizes[f] for f in fields], **kwargs)

    def call(self, inputs, training=False):
        weights = self.linear(stack_fields(inputs, self.fields))
        return ops.sum(weights, axis=(1, 2)) + self.bias

    def get_config(self):
        config = super().get_config()
        config.update(
            fields=self.fields, vocabulary_sizes=self.vocabulary_sizes, l2=self.l2
        )
        return config
