"""BINN: behavior-intensive neural network (Li et al., 2018)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import ContextualLSTM
from recsys_tf.models.base import SequentialRetrievalModel, require_positive


@keras.saving.register_keras_serializable(package="recsys_tf")
class BINN(SequentialRetrievalModel):
    """A session encoder and a preference encoder of contextual LSTMs.

    BINN ("Discriminative Behaviors Learning"; equation numbers not cited: the
    paper's text was not at hand, its structure is taken from its abstract and
    XDM's description: "BINN applies RNN to encode user's sessions, and connects
    the current consumption motivation and historical behaviors as a unified
    user representation"): each behaviour is its item's
    embedding `x_t` (`embedding_dim`) with a behaviour vector `b_t` (the
    embedding, `behaviour_dim`, of its type `history_behaviour` when
    `num_behaviours` > 0) entering the gates of a `ContextualLSTM` (CLSTM).
    Session Behaviors Learning (SBL, the present motivation): a CLSTM over the
    user's latest `session_length` behaviours, its last state `h^s`; Preference
    Behaviors Learning (PBL, the historical preference): a Bi-CLSTM over the
    whole history, `h^p = [h^fwd_last; h^bwd_first]` (the final states of both
    directions). The user `u = [h^s; h^p]`, after dropout `dropout`, scores item
    i by `u . w_i + b_i`, trained with the cross-entropy of the full softmax by
    default ("softmax"). The pooling of `h^p`, this output layer and this loss
    are our reading: a reading note of the paper (not checked against its text)
    has PBL average its states over the steps, and a dense layer to a vector
    regressed on the next item's pre-trained embedding (squared error).

    Choices where the paper is silent or the data lack something: the paper
    splits sessions by time and aligns behaviours with their types and time
    intervals; this model reads no timestamps (S3-Rec's Amazon Beauty files have
    none; on timed data the retrieval task's `data.session_gap` sessions would
    serve, not wired here) nor (on Amazon Beauty) more than one behaviour type,
    so the session is the latest `session_length` behaviours and the context is
    absent unless
    `num_behaviours` > 0 (then `history_behaviour` int `[batch, seq_len]`, codes
    `0 .. num_behaviours - 1`, is an input); the w-item2vec pre-training of the
    item embeddings is not done: they are learned with the model. The Bi-CLSTM
    reads every prefix backwards from its own end, so its output for position t
    is not a part of the output for the whole row: per-position training needs
    `bidirectional=False` (a forward CLSTM for the preference, `h^p =
    h^fwd_last`); with `bidirectional=True`, `per_position=True` is an error
    and every prefix is an example of its own.

    Inputs: `history` int `[batch, seq_len]`, `history_mask` bool `[batch,
    seq_len]` (and `history_behaviour` with `num_behaviours` > 0).
    Output: the last position's query `[batch, dim]`, `dim = units (1 + 2)` (or
    `2 units` without `bidirectional`), or in per-position training every
    position's `[batch, seq_len, dim]`.

    Args:
        num_items: catalogue size.
        embedding_dim: item embedding size.
        units: size of each CLSTM.
        session_length: the latest behaviours the session encoder reads.
        bidirectional: the preference encoder is a Bi-CLSTM (the paper's).
        num_behaviours: behaviour types (0 = no behaviour vector).
        behaviour_dim: size of a behaviour vector.
        dropout: dropout on the user vector.
        loss, num_negatives, per_position, seed: see `SequentialRetrievalModel`.

    Example:
        >>> model = BINN(num_items=100, embedding_dim=8, units=8)
        >>> model({"history": keras.ops.ones((2, 10), "int32"),
        ...        "history_mask": keras.ops.ones((2, 10), "bool")}).shape
        (2, 24)

    Reference: Z. Li, H. Zhao, Q. Liu, Z. Huang, T. Mei and E. Chen, "Learning
    from History and Present: Next-item Recommendation via Discriminatively
    Exploiting User Behaviors", KDD 2018.
    """

    def __init__(
        self,
        num_items,
        embedding_dim=64,
        units=64,
        session_length=5,
        bidirectional=True,
        num_behaviours=0,
        behaviour_dim=8,
        dropout=0.2,
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
            embedding_dim=embedding_dim, units=units, session_length=session_length
        )
        if int(num_behaviours) < 0 or (int(num_behaviours) and int(behaviour_dim) < 1):
            raise ValueError(
                "`num_behaviours` must be >= 0 and `behaviour_dim` >= 1. Received: "
                f"num_behaviours={num_behaviours}, behaviour_dim={behaviour_dim}"
            )
        if bidirectional and per_position:
            raise ValueError(
                "BINN's Bi-CLSTM reads every prefix backwards from its own end, so it "
                "cannot train per position: set data.per_position=False (every "
                "prefix an example) or model.bidirectional=False"
            )
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.session_length = int(session_length)
        self.bidirectional = bool(bidirectional)
        self.num_behaviours = int(num_behaviours)
        self.behaviour_dim = int(behaviour_dim)
        self.dropout = float(dropout)
        self.item_embeddings = self.add_weight(
            name="item_embeddings",
            shape=(self.num_items, self.embedding_dim),
            initializer="glorot_uniform",
        )
        if self.num_behaviours:
            self.behaviour_embeddings = self.add_weight(
                name="behaviour_embeddings",
                shape=(self.num_behaviours, self.behaviour_dim),
                initializer="glorot_uniform",
            )
        self.session_encoder = ContextualLSTM(self.units, name="session_encoder")
        self.preference_encoder = ContextualLSTM(
            self.units, return_sequences=True, name="preference_encoder"
        )
        if self.bidirectional:
            self.backward_encoder = ContextualLSTM(
                self.units, go_backwards=True, name="backward_encoder"
            )
        self.user_dropout = keras.layers.Dropout(self.dropout)
        dim = self.units * (3 if self.bidirectional else 2)
        self.output_embeddings = self.add_weight(
            name="output_embeddings",
            shape=(self.num_items, dim),
            initializer="glorot_uniform",
        )
        self.output_biases = self.add_weight(
            name="output_biases", shape=(self.num_items,), initializer="zeros"
        )

    def input_fields(self):
        """`history`, `history_mask` (and `history_behaviour`)."""
        fields = super().input_fields()
        if self.num_behaviours:
            fields["history_behaviour"] = self.num_behaviours
        return fields

    def _behaviours(self, inputs):
        """Item embeddings `[B, T, d]`, behaviour vectors `[B, T, c]` or None, and
        the mask (bool `[B, T]`)."""
        mask = ops.cast(inputs["history_mask"], "bool")
        real = ops.cast(mask, "float32")[..., None]
        items = ops.take(self.item_embeddings, ops.cast(inputs["history"], "int32"), 0)
        context = None
        if self.num_behaviours:
            if "history_behaviour" not in inputs:
                raise KeyError(
                    "BINN with num_behaviours > 0 reads `history_behaviour`; the "
                    f"inputs have {sorted(inputs)}"
                )
            codes = ops.cast(inputs["history_behaviour"], "int32")
            context = ops.take(self.behaviour_embeddings, codes, 0) * real
        return items * real, context, mask

    def _windows(self, x, length):
        """The latest `session_length` steps at every position `[B, T, L, ...]`
        (zeros before the first)."""
        pad = ops.zeros_like(x[:, :1])
        padded = ops.concatenate([pad] * (self.session_length - 1) + [x], axis=1)
        return ops.stack(
            [padded[:, s : s + length] for s in range(self.session_length)], 2
        )

    def _sessions(self, items, context, mask):
        """`h^s` at every position `[B, T, units]`."""
        shape = ops.shape(items)
        length = items.shape[1]
        window = self.session_length

        def flat(x):
            windows = self._windows(x, length)
            return ops.reshape(windows, (-1, window) + tuple(x.shape[2:]))

        states = self.session_encoder(
            flat(items),
            None if context is None else flat(context),
            mask=flat(mask),
        )
        return ops.reshape(states, (shape[0], shape[1], self.units))

    def _users(self, parts, training):
        return self.user_dropout(ops.concatenate(parts, -1), training=training)

    def encode(self, inputs, training=False):
        if self.bidirectional:
            raise ValueError(
                "BINN with bidirectional=True gives the last position's query only "
                "(`encode_last`); every position needs bidirectional=False"
            )
        items, context, mask = self._behaviours(inputs)
        sessions = self._sessions(items, context, mask)
        preferences = self.preference_encoder(items, context, mask=mask)
        return self._users([sessions, preferences], training)

    def encode_last(self, inputs, training=False):
        items, context, mask = self._behaviours(inputs)
        window = self.session_length
        recent = [x[:, -window:] if x is not None else None for x in (items, context)]
        session = self.session_encoder(recent[0], recent[1], mask=mask[:, -window:])
        parts = [session, self.preference_encoder(items, context, mask=mask)[:, -1]]
        if self.bidirectional:
            parts.append(self.backward_encoder(items, context, mask=mask))
        return self._users(parts, training)

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
            session_length=self.session_length,
            bidirectional=self.bidirectional,
            num_behaviours=self.num_behaviours,
            behaviour_dim=self.behaviour_dim,
            dropout=self.dropout,
        )
        return config
