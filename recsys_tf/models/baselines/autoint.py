"""AutoInt (Song et al., 2019): self-attentive feature interactions."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import MLP, InteractingLayer
from recsys_tf.models.base import FieldCTRModel


def interacting_stack(num_layers, num_heads, head_dim, use_residual):
    """AutoInt's `num_layers` stacked interacting layers (Eq. (5)-(8))."""
    if int(num_layers) < 1:
        raise ValueError(f"`num_layers` must be > 0. Received: num_layers={num_layers}")
    return [
        InteractingLayer(
            int(num_heads),
            int(head_dim),
            use_residual=bool(use_residual),
            name=f"interacting_{i}",
        )
        for i in range(int(num_layers))
    ]


def interacting_features(layers, embedded):
    """The stack's output over the field embeddings `[batch, M, d]`, flattened to
    `e_1^Res (+) ... (+) e_M^Res` `[batch, M * heads * head_dim]` (Eq. (9)'s input)."""
    x = embedded
    for layer in layers:  # Eq. (5)-(8)
        x = layer(x)
    return ops.reshape(x, (-1, x.shape[1] * x.shape[2]))


@keras.saving.register_keras_serializable(package="recsys_tf")
class AutoInt(FieldCTRModel):
    """AutoInt: field embeddings, `num_layers` interacting layers, a linear logit.

    AutoInt Sec. 4: each field is embedded into `e_m` in R^d (Eq. (2); our fields
    are all categorical); `num_layers` interacting layers (Eq. (5)-(8),
    `recsys_tf.layers.InteractingLayer`) are stacked; the output layer Eq. (9) is
    `logit = w^T (e_1^Res (+) ... (+) e_M^Res) + b`.

    `deep=True` is the paper's AutoInt+ (Sec. 5.6): a feed-forward network over the
    concatenated embeddings in parallel. The paper does not give how the two are
    joined; here the DNN's last hidden layer is concatenated with the flattened
    attention output before the logit (as DeepCTR and pytorch-fm do).

    L2 (`l2`) is applied, as in `WideDeep`, to the looked-up embedding rows and
    the DNN's kernels, not to the attention projections.

    Inputs: dict field -> int `[batch]`. Output: logits `[batch]`.

    Args:
        fields: names of the categorical fields.
        vocabulary_sizes: their vocabulary sizes.
        embedding_dim: d, the size of each field embedding.
        num_layers: the number of interacting layers.
        num_heads: H, attention heads per interacting layer.
        head_dim: d', the size of each head.
        use_residual: the residual projection of Eq. (8).
        deep: add the parallel DNN (AutoInt+).
        hidden_units: the DNN's layer sizes (with `deep=True`).
        dropout: dropout of the DNN.
        l2: L2 factor on looked-up embedding rows and DNN kernels.

    Example:
        >>> model = AutoInt(("user_id", "item_id"), (10, 20), embedding_dim=4)
        >>> x = {"user_id": keras.ops.array([1, 2]), "item_id": keras.ops.array([3, 4])}
        >>> model(x).shape
        (2,)

    Reference: W. Song et al., "AutoInt: Automatic Feature Interaction Learning
    via Self-Attentive Neural Networks", CIKM 2019.
    """

    def __init__(
        self,
        fields,
        vocabulary_sizes,
        embedding_dim=16,
        num_layers=3,
        num_heads=2,
        head_dim=32,
        use_residual=True,
        deep=False,
        hidden_units=(256, 128, 64),
        dropout=0.0,
        l2=0.0,
        **kwargs,
    ):
        super().__init__(fields, vocabulary_sizes, embedding_dim, l2, **kwargs)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.head_dim = int(head_dim)
        self.use_residual = bool(use_residual)
        self.deep = bool(deep)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.dropout = dropout
        self.interacting_layers = interacting_stack(
            self.num_layers, self.num_heads, self.head_dim, self.use_residual
        )
        if self.deep:
            self.mlp = MLP(
                self.hidden_units, dropout=dropout, kernel_regularizer=l2, name="deep"
            )
        self.logit = keras.layers.Dense(1, name="logit")

    def call(self, inputs, training=False):
        _, embedded = self.embed(inputs)
        features = interacting_features(self.interacting_layers, embedded)
        if self.deep:
            flat = ops.reshape(embedded, (-1, len(self.fields) * self.embedding_dim))
            deep = self.mlp(flat, training=training)
            features = ops.concatenate([features, deep], -1)
        return ops.squeeze(self.logit(features), -1)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            head_dim=self.head_dim,
            use_residual=self.use_residual,
            deep=self.deep,
            hidden_units=self.hidden_units,
            dropout=self.dropout,
        )
        return config
