"""One Transformer layer (Vaswani et al., 2017) over padded behaviour sequences."""

import math

import keras
from keras import ops

# Score bias of padded keys before the softmax: exp() of it is 0 in float32.
_MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="recsys_tf")
class TransformerBlock(keras.layers.Layer):
    """Multi-head attention and a position-wise FFN, each with residual + LayerNorm.

    The post-norm Transformer layer of Vaswani et al. (2017), Sec. 3.1-3.3, for
    queries `X` `[batch, T_q, d]` and a context `C` `[batch, T_k, d]` (`C = X`:
    self-attention, the encoder layer; another `C`: the decoder's attention to the
    encoder output):

    - Eq. (1) and Sec. 3.2.2: `MultiHead(Q, K, V) = Concat(head_1 .. head_H) W^O`,
      `head_h = softmax(Q W_h^Q (K W_h^K)^T / sqrt(d_k)) V W_h^V`;
    - Sec. 3.1: `Z = LayerNorm(X + Dropout(MultiHead(X, C, C)))`;
    - Eq. (2): `Y = LayerNorm(Z + Dropout(FFN(Z)))`,
      `FFN(z) = max(0, z W_1 + b_1) W_2 + b_2`.

    `num_heads` is H, `head_dim` is d_k = d_v (default `d // H`), `ffn_units` the
    inner size of the FFN (default `4 d`, as the paper's 2048 for d = 512). The
    projections `W^Q, W^K, W^V, W^O` are those of a
    `keras.layers.MultiHeadAttention` without biases (sublayer `attention`), which
    is Eq. (1) as written (a bias of the keys would have no effect: the softmax
    over the keys cancels it); the attention between them is two batched matmuls
    here (`_attend`). It is the
    Transformer of DSIN (Feng et al. 2019, session interest extractor), DFN (Xie
    et al. 2020, internal feedback interaction) and DMT (Gu et al. 2020, Deep
    Multifaceted Transformers layer).

    BERT's layer (Devlin et al. 2019), as the SASRec of S3-Rec (Zhou et al. 2020,
    github.com/RUCAIBox/CIKM2020-S3Rec `modules.py`) uses it: `causal=True` (query
    i attends to the keys j <= i only), `activation="gelu"` (the erf form),
    `use_bias=True` (biases `b^Q`, `b^V`, `b^O` on the query, value and output
    projections) and `kernel_initializer` N(0, 0.02). S3-Rec's key projection also
    has a bias; it is left out here: it adds `q . b^K` to every score of a query,
    which the softmax cancels (its gradient is zero, it stays at its zero
    initialisation).

    Masking: `mask` (bool `[batch, T_q]`) marks the valid queries, `context_mask`
    (bool `[batch, T_k]`) the valid keys; in self-attention the keys are the
    queries and `mask` serves both. Padded keys get no attention, and the outputs
    at padded queries are zeros, so the codes at padded positions never change the
    output. A query with no valid key attends to nothing (its attention output is
    zero, keeping `X` through the residual).

    Input: `[batch, T_q, d]`; optional `context` `[batch, T_k, d]`.
    Output: `[batch, T_q, d]`.

    Args:
        num_heads: H, the number of attention heads.
        head_dim: d_k, the size of each head's query, key and value (None = d // H).
        ffn_units: inner size of the FFN (None = 4 d).
        dropout: dropout rate on the attention weights and on both residual branches.
        epsilon: LayerNorm epsilon.
        layer_norm: the two LayerNorms (False: `Z = X + MultiHead(..)` and `Y = Z
            + FFN(Z)`, unnormalised, as DFN's authors' code; the outputs then
            keep the inputs' scale).
        causal: self-attention without look-ahead: query i attends to the keys
            j <= i only (the keys' `mask` still applies).
        activation: the FFN's inner activation ("relu" as the paper; "gelu" is
            the exact erf form, BERT's).
        use_bias: biases on the attention's query, value and output projections
            (the FFN always has its biases).
        kernel_initializer: initializer of every kernel (attention projections
            and FFN); biases start at zero, the LayerNorms at gamma 1, beta 0.

    Example:
        >>> block = TransformerBlock(num_heads=2)
        >>> x = keras.ops.ones((3, 5, 8))
        >>> block(x, mask=keras.ops.ones((3, 5), "bool")).shape
        (3, 5, 8)

    Reference: A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
    """

    def __init__(
        self,
        num_heads=2,
        head_dim=None,
        ffn_units=None,
        dropout=0.0,
        epsilon=1e-6,
        layer_norm=True,
        causal=False,
        activation="relu",
        use_bias=False,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_heads) < 1:
            raise ValueError(
                f"`num_heads` must be > 0. Received: num_heads={num_heads}"
            )
        if head_dim is not None and int(head_dim) < 1:
            raise ValueError(f"`head_dim` must be > 0. Received: head_dim={head_dim}")
        if ffn_units is not None and int(ffn_units) < 1:
            raise ValueError(
                f"`ffn_units` must be > 0. Received: ffn_units={ffn_units}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout}"
            )
        self.num_heads = int(num_heads)
        self.head_dim = None if head_dim is None else int(head_dim)
        self.ffn_units = None if ffn_units is None else int(ffn_units)
        self.dropout = dropout
        self.epsilon = epsilon
        self.layer_norm = bool(layer_norm)
        self.causal = bool(causal)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def _initializer(self):
        """A fresh copy of `kernel_initializer` per sublayer: an unseeded Keras
        initializer draws the same values at every call of one instance."""
        return keras.initializers.get(
            keras.initializers.serialize(self.kernel_initializer)
        )

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "TransformerBlock takes `[batch, seq_len, d]` inputs with a known d. "
                f"Received: input_shape={input_shape}"
            )
        dim = int(input_shape[-1])
        head_dim = self.head_dim or dim // self.num_heads
        if head_dim < 1:
            raise ValueError(
                f"d = {dim} is smaller than num_heads = {self.num_heads}: "
                "give `head_dim`."
            )
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads,
            head_dim,
            use_bias=False,
            kernel_initializer=self._initializer(),
            name="attention",
        )
        self.attention.build(input_shape, input_shape)
        self.query_bias = self.value_bias = self.output_bias = None
        if self.use_bias:
            self.query_bias = self.add_weight(
                name="query_bias", shape=(self.num_heads, head_dim), initializer="zeros"
            )
            self.value_bias = self.add_weight(
                name="value_bias", shape=(self.num_heads, head_dim), initializer="zeros"
            )
            self.output_bias = self.add_weight(
                name="output_bias", shape=(dim,), initializer="zeros"
            )
        self.attention_norm = self.ffn_norm = None
        if self.layer_norm:
            self.attention_norm = keras.layers.LayerNormalization(
                epsilon=self.epsilon, name="attention_norm"
            )
            self.attention_norm.build(input_shape)
            self.ffn_norm = keras.layers.LayerNormalization(
                epsilon=self.epsilon, name="ffn_norm"
            )
            self.ffn_norm.build(input_shape)
        self.ffn_inner = keras.layers.Dense(
            self.ffn_units or 4 * dim,
            activation=self.activation,
            kernel_initializer=self._initializer(),
            name="ffn_inner",
        )
        self.ffn_inner.build(input_shape)
        self.ffn_outer = keras.layers.Dense(
            dim, kernel_initializer=self._initializer(), name="ffn_outer"
        )
        self.ffn_outer.build(tuple(input_shape[:-1]) + (self.ffn_inner.units,))
        self.residual_dropout = keras.layers.Dropout(self.dropout)
        self.attention_dropout = keras.layers.Dropout(self.dropout)

    def call(
        self,
        inputs,
        context=None,
        mask=None,
        context_mask=None,
        training=False,
        return_attention_scores=False,
    ):
        if context is None:
            context, context_mask = inputs, mask
        attended, scores = self._attend(inputs, context, context_mask, training)
        x = self._norm(
            self.attention_norm,
            inputs + self.residual_dropout(attended, training=training),
        )
        ffn = self.ffn_outer(self.ffn_inner(x))
        x = self._norm(self.ffn_norm, x + self.residual_dropout(ffn, training=training))
        if mask is not None:
            x = x * ops.cast(mask, x.dtype)[..., None]
        if return_attention_scores:
            return x, scores
        return x

    @staticmethod
    def _norm(norm, x):
        return x if norm is None else norm(x)

    def _attend(self, inputs, context, context_mask, training):
        """`MultiHead(X, C, C)` of Eq. (1) `[batch, T_q, d]` and the attention
        weights `[batch, H, T_q, T_k]`, as batched matmuls.

        The key mask enters as an additive bias `[batch, 1, 1, T_k]` (0 or
        -1e9, whose exp is 0 in float32; with `causal`, plus -1e9 for the keys
        after the query, `[1, 1, T_q, T_k]`) and a row with no valid key is zeroed
        on the attended values `[batch, T_q, H, d_k]`: no mask select over the
        `[batch, H, T_q, T_k]` scores, the largest tensors of the layer.
        """
        heads = self.attention
        query = heads.query_dense(inputs)  # [batch, T_q, H, d_k]
        key = heads.key_dense(context)
        value = heads.value_dense(context)
        if self.use_bias:
            query = query + self.query_bias
            value = value + self.value_bias
        scale = 1.0 / math.sqrt(query.shape[-1])
        scores = ops.einsum("bqhd,bkhd->bhqk", query * scale, key)
        bias = None
        if context_mask is not None:
            valid = ops.cast(context_mask, scores.dtype)
            bias = ((valid - 1.0) * -_MASKED_SCORE)[:, None, None, :]
        if self.causal:
            ahead = 1.0 - ops.tril(
                ops.ones((ops.shape(query)[1], ops.shape(key)[1]), scores.dtype)
            )
            ahead = (ahead * _MASKED_SCORE)[None, None]
            bias = ahead if bias is None else bias + ahead
        if bias is not None:
            scores = scores + bias
        weights = ops.softmax(scores, axis=-1)
        attended = ops.einsum(
            "bhqk,bkhd->bqhd", self.attention_dropout(weights, training=training), value
        )
        if context_mask is not None:
            any_valid = ops.max(valid, axis=-1)
            attended = attended * any_valid[:, None, None, None]
            weights = weights * any_valid[:, None, None, None]
        attended = heads.output_dense(attended)
        if self.use_bias:
            attended = attended + self.output_bias
        return attended, weights

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            head_dim=self.head_dim,
            ffn_units=self.ffn_units,
            dropout=self.dropout,
            epsilon=self.epsilon,
            layer_norm=self.layer_norm,
            causal=self.causal,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
