"""The local activation unit of DIN (Zhou et al., 2018)."""

import keras
from keras import ops

from recsys_tf.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="recsys_tf")
class ActivationUnit(keras.layers.Layer):
    """Target-weighted sum pooling of a behaviour sequence: DIN Eq. (3).

    `v_U(A) = sum_j a(e_j, v_A) e_j = sum_j w_j e_j`, over the valid positions j,
    where `e_j` is the j-th behaviour's embedding, `v_A` the target's, and the
    activation weight `a(e_j, v_A) = MLP([e_j, v_A, e_j - v_A, e_j * v_A])`, a
    feed-forward network ending in one linear unit.

    The paper's Fig. 2 feeds the outer product of `e_j` and `v_A`; the official code
    feeds the concatenation of both with their difference and element-wise
    product: here the concatenation, as in the official code. As the paper says
    (Sec. 4.3), the weights are not normalised by a softmax (the official code
    does normalise them; the paper's intent, keeping the intensity of the user's
    interests, is followed here). `hidden_units=(80, 40)` is the official code's
    network; its hidden activation there is a sigmoid, in the paper's Fig. 2
    PReLU / Dice: `activation` chooses, default "dice".

    Masked positions get weight 0 and do not enter Dice's batch statistics.

    Inputs: `behaviours` `[batch, seq_len, dim]`, `target` `[batch, dim]`, `mask`
    bool `[batch, seq_len]` (None: every position is valid). Output: `[batch,
    dim]`; with `return_attention_scores=True` also the weights `w` `[batch,
    seq_len]` (0 at masked positions).

    Args:
        hidden_units: the hidden layer sizes of the weight network.
        activation: their activation ("dice", "prelu" or a Keras name).

    Example:
        >>> unit = ActivationUnit(hidden_units=(8,))
        >>> unit(keras.ops.ones((2, 5, 4)), keras.ops.ones((2, 4))).shape
        (2, 4)

    Reference: G. Zhou et al., "Deep Interest Network for Click-Through Rate
    Prediction", KDD 2018.
    """

    def __init__(self, hidden_units=(80, 40), activation="dice", **kwargs):
        super().__init__(**kwargs)
        hidden_units = tuple(int(u) for u in hidden_units)
        if hidden_units and min(hidden_units) < 1:
            raise ValueError(
                "`hidden_units` must be positive integers. Received: "
                f"hidden_units={hidden_units}"
            )
        self.hidden_units = hidden_units
        self.activation = activation
        self.mlp = MLP(
            hidden_units + (1,),
            activation=activation,
            output_activation=None,
            name="weight_network",
        )

    def build(self, behaviours_shape, target_shape=None):
        if len(behaviours_shape) != 3 or behaviours_shape[-1] is None:
            raise ValueError(
                "`behaviours` must be [batch, seq_len, dim] with a known dim. "
                f"Received: {behaviours_shape}"
            )
        dim = behaviours_shape[-1]
        if target_shape is not None and tuple(target_shape)[-1] != dim:
            raise ValueError(
                f"`target` must be [batch, {dim}] like the behaviours' dim. "
                f"Received: {target_shape}"
            )
        self.mlp.build(tuple(behaviours_shape[:-1]) + (4 * dim,))

    def call(
        self,
        behaviours,
        target,
        mask=None,
        training=False,
        return_attention_scores=False,
    ):
        targets = ops.broadcast_to(target[:, None, :], ops.shape(behaviours))
        features = ops.concatenate(
            [behaviours, targets, behaviours - targets, behaviours * targets], -1
        )
        weights = ops.squeeze(self.mlp(features, training=training, mask=mask), -1)
        if mask is not None:
            weights = ops.where(ops.cast(mask, "bool"), weights, 0.0)
        pooled = ops.sum(weights[..., None] * behaviours, axis=1)
        if return_attention_scores:
            return pooled, weights
        return pooled

    def compute_output_shape(self, behaviours_shape, target_shape=None):
        return (behaviours_shape[0], behaviours_shape[2])

    def compute_mask(self, behaviours, target=None, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(hidden_units=self.hidden_units, activation=self.activation)
        return config
