"""The interacting layer of AutoInt (Song et al., 2019)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class InteractingLayer(keras.layers.Layer):
    """Multi-head self-attention across fields, with a residual projection.

    AutoInt Eq. (5)-(8), for field embeddings `e_1 .. e_M` and each head h:

    - Eq. (5): `alpha_{m,k}^(h) = softmax_k(psi^(h)(e_m, e_k))`,
      Eq. (6): `psi^(h)(e_m, e_k) = <W_query^(h) e_m, W_key^(h) e_k>`
      (the softmax runs over the M fields k);
    - Eq. (6): `e~_m^(h) = sum_k alpha_{m,k}^(h) W_value^(h) e_k`;
    - Eq. (7): `e~_m = e~_m^(1) (+) ... (+) e~_m^(H)` (concatenation of the heads);
    - Eq. (8): `e_m^Res = ReLU(e~_m + W_res e_m)`.

    `num_heads` is H, `head_dim` is d' (the projections are `[d, d']` per head,
    `W_res` is `[d, H d']`). As in the paper, the projections have no bias and the
    scores are not scaled by `1/sqrt(d')`. `use_residual=False` drops `W_res e_m`
    and keeps the ReLU (as the paper's code and DeepCTR do).

    Why not `keras.layers.MultiHeadAttention`: it scales the scores by
    `1/sqrt(key_dim)`, adds an output projection `W_O` after concatenating the
    heads, and has neither AutoInt's residual projection `W_res` nor its ReLU.

    Input: `[batch, num_fields, d]`. Output: `[batch, num_fields, num_heads *
    head_dim]`; with `return_attention_scores=True` also the weights `alpha`,
    `[batch, num_heads, num_fields, num_fields]` (query field, key field).

    Args:
        num_heads: H, the number of attention heads.
        head_dim: d', the size of each head's query, key and value.
        use_residual: add the residual projection `W_res e_m` of Eq. (8).
        kernel_initializer: initializer of the projections.

    Example:
        >>> layer = InteractingLayer(num_heads=2, head_dim=4)
        >>> layer(keras.ops.ones((3, 5, 8))).shape
        (3, 5, 8)

    Reference: W. Song et al., "AutoInt: Automatic Feature Interaction Learning
    via Self-Attentive Neural Networks", CIKM 2019.
    """

    def __init__(
        self,
        num_heads=2,
        head_dim=32,
        use_residual=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_heads) < 1:
            raise ValueError(
                f"`num_heads` must be > 0. Received: num_heads={num_heads}"
            )
        if int(head_dim) < 1:
            raise ValueError(f"`head_dim` must be > 0. Received: head_dim={head_dim}")
        self.num_heads = int(num_heads)
        self.head_dim = int(head_dim)
        self.use_residual = bool(use_residual)
        self.kernel_initializer = kernel_initializer

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "InteractingLayer takes `[batch, num_fields, d]` inputs with a known "
                f"d. Received: input_shape={input_shape}"
            )
        dim = input_shape[-1]
        shape = (dim, self.num_heads, self.head_dim)

        def kernel(name, shape=shape):
            return self.add_weight(
                name=name,
                shape=shape,
                initializer=keras.initializers.get(self.kernel_initializer),
            )

        self.query_kernel = kernel("query_kernel")
        self.key_kernel = kernel("key_kernel")
        self.value_kernel = kernel("value_kernel")
        if self.use_residual:
            self.residual_kernel = kernel(
                "residual_kernel", (dim, self.num_heads * self.head_dim)
            )

    def call(self, inputs, return_attention_scores=False):
        # [batch, heads, fields, head_dim]
        query = ops.einsum("bmd,dhk->bhmk", inputs, self.query_kernel)
        key = ops.einsum("bmd,dhk->bhmk", inputs, self.key_kernel)
        value = ops.einsum("bmd,dhk->bhmk", inputs, self.value_kernel)
        scores = ops.softmax(ops.einsum("bhmk,bhnk->bhmn", query, key), axis=-1)
        heads = ops.einsum("bhmn,bhnk->bmhk", scores, value)
        shape = ops.shape(inputs)
        combined = ops.reshape(
            heads, (shape[0], shape[1], self.num_heads * self.head_dim)
        )
        if self.use_residual:
            combined = combined + ops.matmul(inputs, self.residual_kernel)
        outputs = ops.relu(combined)
        if return_attention_scores:
            return outputs, scores
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.num_heads * self.head_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            head_dim=self.head_dim,
            use_residual=self.use_residual,
            kernel_initializer=self.kernel_initializer,
        )
        return config
