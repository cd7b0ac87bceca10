"""Additive attention of every position over its prefix (NARM's local encoder)."""

import keras
from keras import ops

# Score of excluded positions before the softmax: exp() of it is 0 in float32.
_MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="recsys_tf")
class CausalAdditiveAttention(keras.layers.Layer):
    """`c_t = sum_{j <= t} a_tj h_j`, `a_tj = softmax_j(v^T sigma(A_1 h_t + A_2 h_j))`.

    NARM (Li et al. 2017) local encoder: Eq. (6) `c_t^l = sum_j a_tj h_j^l` with
    Eq. (7)-(8) `a_tj = q(h_t, h_j) = v^T sigma(A_1 h_t + A_2 h_j)`, normalised by
    a softmax over the session's positions as in the authors' code (the paper does
    not say how the weights are normalised). Every position t attends to the real
    positions `j <= t` of its own prefix, so a later position never changes an
    earlier output. `A_1` (`query_kernel`) and `A_2` (`key_kernel`) are
    `[dim, units]`, `v` (`score_vector`) is `[units]`; NARM has no biases (neither
    its equation nor its code). `activation` is the paper's sigma (the authors'
    code uses Theano's hard sigmoid; "sigmoid" follows the paper).

    Padded positions (`mask` False) get no weight; a position with no real
    position in its prefix gives the zero vector. The per-position output costs a
    `[batch, seq_len, seq_len, units]` intermediate; `last_only=True` computes the
    last position's output alone (`[batch, seq_len, units]`).

    Inputs: `inputs` `[batch, seq_len, dim]` (the GRU states `h_j`), `mask` bool
    `[batch, seq_len]`. Output: `[batch, seq_len, dim]` (`[batch, dim]` with
    `last_only`); with `return_attention_scores=True` also the weights
    `[batch, seq_len, seq_len]` (`[batch, seq_len]`).

    Args:
        units: rows of `A_1`, `A_2` and size of `v` (None = `dim`, NARM's square
            matrices).
        activation: sigma.
        kernel_initializer: initializer of `A_1`, `A_2` and `v`.

    Example:
        >>> layer = CausalAdditiveAttention()
        >>> layer(keras.ops.ones((2, 5, 4))).shape
        (2, 5, 4)

    Reference: J. Li, P. Ren, Z. Chen, Z. Ren, T. Lian and J. Ma, "Neural
    Attentive Session-based Recommendation", CIKM 2017; code
    github.com/lijingsdu/sessionRec_NARM.
    """

    def __init__(
        self,
        units=None,
        activation="sigmoid",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units is not None and int(units) < 1:
            raise ValueError(f"`units` must be >= 1 or None. Received: units={units}")
        self.units = None if units is None else int(units)
        self.activation = activation
        self._activation = keras.activations.get(activation)
        self.kernel_initializer = kernel_initializer

    def build(self, inputs_shape):
        if len(inputs_shape) != 3 or inputs_shape[-1] is None:
            raise ValueError(
                "CausalAdditiveAttention takes `inputs` `[batch, seq_len, dim]` with "
                f"a known dim. Received: {inputs_shape}"
            )
        dim = int(inputs_shape[-1])
        units = self.units or dim
        initializer = keras.initializers.get(self.kernel_initializer)
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(dim, units), initializer=initializer
        )
        self.key_kernel = self.add_weight(
            name="key_kernel", shape=(dim, units), initializer=initializer
        )
        self.score_vector = self.add_weight(
            name="score_vector", shape=(units,), initializer=initializer
        )

    def call(self, inputs, mask=None, last_only=False, return_attention_scores=False):
        length = ops.shape(inputs)[1]
        keys = ops.matmul(inputs, self.key_kernel)  # A_2 h_j: [batch, T, units]
        if mask is None:
            real = ops.ones(ops.shape(inputs)[:2], "bool")
        else:
            real = ops.cast(mask, "bool")
        if last_only:
            query = ops.matmul(inputs[:, -1], self.query_kernel)  # [batch, units]
            hidden = self._activation(query[:, None, :] + keys)
            valid = real
        else:
            queries = ops.matmul(inputs, self.query_kernel)  # A_1 h_t
            hidden = self._activation(queries[:, :, None, :] + keys[:, None, :, :])
            positions = ops.arange(length)
            causal = positions[None, :] <= positions[:, None]  # [t, j]: j <= t
            valid = ops.logical_and(causal[None], real[:, None, :])
        scores = ops.tensordot(hidden, self.score_vector, axes=1)
        scores = ops.where(valid, scores, _MASKED_SCORE)
        weights = ops.where(valid, ops.softmax(scores, axis=-1), 0.0)
        if last_only:
            outputs = ops.einsum("bj,bjd->bd", weights, inputs)
        else:
            outputs = ops.matmul(weights, inputs)
        if return_attention_scores:
            return outputs, weights
        return outputs

    def compute_output_shape(self, inputs_shape, mask_shape=None):
        return tuple(inputs_shape)

    def compute_output_spec(
        self, inputs, mask=None, last_only=False, return_attention_scores=False
    ):
        batch, length, dim = inputs.shape
        outputs = keras.KerasTensor(
            (batch, dim) if last_only else (batch, length, dim), self.compute_dtype
        )
        if not return_attention_scores:
            return outputs
        weights = (batch, length) if last_only else (batch, length, length)
        return outputs, keras.KerasTensor(weights, self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            kernel_initializer=self.kernel_initializer,
        )
        return config
