"""DIEN (Zhou et al., 2019): interest extraction and target-aware interest evolution."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from recsys_tf.layers import AUGRU, MLP
from recsys_tf.models.base import SequenceCTRModel

ACTIVATIONS = ("dice", "prelu", "relu")


@keras.saving.register_keras_serializable(package="recsys_tf")
class DIEN(SequenceCTRModel):
    """Deep Interest Evolution Network over the click sequence.

    DIEN Sec. 4, on the clicks `e_b[1..T]` (each the concatenation of its item
    features' embeddings, of width D, as the target's `e_a`):

    - interest extractor: a GRU (Eq. (2)-(5), `recsys_tf.layers.AUGRU` without
      attention) of D units gives the interest states `h_t`;
    - auxiliary loss, Eq. (6): `L_aux = -(1/N) sum_i sum_t [log sigma(<h_t,
      e_b[t+1]>) + log(1 - sigma(<h_t, e^_b[t+1]>))]`, the next click against a
      non-clicked item `e^_b[t+1]`; the total loss is `L_target + alpha L_aux`
      (Eq. (7), `auxiliary_weight` = alpha);
    - attention, Eq. (8): `a_t = exp(h_t W e_a) / sum_j exp(h_j W e_a)` over the
      valid steps (`W` is `[D, D]`);
    - interest evolution: AUGRU (Eq. (11)-(12)) over `h_t` with the scores
      `a_t`; its final state `h'_T` joins the field embeddings (user profile,
      target, context) in an MLP (`hidden_units`, the official code's 200-80, with
      Dice, PReLU or ReLU) and a logit.

    Choices (the paper is silent or the data differ). The negative `e^_b[t+1]` is
    the user's non-clicked item at the same position of the "unclick" sequence
    (both sequences end at the instance's cutoff, most recent last: the k-th most
    recent click is paired with the k-th most recent impression not clicked); the
    official code draws a random item of the catalogue instead. Using the
    impressions the user saw and skipped needs no sampler, and the loss is the
    same on one device and under tf.distribute. A step counts where both clicks
    t and t+1 and the paired non-click exist. The sum over t is averaged over
    each example's valid steps (Eq. (6) sums them), so that alpha weighs a loss
    of the same scale as `L_target` whatever T is; the official code averages
    over all [batch, T - 1] positions. `L_aux` is added in training calls only
    (`add_loss`, which `CTRModel.compute_loss` adds to `L_target`), so validation
    losses are `L_target`.

    Inputs: the CTR fields int `[batch]`; `click_*` and `click_mask`, and with
    `auxiliary_weight` > 0 `unclick_*` and `unclick_mask`, `[batch, T]`.
    Output: logits `[batch]`.

    Args:
        fields, vocabulary_sizes, item_features, embedding_dim, l2: as
            `SequenceCTRModel`.
        sequence_types: None (the default) = ("click", "unclick"), or ("click",)
            without the auxiliary loss; any other value is an error.
        auxiliary_weight: alpha of Eq. (7) (0 = no auxiliary loss, and no unclick
            sequence needed; the official code uses 1).
        hidden_units: the MLP's hidden sizes.
        activation: "dice" (the official code's), "prelu" or "relu".
        dropout: dropout of the MLP (not in the paper; 0).
        unroll: unroll the GRUs' steps (`AUGRU`), which XLA needs; None = where
            a GPU is (Keras's `jit_compile="auto"` turns XLA on there), else a
            loop, 4x faster on CPU. Set True to train with jit_compile=True on CPU.

    Reference: G. Zhou et al., "Deep Interest Evolution Network for Click-Through
    Rate Prediction", AAAI 2019.
    """

    default_sequence_types = ("click", "unclick")
    # Masked attention / recurrence over left padding: the task may cut each
    # batch to the columns its rows use (tests/models/test_sequence_ctr_checks.py).
    padding_invariant = True

    def __init__(
        self,
        fields,
        vocabulary_sizes,
        sequence_types=None,
        item_features=("item_id",),
        embedding_dim=16,
        auxiliary_weight=1.0,
        hidden_units=(200, 80),
        activation="dice",
        dropout=0.0,
        unroll=None,
        l2=0.0,
        **kwargs,
    ):
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {ACTIVATIONS}. Received: {activation!r}"
            )
        if auxiliary_weight < 0:
            raise ValueError(
                f"`auxiliary_weight` must be >= 0. Received: {auxiliary_weight}"
            )
        needed = ("click", "unclick") if auxiliary_weight else ("click",)
        if sequence_types is None:
            sequence_types = needed
        if tuple(sequence_types) != needed:
            raise ValueError(
                f"DIEN with auxiliary_weight={auxiliary_weight} reads the sequences "
                f"{needed}. Received: sequence_types={sequence_types}"
            )
        super().__init__(
            fields,
            vocabulary_sizes,
            sequence_types=sequence_types,
            item_features=item_features,
            embedding_dim=embedding_dim,
            l2=l2,
            **kwargs,
        )
        self.auxiliary_weight = float(auxiliary_weight)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.dropout = dropout
        self.unroll = None if unroll is None else bool(unroll)
        unrolled = (
            bool(tf.config.list_physical_devices("GPU"))
            if self.unroll is None
            else self.unroll
        )
        width = self.item_dim
        self.extractor = AUGRU(
            width, return_sequences=True, unroll=unrolled, name="interest_extractor"
        )
        self.evolution = AUGRU(width, unroll=unrolled, name="interest_evolution")
        self.attention_kernel = self.add_weight(
            name="attention_kernel",
            shape=(width, width),
            initializer="glorot_uniform",
        )
        self.mlp = MLP(
            self.hidden_units + (1,),
            activation=activation,
            output_activation=None,
            dropout=dropout,
            name="mlp",
        )

    @classmethod
    def from_task(
        cls, task, fields=None, sequence_types=None, auxiliary_weight=1.0, **kwargs
    ):
        """The model for a behaviour-sequence CTR task: the click sequence, and the
        unclick one when `auxiliary_weight` > 0 (a dataset without it is a
        ValueError naming it; `auxiliary_weight=0` turns it off)."""
        if not sequence_types:
            sequence_types = ("click", "unclick") if auxiliary_weight else ("click",)
        return super().from_task(
            task, fields, sequence_types, auxiliary_weight=auxiliary_weight, **kwargs
        )

    def call(self, inputs, training=False):
        _, fields = self.embed(inputs)
        clicks, mask = self.embed_sequence(inputs, "click")
        target = self.embed_target(inputs)
        interests = self.extractor(clicks, None, mask=mask)
        if training and self.auxiliary_weight:
            negatives, negative_mask = self.embed_sequence(inputs, "unclick")
            self.add_loss(
                self.auxiliary_weight
                * auxiliary_loss(interests, clicks, mask, negatives, negative_mask)
            )
        scores = self.attention(interests, target, mask)
        evolved = self.evolution(interests, scores, mask=mask)
        width = len(self.fields) * self.embedding_dim
        features = ops.concatenate([ops.reshape(fields, (-1, width)), evolved], -1)
        return ops.squeeze(self.mlp(features, training=training), -1)

    def attention(self, interests, target, mask):
        """Eq. (8): softmax over the valid steps of `h_t W e_a`, `[batch, T]`
        (0 at padded steps; all 0 for a row without clicks)."""
        logits = ops.einsum("btd,de,be->bt", interests, self.attention_kernel, target)
        logits = ops.where(mask, logits, -1e9)
        weights = ops.exp(logits - ops.max(logits, axis=1, keepdims=True))
        weights = ops.where(mask, weights, 0.0)
        return weights / ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1e-12)

    def get_config(self):
        config = super().get_config()
        config.update(
            auxiliary_weight=self.auxiliary_weight,
            hidden_units=self.hidden_units,
            activation=self.activation,
            dropout=self.dropout,
            unroll=self.unroll,
        )
        return config


def auxiliary_loss(interests, clicks, mask, negatives, negative_mask):
    """DIEN Eq. (6) with the per-example mean over valid steps (see `DIEN`).

    Args:
        interests: `h_t` `[batch, T, D]`.
        clicks: `e_b[t]` `[batch, T, D]`, `mask` bool `[batch, T]`.
        negatives: the unclick sequence `[batch, T, D]`, `negative_mask`
            `[batch, T]`, aligned with the clicks from the most recent end.

    Returns:
        The scalar mean over examples of each example's mean over its valid
        steps t of `-log sigma(<h_t, e_b[t+1]>) - log(1 - sigma(<h_t,
        e^_b[t+1]>))`; an example without a valid step adds 0.
    """
    # Aligned from the most recent end: a batch may hold the two sequences cut
    # to different widths (the columns beyond the narrower one are padding of
    # it, hence no valid step), so both keep their last min(widths) columns.
    width = ops.minimum(ops.shape(clicks)[1], ops.shape(negatives)[1])
    interests, clicks, mask = (v[:, -width:] for v in (interests, clicks, mask))
    negatives, negative_mask = negatives[:, -width:], negative_mask[:, -width:]
    states = interests[:, :-1]
    positive = ops.sum(states * clicks[:, 1:], -1)
    negative = ops.sum(states * negatives[:, 1:], -1)
    valid = ops.cast(
        ops.logical_and(
            ops.logical_and(mask[:, :-1], mask[:, 1:]),
            ops.cast(negative_mask[:, 1:], "bool"),
        ),
        "float32",
    )
    # -log sigma(x) = softplus(-x); -log(1 - sigma(x)) = softplus(x).
    per_step = ops.softplus(-positive) + ops.softplus(negative)
    per_example = ops.sum(per_step * valid, 1) / ops.maximum(ops.sum(valid, 1), 1.0)
    return ops.mean(per_example)
