"""Kernel products of field embedding pairs (the OPNN product layer)."""

import keras
from keras import ops

from recsys_tf.layers.inner_product import field_pairs

KERNEL_TYPES = ("mat", "vec", "num")


@keras.saving.register_keras_serializable(package="recsys_tf")
class OuterProduct(keras.layers.Layer):
    """`p_{ij} = e_i^T W_{ij} e_j` for every pair of fields i < j.

    The product signal of the Outer Product-based Neural Network (Qu et al. 2016,
    Sec. III-C: `g(f_i, f_j) = f_i f_j^T`, a `dim x dim` matrix per pair, read by
    the first hidden layer through `W_p ⊙ p`, Eq. (5)). Each hidden unit's
    `W_p ⊙ (f_i f_j^T)` is a bilinear form `f_i^T W f_j`; here one learned kernel
    `W_{ij}` per pair maps the outer product to one number, and the model's first
    dense layer mixes the pairs. This is the kernel product of the journal
    version (Qu et al. 2018, TOIS), the authors' code, pytorch-fm and DeepCTR; the
    ICDM paper's sum pooling `p = f_S f_S^T` with `f_S = sum_i f_i` (which mixes
    every pair, and each field with itself, into one matrix) is not used.

    `kernel_type` chooses the kernel of each pair:
    "mat": `W_{ij}` `[dim, dim]`, `p_{ij} = e_i^T W_{ij} e_j` (the default);
    "vec": a diagonal `W_{ij} = diag(w_{ij})`, `p_{ij} = sum_k e_{ik} w_{ijk} e_{jk}`;
    "num": a scalar, `p_{ij} = w_{ij} <e_i, e_j>`.
    The pair indices are built once in `build`; `call` gathers both members of
    every pair from the fields-first `[num_fields, batch, dim]` layout, so that
    the per-pair kernels are one batched matmul `[pairs, batch, dim] x [pairs,
    dim, dim]`, with no loop over pairs (on CPU, 2.5x faster to train than
    gathering along axis 1 and contracting with an einsum).

    Input: `[batch, num_fields, dim]`. Output: `[batch, num_fields * (num_fields -
    1) / 2]`, pairs in the row-major order of `InnerProduct`.

    Args:
        kernel_type: "mat", "vec" or "num".
        kernel_initializer: initializer of the kernels.
        kernel_regularizer: optional L2 factor on the kernels.

    Example:
        >>> e = keras.ops.ones((2, 4, 3))
        >>> OuterProduct()(e).shape
        (2, 6)

    References: Y. Qu et al., Product-based Neural Networks for User Response
    Prediction, ICDM 2016; Y. Qu et al., Product-Based Neural Networks for User
    Response Prediction over Multi-Field Categorical Data, TOIS 2018.
    """

    def __init__(
        self,
        kernel_type="mat",
        kernel_initializer="glorot_uniform",
        kernel_regularizer=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kernel_type not in KERNEL_TYPES:
            raise ValueError(
                f"`kernel_type` must be one of {KERNEL_TYPES}. Received: "
                f"kernel_type={kernel_type!r}"
            )
        if kernel_regularizer < 0:
            raise ValueError(
                f"`kernel_regularizer` must be >= 0. Received: {kernel_regularizer}"
            )
        self.kernel_type = kernel_type
        self.kernel_initializer = kernel_initializer
        self.kernel_regularizer = kernel_regularizer

    def build(self, input_shape):
        self._rows, self._cols = field_pairs(input_shape, self.name)
        pairs, dim = len(self._rows), input_shape[2]
        if dim is None:
            raise ValueError(
                f"{self.name}: the embedding size (last input axis) must be known. "
                f"Received: input_shape={input_shape}"
            )
        shape = {"mat": (pairs, dim, dim), "vec": (pairs, dim), "num": (pairs,)}
        self.kernel = self.add_weight(
            name="kernel",
            shape=shape[self.kernel_type],
            initializer=keras.initializers.get(self.kernel_initializer),
            regularizer=(
                keras.regularizers.L2(self.kernel_regularizer)
                if self.kernel_regularizer
                else None
            ),
        )

    def call(self, inputs):
        fields_first = ops.transpose(inputs, (1, 0, 2))  # [num_fields, batch, dim]
        left = ops.take(fields_first, self._rows, axis=0)  # [pairs, batch, dim]
        right = ops.take(fields_first, self._cols, axis=0)
        if self.kernel_type == "mat":
            left = ops.matmul(left, self.kernel)
        elif self.kernel_type == "vec":
            left = left * self.kernel[:, None, :]
        else:
            left = left * self.kernel[:, None, None]
        return ops.transpose(ops.sum(left * right, axis=-1))

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        return (input_shape[0], n * (n - 1) // 2)

    def get_config(self):
        config = super().get_config()
        config.update(
            kernel_type=self.kernel_type,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
        )
        return config
