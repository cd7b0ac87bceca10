"""WMF: weighted matrix factorisation for implicit feedback (Hu et al. 2008)."""

from __future__ import annotations

import keras

from recsys_tf.models.baselines.bpr import BPR


@keras.saving.register_keras_serializable(package="recsys_tf")
class WMF(BPR):
    """Matrix factorisation `x_ui = <x_u, y_i>` fit to the preferences p_ui with
    confidences c_ui (Hu et al. 2008, Eq. 3): `sum c_ui (p_ui - x_ui)^2`.

    Trained by mini-batch Adam on sampled entries, not by the paper's alternating
    least squares over the full matrix: each observed pair (p = 1, c = 1 + alpha
    = `positive_weight`; one per distinct pair, so r_ui = 1) with its sampled
    unobserved pairs (p = 0, c = 1), the "weighted_square" `pair_loss`. The same
    factor model as `BPR`; only the loss differs.

    Args:
        positive_weight: c of an observed pair (1 + alpha).
        other arguments: see `BPR`.
    """

    def __init__(
        self,
        num_users,
        num_items,
        factors=4,
        init_std=0.01,
        l2=0.0,
        loss="weighted_square",
        positive_weight=2.0,
        **kwargs,
    ):
        super().__init__(
            num_users, num_items, factors, init_std, l2, loss, positive_weight, **kwargs
        )
