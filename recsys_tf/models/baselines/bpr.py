"""BPR-MF: matrix factorisation trained with BPR (Rendle et al. 2009)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.models.base import PairwiseModel


@keras.saving.register_keras_serializable(package="recsys_tf")
class BPR(PairwiseModel):
    """Matrix factorisation `x_ui = <w_u, h_i>` (Rendle et al. 2009, Section 5.1)
    trained with BPR-Opt: `-ln sigmoid(x_ui - x_uj)` over sampled pairs (Eq. 3),
    mini-batch Adam instead of the paper's per-pair SGD (LearnBPR).

    Args:
        num_users / num_items: vocabulary sizes.
        factors: latent dimension.
        init_std: standard deviation of the Gaussian initialisation.
        l2: L2 factor on looked-up rows (the paper's lambda).
        loss / positive_weight: see `PairwiseModel` (BPR: "bpr").

    Example:
        >>> BPR(10, 20, factors=4)(
        ...     {"user_id": np.array([0]), "item_id": np.array([3])}).shape
        (1,)
    """

    def __init__(
        self,
        num_users,
        num_items,
        factors=4,
        init_std=0.01,
        l2=0.0,
        loss="bpr",
        positive_weight=1.0,
        **kwargs,
    ):
        super().__init__(num_users, num_items, loss, positive_weight, **kwargs)
        if factors < 1 or init_std <= 0:
            raise ValueError(
                "`factors` must be >= 1 and `init_std` > 0. Received: "
                f"factors={factors}, init_std={init_std}"
            )
        self.factors = int(factors)
        self.init_std = float(init_std)
        self.l2 = l2
        init = keras.initializers.RandomNormal(0.0, self.init_std)
        regularizer = keras.regularizers.L2(l2) if l2 else None
        self.user_factors, self.item_factors = (
            keras.layers.Embedding(
                size,
                self.factors,
                embeddings_initializer=init,
                embeddings_regularizer=regularizer,
                name=name,
            )
            for size, name in ((num_users, "user_factors"), (num_items, "item_factors"))
        )

    def score(self, user_ids, item_ids, feedback=None, training=False):
        users = self.user_factors(ops.cast(ops.reshape(user_ids, (-1,)), "int32"))
        items = self.item_factors(ops.cast(ops.reshape(item_ids, (-1,)), "int32"))
        return ops.sum(users * items, axis=1)

    def get_config(self):
        config = super().get_config()
        config.update(factors=self.factors, init_std=self.init_std, l2=self.l2)
        return config
