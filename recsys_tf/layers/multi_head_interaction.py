"""The multi-head interaction-attention component of DUMN (Bian et al., 2021)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class MultiHeadInteraction(keras.layers.Layer):
    """Self-attention over one feedback sequence, then attention of user and target.

    DUMN Eq. (1)-(5), for the embedded sequence `e_c = [e_c,1 .. e_c,H]` split into
    H chunks of width E / H along the embedding axis (`num_heads` is H):

    - Eq. (1): `head_h = softmax(e_c,h W^Q_h (e_c,h W^K_h)^T / sqrt(T)) e_c,h W^V_h`;
    - Eq. (2): `O_c = Concat(head_1 .. head_H) W^F`, rows `o_c^j`;
    - Eq. (3): `alpha_j = ReLU(Concat(e_user, e_item, o_c^j) W_c)`;
    - Eq. (4): `alpha_j = exp(alpha_j) / sum_j' exp(alpha_j')`;
    - Eq. (5): `f_c = sum_j alpha_j o_c^j`.

    `head_dim` is the width of `W^Q_h`, `W^K_h`, `W^V_h` (`[E / H, head_dim]`),
    `output_dim` the width of `W^F` (`[H head_dim, output_dim]`); `W_c` is
    `[D_user + D_item + output_dim, 1]`. Every matrix is bias-free, as written.
    T in Eq. (1) is the paper's maximum sequence length, as written, not the
    usual `sqrt(head_dim)`: `scale_length` when given, else the padded length of
    the inputs (give it when batches are cut to their used columns, so that the
    output does not depend on the padding's width).

    Choices where the paper is silent:
    - `head_dim` defaults to E / H and `output_dim` to E.
    - Padding: padded positions are excluded as keys in Eq. (1) (a logit of
      -1e9) and from the softmax of Eq. (4); a row with no valid position gives
      `f_c = 0`.

    Inputs: `inputs` (e_c) `[batch, seq_len, dim]`, `user_embedding` (e_user)
    `[batch, user_dim]`, `item_embedding` (e_item) `[batch, item_dim]`, `mask`
    bool/int `[batch, seq_len]` (1 = a real event). Output: f_c
    `[batch, output_dim]`; with `return_attention_scores=True` also
    `(self_attention [batch, heads, seq_len, seq_len], alpha [batch, seq_len])`.

    Args:
        num_heads: H, the number of heads; must divide the embedding size E.
        head_dim: width of each head's query, key and value; None = E / H.
        output_dim: width of `W^F` (of o_c^j and f_c); None = E.
        scale_length: T of Eq. (1)'s `sqrt(T)`; None = the inputs' seq_len.
        kernel_initializer: initializer of every matrix.

    Example:
        >>> layer = MultiHeadInteraction(num_heads=2)
        >>> f = layer(keras.ops.ones((3, 5, 8)), keras.ops.ones((3, 4)),
        ...           keras.ops.ones((3, 6)), mask=keras.ops.ones((3, 5)))
        >>> f.shape
        (3, 8)

    Reference: Z. Bian et al., "Denoising User-aware Memory Network for
    Recommendation", RecSys 2021 (arXiv:2107.05474), Section 3.3.1.
    """

    def __init__(
        self,
        num_heads=2,
        head_dim=None,
        output_dim=None,
        scale_length=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_heads) < 1:
            raise ValueError(
                f"`num_heads` must be > 0. Received: num_heads={num_heads}"
            )
        for name, value in (
            ("head_dim", head_dim),
            ("output_dim", output_dim),
            ("scale_length", scale_length),
        ):
            if value is not None and int(value) < 1:
                raise ValueError(
                    f"`{name}` must be > 0 or None. Received: {name}={value}"
                )
        self.num_heads = int(num_heads)
        self.head_dim = None if head_dim is None else int(head_dim)
        self.output_dim = None if output_dim is None else int(output_dim)
        self.scale_length = None if scale_length is None else int(scale_length)
        self.kernel_initializer = kernel_initializer

    def _sizes(self, dim):
        head_dim = self.head_dim or dim // self.num_heads
        return head_dim, self.output_dim or dim

    def build(self, inputs_shape, user_embedding_shape=None, item_embedding_shape=None):
        input_shape, user_shape, item_shape = (
            inputs_shape,
            user_embedding_shape,
            item_embedding_shape,
        )
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "MultiHeadInteraction takes `inputs` of shape [batch, seq_len, dim] "
                f"with a known dim. Received: input_shape={input_shape}"
            )
        dim = input_shape[-1]
        if dim % self.num_heads:
            raise ValueError(
                f"The embedding size {dim} must be divisible by `num_heads` "
                f"(Eq. (1) splits it into heads). Received: num_heads={self.num_heads}"
            )
        for name, shape in (
            ("user_embedding", user_shape),
            ("item_embedding", item_shape),
        ):
            if shape is None or len(shape) != 2 or shape[-1] is None:
                raise ValueError(
                    f"`{name}` must have shape [batch, dim] with a known dim. "
                    f"Received: {shape}"
                )
        head_dim, output_dim = self._sizes(dim)
        chunk = dim // self.num_heads

        def kernel(name, shape):
            return self.add_weight(
                name=name,
                shape=shape,
                initializer=keras.initializers.get(self.kernel_initializer),
            )

        self.query_kernel = kernel("query_kernel", (self.num_heads, chunk, head_dim))
        self.key_kernel = kernel("key_kernel", (self.num_heads, chunk, head_dim))
        self.value_kernel = kernel("value_kernel", (self.num_heads, chunk, head_dim))
        self.output_kernel = kernel(
            "output_kernel", (self.num_heads * head_dim, output_dim)
        )
        self.attention_kernel = kernel(
            "attention_kernel", (user_shape[-1] + item_shape[-1] + output_dim, 1)
        )

    def call(
        self,
        inputs,
        user_embedding,
        item_embedding,
        mask=None,
        return_attention_scores=False,
    ):
        shape = ops.shape(inputs)
        batch, seq_len, dim = shape[0], shape[1], inputs.shape[-1]
        if mask is None:
            valid = ops.ones((batch, seq_len), dtype=inputs.dtype)
        else:
            valid = ops.cast(ops.cast(mask, "bool"), inputs.dtype)

        # Eq. (1): heads over chunks of the embedding axis, [batch, heads, T, chunk].
        chunks = ops.reshape(
            inputs, (batch, seq_len, self.num_heads, dim // self.num_heads)
        )
        scale = ops.sqrt(ops.cast(self.scale_length or seq_len, inputs.dtype))
        query = ops.einsum("bthc,hck->bhtk", chunks, self.query_kernel) / scale
        key = ops.einsum("bthc,hck->bhtk", chunks, self.key_kernel)
        value = ops.einsum("bthc,hck->bhtk", chunks, self.value_kernel)
        # Padded keys get a large negative logit: one fused softmax, no mask of
        # size [batch, heads, T, T]. A row with no valid key attends uniformly to
        # its padding; alpha of Eq. (4) gives all of its positions 0 weight.
        large = (
            3e4 if keras.backend.standardize_dtype(inputs.dtype) == "float16" else 1e9
        )
        key_bias = (valid - 1.0) * large
        logits = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2)))
        scores = ops.softmax(logits + key_bias[:, None, None, :], axis=-1)
        heads = ops.transpose(ops.matmul(scores, value), (0, 2, 1, 3))

        # Eq. (2): O_c = Concat(heads) W^F, [batch, T, output_dim].
        outputs = ops.matmul(
            ops.reshape(heads, (batch, seq_len, -1)), self.output_kernel
        )

        # Eq. (3)-(4): alpha_j over the valid positions.
        context = ops.concatenate([user_embedding, item_embedding], axis=-1)
        context = ops.broadcast_to(
            context[:, None, :], (batch, seq_len, context.shape[-1])
        )
        alpha = ops.relu(
            ops.matmul(
                ops.concatenate([context, outputs], axis=-1), self.attention_kernel
            )
        )[..., 0]
        alpha = _masked_softmax(alpha, valid)

        # Eq. (5): f_c = sum_j alpha_j o_c^j.
        pooled = ops.einsum("bt,btd->bd", alpha, outputs)
        if return_attention_scores:
            # A row without a valid key: 0 scores rather than the uniform ones.
            any_valid = ops.max(valid, axis=-1)[:, None, None, None]
            return pooled, (scores * any_valid, alpha)
        return pooled

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        return (inputs_shape[0], self._sizes(inputs_shape[-1])[1])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            head_dim=self.head_dim,
            output_dim=self.output_dim,
            scale_length=self.scale_length,
            kernel_initializer=self.kernel_initializer,
        )
        return config


def _masked_softmax(logits, valid):
    """Softmax over the last axis restricted to `valid` (0/1); all-invalid -> 0."""
    valid = ops.broadcast_to(valid, ops.shape(logits)) > 0
    peak = ops.max(ops.where(valid, logits, ops.min(logits)), axis=-1, keepdims=True)
    shifted = ops.where(valid, logits - ops.stop_gradient(peak), 0.0)
    weights = ops.where(valid, ops.exp(shifted), 0.0)
    total = ops.sum(weights, axis=-1, keepdims=True)
    # A valid row has total >= 1 (its peak gives exp(0)); an empty row gets 0s.
    return weights / ops.where(total > 0, total, 1.0)
