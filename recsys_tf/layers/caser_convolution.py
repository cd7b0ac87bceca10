"""The horizontal and vertical convolutions of Caser (Tang & Wang, 2018)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class CaserConvolution(keras.layers.Layer):
    """Horizontal and vertical convolutions over the embeddings of the last L items.

    Caser Sec. 3.2, for the "image" `E` `[L, d]` of the last L item embeddings:

    - horizontal (Eq. (2)-(4)): for each height `h = 1 .. L`, `num_horizontal`
      filters `F^k` `[h, d]`; `c^k_i = phi_c(sum(E_{i:i+h-1} * F^k) + b^k)` for
      `i = 1 .. L - h + 1`, max-pooled over i: `o = [max(c^1), .., max(c^n)]`,
      `n = num_horizontal * L` values;
    - vertical (Eq. (5)-(6)): `num_vertical` filters `F~^k` `[L, 1]`;
      `c~^k = sum_l F~^k_l E_l + b~^k` `[d]` (a weighted sum of the rows, no
      activation, as in the authors' code), `o~ = [c~^1, .., c~^{n~}]`.

    The output is `[o; o~]`, the input of Caser's fully-connected layer (Eq. (7)).
    `activation` is `phi_c` (ReLU in the authors' code, github.com/graytowne/caser_pytorch).

    Input: `[batch, L, d]` (zero rows where a sequence is shorter than L).
    Output: `[batch, num_horizontal * L + num_vertical * d]`.

    Args:
        num_horizontal: horizontal filters per height (the paper's n / L; 16).
        num_vertical: vertical filters (the paper's n~; 4).
        activation: phi_c of the horizontal convolutions.

    Example:
        >>> layer = CaserConvolution(num_horizontal=2, num_vertical=1)
        >>> layer(keras.ops.ones((3, 5, 8))).shape
        (3, 18)

    Reference: J. Tang and K. Wang, "Personalized Top-N Sequential Recommendation
    via Convolutional Sequence Embedding", WSDM 2018.
    """

    def __init__(self, num_horizontal=16, num_vertical=4, activation="relu", **kwargs):
        super().__init__(**kwargs)
        if int(num_horizontal) < 0 or int(num_vertical) < 0:
            raise ValueError(
                "`num_horizontal` and `num_vertical` must be >= 0. Received: "
                f"num_horizontal={num_horizontal}, num_vertical={num_vertical}"
            )
        if int(num_horizontal) + int(num_vertical) == 0:
            raise ValueError(
                "Caser needs at least one filter: `num_horizontal` or "
                "`num_vertical` must be > 0."
            )
        self.num_horizontal = int(num_horizontal)
        self.num_vertical = int(num_vertical)
        self.activation = activation
        self._activation = keras.activations.get(activation)

    def build(self, input_shape):
        if len(input_shape) != 3 or None in tuple(input_shape)[1:]:
            raise ValueError(
                "CaserConvolution takes `[batch, L, d]` inputs with known L and d. "
                f"Received: input_shape={input_shape}"
            )
        length, dim = int(input_shape[1]), int(input_shape[2])
        self.horizontal_kernels, self.horizontal_biases = [], []
        if self.num_horizontal:
            for height in range(1, length + 1):
                self.horizontal_kernels.append(
                    self.add_weight(
                        name=f"horizontal_kernel_{height}",
                        shape=(height, dim, self.num_horizontal),
                        initializer="glorot_uniform",
                    )
                )
                self.horizontal_biases.append(
                    self.add_weight(
                        name=f"horizontal_bias_{height}",
                        shape=(self.num_horizontal,),
                        initializer="zeros",
                    )
                )
        if self.num_vertical:
            self.vertical_kernel = self.add_weight(
                name="vertical_kernel",
                shape=(length, self.num_vertical),
                initializer="glorot_uniform",
            )
            self.vertical_bias = self.add_weight(
                name="vertical_bias", shape=(self.num_vertical,), initializer="zeros"
            )

    def call(self, inputs):
        length = ops.shape(inputs)[1]
        parts = []
        for index, (kernel, bias) in enumerate(
            zip(self.horizontal_kernels, self.horizontal_biases)
        ):
            height = index + 1
            steps = length - height + 1
            conv = bias
            for row in range(height):
                conv = conv + ops.einsum(
                    "bsd,dn->bsn", inputs[:, row : row + steps], kernel[row]
                )
            parts.append(ops.max(self._activation(conv), axis=1))
        if self.num_vertical:
            vertical = ops.einsum("bld,lk->bkd", inputs, self.vertical_kernel)
            vertical = vertical + self.vertical_bias[None, :, None]
            parts.append(ops.reshape(vertical, (ops.shape(inputs)[0], -1)))
        return ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape):
        length, dim = input_shape[1], input_shape[2]
        return (input_shape[0], self.num_horizontal * length + self.num_vertical * dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_horizontal=self.num_horizontal,
            num_vertical=self.num_vertical,
            activation=self.activation,
        )
        return config
