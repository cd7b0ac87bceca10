"""Average of the valid positions of a padded sequence."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean over the positions where `mask` is True.

    `p = sum_t m_t x_t / max(1, sum_t m_t)`: a row with no valid position gives the
    zero vector (the YouTube DNN "average of watch embeddings" with padding).

    Inputs: `x` `[batch, seq_len, dim]`, `mask` bool `[batch, seq_len]`.
    Output: `[batch, dim]`.

    Example:
        >>> x = keras.ops.ones((2, 3, 4))
        >>> MaskedMeanPooling()(x, mask=keras.ops.convert_to_tensor(
        ...     [[True, False, False], [True, True, True]])).shape
        (2, 4)
    """

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "`inputs` must have shape [batch, seq_len, dim]. Received: "
                f"input_shape={input_shape}"
            )

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.cast(mask, inputs.dtype)[..., None]
        total = ops.sum(inputs * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)
        return total / count

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def compute_mask(self, inputs, mask=None):
        return None
