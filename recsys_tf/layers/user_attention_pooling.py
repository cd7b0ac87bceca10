"""Attention pooling of a set of vectors with a user embedding as query (SHAN)."""

import keras
from keras import ops

# Score of excluded positions before the softmax: exp() of it is 0 in float32.
_MASKED_SCORE = -1e9


def _broadcast_dim(a, b):
    return a if b == 1 else b


@keras.saving.register_keras_serializable(package="recsys_tf")
class UserAttentionPooling(keras.layers.Layer):
    """`r = sum_j a_j x_j` with `a_j = softmax_j(u^T phi(W x_j + b))` over the valid j.

    SHAN (Ying et al. 2018), both attention layers: Eq. (1)-(3), `h_1j =
    phi(W_1 v_j + b_1)`, `a_j = exp(u^T h_1j) / sum_p exp(u^T h_1p)`, `u^long =
    sum_j a_j v_j` over the long-term item set; Eq. (4)-(6) the same with `W_2`,
    `b_2` over the short-term items plus `u^long`. `inputs` are the `x_j`, `query`
    is the user embedding `u`, `kernel` and `bias` are `W` `[dim, query_dim]` and
    `b`, `activation` is phi (ReLU in the paper). `kernel_regularizer` is the
    paper's L2 factor lambda_a on `W`.

    Padded positions (`mask` False) get no weight; an empty set gives the zero
    vector. `mask` may have more subsets than `inputs` has rows: an axis of size 1
    in `inputs` broadcasts against the mask, so `inputs` `[batch, 1, N, dim]` with
    `mask` `[batch, M, N]` pools M subsets of one set, scoring each vector once.

    Inputs: `inputs` `[batch, ..., N, dim]`, `query` `[batch, query_dim]`, `mask`
    bool `[batch, ..., N]`. Output: `[batch, ..., dim]`; with
    `return_attention_scores=True` also the weights `[batch, ..., N]`.

    Args:
        activation: phi.
        kernel_initializer: initializer of `W`.
        kernel_regularizer: L2 factor on `W` (lambda_a).

    Example:
        >>> layer = UserAttentionPooling()
        >>> layer(keras.ops.ones((2, 3, 4)), query=keras.ops.ones((2, 5))).shape
        (2, 4)

    Reference: H. Ying, F. Zhuang, F. Zhang, Y. Liu, G. Xu, X. Xie, H. Xiong and
    J. Wu, "Sequential Recommender System based on Hierarchical Attention
    Network", IJCAI 2018.
    """

    def __init__(
        self,
        activation="relu",
        kernel_initializer="glorot_uniform",
        kernel_regularizer=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kernel_regularizer < 0:
            raise ValueError(
                "`kernel_regularizer` must be >= 0. Received: "
                f"kernel_regularizer={kernel_regularizer}"
            )
        self.activation = activation
        self._activation = keras.activations.get(activation)
        self.kernel_initializer = kernel_initializer
        self.kernel_regularizer = kernel_regularizer

    def build(self, inputs_shape, query_shape):
        if len(inputs_shape) < 3 or inputs_shape[-1] is None:
            raise ValueError(
                "UserAttentionPooling takes `inputs` `[batch, ..., N, dim]` with a "
                f"known dim. Received: {inputs_shape}"
            )
        if len(query_shape) != 2 or query_shape[-1] is None:
            raise ValueError(
                "UserAttentionPooling takes a `query` `[batch, query_dim]` with a "
                f"known query_dim. Received: {query_shape}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(int(inputs_shape[-1]), int(query_shape[-1])),
            initializer=keras.initializers.get(self.kernel_initializer),
            regularizer=(
                keras.regularizers.L2(self.kernel_regularizer)
                if self.kernel_regularizer
                else None
            ),
        )
        self.bias = self.add_weight(
            name="bias", shape=(int(query_shape[-1]),), initializer="zeros"
        )

    def call(self, inputs, query, mask=None, return_attention_scores=False):
        hidden = self._activation(ops.matmul(inputs, self.kernel) + self.bias)
        for _ in range(len(inputs.shape) - 2):  # [batch, 1, ..., 1, query_dim]
            query = ops.expand_dims(query, 1)
        scores = ops.sum(hidden * query, axis=-1)  # u^T h_j: [batch, ..., N]
        if mask is None:
            valid = ops.ones_like(scores, "bool")
        elif len(mask.shape) != len(inputs.shape) - 1:
            raise ValueError(
                f"UserAttentionPooling takes a `mask` `[batch, ..., N]` of rank "
                f"{len(inputs.shape) - 1} for `inputs` {inputs.shape}. Received: "
                f"{mask.shape}"
            )
        else:
            valid = ops.cast(mask, "bool")
        scores = ops.where(valid, scores, _MASKED_SCORE)
        weights = ops.where(valid, ops.softmax(scores, axis=-1), 0.0)
        outputs = ops.matmul(ops.expand_dims(weights, -2), inputs)[..., 0, :]
        if return_attention_scores:
            return outputs, weights
        return outputs

    def compute_output_shape(self, inputs_shape, query_shape=None, mask_shape=None):
        leading = tuple(inputs_shape[:-2])
        if mask_shape is not None:
            leading = tuple(map(_broadcast_dim, leading, tuple(mask_shape[:-1])))
        return leading + (inputs_shape[-1],)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            activation=self.activation,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
        )
        return config
