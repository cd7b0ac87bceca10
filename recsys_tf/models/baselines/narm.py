"""NARM: neural attentive session-based recommendation (Li et al., 2017)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import CausalAdditiveAttention
from recsys_tf.models.base import SequentialRetrievalModel, require_positive


@keras.saving.register_keras_serializable(package="recsys_tf")
class NARM(SequentialRetrievalModel):
    """A GRU global encoder plus an attentive local encoder, bilinear decoding.

    NARM Sec. 3: the items (embeddings of size `embedding_dim`, dropout
    `embedding_dropout`) go through a GRU of `units` (Eq. (1)-(4)); the global
    encoder's representation is its last state, `c_t^g = h_t` (Eq. (5)); the local
    encoder attends with `h_t` over the states of the prefix, `c_t^l = sum_j
    a_tj h_j`, `a_tj = v^T sigma(A_1 h_t + A_2 h_j)` (Eq. (6)-(8),
    `CausalAdditiveAttention`). The two share one GRU: the paper notes that
    `h_t^g` and `h_t^l` have the same values, and the authors' code runs one GRU.
    `c_t = [c_t^g; c_t^l]` (Eq. (9)), after dropout `dropout`, scores item i
    bilinearly with the input embeddings, `S_i = emb_i^T B c_t` (Eq. (10)): the
    query is `B c_t` `[embedding_dim]` and the output table is the item
    embedding table, without biases. Keras' GRU applies the reset gate after the
    recurrent product (`reset_after=True`); the authors' code, as Eq. (3), before.
    The loss defaults to the paper's cross-entropy of the softmax over all items
    ("softmax"). Every prefix is an example, as the paper's training
    data (every prefix of a session) are.

    Inputs: `history` int `[batch, seq_len]`, `history_mask` bool `[batch, seq_len]`.
    Output: the last position's query `[batch, embedding_dim]`, or in per-position
    training every position's `[batch, seq_len, embedding_dim]`.

    Args:
        num_items: catalogue size.
        embedding_dim: item embedding size (50 in the paper).
        units: GRU size, also that of `A_1`, `A_2`, `v` (100).
        embedding_dropout: dropout between the embeddings and the GRU (0.25).
        dropout: dropout between `c_t` and the bilinear decoder (0.5).
        loss, num_negatives, per_position, seed: see `SequentialRetrievalModel`.

    Example:
        >>> model = NARM(num_items=100, embedding_dim=8, units=16)
        >>> model({"history": keras.ops.ones((2, 10), "int32"),
        ...        "history_mask": keras.ops.ones((2, 10), "bool")}).shape
        (2, 8)

    Reference: J. Li, P. Ren, Z. Chen, Z. Ren, T. Lian and J. Ma, "Neural
    Attentive Session-based Recommendation", CIKM 2017; code
    github.com/lijingsdu/sessionRec_NARM.
    """

    def __init__(
        self,
        num_items,
        embedding_dim=50,
        units=100,
        embedding_dropout=0.25,
        dropout=0.5,
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
        require_positive(embedding_dim=embedding_dim, units=units)
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.embedding_dropout = float(embedding_dropout)
        self.dropout = float(dropout)
        self.item_embeddings = self.add_weight(
            name="item_embeddings",
            shape=(self.num_items, self.embedding_dim),
            initializer="glorot_uniform",
        )
        self.input_dropout = keras.layers.Dropout(self.embedding_dropout)
        self.gru = keras.layers.GRU(self.units, return_sequences=True, name="gru")
        self.attention = CausalAdditiveAttention(name="attention")
        self.session_dropout = keras.layers.Dropout(self.dropout)
        self.bilinear = keras.layers.Dense(
            self.embedding_dim, use_bias=False, name="bilinear"
        )

    def _states(self, inputs, training):
        history = ops.cast(inputs["history"], "int32")
        mask = ops.cast(inputs["history_mask"], "bool")
        x = ops.take(self.item_embeddings, history, 0)
        x = x * ops.cast(mask, x.dtype)[..., None]
        x = self.input_dropout(x, training=training)
        return self.gru(x, mask=mask, training=training), mask

    def _decode(self, states, local, training):
        session = ops.concatenate([states, local], axis=-1)  # c_t = [c^g; c^l]
        return self.bilinear(self.session_dropout(session, training=training))

    def encode(self, inputs, training=False):
        states, mask = self._states(inputs, training)
        return self._decode(states, self.attention(states, mask=mask), training)

    def encode_last(self, inputs, training=False):
        states, mask = self._states(inputs, training)
        local = self.attention(states, mask=mask, last_only=True)
        return self._decode(states[:, -1], local, training)

    def output_table(self):
        return self.item_embeddings, None

    def projector_embeddings(self):
        """The item embeddings `emb_i`, for TensorBoard."""
        return {"item": ops.convert_to_numpy(self.item_embeddings)}

    def get_config(self):
        config = super().get_config()
        config.update(
            embedding_dim=self.embedding_dim,
            units=self.units,
            embedding_dropout=self.embedding_dropout,
            dropout=self.dropout,
        )
        return config
