"""MFPR, implicit part: BPR-MF over graded implicit feedback (Liu et al. 2017)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.losses import pair_loss
from recsys_tf.models.base import _regularisation, scale_for_replicas
from recsys_tf.models.baselines.bpr import BPR


@keras.saving.register_keras_serializable(package="recsys_tf")
class MFPR(BPR):
    """Multiple-feedback personalised ranking, the implicit part only (as the MF +
    M-MLP paper compares it, l.346-349): matrix factorisation ranked by BPR over
    the graded order target > supportive-only > untouched.

    A training example (u, i, negatives) from the supportive sampler gives
    `ln sigmoid(x_ui - x_uj)` for its supportive-only items j (target above
    supportive) and `ln sigmoid(x_uj - x_uk)` for as many items k drawn uniformly
    from the catalogue (supportive above untouched). Liu et al.'s text is not
    held here: this graded reading of their multiple implicit feedback is a
    choice, and the uniform k stand in for untouched items (a user touches a few
    per cent of the catalogue on the simulator and Taobao).

    Args: see `BPR`; `seed` seeds the draw of k.
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
        seed=0,
        **kwargs,
    ):
        super().__init__(
            num_users, num_items, factors, init_std, l2, loss, positive_weight, **kwargs
        )
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        negatives = ops.cast(x["negatives"], "int32")
        batch, count = ops.shape(negatives)[0], ops.shape(negatives)[1]
        users = ops.repeat(ops.cast(x["user_id"], "int32")[:, None], count, axis=1)
        users = ops.reshape(users, (-1,))
        middle = ops.reshape(self.score(users, ops.reshape(negatives, (-1,))), (-1, 1))
        untouched = keras.random.randint(
            (batch * count, 1), 0, self.num_items, seed=self.seed_generator
        )
        lowest = ops.reshape(self.score(users, ops.reshape(untouched, (-1,))), (-1, 1))
        per_example = pair_loss(
            ops.reshape(y_pred, (-1,)), ops.reshape(middle, (batch, count)), self.loss
        ) + ops.mean(
            ops.reshape(pair_loss(middle[:, 0], lowest, self.loss), (batch, count)),
            axis=1,
        )
        if sample_weight is not None:
            per_example = per_example * ops.cast(
                ops.reshape(sample_weight, (-1,)), "float32"
            )
        return scale_for_replicas(ops.mean(per_example) + _regularisation(self))

    def get_config(self):
        config = super().get_config()
        config.update(seed=self.seed)
        return config
