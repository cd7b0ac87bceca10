"""NCF / NeuMF: GMF and an MLP fused by a sigmoid layer (He et al. 2017)."""

from __future__ import annotations

import keras

from recsys_tf.models.mf_mlp import MFMLP


@keras.saving.register_keras_serializable(package="recsys_tf")
class NeuMF(MFMLP):
    """NeuMF (He et al. 2017, Eq. 11-12): `y = sigmoid(h^T [p_u^G * q_i^G,
    a_L(W_L(... a_1(W_1 [p_u^M, q_i^M] + b_1) ...) + b_L)])`, GMF and MLP with
    their own embeddings: `MFMLP` with the target branch alone and no fusion
    layer (the M-MLP of one feedback type is NeuMF's MLP). Trained with NCF's
    pointwise log loss over each positive and its sampled negatives (Eq. 7).

    Args:
        feedback_types: the target type alone (its name, for the config).
        other arguments: see `MFMLP`.
    """

    def __init__(
        self,
        num_users,
        num_items,
        factors=4,
        num_layers=2,
        init_std=0.01,
        l2=0.0,
        loss="pointwise",
        positive_weight=1.0,
        feedback_types=("buy",),
        **kwargs,
    ):
        kwargs.pop("fusion", None)
        kwargs.pop("branch_update", None)
        super().__init__(
            num_users,
            num_items,
            feedback_types=tuple(feedback_types)[:1],
            factors=factors,
            num_layers=num_layers,
            init_std=init_std,
            l2=l2,
            fusion=False,
            loss=loss,
            positive_weight=positive_weight,
            **kwargs,
        )

    @classmethod
    def from_task(cls, task, **kwargs):
        """The target type of the task only."""
        kwargs.setdefault("feedback_types", task.feedback_types[:1])
        return cls(task.num_users, task.num_items, **kwargs)
