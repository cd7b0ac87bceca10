"""The long- and short-term gated fusion of SDM."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class GatedFusion(keras.layers.Layer):
    """Mixes a short-term and a long-term vector with a gate read from both and
    the user.

    SDM (Lv et al., CIKM 2019) Eq. (15)-(16):
    `G_t = sigmoid(W^1 e_u + W^2 s_t + W^3 p + b)`,
    `o_t = (1 - G_t) * p + G_t * s_t` (element-wise), where `s_t` is the
    short-term vector (`inputs`), `p` the long-term one (`long_term`) and `e_u`
    the user embedding (`user`). `W^1, W^2, W^3` are one dense layer on the
    concatenation `[e_u; s_t; p]`, as in the authors' code. `G_t` has the size
    of `s_t` (the code's default; `g_units_one` there makes it a scalar).

    Inputs: `inputs` (`s_t`) `[batch, d]` or `[batch, seq_len, d]`; `long_term`
    (`p`) of the same shape; `user` (`e_u`) `[batch, d_u]`, shared by the
    positions of a sequence.
    Output: `o_t`, the shape of `inputs`.

    Example:
        >>> fusion = GatedFusion()
        >>> s = keras.ops.ones((2, 4, 8))
        >>> fusion(s, long_term=s, user=keras.ops.ones((2, 3))).shape
        (2, 4, 8)

    Reference: F. Lv et al., "SDM: Sequential Deep Matching Model for Online
    Large-scale Recommender System", CIKM 2019.
    """

    def build(self, inputs_shape, long_term_shape, user_shape):
        if inputs_shape[-1] is None or len(inputs_shape) not in (2, 3):
            raise ValueError(
                "GatedFusion takes `[batch, d]` or `[batch, seq_len, d]` inputs with "
                f"known d. Received: inputs_shape={inputs_shape}"
            )
        if tuple(long_term_shape)[1:] != tuple(inputs_shape)[1:]:
            raise ValueError(
                "GatedFusion needs `long_term` of the inputs' shape. Received: "
                f"inputs_shape={inputs_shape}, long_term_shape={long_term_shape}"
            )
        dim = int(inputs_shape[-1])
        self.gate = keras.layers.Dense(dim, activation="sigmoid", name="gate")
        self.gate.build((None, 2 * dim + int(user_shape[-1])))

    def call(self, inputs, long_term, user):
        user = ops.cast(user, inputs.dtype)
        if len(inputs.shape) == 3:
            user = ops.broadcast_to(
                user[:, None, :], ops.shape(inputs)[:2] + (ops.shape(user)[-1],)
            )
        gate = self.gate(ops.concatenate([user, inputs, long_term], axis=-1))
        return gate * inputs + (1.0 - gate) * long_term

    def compute_output_shape(self, inputs_shape, long_term_shape=None, user_shape=None):
        return tuple(inputs_shape)
