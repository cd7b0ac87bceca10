"""DIN (Zhou et al., 2018): the target item's local activation of a user's behaviours."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from recsys_tf.layers import MLP, ActivationUnit
from recsys_tf.models.base import SequenceCTRModel

ACTIVATIONS = ("dice", "prelu", "relu")


@keras.saving.register_keras_serializable(package="recsys_tf")
class DIN(SequenceCTRModel):
    """Deep Interest Network over one behaviour sequence (the clicks by default).

    DIN Sec. 4: every field is embedded (the one shared table of
    `SequenceCTRModel`); the behaviours `e_1 .. e_H` of `sequence_type` (each the
    concatenation of its item features' embeddings, as the target's `v_A`) are
    pooled by the local activation unit into `v_U(A) = sum_j a(e_j, v_A) e_j`
    (Eq. (3), `recsys_tf.layers.ActivationUnit`, unnormalised weights); the
    field embeddings (user profile, target ad, context) and `v_U(A)` are
    concatenated into an MLP (`hidden_units`, the paper's 200-80) with Dice
    (Eq. (9)), PReLU or ReLU (`activation`) and a logit.

    Mini-batch aware regularisation (Sec. 5.1, Eq. (4)-(7), `mba_l2` = lambda): an
    L2 penalty on exactly the embedding rows the batch looks up, each scaled by
    `1 / n_j`, `n_j` the number of occurrences of row j in the training samples
    (targets' fields and sequence positions; `from_task` counts them into the
    weight `feature_counts`, 1 until then). The penalty is Eq. (5)'s per-sample
    form `sum_{(x, y) in B} sum_j I(x_j != 0) ||w_j||^2 / n_j`, divided by the
    batch size: the paper's Eq. (6) replaces the in-batch count by the
    indicator alpha_mj; the per-sample form adds over examples, so it is the same
    under tf.distribute as on one device, and `mba_l2 * batch_size` is the
    paper's lambda. Padding rows are not penalised. It replaces, not adds to, the
    plain `l2` on looked-up rows (use one of the two).

    Inputs: the CTR fields int `[batch]` and `f"{t}_{feature}"` int `[batch, T]`,
    `f"{t}_mask"` `[batch, T]` for `t = sequence_type` (`SequenceCTRModel`).
    Output: logits `[batch]`.

    Args:
        fields, vocabulary_sizes, item_features, embedding_dim, l2: as
            `SequenceCTRModel`.
        sequence_types: the one behaviour sequence the target attends to,
            `("click",)` by default (e.g. `("like",)`).
        attention_units: hidden sizes of the activation unit's network (the
            official code's 80-40).
        hidden_units: the MLP's hidden sizes (the paper's 200-80).
        activation: "dice" (the paper's), "prelu" or "relu", in the MLP and the
            activation unit.
        dropout: dropout of the MLP (not in the paper; 0).
        mba_l2: lambda of the mini-batch aware regularisation (0 = off).

    Reference: G. Zhou et al., "Deep Interest Network for Click-Through Rate
    Prediction", KDD 2018.
    """

    default_sequence_types = ("click",)
    # Masked attention / recurrence over left padding: the task may cut each
    # batch to the columns its rows use (tests/models/test_sequence_ctr_checks.py).
    padding_invariant = True

    def __init__(
        self,
        fields,
        vocabulary_sizes,
        sequence_types=("click",),
        item_features=("item_id",),
        embedding_dim=16,
        attention_units=(80, 40),
        hidden_units=(200, 80),
        activation="dice",
        dropout=0.0,
        mba_l2=0.0,
        l2=0.0,
        **kwargs,
    ):
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {ACTIVATIONS}. Received: {activation!r}"
            )
        if mba_l2 < 0:
            raise ValueError(f"`mba_l2` must be >= 0. Received: mba_l2={mba_l2}")
        if len(tuple(sequence_types)) != 1:
            raise ValueError(
                "DIN attends over one behaviour sequence: `sequence_types` must hold "
                f"one type. Received: sequence_types={sequence_types}"
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
        self.sequence_type = self.sequence_types[0]
        self.attention_units = tuple(int(u) for u in attention_units)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.dropout = dropout
        self.mba_l2 = mba_l2
        self.activation_unit = ActivationUnit(
            self.attention_units, activation=activation, name="activation_unit"
        )
        self.mlp = MLP(
            self.hidden_units + (1,),
            activation=activation,
            output_activation=None,
            dropout=dropout,
            name="mlp",
        )
        if mba_l2:
            self.feature_counts = self.add_weight(
                name="feature_counts",
                shape=(sum(self.vocabulary_sizes),),
                initializer="ones",
                trainable=False,
            )

    @classmethod
    def from_task(cls, task, fields=None, sequence_types=None, **kwargs):
        """The model for a behaviour-sequence CTR task; with `mba_l2` > 0 its
        `feature_counts` are counted on the task's training part."""
        model = super().from_task(task, fields, sequence_types, **kwargs)
        if model.mba_l2:
            model.feature_counts.assign(
                training_counts(task, model.fields, model.sequence_type).astype(
                    np.float32
                )
            )
        return model

    def call(self, inputs, training=False):
        _, fields = self.embed(inputs)
        behaviours, mask = self.embed_sequence(inputs, self.sequence_type)
        target = self.embed_target(inputs)
        interest = self.activation_unit(
            behaviours, target, mask=mask, training=training
        )
        if self.mba_l2:
            self.add_loss(self.mba_l2 * self.mini_batch_penalty(inputs))
        width = len(self.fields) * self.embedding_dim
        features = ops.concatenate([ops.reshape(fields, (-1, width)), interest], -1)
        return ops.squeeze(self.mlp(features, training=training), -1)

    def mini_batch_penalty(self, inputs):
        """`(1 / |B|) sum_{x in B} sum_j I(x_j != 0) ||w_j||^2 / n_j` over the
        rows the batch looks up (padding excluded)."""
        table = self.embedding.embeddings
        starts = np.cumsum((0,) + self.vocabulary_sizes[:-1])
        offsets = {f: int(o) for f, o in zip(self.fields, starts)}
        rows, weights = [], []
        for field in self.fields:
            rows.append(
                ops.reshape(ops.cast(inputs[field], "int32") + offsets[field], (-1,))
            )
            weights.append(ops.ones_like(rows[-1], dtype="float32"))
        mask = ops.cast(inputs[f"{self.sequence_type}_mask"], "float32")
        for feature in self.item_features:
            codes = ops.cast(inputs[f"{self.sequence_type}_{feature}"], "int32")
            rows.append(ops.reshape(codes + offsets[feature], (-1,)))
            weights.append(ops.reshape(mask, (-1,)))
        rows = ops.concatenate(rows, 0)
        weights = ops.concatenate(weights, 0) / ops.take(self.feature_counts, rows)
        norms = ops.sum(ops.square(ops.take(table, rows, axis=0)), -1)
        batch = ops.cast(ops.shape(inputs[self.fields[0]])[0], "float32")
        return ops.sum(weights * norms) / batch

    def get_config(self):
        config = super().get_config()
        config.update(
            attention_units=self.attention_units,
            hidden_units=self.hidden_units,
            activation=self.activation,
            dropout=self.dropout,
            mba_l2=self.mba_l2,
        )
        return config


def training_counts(task, fields, sequence_type) -> np.ndarray:
    """`n_j` of DIN Eq. (4): occurrences of every row of the shared field table
    in the training samples, as targets' field codes and as positions of the
    `sequence_type` windows (a window holds the last `length` events before its
    row's cutoff); rows never seen count 1. Counted without cutting a window:
    each event is covered by the rows whose window holds it (a difference array
    over the events)."""
    sizes = [task.vocabulary_sizes[f] for f in fields]
    offsets = dict(zip(fields, np.cumsum([0] + sizes[:-1])))
    counts = np.zeros(sum(sizes), np.float64)
    features = task.train.features
    for field in fields:
        counts[offsets[field] : offsets[field] + task.vocabulary_sizes[field]] += (
            np.bincount(
                np.asarray(features[field], np.int64),
                minlength=task.vocabulary_sizes[field],
            )
        )
    windows = features[sequence_type]
    first = np.maximum(windows.start, windows.end - windows.length)
    cover = np.zeros(len(windows.values) + 1, np.int64)
    np.add.at(cover, first, 1)
    np.add.at(cover, windows.end, -1)
    cover = np.cumsum(cover)[:-1]
    for name, table in windows.lookups.items():
        if name not in offsets:
            continue
        codes = windows.values if table is None else np.asarray(table)[windows.values]
        counts[offsets[name] : offsets[name] + task.vocabulary_sizes[name]] += (
            np.bincount(codes, weights=cover, minlength=task.vocabulary_sizes[name])
        )
    return np.maximum(counts, 1.0)
