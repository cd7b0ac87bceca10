"""Wide & Deep (Cheng et al., 2016)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import MLP, FieldEmbedding
from recsys_tf.models.base import CTRModel, sparse_fields, stack_fields


@keras.saving.register_keras_serializable(package="recsys_tf")
class WideDeep(CTRModel):
    """Wide & Deep: a linear model over sparse (and crossed) fields plus an MLP.

    `logit = w_wide^T [x_wide] + b + MLP([e_1; ...; e_F])` (Cheng et al. 2016,
    Eq. (3)), trained jointly. The wide part is a weight per code of every wide
    field (one-hot and cross-product features); the deep part concatenates one
    `embedding_dim` vector per deep field. The paper trains the wide part with
    FTRL and the deep part with AdaGrad; here one optimiser trains both (as DeepCTR
    and FuxiCTR do).

    Inputs: dict field -> int `[batch]`. Output: logits `[batch]`.

    Args:
        deep_fields: names of the fields embedded for the MLP.
        deep_vocabulary_sizes: their vocabulary sizes.
        wide_fields: names of the fields of the linear part (may include crosses).
        wide_vocabulary_sizes: their vocabulary sizes.
        embedding_dim: size of each field embedding.
        hidden_units: MLP layer sizes.
        dropout: MLP dropout.
        l2: L2 factor on looked-up embedding rows and MLP kernels.
        wide: include the wide part (False = a plain DNN).
        deep: include the deep part (False = logistic regression on wide fields).
    """

    def __init__(
        self,
        deep_fields,
        deep_vocabulary_sizes,
        wide_fields,
        wide_vocabulary_sizes,
        embedding_dim=16,
        hidden_units=(256, 128, 64),
        dropout=0.0,
        l2=0.0,
        wide=True,
        deep=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not (wide or deep):
            raise ValueError("At least one of `wide` and `deep` must be True.")
        if len(deep_fields) != len(deep_vocabulary_sizes):
            raise ValueError(
                "`deep_fields` and `deep_vocabulary_sizes` differ in length."
            )
        if len(wide_fields) != len(wide_vocabulary_sizes):
            raise ValueError(
                "`wide_fields` and `wide_vocabulary_sizes` differ in length."
            )
        self.deep_fields = tuple(deep_fields)
        self.deep_vocabulary_sizes = tuple(int(v) for v in deep_vocabulary_sizes)
        self.wide_fields = tuple(wide_fields)
        self.wide_vocabulary_sizes = tuple(int(v) for v in wide_vocabulary_sizes)
        self.embedding_dim = int(embedding_dim)
        self.hidden_units = tuple(hidden_units)
        self.dropout = dropout
        self.l2 = l2
        self.wide = wide
        self.deep = deep
        if wide:
            self.linear = FieldEmbedding(
                self.wide_vocabulary_sizes,
                1,
                embeddings_initializer="zeros",
                name="wide",
            )
            self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")
        if deep:
            self.embedding = FieldEmbedding(
                self.deep_vocabulary_sizes,
                self.embedding_dim,
                embeddings_regularizer=l2,
                name="deep_embedding",
            )
            self.mlp = MLP(
                self.hidden_units + (1,),
                output_activation=None,
                dropout=dropout,
                kernel_regularizer=l2,
                name="mlp",
            )

    @classmethod
    def from_task(cls, task, wide_fields=None, deep_fields=None, **kwargs):
        """Builds the model for a `CTRTask`: by default the wide part takes every
        field (crosses included) and the deep part every field but the crosses."""
        wide_fields = tuple(task.fields if wide_fields is None else wide_fields)
        deep_fields, deep_sizes = sparse_fields(task, deep_fields)
        return cls(
            deep_fields=deep_fields,
            deep_vocabulary_sizes=deep_sizes,
            wide_fields=wide_fields,
            wide_vocabulary_sizes=[task.vocabulary_sizes[f] for f in wide_fields],
            **kwargs,
        )

    def projector_embeddings(self):
        """Item and user rows of the deep embedding table, for TensorBoard."""
        if not self.deep:
            return {}
        table = keras.ops.convert_to_numpy(self.embedding.embeddings)
        out = {}
        offset = 0
        for field, size in zip(self.deep_fields, self.deep_vocabulary_sizes):
            if field in ("item_id", "user_id"):
                out[field.split("_")[0]] = table[offset : offset + size]
            offset += size
        return out

    def input_fields(self):
        """The fields of the parts in use (wide ones first) and their vocabulary sizes."""
        fields = {}
        if self.wide:
            fields.update(zip(self.wide_fields, self.wide_vocabulary_sizes))
        if self.deep:
            fields.update(zip(self.deep_fields, self.deep_vocabulary_sizes))
        return fields

    def call(self, inputs, training=False):
        logits = 0.0
        if self.wide:
            weights = self.linear(stack_fields(inputs, self.wide_fields))
            logits = ops.sum(weights, axis=(1, 2)) + self.bias
        if self.deep:
            embedded = self.embedding(stack_fields(inputs, self.deep_fields))
            flat = ops.reshape(
                embedded, (-1, len(self.deep_fields) * self.embedding_dim)
            )
            logits = logits + ops.squeeze(self.mlp(flat, training=training), -1)
        return logits

    def get_config(self):
        config = super().get_config()
        config.update(
            deep_fields=self.deep_fields,
            deep_vocabulary_sizes=self.deep_vocabulary_sizes,
            wide_fields=self.wide_fields,
            wide_vocabulary_sizes=self.wide_vocabulary_sizes,
            embedding_dim=self.embedding_dim,
            hidden_units=self.hidden_units,
            dropout=self.dropout,
            l2=self.l2,
            wide=self.wide,
            deep=self.deep,
        )
        return config
