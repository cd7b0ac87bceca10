"""MF + M-MLP: matrix factorisation fused with a multi-branch MLP over several
implicit feedback types (the "multiple implicit feedback" paper, Sections 3.2-3.4)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from recsys_tf.models.base import PairwiseModel

BRANCH_UPDATES = ("feedback", "always")


@keras.saving.register_keras_serializable(package="recsys_tf")
class MFMLP(PairwiseModel):
    """MF and a Multi-branch MLP (M-MLP) fused by a dense sigmoid layer.

    MF (Eq. 5): `phi_MF = p_u^MF * q_i^MF` (element-wise), `factors` each.
    M-MLP (Eq. 2-4, 6): one MLP user and item embedding, shared by every branch
    (the reading notes, l.238, l.264-266), `z_1 = [p_u^MLP, q_i^MLP]`; branch t of
    `feedback_types` (the target first, then the supportive types) is
    `y_t = a_L(W_L^t(... a_2(W_2^t z_1 + b_2^t) ...) + b_L^t)` with ReLU layers of
    `factors * 2^(L-1), ..., factors` units (`num_layers` = L; 0 = the branch is
    `z_1`); the fusion layer is `phi_MLP = ReLU(W_f [y_Target, y_A, ...] + b_f)`
    with `factors` units. Eq. 7: `y_hat = sigmoid(h^T [phi_MF, phi_MLP])`; `call`
    returns its logit.

    Branch updates (Section 3.3): the target branch learns from every pair; with
    `branch_update="feedback"` a supportive branch t learns only from the pairs
    that carry type t in training (`feedback[:, t]`): the other pairs see its
    output through a stop-gradient, and a training batch without any pair of
    type t restores t's weights and their Adam moments after the step, so the
    branch is not moved at all (as a PyTorch parameter without a gradient). At
    inference every branch scores every pair. "always" updates every branch on
    every pair (an ablation).

    The paper does not give the layer sizes or the fusion layer's width and
    activation; here they follow NeuMF's halving tower and the paper's "ReLU in
    each layer". Weights, biases and embeddings start from N(0, `init_std`) (l.382).

    Args:
        num_users / num_items: vocabulary sizes.
        feedback_types: the task's types, target first (names, for the config).
        factors: embedding size of MF and of the M-MLP (the paper's "factors").
        num_layers: layers per branch (L).
        init_std: standard deviation of the Gaussian initialisation.
        l2: L2 factor on looked-up embedding rows.
        branch_update: "feedback" (the paper) or "always".
        fusion: the M-MLP fusion layer (False: a single branch feeds Eq. 7
            directly, as NeuMF).
        loss / positive_weight: see `PairwiseModel`.

    Example:
        >>> model = MFMLP(10, 20, ("buy", "click"), factors=4)
        >>> model({"user_id": np.array([0, 1]), "item_id": np.array([3, 4])}).shape
        (2,)

    Reference: "Multiple implicit feedback ... MF and M-MLP" (Alibaba, NeuMF
    extended to several feedback types); He et al. 2017 (NeuMF).
    """

    def __init__(
        self,
        num_users,
        num_items,
        feedback_types=("buy",),
        factors=4,
        num_layers=2,
        init_std=0.01,
        l2=0.0,
        branch_update="feedback",
        fusion=True,
        loss="bpr",
        positive_weight=1.0,
        **kwargs,
    ):
        super().__init__(num_users, num_items, loss, positive_weight, **kwargs)
        feedback_types = tuple(feedback_types)
        if not feedback_types:
            raise ValueError("`feedback_types` must name at least the target type.")
        if factors < 1 or num_layers < 0 or init_std <= 0:
            raise ValueError(
                "`factors` must be >= 1, `num_layers` >= 0 and `init_std` > 0. "
                f"Received: factors={factors}, num_layers={num_layers}, "
                f"init_std={init_std}"
            )
        if branch_update not in BRANCH_UPDATES:
            raise ValueError(
                f"`branch_update` must be one of {BRANCH_UPDATES}. "
                f"Received: {branch_update!r}"
            )
        if not fusion and len(feedback_types) > 1:
            raise ValueError("`fusion=False` needs a single feedback type.")
        self.feedback_types = feedback_types
        self.factors = int(factors)
        self.num_layers = int(num_layers)
        self.init_std = float(init_std)
        self.l2 = l2
        self.branch_update = branch_update
        self.fusion = bool(fusion)
        init = keras.initializers.RandomNormal(0.0, self.init_std)
        regularizer = keras.regularizers.L2(l2) if l2 else None

        def embedding(size, name):
            return keras.layers.Embedding(
                size,
                self.factors,
                embeddings_initializer=init,
                embeddings_regularizer=regularizer,
                name=name,
            )

        self.mf_user = embedding(self.num_users, "mf_user")
        self.mf_item = embedding(self.num_items, "mf_item")
        self.mlp_user = embedding(self.num_users, "mlp_user")
        self.mlp_item = embedding(self.num_items, "mlp_item")
        units = [
            self.factors * 2 ** (self.num_layers - 1 - i) for i in range(num_layers)
        ]
        self.branches = [
            keras.Sequential(
                [
                    keras.layers.Dense(
                        u,
                        activation="relu",
                        kernel_initializer=init,
                        bias_initializer=init,
                    )
                    for u in units
                ],
                name=f"branch_{t}",
            )
            if units
            else None
            for t in feedback_types
        ]
        self.fusion_layer = (
            keras.layers.Dense(
                self.factors,
                activation="relu",
                kernel_initializer=init,
                bias_initializer=init,
                name="fusion",
            )
            if self.fusion
            else None
        )
        self.output_layer = keras.layers.Dense(
            1, kernel_initializer=init, bias_initializer=init, name="output"
        )

    @classmethod
    def from_task(cls, task, **kwargs):
        """Every feedback type of the task, target first."""
        kwargs.setdefault("feedback_types", task.feedback_types)
        return cls(task.num_users, task.num_items, **kwargs)

    def score(self, user_ids, item_ids, feedback=None, training=False):
        users = ops.cast(ops.reshape(user_ids, (-1,)), "int32")
        items = ops.cast(ops.reshape(item_ids, (-1,)), "int32")
        mf = self.mf_user(users) * self.mf_item(items)  # Eq. 5
        z = ops.concatenate([self.mlp_user(users), self.mlp_item(items)], axis=1)
        outputs = []
        for t, branch in enumerate(self.branches):  # Eq. 2-3
            y = branch(z) if branch is not None else z
            if feedback is not None and t > 0 and self.branch_update == "feedback":
                carries = ops.cast(feedback[:, t : t + 1], y.dtype)
                y = carries * y + (1.0 - carries) * ops.stop_gradient(y)
            outputs.append(y)
        mlp = (  # Eq. 4, 6
            self.fusion_layer(ops.concatenate(outputs, axis=1))
            if self.fusion
            else outputs[0]
        )
        logits = self.output_layer(ops.concatenate([mf, mlp], axis=1))  # Eq. 7
        return ops.reshape(logits, (-1,))

    def _branch_state(self, t):
        """Branch t's weights and their optimizer moments (Adam's m and v)."""
        variables = (
            list(self.branches[t].trainable_variables) if self.branches[t] else []
        )
        state = list(variables)
        optimizer = self.optimizer
        for slots in ("_momentums", "_velocities"):
            table = getattr(optimizer, slots, None)
            if table:
                state += [table[optimizer._get_variable_index(v)] for v in variables]
        return state

    def train_step(self, data):
        if self.branch_update != "feedback" or len(self.feedback_types) == 1:
            return super().train_step(data)
        x = data[0] if isinstance(data, tuple) else data
        kept = []
        for t in range(1, len(self.feedback_types)):
            state = self._branch_state(t)
            if not state:
                continue
            present = ops.logical_or(
                ops.any(x["feedback"][:, t] > 0),
                ops.any(x["negative_feedback"][:, :, t] > 0),
            )
            kept.append((present, state, [tf.identity(v) for v in state]))
        logs = super().train_step(data)
        for present, state, saved in kept:
            for variable, old in zip(state, saved):
                variable.assign(ops.where(present, variable, old))
        return logs

    def get_config(self):
        config = super().get_config()
        config.update(
            feedback_types=self.feedback_types,
            factors=self.factors,
            num_layers=self.num_layers,
            init_std=self.init_std,
            l2=self.l2,
            branch_update=self.branch_update,
            fusion=self.fusion,
        )
        return config
