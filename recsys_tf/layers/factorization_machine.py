"""The second-order term of a factorization machine."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class FactorizationMachine(keras.layers.Layer):
    """Sum of the pairwise inner products of field embeddings, in O(k n).

    Rendle (2010), Eq. (1) and Lemma 3.1: the pairwise term of an FM,
    `sum_{i<j} <v_i, v_j> x_i x_j`, equals
    `0.5 * sum_f [(sum_i v_{i,f} x_i)^2 - sum_i v_{i,f}^2 x_i^2]`. With one active
    code per categorical field, `v_i x_i` is the embedding `e_i` of field i (the
    input), so the output is `0.5 * sum_f [(sum_i e_{i,f})^2 - sum_i e_{i,f}^2]`:
    n = `num_fields`, k = `dim`.

    Input: `[batch, num_fields, dim]`. Output: `[batch, 1]`.

    Example:
        >>> e = keras.ops.convert_to_tensor([[[1.0, 2.0], [3.0, 4.0]]])
        >>> keras.ops.convert_to_numpy(FactorizationMachine()(e))  # 1*3 + 2*4
        array([[11.]], dtype=float32)

    Reference: S. Rendle, Factorization Machines, ICDM 2010.
    """

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "`inputs` must have shape [batch, num_fields, dim]. Received: "
                f"input_shape={input_shape}"
            )

    def call(self, inputs):
        square_of_sum = ops.square(ops.sum(inputs, axis=1))
        sum_of_squares = ops.sum(ops.square(inputs), axis=1)
        return 0.5 * ops.sum(square_of_sum - sum_of_squares, axis=1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)
