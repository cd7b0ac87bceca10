"""DeepFM (Guo et al., 2017)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import MLP, FactorizationMachine, FieldEmbedding
from recsys_tf.models.base import FieldCTRModel


@keras.saving.register_keras_serializable(package="recsys_tf")
class DeepFM(FieldCTRModel):
    """A factorization machine and an MLP reading one shared embedding table.

    `logit = y_FM + y_DNN` (Guo et al. 2017, Eq. (1) before the sigmoid), with
    `y_FM = <w, x> + sum_{i<j} <V_i, V_j> x_i x_j` (Eq. (2)) and
    `y_DNN = MLP([e_1; ...; e_m])` (Eq. (3)-(5)), where `e_i = V_i x_i` are the
    same embeddings in both parts (the paper's shared "dense embeddings"). The
    linear part `<w, x>` is a weight per code of every field. The MLP's output
    unit is linear (its logit joins `y_FM` inside the sigmoid of Eq. (1)); Eq. (2)
    has no global bias `w_0`, that unit's bias provides one.

    As in Wide & Deep, `l2` applies to the looked-up embedding rows and to the MLP
    kernels, not to the linear weights.

    Inputs: dict field -> int `[batch]`. Output: logits `[batch]`.

    Args:
        fields: names of the fields.
        vocabulary_sizes: their vocabulary sizes.
        embedding_dim: size of each field embedding (the paper's k).
        hidden_units: MLP hidden layer sizes (a linear output unit follows).
        dropout: MLP dropout.
        l2: L2 factor on looked-up embedding rows and MLP kernels.

    Example:
        >>> model = DeepFM(("user_id", "item_id"), (10, 20), 4, (8,))
        >>> model({"user_id": np.array([1]), "item_id": np.array([2])}).shape
        (1,)

    Reference: H. Guo et al., DeepFM: A Factorization-Machine based Neural Network
    for CTR Prediction, IJCAI 2017.
    """

    def __init__(
        self,
        fields,
        vocabulary_sizes,
        embedding_dim=16,
        hidden_units=(256, 128, 64),
        dropout=0.0,
        l2=0.0,
        **kwargs,
    ):
        super().__init__(fields, vocabulary_sizes, embedding_dim, l2, **kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.dropout = dropout
        self.linear = FieldEmbedding(
            self.vocabulary_sizes, 1, embeddings_initializer="zeros", name="linear"
        )
        self.interaction = FactorizationMachine(name="interaction")
        self.mlp = MLP(
            self.hidden_units + (1,),
            output_activation=None,
            dropout=dropout,
            kernel_regularizer=l2,
            name="mlp",
        )

    def call(self, inputs, training=False):
        codes, embedded = self.embed(inputs)
        flat = ops.reshape(embedded, (-1, len(self.fields) * self.embedding_dim))
        logits = self.interaction(embedded) + self.mlp(flat, training=training)
        return ops.sum(self.linear(codes), axis=(1, 2)) + ops.squeeze(logits, -1)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_units=self.hidden_units, dropout=self.dropout)
        return config
