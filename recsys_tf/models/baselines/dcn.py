"""Deep & Cross Network (Wang et al., 2017), with DCN-v2's cross layer as a switch."""

from __future__ import annotations

import keras
import keras_rs
from keras import ops

from recsys_tf.layers import MLP, CrossNetwork
from recsys_tf.models.base import FieldCTRModel

CROSSES = ("v1", "v2")


@keras.saving.register_keras_serializable(package="recsys_tf")
class DCN(FieldCTRModel):
    """DCN: a cross network and a deep network side by side on the same input.

    DCN Sec. 2: the embedding and stacking layer gives
    `x_0 = [e_1; ...; e_F]` (our CTR tasks have categorical fields only, so no
    dense features are stacked); the cross network applies Eq. (3)
    `x_{l+1} = x_0 x_l^T w_l + b_l + x_l` for `num_cross_layers` layers
    (`recsys_tf.layers.CrossNetwork`); the deep network Eq. (4)
    `h_{l+1} = ReLU(W_l h_l + b_l)` has `hidden_units`; the combination layer
    Eq. (5) is `logit = w_logit^T [x_L1; h_L2] + b_logit`.

    `cross="v2"` replaces each cross layer with DCN-v2's (Wang et al. 2021,
    Eq. (1)) `x_{l+1} = x_0 * (W_l x_l + b_l) + x_l` with a full `[d, d]` matrix
    `W_l` (`keras_rs.layers.FeatureCross`); `projection_dim=r` makes it the paper's
    low-rank `W_l = U_l V_l`, `U_l, V_l^T` in R^{d x r}. DCN-v2 also has a
    "stacked" structure; here both versions use the parallel one of DCN.

    L2 (`l2`) is applied, as in `WideDeep`, to the looked-up embedding rows and
    the deep network's kernels, not to the cross weights (DCN regularises the
    whole model but does not give the factor).

    Inputs: dict field -> int `[batch]`. Output: logits `[batch]`.

    Args:
        fields: names of the categorical fields.
        vocabulary_sizes: their vocabulary sizes.
        embedding_dim: size of each field embedding (d = F * embedding_dim).
        num_cross_layers: L1, the number of cross layers.
        hidden_units: the deep network's layer sizes (L2 layers).
        dropout: dropout of the deep network.
        l2: L2 factor on looked-up embedding rows and deep kernels.
        cross: "v1" (DCN Eq. (3)) or "v2" (DCN-v2, keras-rs `FeatureCross`).
        projection_dim: rank r of the low-rank DCN-v2 matrices; None = full rank
            (only with `cross="v2"`).

    Example:
        >>> model = DCN(("user_id", "item_id"), (10, 20), embedding_dim=4)
        >>> x = {"user_id": keras.ops.array([1, 2]), "item_id": keras.ops.array([3, 4])}
        >>> model(x).shape
        (2,)

    References: R. Wang, B. Fu, G. Fu, M. Wang, "Deep & Cross Network for Ad Click
    Predictions", ADKDD 2017; R. Wang et al., "DCN V2: Improved Deep & Cross
    Network and Practical Lessons for Web-scale Learning to Rank Systems", WWW 2021.
    """

    def __init__(
        self,
        fields,
        vocabulary_sizes,
        embedding_dim=16,
        num_cross_layers=3,
        hidden_units=(256, 128, 64),
        dropout=0.0,
        l2=0.0,
        cross="v1",
        projection_dim=None,
        **kwargs,
    ):
        super().__init__(fields, vocabulary_sizes, embedding_dim, l2, **kwargs)
        if cross not in CROSSES:
            raise ValueError(f"`cross` must be one of {CROSSES}. Received: {cross!r}")
        if int(num_cross_layers) < 1:
            raise ValueError(
                "`num_cross_layers` must be > 0. Received: "
                f"num_cross_layers={num_cross_layers}"
            )
        if projection_dim is not None:
            if cross != "v2":
                raise ValueError(
                    "`projection_dim` (low-rank cross matrices) needs cross='v2'. "
                    f"Received: cross={cross!r}, projection_dim={projection_dim}"
                )
            if int(projection_dim) < 1:
                raise ValueError(
                    f"`projection_dim` must be > 0. Received: {projection_dim}"
                )
            projection_dim = int(projection_dim)
        self.num_cross_layers = int(num_cross_layers)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.dropout = dropout
        self.cross = cross
        self.projection_dim = projection_dim
        if cross == "v1":
            self.cross_network = CrossNetwork(self.num_cross_layers, name="cross")
        else:
            self.cross_layers = [
                keras_rs.layers.FeatureCross(
                    projection_dim=projection_dim, name=f"cross_{i}"
                )
                for i in range(self.num_cross_layers)
            ]
        self.mlp = MLP(
            self.hidden_units, dropout=dropout, kernel_regularizer=l2, name="deep"
        )
        self.logit = keras.layers.Dense(1, name="logit")

    def call(self, inputs, training=False):
        _, embedded = self.embed(inputs)
        x0 = ops.reshape(embedded, (-1, len(self.fields) * self.embedding_dim))
        if self.cross == "v1":
            crossed = self.cross_network(x0)
        else:
            crossed = x0
            for layer in self.cross_layers:
                crossed = layer(x0, crossed)
        deep = self.mlp(x0, training=training)
        return ops.squeeze(self.logit(ops.concatenate([crossed, deep], -1)), -1)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_cross_layers=self.num_cross_layers,
            hidden_units=self.hidden_units,
            dropout=self.dropout,
            cross=self.cross,
            projection_dim=self.projection_dim,
        )
        return config
