"""DSIN's bias encoding of sessions, positions in a session and embedding units."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class BiasEncoding(keras.layers.Layer):
    """Adds a learned bias per session, per position in a session and per unit.

    DSIN (Feng et al. 2019), "Session Interest Extractor Layer", "Bias Encoding":
    `BE_(k,t,c) = w^K_k + w^T_t + w^C_c` and `Q = Q + BE`, where `w^K` in R^K
    (`session_bias`) is indexed by the session k, `w^T` in R^T (`position_bias`)
    by the position t of the behaviour in its session and `w^C` in R^{d_model}
    (`unit_bias`) by the unit c of the behaviour embedding. K, T and d_model come
    from the input shape `[batch, K, T, d_model]` (our `num_sessions`,
    `session_length` and the item embedding size).

    The paper gives no initialisation; here the three vectors start at zero (the
    encoding starts as the identity; DeepCTR draws them from N(0, 1e-4)).

    Input: `[batch, num_sessions, session_length, dim]`. Output: the same shape.

    Args:
        initializer: initializer of the three bias vectors.

    Example:
        >>> BiasEncoding()(keras.ops.zeros((2, 3, 4, 5))).shape
        (2, 3, 4, 5)

    Reference: Y. Feng et al., "Deep Session Interest Network for Click-Through
    Rate Prediction", IJCAI 2019.
    """

    def __init__(self, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.initializer = initializer
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 4 or None in tuple(input_shape[1:]):
            raise ValueError(
                "BiasEncoding takes `[batch, num_sessions, session_length, dim]` "
                f"inputs with known sizes. Received: input_shape={input_shape}"
            )
        sessions, length, dim = (int(s) for s in input_shape[1:])

        def bias(name, size):
            return self.add_weight(
                name=name,
                shape=(size,),
                initializer=keras.initializers.get(self.initializer),
            )

        self.session_bias = bias("session_bias", sessions)
        self.position_bias = bias("position_bias", length)
        self.unit_bias = bias("unit_bias", dim)

    def call(self, inputs):
        encoding = (
            ops.reshape(self.session_bias, (-1, 1, 1))
            + ops.reshape(self.position_bias, (1, -1, 1))
            + ops.reshape(self.unit_bias, (1, 1, -1))
        )
        return inputs + ops.cast(encoding, inputs.dtype)[None]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(initializer=self.initializer)
        return config
