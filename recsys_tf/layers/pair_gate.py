"""The preference-aware interactive representation (PAIR) of DUMN, and its ablations."""

import keras
from keras import ops

FUSIONS = ("gate", "concat", "cross", "ffn", "attention")


@keras.saving.register_keras_serializable(package="recsys_tf")
class PAIRGate(keras.layers.Layer):
    """Fuses each feedback type's short-term and long-term interest, then concatenates.

    DUMN Eq. (13)-(14), for K feedback types (click, unclick, like, dislike) with
    short-term interests `f^o_k` (`inputs[:, k]`, width D) and long-term interests
    `r_k` (`long_term[:, k]`, width Z):

    - Eq. (13), `fusion="gate"`: `U_k = Concat(f^o_k * sigmoid(f^o_k W1_k),
      r_k * sigmoid(r_k W2_k))`, W1_k `[D, D]`, W2_k `[Z, Z]`, bias-free;
    - Eq. (14): `R_cross = Concat(U_1, .., U_K)`, the output.

    Table 4 replaces the gate of Eq. (13) by four other fusions of f^o_k and r_k
    (Section 4.3.3); they are this layer's `fusion` switch, since they change how
    one type's two interests meet and leave Eq. (14)'s concatenation as it is:

    - `"concat"` (DUMN_CONCAT): `U_k = Concat(f^o_k, r_k)`;
    - `"cross"` (DUMN_CROSS): `U_k = Concat(f + r', f - r', f * r')`, with
      `r' = r_k P_k` (P_k `[Z, D]`, bias-free);
    - `"ffn"` (DUMN_FFN): `U_k = Concat(ReLU(f^o_k A_k + a_k), ReLU(r_k B_k + b_k))`,
      A_k `[D, D]`, B_k `[Z, Z]`;
    - `"attention"` (DUMN_ATTE): `U_k = beta_1 f^o_k + beta_2 r'`, with `r' = r_k P_k`
      and `beta = softmax_i(v_k^T tanh(x_i W_k + c_k))` over `x = (f^o_k, r')`.

    Choices where the paper is silent: W1 and W2 are separate per feedback type
    (the paper writes them for the click type only); Eq. (13)'s "dimension
    conversion matrix" is read as square (the only reading under which the
    Hadamard products are defined); the four ablations' exact forms above are
    ours (the paper names them in one sentence each): one ReLU layer of the
    vector's own width for FFN, additive attention pooling of the two vectors
    for ATTE, and a bias-free map of r into D wherever the two must be added.

    Inputs: `inputs` `[batch, K, D]`, `long_term` `[batch, K, Z]`. Output:
    `[batch, K * width]`, width = D + Z (gate, concat, ffn), 3 D (cross) or D
    (attention).

    Args:
        fusion: one of "gate" (the paper's PAIR), "concat", "cross", "ffn",
            "attention".
        kernel_initializer: initializer of the kernels.

    Example:
        >>> layer = PAIRGate()
        >>> layer(keras.ops.ones((2, 4, 16)), keras.ops.ones((2, 4, 64))).shape
        (2, 320)

    Reference: Z. Bian et al., "Denoising User-aware Memory Network for
    Recommendation", arXiv:2107.05474, Section 3.5 and Table 4.
    """

    def __init__(self, fusion="gate", kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if fusion not in FUSIONS:
            raise ValueError(
                f"`fusion` must be one of {FUSIONS}. Received: fusion={fusion!r}"
            )
        self.fusion = fusion
        self.kernel_initializer = kernel_initializer

    def build(self, inputs_shape, long_term_shape=None):
        for name, shape in (("inputs", inputs_shape), ("long_term", long_term_shape)):
            if shape is None or len(shape) != 3 or None in tuple(shape)[1:]:
                raise ValueError(
                    f"PAIRGate's `{name}` must have shape [batch, num_types, dim] "
                    f"with known num_types and dim. Received: {shape}"
                )
        if inputs_shape[1] != long_term_shape[1]:
            raise ValueError(
                "`inputs` and `long_term` must hold the same number of feedback "
                f"types. Received: {inputs_shape} and {long_term_shape}"
            )
        types, short_dim, long_dim = (
            inputs_shape[1],
            inputs_shape[2],
            long_term_shape[2],
        )
        self._long_dim = long_dim  # for compute_output_shape(inputs_shape) alone

        def weight(name, shape, initializer=None):
            return self.add_weight(
                name=name,
                shape=(types,) + shape,
                initializer=initializer
                or keras.initializers.get(self.kernel_initializer),
            )

        if self.fusion in ("gate", "ffn"):
            self.short_kernel = weight("short_kernel", (short_dim, short_dim))
            self.long_kernel = weight("long_kernel", (long_dim, long_dim))
        if self.fusion == "ffn":
            self.short_bias = weight("short_bias", (short_dim,), "zeros")
            self.long_bias = weight("long_bias", (long_dim,), "zeros")
        if self.fusion in ("cross", "attention"):
            self.conversion_kernel = weight("conversion_kernel", (long_dim, short_dim))
        if self.fusion == "attention":
            self.attention_kernel = weight("attention_kernel", (short_dim, short_dim))
            self.attention_bias = weight("attention_bias", (short_dim,), "zeros")
            self.attention_vector = weight("attention_vector", (short_dim,))

    def call(self, inputs, long_term):
        short, long = inputs, ops.cast(long_term, inputs.dtype)
        if self.fusion == "gate":  # Eq. (13)
            fused = ops.concatenate(
                [
                    short
                    * ops.sigmoid(ops.einsum("bkd,kde->bke", short, self.short_kernel)),
                    long
                    * ops.sigmoid(ops.einsum("bkz,kzy->bky", long, self.long_kernel)),
                ],
                axis=-1,
            )
        elif self.fusion == "concat":
            fused = ops.concatenate([short, long], axis=-1)
        elif self.fusion == "ffn":
            fused = ops.concatenate(
                [
                    ops.relu(
                        ops.einsum("bkd,kde->bke", short, self.short_kernel)
                        + self.short_bias
                    ),
                    ops.relu(
                        ops.einsum("bkz,kzy->bky", long, self.long_kernel)
                        + self.long_bias
                    ),
                ],
                axis=-1,
            )
        else:
            converted = ops.einsum("bkz,kzd->bkd", long, self.conversion_kernel)
            if self.fusion == "cross":
                fused = ops.concatenate(
                    [short + converted, short - converted, short * converted], axis=-1
                )
            else:
                pair = ops.stack([short, converted], axis=2)  # [batch, K, 2, D]
                hidden = ops.tanh(
                    ops.einsum("bkid,kde->bkie", pair, self.attention_kernel)
                    + self.attention_bias[None, :, None, :]
                )
                scores = ops.einsum("bkie,ke->bki", hidden, self.attention_vector)
                beta = ops.softmax(scores, axis=-1)
                fused = ops.einsum("bki,bkid->bkd", beta, pair)
        # Eq. (14): R_cross = Concat(U_1, .., U_K).
        return ops.reshape(fused, (ops.shape(fused)[0], -1))

    def _width(self, short_dim, long_dim):
        return {
            "gate": short_dim + long_dim,
            "concat": short_dim + long_dim,
            "ffn": short_dim + long_dim,
            "cross": 3 * short_dim,
            "attention": short_dim,
        }[self.fusion]

    def compute_output_shape(self, inputs_shape, long_term_shape=None):
        if long_term_shape is not None:
            long_dim = long_term_shape[2]
        elif self.built:
            long_dim = self._long_dim
        else:
            raise ValueError("PAIRGate needs `long_term_shape` before it is built.")
        return (
            inputs_shape[0],
            inputs_shape[1] * self._width(inputs_shape[2], long_dim),
        )

    def get_config(self):
        config = super().get_config()
        config.update(fusion=self.fusion, kernel_initializer=self.kernel_initializer)
        return config
