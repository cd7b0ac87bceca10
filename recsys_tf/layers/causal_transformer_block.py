"""The causal self-attention block of SASRec (Kang & McAuley, 2018)."""

import keras
from keras import ops

_MASKED = -1e9  # score of a masked key (SASRec uses -2**32 + 1)


@keras.saving.register_keras_serializable(package="recsys_tf")
class CausalTransformerBlock(keras.layers.Layer):
    """One SASRec block: causal self-attention, then a point-wise feed-forward net.

    SASRec Sec. III-B/C, for the position rows `x_1 .. x_T` of `inputs`:

    - Eq. (2)-(3), with causality: `S = softmax(Q K^T / sqrt(d_h) + C) V`,
      `Q = LN(x) W^Q`, `K = x W^K`, `V = x W^V`, where `C_ij = -inf` for a key j
      after the query i (no look-ahead) or at a padded position;
    - Eq. (4): `F_i = ReLU(S'_i W^(1) + b^(1)) W^(2) + b^(2)` on `S' = LN(S + LN(x))`;
    - Eq. (6): residual connections, layer normalisation (Eq. (7), epsilon
      `epsilon`) and dropout `dropout` on the attention weights and after each
      feed-forward layer.

    The paper's Eq. (6) writes `g(x) = x + Dropout(g(LN(x)))`; the block follows
    the authors' code (github.com/kang205/SASRec, `model.py`), where the keys and
    values read the block input `x` unnormalised and each residual adds the
    normalised input `LN(x)` (resp. `S'`). The heads split `units` in `num_heads`
    parts of `d_h = units / num_heads` (no output projection, as the code). The
    key projection has no bias: it adds `q . b` to every score of a query, which
    the softmax cancels (the code's key bias never gets a gradient). A
    padded position attends to nothing and outputs zeros, so outputs at real
    positions never depend on padding, and position i never depends on a
    position after it.

    Inputs: `inputs` `[batch, seq_len, units]`, `mask` bool `[batch, seq_len]`
    (True = a real position; None = all real).
    Output: `[batch, seq_len, units]`.

    Args:
        num_heads: attention heads (the paper uses 1); must divide the input size.
        dropout: dropout rate (SASRec: 0.5 on Amazon data, 0.2 on MovieLens).
        epsilon: layer-normalisation epsilon (1e-8 in the authors' code).

    Example:
        >>> block = CausalTransformerBlock(num_heads=1, dropout=0.2)
        >>> block(keras.ops.ones((2, 5, 8))).shape
        (2, 5, 8)

    Reference: W.-C. Kang and J. McAuley, "Self-Attentive Sequential
    Recommendation", ICDM 2018.
    """

    def __init__(self, num_heads=1, dropout=0.0, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        if int(num_heads) < 1:
            raise ValueError(
                f"`num_heads` must be > 0. Received: num_heads={num_heads}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout}"
            )
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.epsilon = float(epsilon)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "CausalTransformerBlock takes `[batch, seq_len, units]` inputs with "
                f"known units. Received: input_shape={input_shape}"
            )
        units = int(input_shape[-1])
        if units % self.num_heads:
            raise ValueError(
                f"`num_heads` must divide the input size. Received: num_heads="
                f"{self.num_heads}, units={units}"
            )

        def dense(name, activation=None, use_bias=True):
            layer = keras.layers.Dense(
                units, activation=activation, use_bias=use_bias, name=name
            )
            layer.build((None, units))
            return layer

        def norm(name):
            layer = keras.layers.LayerNormalization(epsilon=self.epsilon, name=name)
            layer.build((None, units))
            return layer

        self.attention_norm = norm("attention_norm")
        self.query = dense("query")
        self.key = dense("key", use_bias=False)
        self.value = dense("value")
        self.feed_forward_norm = norm("feed_forward_norm")
        self.inner = dense("inner", "relu")
        self.outer = dense("outer")
        self.attention_dropout = keras.layers.Dropout(self.dropout)
        self.inner_dropout = keras.layers.Dropout(self.dropout)
        self.outer_dropout = keras.layers.Dropout(self.dropout)

    def _heads(self, x):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, length, self.num_heads, -1))
        return ops.transpose(x, (0, 2, 1, 3))  # [batch, heads, seq_len, d_h]

    def call(self, inputs, mask=None, training=False):
        length = ops.shape(inputs)[1]
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], "bool")
        mask = ops.cast(mask, "bool")
        normed = self.attention_norm(inputs)
        query = self._heads(self.query(normed))
        key = self._heads(self.key(inputs))
        value = self._heads(self.value(inputs))
        head_dim = ops.cast(ops.shape(query)[-1], inputs.dtype)
        scores = ops.einsum("bhqd,bhkd->bhqk", query, key) / ops.sqrt(head_dim)
        causal = ops.tril(ops.ones((length, length), "bool"))
        allowed = ops.logical_and(causal[None, None], mask[:, None, None, :])
        scores = ops.where(allowed, scores, ops.cast(_MASKED, scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        weights = weights * ops.cast(mask, weights.dtype)[:, None, :, None]
        weights = self.attention_dropout(weights, training=training)
        attended = ops.einsum("bhqk,bhkd->bqhd", weights, value)
        attended = ops.reshape(attended, ops.shape(inputs)) + normed
        normed = self.feed_forward_norm(attended)
        hidden = self.inner_dropout(self.inner(normed), training=training)
        outputs = self.outer_dropout(self.outer(hidden), training=training) + normed
        return outputs * ops.cast(mask, outputs.dtype)[..., None]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads, dropout=self.dropout, epsilon=self.epsilon
        )
        return config
