"""Softmax attention pooling of a sequence by a target vector (bilinear score)."""

import keras
from keras import ops

# Score of padded positions before the softmax: exp() of it is 0 in float32.
_MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="recsys_tf")
class TargetAttention(keras.layers.Layer):
    """`u = sum_k a_k h_k` with `a_k = softmax_k(h_k^T W q)` over the valid k.

    DSIN (Feng et al. 2019), "Session Interest Activating Layer":
    `a_k^I = exp(I_k W^I X^I) / sum_k exp(I_k W^I X^I)`, `U^I = sum_k a_k^I I_k`
    (the same with `H_k`, `W^H` for the Bi-LSTM states): `inputs` are the `h_k`
    (`I_k` or `H_k`), `query` is the target `q` (`X^I`) and `kernel` is `W`
    `[key_dim, query_dim]`. DFN (Xie et al. 2020) uses the same attention pooling
    for its external feedback interaction, with the click (dislike) feature as the
    query over the unclick sequence.

    Padded positions (`mask` False) get no weight; a row with no valid position
    gives the zero vector. `scale=True` divides the scores by `sqrt(key_dim)`
    (DFN's code does; DSIN's equation does not).

    Inputs: `inputs` `[batch, seq_len, key_dim]`, `query` `[batch, query_dim]`,
    `mask` bool `[batch, seq_len]`. Output: `[batch, key_dim]`; with
    `return_attention_scores=True` also the weights `a` `[batch, seq_len]`.

    Args:
        scale: divide the scores by `sqrt(key_dim)`.
        kernel_initializer: initializer of `W`.

    Example:
        >>> layer = TargetAttention()
        >>> layer(keras.ops.ones((2, 3, 4)), query=keras.ops.ones((2, 5))).shape
        (2, 4)

    Reference: Y. Feng et al., "Deep Session Interest Network for Click-Through
    Rate Prediction", IJCAI 2019.
    """

    def __init__(self, scale=False, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.scale = bool(scale)
        self.kernel_initializer = kernel_initializer

    def build(self, inputs_shape, query_shape):
        if len(inputs_shape) != 3 or inputs_shape[-1] is None:
            raise ValueError(
                "TargetAttention takes `inputs` `[batch, seq_len, key_dim]` with a "
                f"known key_dim. Received: {inputs_shape}"
            )
        if len(query_shape) != 2 or query_shape[-1] is None:
            raise ValueError(
                "TargetAttention takes a `query` `[batch, query_dim]` with a known "
                f"query_dim. Received: {query_shape}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(int(inputs_shape[-1]), int(query_shape[-1])),
            initializer=keras.initializers.get(self.kernel_initializer),
        )

    def call(self, inputs, query, mask=None, return_attention_scores=False):
        projected = ops.matmul(query, ops.transpose(self.kernel))  # [batch, key_dim]
        scores = ops.einsum("btd,bd->bt", inputs, projected)
        if self.scale:
            scores = scores / ops.sqrt(ops.cast(ops.shape(inputs)[-1], scores.dtype))
        if mask is not None:
            valid = ops.cast(mask, "bool")
            scores = ops.where(valid, scores, _MASKED_SCORE)
        weights = ops.softmax(scores, axis=-1)
        if mask is not None:
            weights = ops.where(valid, weights, 0.0)
        outputs = ops.einsum("bt,btd->bd", weights, inputs)
        if return_attention_scores:
            return outputs, weights
        return outputs

    def compute_output_shape(self, inputs_shape, query_shape=None):
        return (inputs_shape[0], inputs_shape[-1])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(scale=self.scale, kernel_initializer=self.kernel_initializer)
        return config
