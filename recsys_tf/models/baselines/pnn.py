"""Product-based Neural Network: IPNN, OPNN and PNN* (Qu et al., 2016)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import MLP, InnerProduct, OuterProduct
from recsys_tf.layers.outer_product import KERNEL_TYPES
from recsys_tf.models.base import FieldCTRModel

PRODUCTS = ("inner", "outer", "both")


@keras.saving.register_keras_serializable(package="recsys_tf")
class PNN(FieldCTRModel):
    """Field embeddings, a product layer, then an MLP.

    Qu et al. 2016, Eq. (1)-(3): `l_1 = relu(l_z + l_p + b_1)`, further ReLU layers,
    and a logit. The linear signal `l_z = W_z ⊙ z` reads the concatenated field
    embeddings `z = (f_1, ..., f_N)` and the product signal `l_p = W_p ⊙ p` the
    pairwise products `p_{ij} = g(f_i, f_j)` (Eq. (5)-(6)), so `l_z + l_p + b_1`
    is one dense layer over `[z; p]` and the MLP takes that concatenation.
    `product` chooses g: "inner" (IPNN, `InnerProduct`), "outer" (OPNN,
    `OuterProduct` with a learned kernel per pair, `kernel_type`) or "both" (the
    paper's PNN*, both product vectors concatenated). Choices where the paper is
    specific to its cost-saving tricks: `W_p` is a full matrix over the distinct
    pairs i < j (not IPNN's rank-one `theta theta^T`) and OPNN uses the kernel
    product of the journal version, not the sum-pooled `f_S f_S^T` (see
    `OuterProduct`).

    As in Wide & Deep, `l2` applies to the looked-up embedding rows, the MLP kernels
    and the OPNN kernels.

    Inputs: dict field -> int `[batch]`. Output: logits `[batch]`.

    Args:
        fields: names of the fields (at least two).
        vocabulary_sizes: their vocabulary sizes.
        embedding_dim: size of each field embedding (the paper's M).
        hidden_units: MLP hidden layer sizes (the paper's D_1, D_2, ...; a linear
            output unit follows).
        product: "inner", "outer" or "both".
        kernel_type: OPNN kernel per pair, "mat", "vec" or "num" (`OuterProduct`).
        dropout: MLP dropout.
        l2: L2 factor on looked-up embedding rows, MLP and OPNN kernels.

    Example:
        >>> model = PNN(("user_id", "item_id"), (10, 20), 4, (8,), product="outer")
        >>> model({"user_id": np.array([1]), "item_id": np.array([2])}).shape
        (1,)

    Reference: Y. Qu et al., Product-based Neural Networks for User Response
    Prediction, ICDM 2016.
    """

    def __init__(
        self,
        fields,
        vocabulary_sizes,
        embedding_dim=16,
        hidden_units=(400, 400, 400),
        product="inner",
        kernel_type="mat",
        dropout=0.0,
        l2=0.0,
        **kwargs,
    ):
        super().__init__(fields, vocabulary_sizes, embedding_dim, l2, **kwargs)
        if product not in PRODUCTS:
            raise ValueError(
                f"`product` must be one of {PRODUCTS}. Received: product={product!r}"
            )
        if kernel_type not in KERNEL_TYPES:
            raise ValueError(
                f"`kernel_type` must be one of {KERNEL_TYPES}. Received: "
                f"kernel_type={kernel_type!r}"
            )
        if len(fields) < 2:
            raise ValueError(
                f"PNN needs at least two fields to multiply. Received: fields={fields}"
            )
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.product = product
        self.kernel_type = kernel_type
        self.dropout = dropout
        self.products = []
        if product in ("inner", "both"):
            self.products.append(InnerProduct(name="inner_product"))
        if product in ("outer", "both"):
            self.products.append(
                OuterProduct(kernel_type, kernel_regularizer=l2, name="outer_product")
            )
        self.mlp = MLP(
            self.hidden_units + (1,),
            output_activation=None,
            dropout=dropout,
            kernel_regularizer=l2,
            name="mlp",
        )

    def call(self, inputs, training=False):
        _, embedded = self.embed(inputs)
        z = ops.reshape(embedded, (-1, len(self.fields) * self.embedding_dim))
        signals = [z] + [layer(embedded) for layer in self.products]
        return ops.squeeze(
            self.mlp(ops.concatenate(signals, axis=1), training=training), -1
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_units=self.hidden_units,
            product=self.product,
            kernel_type=self.kernel_type,
            dropout=self.dropout,
        )
        return config
