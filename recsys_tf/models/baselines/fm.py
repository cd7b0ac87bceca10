"""Factorization machine (Rendle, 2010)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import FactorizationMachine, FieldEmbedding
from recsys_tf.models.base import FieldCTRModel


@keras.saving.register_keras_serializable(package="recsys_tf")
class FM(FieldCTRModel):
    """A second-order factorization machine over one-hot categorical fields.

    `logit = w_0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j` (Rendle 2010,
    Eq. (1)), the pairwise term computed in O(k n) (Lemma 3.1, the
    `FactorizationMachine` layer). With one active code per field, `w_i` is a
    weight per code (the linear part) and `v_i` an `embedding_dim` vector per code
    (k = `embedding_dim`, n = the number of fields).

    The paper regularises w and V alike; here, as in Wide & Deep, `l2` applies to
    the looked-up factor rows only (the linear weights are not penalised).

    Inputs: dict field -> int `[batch]`. Output: logits `[batch]`.

    Args:
        fields: names of the fields.
        vocabulary_sizes: their vocabulary sizes.
        embedding_dim: size of the factors v (the paper's k).
        l2: L2 factor on the looked-up factor rows (per-example mean, as in
            `FieldEmbedding`).

    Example:
        >>> model = FM(("user_id", "item_id"), (10, 20), embedding_dim=4)
        >>> model({"user_id": np.array([1]), "item_id": np.array([2])}).shape
        (1,)

    Reference: S. Rendle, Factorization Machines, ICDM 2010.
    """

    def __init__(self, fields, vocabulary_sizes, embedding_dim=16, l2=0.0, **kwargs):
        super().__init__(fields, vocabulary_sizes, embedding_dim, l2, **kwargs)
        self.linear = FieldEmbedding(
            self.vocabulary_sizes, 1, embeddings_initializer="zeros", name="linear"
        )
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")
        self.interaction = FactorizationMachine(name="interaction")

    def call(self, inputs, training=False):
        codes, embedded = self.embed(inputs)
        linear = ops.sum(self.linear(codes), axis=(1, 2)) + self.bias
        return linear + ops.squeeze(self.interaction(embedded), -1)
