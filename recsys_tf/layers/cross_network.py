"""The cross network of DCN (Wang et al., 2017)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class CrossNetwork(keras.layers.Layer):
    """A stack of `num_layers` DCN cross layers.

    DCN Eq. (3): `x_{l+1} = x_0 x_l^T w_l + b_l + x_l`, with `x_0` the input
    (stacked embeddings and dense features), `w_l, b_l` in R^d the kernel and bias
    of layer l. Since `x_l^T w_l` is a scalar per example, the rank-one matrix
    `x_0 x_l^T` is never formed: `x_{l+1} = x_0 * (x_l . w_l) + b_l + x_l`, O(d)
    per layer instead of O(d^2).

    Input: `[batch, d]`. Output: `[batch, d]` (x_L, the last layer's output).

    Args:
        num_layers: the number of cross layers L_c.
        kernel_initializer: initializer of each `w_l` (the paper does not say;
            Glorot uniform on the `[d, 1]` projection, as DeepCTR uses Glorot).
        bias_initializer: initializer of each `b_l`.

    Example:
        >>> cross = CrossNetwork(num_layers=2)
        >>> cross(keras.ops.ones((4, 6))).shape
        (4, 6)

    Reference: R. Wang, B. Fu, G. Fu, M. Wang, "Deep & Cross Network for Ad Click
    Predictions", ADKDD 2017.
    """

    def __init__(
        self,
        num_layers=3,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_layers) < 1:
            raise ValueError(
                f"`num_layers` must be > 0. Received: num_layers={num_layers}"
            )
        self.num_layers = int(num_layers)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None or len(input_shape) != 2:
            raise ValueError(
                "CrossNetwork takes `[batch, d]` inputs with a known d. "
                f"Received: input_shape={input_shape}"
            )
        self.kernels = [
            self.add_weight(
                name=f"kernel_{i}",
                shape=(dim, 1),
                initializer=keras.initializers.get(self.kernel_initializer),
            )
            for i in range(self.num_layers)
        ]
        self.biases = [
            self.add_weight(
                name=f"bias_{i}",
                shape=(dim,),
                initializer=keras.initializers.get(self.bias_initializer),
            )
            for i in range(self.num_layers)
        ]

    def call(self, inputs):
        x0 = inputs
        x = inputs
        for kernel, bias in zip(self.kernels, self.biases):
            x = x0 * ops.matmul(x, kernel) + bias + x
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
        )
        return config
