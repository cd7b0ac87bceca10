"""GRU4Rec: session-based recommendation with recurrent networks (Hidasi et al., 2016)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.models.base import SequentialRetrievalModel, require_positive


@keras.saving.register_keras_serializable(package="recsys_tf")
class GRU4Rec(SequentialRetrievalModel):
    """A GRU over the history; each hidden state scores the next item.

    GRU4Rec Sec. 3.1: the item of each position (here an embedding of size
    `embedding_dim`, the paper's optional embedding layer) goes through
    `num_layers` GRU layers of `units` (Eq. (1)-(4): `h_t = (1 - z_t) h_{t-1} +
    z_t h^_t`, update gate `z_t`, reset gate `r_t`); the last layer's state `h_t`,
    after dropout `dropout` (the paper's dropout on the hidden layer), gives every
    item the score `h_t . w_i + b_i` with an output table of its own, as the
    paper's feed-forward output layer. Padded positions (left) leave the state at
    zero. Keras' GRU applies the reset gate after the recurrent product (its
    default `reset_after=True`); the paper's Eq. (3) applies it before.
    The loss defaults to the cross-entropy of the full softmax at every position
    ("softmax"; the paper's session-parallel mini-batches with TOP1 / BPR over the
    batch's other targets are not implemented, see `SequentialRetrievalModel`
    for the other losses).

    Inputs: `history` int `[batch, seq_len]`, `history_mask` bool `[batch, seq_len]`.
    Output: the last position's query `[batch, units]`, or in per-position
    training every position's `[batch, seq_len, units]`.

    Args:
        num_items: catalogue size.
        embedding_dim: input item embedding size.
        units: GRU size (the query dimension).
        num_layers: stacked GRU layers.
        dropout: dropout on the last hidden states.
        loss, num_negatives, per_position, seed: see `SequentialRetrievalModel`.

    Example:
        >>> model = GRU4Rec(num_items=100, embedding_dim=8, units=16)
        >>> model({"history": keras.ops.ones((2, 10), "int32"),
        ...        "history_mask": keras.ops.ones((2, 10), "bool")}).shape
        (2, 16)

    Reference: B. Hidasi, A. Karatzoglou, L. Baltrunas and D. Tikk, "Session-based
    Recommendations with Recurrent Neural Networks", ICLR 2016.
    """

    padding_invariant = True

    def __init__(
        self,
        num_items,
        embedding_dim=64,
        units=64,
        num_layers=1,
        dropout=0.25,
        loss="softmax",
        num_negatives=1,
        per_position=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            num_items,
            loss=loss,
            num_negatives=num_negatives,
            per_position=per_position,
            seed=seed,
            **kwargs,
        )
        require_positive(
            embedding_dim=embedding_dim, units=units, num_layers=num_layers
        )
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.num_layers = int(num_layers)
        self.dropout = float(dropout)
        self.item_embeddings = self.add_weight(
            name="item_embeddings",
            shape=(self.num_items, self.embedding_dim),
            initializer="glorot_uniform",
        )
        self.grus = [
            keras.layers.GRU(self.units, return_sequences=True, name=f"gru_{i}")
            for i in range(self.num_layers)
        ]
        self.hidden_dropout = keras.layers.Dropout(self.dropout)
        self.output_embeddings = self.add_weight(
            name="output_embeddings",
            shape=(self.num_items, self.units),
            initializer="glorot_uniform",
        )
        self.output_biases = self.add_weight(
            name="output_biases", shape=(self.num_items,), initializer="zeros"
        )

    def encode(self, inputs, training=False):
        history = ops.cast(inputs["history"], "int32")
        mask = ops.cast(inputs["history_mask"], "bool")
        x = ops.take(self.item_embeddings, history, 0)
        x = x * ops.cast(mask, x.dtype)[..., None]
        for gru in self.grus:
            x = gru(x, mask=mask, training=training)
        return self.hidden_dropout(x, training=training)

    def output_table(self):
        return self.output_embeddings, self.output_biases

    def projector_embeddings(self):
        """The output item vectors `w_i`, for TensorBoard."""
        return {"item": ops.convert_to_numpy(self.output_embeddings)}

    def get_config(self):
        config = super().get_config()
        config.update(
            embedding_dim=self.embedding_dim,
            units=self.units,
            num_layers=self.num_layers,
            dropout=self.dropout,
        )
        return config
