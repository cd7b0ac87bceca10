"""DSIN (Feng et al., 2019): the Deep Session Interest Network."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import (
    MLP,
    BiasEncoding,
    MaskedMeanPooling,
    TargetAttention,
    TransformerBlock,
)
from recsys_tf.models.base import SequenceCTRModel


@keras.saving.register_keras_serializable(package="recsys_tf")
class DSIN(SequenceCTRModel):
    """Session interests by self-attention, their evolution by a Bi-LSTM, read by
    the target item.

    DSIN's layers by name (Fig. 2; the equations are quoted by layer, not by
    number: the full text was not at hand), for the click history cut into K
    sessions of at most T items (the data's `session_*` inputs `[batch, K, T]`:
    30-minute gaps, the most recent K sessions, oldest first: the session
    division layer):

    - Session interest extractor layer: each behaviour is the concatenation of
      its item features' embeddings (d_model = len(item_features) x
      `embedding_dim`); bias encoding `Q = Q + BE`, `BE_(k,t,c) = w^K_k + w^T_t
      + w^C_c` (`BiasEncoding`); one multi-head self-attention layer with FFN,
      residual connections and layer normalisation, shared by the sessions
      (`TransformerBlock`); `I_k = Avg(I_k^Q)` over the session's valid items.
    - Session interest interacting layer: a Bi-LSTM over `I_1 .. I_K`,
      `H_k = h_k(forward) (+) h_k(backward)` (concatenation).
    - Session interest activating layer: `U^I = sum_k a^I_k I_k`,
      `a^I_k = softmax_k(I_k W^I X^I)`, and `U^H = sum_k a^H_k H_k`,
      `a^H_k = softmax_k(H_k W^H X^I)` (`TargetAttention`), `X^I` the target
      item's embedding.
    - Base model and Fig. 2: the embeddings of the user and item profile fields,
      `U^I` and `U^H` are concatenated into an MLP with a logit output.

    Choices where the paper is silent or differs from its code: the heads project
    the whole behaviour embedding (as the authors' DeepCTR code; the paper writes
    each head on a slice of it); Keras' LSTM has no peephole connections (the
    paper's LSTM equations have them, the authors' code does not); the activating
    layer is the paper's bilinear softmax (the authors' code scores with DIN's
    activation-unit MLP); sessions with no item are masked in the Bi-LSTM and
    the attention; a user with no session gets zero `U^I` and `U^H`.

    Inputs: dict with the CTR fields (int `[batch]`) and `session_<feat>` (int
    `[batch, K, T]`) for every item feature, `session_mask` (int8 `[batch, K,
    T]`). Output: logits `[batch]`.

    Args:
        fields: names of the CTR fields embedded for the MLP.
        vocabulary_sizes: their vocabulary sizes.
        sequence_types: ("click",): the sessions are cut from the click history
            (the data must have clicks).
        item_features: the item feature fields that describe a behaviour (the
            first is "item_id").
        embedding_dim: size of each field embedding.
        num_heads: heads of the session self-attention.
        ffn_units: inner size of its FFN (None = 4 d_model).
        bias_encoding: add the bias encoding (False: none, a control).
        lstm_units: units of each LSTM direction (None = d_model).
        hidden_units: the MLP's hidden layers (a logit unit follows).
        dropout: dropout of the MLP, the self-attention and the FFN.
        l2: L2 factor on looked-up embedding rows and MLP kernels.

    Reference: Y. Feng et al., "Deep Session Interest Network for Click-Through
    Rate Prediction", IJCAI 2019.
    """

    default_sequence_types = ("click",)
    uses_sessions = True

    def __init__(
        self,
        fields,
        vocabulary_sizes,
        sequence_types=("click",),
        item_features=("item_id",),
        embedding_dim=16,
        num_heads=4,
        ffn_units=None,
        bias_encoding=True,
        lstm_units=None,
        hidden_units=(200, 80),
        dropout=0.0,
        l2=0.0,
        **kwargs,
    ):
        super().__init__(
            fields,
            vocabulary_sizes,
            sequence_types=sequence_types,
            item_features=item_features,
            embedding_dim=embedding_dim,
            l2=l2,
            **kwargs,
        )
        if self.sequence_types != ("click",):
            raise ValueError(
                "DSIN reads the sessions of the click history: `sequence_types` "
                f"must be ('click',). Received: sequence_types={self.sequence_types}"
            )
        self.num_heads = int(num_heads)
        self.ffn_units = None if ffn_units is None else int(ffn_units)
        self.bias_encoding = bool(bias_encoding)
        self.lstm_units = None if lstm_units is None else int(lstm_units)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.dropout = dropout
        if self.bias_encoding:
            self.bias = BiasEncoding(name="bias_encoding")
        self.extractor = TransformerBlock(
            self.num_heads, ffn_units=self.ffn_units, dropout=dropout, name="extractor"
        )
        self.pooling = MaskedMeanPooling(name="session_average")
        self.interacting = keras.layers.Bidirectional(
            keras.layers.LSTM(self.lstm_units or self.item_dim, return_sequences=True),
            merge_mode="concat",
            name="interacting",
        )
        self.interest_attention = TargetAttention(name="interest_attention")
        self.state_attention = TargetAttention(name="state_attention")
        self.mlp = MLP(
            self.hidden_units + (1,),
            output_activation=None,
            dropout=dropout,
            kernel_regularizer=l2,
            name="mlp",
        )

    def input_fields(self):
        """The CTR fields and the session inputs (not the click sequence)."""
        return {
            name: size
            for name, size in super().input_fields().items()
            if not name.startswith("click_")
        }

    def call(self, inputs, training=False):
        _, embedded = self.embed(inputs)
        sessions, mask = self.embed_sessions(inputs)  # [B, K, T, d]
        if self.bias_encoding:
            sessions = self.bias(sessions)
        shape = ops.shape(sessions)
        num_sessions, length, dim = sessions.shape[1], sessions.shape[2], shape[3]
        flat = ops.reshape(sessions, (-1, length, dim))
        flat_mask = ops.reshape(mask, (-1, length))
        extracted = self.extractor(flat, mask=flat_mask, training=training)
        interests = ops.reshape(
            self.pooling(extracted, mask=flat_mask), (-1, num_sessions, dim)
        )  # I_k
        session_mask = ops.any(mask, axis=-1)  # [B, K]
        states = self.interacting(interests, mask=session_mask, training=training)
        target = self.embed_target(inputs)
        u_interest = self.interest_attention(interests, query=target, mask=session_mask)
        u_state = self.state_attention(states, query=target, mask=session_mask)
        flat_fields = ops.reshape(embedded, (-1, len(self.fields) * self.embedding_dim))
        features = ops.concatenate([flat_fields, u_interest, u_state], axis=-1)
        return ops.squeeze(self.mlp(features, training=training), -1)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            ffn_units=self.ffn_units,
            bias_encoding=self.bias_encoding,
            lstm_units=self.lstm_units,
            hidden_units=self.hidden_units,
            dropout=self.dropout,
        )
        return config
