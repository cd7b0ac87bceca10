"""SDM: Sequential Deep Matching (Lv et al., CIKM 2019)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from recsys_tf.data.retrieval import SESSION_INPUTS
from recsys_tf.layers import GatedFusion, SessionLSTM, UserAttention
from recsys_tf.models.base import SequentialRetrievalModel

POSITION, LONG_TERM = SESSION_INPUTS


@keras.saving.register_keras_serializable(package="recsys_tf")
class SDM(SequentialRetrievalModel):
    """Short-term session and long-term behaviours, fused by a user-aware gate.

    For every position t of the history (Lv et al. 2019, Sec. 3), with its
    session (the latest one when t is the last position) and the user's earlier
    behaviours (`RetrievalSplit.sessions`, built with `data.max_session_length`):

    - Eq. (4)-(5): an item is `e_i = concat(e_i^f, f in F)` over its id and its
      side features (`item_features`, e.g. category and brand), the user
      `e_u = concat(e_u^p, p in P)` over the user id (`use_user_id`, the code's
      default; the paper lists the profile only) and the profile features;
    - Eq. (6): an LSTM over the session's items (`SessionLSTM`, restarting at
      every session start), hidden states `X = [h_1 .. h_t]` of size `units`;
      `lstm_layers` of them stacked, the top `lstm_residual_layers` adding
      their input (the paper gives one equation and no depth; the authors'
      code runs two with a residual top, its `num_layers=2`,
      `num_residual_layers=1`, which its run flags leave as they are);
    - Eq. (7)-(8): multi-head self-attention over the session, each position
      attending to its session's positions up to itself,
      `X^ = MultiHead(X) = W^O concat(head_1 .. head_h)`; as in the authors'
      code, the projections have biases (but the keys': the softmax cancels it,
      so it never gets a gradient), the scores are scaled by
      `1 / sqrt(units / num_heads)`, and `X^ = LayerNorm(X + Dropout(X^))`;
    - Eq. (9)-(10): user attention over `X^`, `s_t = sum_k alpha_k h^_k`
      (`UserAttention(user_score)`, "general" in the code), plus the residual
      `h^_t` (the code's `user_residual`, on in its run flags; a switch);
    - Eq. (11)-(14): for each feature f of the items (the id and each side
      feature), attention with the user as query over the long-term behaviours'
      embeddings `g_k^f`, `z^f` (`UserAttention(long_term_score)`, "concat" in the
      code; the embedding tables are the short-term ones, as in the code), then
      `p = tanh(W^p concat(z^f) + b)` of size `units`;
    - Eq. (15)-(16): `o_t = (1 - G_t) * p + G_t * s_t`,
      `G_t = sigmoid(W^1 e_u + W^2 s_t + W^3 p + b)` (`GatedFusion`);
    - Eq. (1)-(3): every item `i` scores `o_t . v_i` with an output table `V` of
      its own (the code's softmax weights, without biases), trained with a
      sampled softmax (`loss`, `num_negatives`; the code draws 2,000 log-uniform
      candidates, here uniform ones as every `SequentialRetrievalModel`).

    Where the paper is silent the authors' code (github.com/alicogintel/SDM)
    decides: dropout `dropout` on the LSTM inputs, attention weights and the
    self-attention output; the input tables (item, side-feature and user
    embeddings) start truncated normal with standard deviation 1 / sqrt(dim)
    (its feature columns' default), the output table uniform in [-0.1, 0.1]
    (its `init_op`, `init_weight`); its dense and LSTM kernels start orthogonal
    (`nn_init_op`), here Keras' defaults (glorot, orthogonal recurrent); an empty long-term set (a user's first session) pools
    to zeros, so `p = tanh(b)`. The code's run flags use a GRU (`unit_type=gru`);
    here the paper's LSTM. Its training labels are the next 5 items of each
    position (`num_labels=5`); here the next item, as every model of the suite.
    Ours, not the paper's: the long-term behaviours are those of the history
    window (`data.max_length`) before the session (the paper's are the 7 days
    before it, however many), so a long session leaves few or none (on ML-1M 55%
    of test rows have any; experiments/configs/sdm.py); and each feature's
    attention reads the behaviours' feature values one per behaviour, repeats
    included (the authors' data keeps a list per feature).

    Inputs: `history` int `[batch, T]`, `history_mask` bool `[batch, T]`,
    `history_session_position` and `history_long_term` int `[batch, T]`
    (`recsys_tf.data.retrieval.SESSION_INPUTS`), `user_id` int `[batch]` and each
    of `user_features` int `[batch]`.
    Output: `o_t` of the last position `[batch, units]`, or in per-position
    training of every position `[batch, T, units]`.

    Args:
        num_items: catalogue size.
        num_users: user-id vocabulary size.
        user_features: names of the user profile inputs.
        user_vocabulary_sizes: their vocabulary sizes.
        item_features: names of the item side features.
        item_feature_codes: for each of them, the code of every item
            (`num_items` ints).
        embedding_dim: item-id embedding size (the code: 64).
        feature_dim: side-feature embedding size (the code: 16 for category and
            brand).
        user_embedding_dim: user-id embedding size (the code: 64).
        user_feature_dim: profile-feature embedding size (the code: 4).
        use_user_id: whether `e_u` holds the user-id embedding.
        units: LSTM, attention and output size (the code's `num_units`: 64).
        num_heads: self-attention heads (the code: 4); must divide `units`.
        dropout: dropout rate (the code: 0.2).
        user_score: score of the session's user attention (`UserAttention`).
        long_term_score: score of the long-term attention (`UserAttention`).
        user_residual: add `h^_t` to Eq. (10)'s `s_t` (the code's run flag);
            False = Eq. (10) as written.
        lstm_layers: stacked LSTMs of Eq. (6) (the code: 2).
        lstm_residual_layers: how many of the top ones add their input (the
            code: 1).
        loss, num_negatives, per_position, seed: see `SequentialRetrievalModel`.

    Example:
        >>> model = SDM(num_items=50, num_users=10, units=8, num_heads=2,
        ...             embedding_dim=8, user_embedding_dim=4)
        >>> x = {"history": keras.ops.ones((2, 6), "int32"),
        ...      "history_mask": keras.ops.ones((2, 6), "bool"),
        ...      "history_session_position": keras.ops.zeros((2, 6), "int32"),
        ...      "history_long_term": keras.ops.zeros((2, 6), "int32"),
        ...      "user_id": keras.ops.zeros((2,), "int32")}
        >>> model(x).shape
        (2, 8)

    Reference: F. Lv, T. Jin, C. Yu, F. Sun, Q. Lin, K. Yang and W. Ng, "SDM:
    Sequential Deep Matching Model for Online Large-scale Recommender System",
    CIKM 2019.
    """

    def __init__(
        self,
        num_items,
        num_users,
        user_features=(),
        user_vocabulary_sizes=(),
        item_features=(),
        item_feature_codes=(),
        embedding_dim=64,
        feature_dim=16,
        user_embedding_dim=64,
        user_feature_dim=4,
        use_user_id=True,
        units=64,
        num_heads=4,
        dropout=0.2,
        user_score="general",
        long_term_score="concat",
        user_residual=True,
        lstm_layers=2,
        lstm_residual_layers=1,
        loss="sampled_softmax",
        num_negatives=2000,
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
        if len(user_features) != len(user_vocabulary_sizes):
            raise ValueError(
                "`user_features` and `user_vocabulary_sizes` differ in length."
            )
        if len(item_features) != len(item_feature_codes):
            raise ValueError(
                "`item_features` and `item_feature_codes` differ in length."
            )
        codes = [np.asarray(c, np.int64) for c in item_feature_codes]
        bad = [f for f, c in zip(item_features, codes) if c.shape != (int(num_items),)]
        bad += [f for f, c in zip(item_features, codes) if c.size and c.min() < 0]
        if bad:
            raise ValueError(
                f"`item_feature_codes` of {sorted(set(bad))} must hold one code >= 0 "
                f"per item ({num_items})."
            )
        if not use_user_id and not user_features:
            raise ValueError(
                "SDM needs a user embedding: `use_user_id=True` or `user_features`."
            )
        sizes = dict(
            embedding_dim=embedding_dim,
            feature_dim=feature_dim,
            user_embedding_dim=user_embedding_dim,
            user_feature_dim=user_feature_dim,
            units=units,
            num_heads=num_heads,
            num_users=num_users,
        )
        if min(int(v) for v in sizes.values()) < 1:
            raise ValueError(f"sizes must be >= 1. Received: {sizes}")
        if int(units) % int(num_heads):
            raise ValueError(
                f"`num_heads` must divide `units`. Received: num_heads={num_heads}, "
                f"units={units}"
            )
        self.num_users = int(num_users)
        self.user_features = tuple(user_features)
        self.user_vocabulary_sizes = tuple(int(v) for v in user_vocabulary_sizes)
        self.item_features = tuple(item_features)
        self.item_feature_codes = tuple(tuple(int(v) for v in c) for c in codes)
        self.embedding_dim = int(embedding_dim)
        self.feature_dim = int(feature_dim)
        self.user_embedding_dim = int(user_embedding_dim)
        self.user_feature_dim = int(user_feature_dim)
        self.use_user_id = bool(use_user_id)
        self.units = int(units)
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.user_score = user_score
        self.long_term_score = long_term_score
        self.user_residual = bool(user_residual)
        self.lstm_layers = int(lstm_layers)
        self.lstm_residual_layers = int(lstm_residual_layers)

        def table(name, rows, dim, initializer=None):
            # The authors' code: its feature columns' default, truncated normal
            # with standard deviation 1 / sqrt(dim), for the input tables.
            initializer = initializer or keras.initializers.TruncatedNormal(
                stddev=1.0 / np.sqrt(dim)
            )
            return self.add_weight(
                name=name, shape=(rows, dim), initializer=initializer
            )

        # One table per item feature, shared by the short and the long term.
        self.item_tables = [table("item_embeddings", self.num_items, embedding_dim)]
        self._codes = []
        for name, values in zip(self.item_features, codes):
            self.item_tables.append(
                table(f"{name}_embeddings", int(values.max()) + 1, feature_dim)
            )
            self._codes.append(ops.convert_to_tensor(values.astype(np.int32)))
        self.user_tables = [
            table(f"{name}_embeddings", size, user_feature_dim)
            for name, size in zip(self.user_features, self.user_vocabulary_sizes)
        ]
        if self.use_user_id:
            self.user_tables.insert(
                0, table("user_embeddings", self.num_users, user_embedding_dim)
            )
        self.lstm = SessionLSTM(
            self.units,
            dropout=self.dropout,
            num_layers=self.lstm_layers,
            num_residual_layers=self.lstm_residual_layers,
            name="session_lstm",
        )
        self.query = keras.layers.Dense(self.units, name="query")
        self.key = keras.layers.Dense(self.units, use_bias=False, name="key")
        self.value = keras.layers.Dense(self.units, name="value")
        self.attention_output = keras.layers.Dense(self.units, name="attention_output")
        self.weight_dropout = keras.layers.Dropout(self.dropout)
        self.attention_dropout = keras.layers.Dropout(self.dropout)
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=1e-8, name="attention_norm"
        )
        self.user_attention = UserAttention(
            user_score, dropout=self.dropout, name="user_attention"
        )
        self.long_term_attention = [
            UserAttention(
                long_term_score, dropout=self.dropout, name=f"{name}_attention"
            )
            for name in ("item_id",) + self.item_features
        ]
        self.long_term_dense = keras.layers.Dense(
            self.units, activation="tanh", name="long_term_dense"
        )
        self.fusion = GatedFusion(name="gated_fusion")
        # The code's softmax weights: its init_op "uniform", init_weight 0.1.
        self.output_embeddings = table(
            "output_embeddings",
            self.num_items,
            self.units,
            keras.initializers.RandomUniform(-0.1, 0.1),
        )

    @classmethod
    def from_task(cls, task, item_features=("category",), **kwargs):
        """Builds the model for a `RetrievalTask` with session inputs
        (`data.max_session_length` > 0), its user features and `item_features` of
        the data's items."""
        if not task.train.sessions:
            raise ValueError(
                "SDM reads the short-term session and the long-term behaviours: "
                "build the task with sessions (config.data.max_session_length > 0; "
                "SDM: session_gap=600, max_session_length=50)"
            )
        missing = [f for f in item_features if f not in task.item_features]
        if missing:
            raise ValueError(
                f"item feature(s) {missing} are not in the data's items; it has "
                f"{sorted(task.item_features)} (config.model.item_features)"
            )
        names = tuple(task.user_vocabulary_sizes)
        return cls(
            num_items=task.num_items,
            num_users=task.num_users,
            user_features=names,
            user_vocabulary_sizes=[task.user_vocabulary_sizes[n] for n in names],
            item_features=tuple(item_features),
            item_feature_codes=[task.item_features[f] for f in item_features],
            per_position=getattr(task, "per_position", False),
            **kwargs,
        )

    def input_fields(self):
        fields = {
            "history": self.num_items,
            "history_mask": None,
            POSITION: None,
            LONG_TERM: None,
            **dict(zip(self.user_features, self.user_vocabulary_sizes)),
        }
        if self.use_user_id:
            fields["user_id"] = self.num_users
        return fields

    def _user(self, inputs):
        """`e_u` `[batch, d_u]` (Eq. (5))."""
        names = (["user_id"] if self.use_user_id else []) + list(self.user_features)
        return ops.concatenate(
            [
                ops.take(t, ops.cast(inputs[n], "int32"), axis=0)
                for t, n in zip(self.user_tables, names)
            ],
            axis=-1,
        )

    def _masks(self, inputs):
        """The keys of every query position: its session up to itself (short) and
        the long-term behaviours before that session (long), bool `[batch, T, T]`."""
        real = ops.cast(inputs["history_mask"], "bool")
        length = ops.shape(real)[1]
        position = ops.cast(inputs[POSITION], "int32")[:, :, None]
        long_term = ops.cast(inputs[LONG_TERM], "int32")[:, :, None]
        steps = ops.arange(length, dtype="int32")
        back = steps[None, :, None] - steps[None, None, :]  # t - k
        keys = ops.logical_and(real[:, None, :], real[:, :, None])
        short = ops.logical_and(keys, (back >= 0) & (back <= position))
        long = ops.logical_and(keys, (back > position) & (back <= position + long_term))
        return real, short, long

    def _heads(self, x):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, length, self.num_heads, -1))
        return ops.transpose(x, (0, 2, 1, 3))  # [batch, heads, T, d_h]

    def _self_attention(self, hidden, allowed, training):
        """`W^O concat(head_i)` of Eq. (7)-(8), each query over its allowed keys."""
        query = self._heads(self.query(hidden))
        key = self._heads(self.key(hidden))
        value = self._heads(self.value(hidden))
        scale = ops.sqrt(ops.cast(self.units // self.num_heads, hidden.dtype))
        scores = ops.einsum("bhqd,bhkd->bhqk", query, key) / scale
        allowed = allowed[:, None]
        scores = ops.where(allowed, scores, ops.cast(-1e9, scores.dtype))
        weights = ops.softmax(scores, axis=-1) * ops.cast(allowed, scores.dtype)
        weights = self.weight_dropout(weights, training=training)
        heads = ops.einsum("bhqk,bhkd->bqhd", weights, value)
        return self.attention_output(ops.reshape(heads, ops.shape(hidden)))

    def encode(self, inputs, training=False):
        history = ops.cast(inputs["history"], "int32")
        real, short, long = self._masks(inputs)
        user = self._user(inputs)
        features = [ops.take(self.item_tables[0], history, axis=0)]
        for table, codes in zip(self.item_tables[1:], self._codes):
            features.append(ops.take(table, ops.take(codes, history, axis=0), axis=0))
        items = ops.concatenate(features, axis=-1)  # Eq. (4)
        starts = ops.logical_and(real, ops.cast(inputs[POSITION], "int32") == 0)
        hidden = self.lstm(items, mask=real, resets=starts, training=training)
        attended = self._self_attention(hidden, short, training)
        attended = self.attention_norm(
            hidden + self.attention_dropout(attended, training=training)
        )
        short_term = self.user_attention(  # Eq. (9)-(10)
            attended, user=user, key_mask=short, training=training
        )
        if self.user_residual:  # the code's run flag
            short_term = attended + short_term
        pooled = [
            attention(values, user=user, key_mask=long, training=training)
            for attention, values in zip(self.long_term_attention, features)
        ]
        long_term = self.long_term_dense(ops.concatenate(pooled, axis=-1))
        fused = self.fusion(short_term, long_term=long_term, user=user)
        return fused * ops.cast(real, fused.dtype)[..., None]

    def output_table(self):
        return self.output_embeddings, None

    def projector_embeddings(self):
        """The output item vectors `v_i`, for TensorBoard."""
        return {"item": ops.convert_to_numpy(self.output_embeddings)}

    def get_config(self):
        config = super().get_config()
        config.update(
            num_users=self.num_users,
            user_features=self.user_features,
            user_vocabulary_sizes=self.user_vocabulary_sizes,
            item_features=self.item_features,
            item_feature_codes=self.item_feature_codes,
            embedding_dim=self.embedding_dim,
            feature_dim=self.feature_dim,
            user_embedding_dim=self.user_embedding_dim,
            user_feature_dim=self.user_feature_dim,
            use_user_id=self.use_user_id,
            units=self.units,
            num_heads=self.num_heads,
            dropout=self.dropout,
            user_score=self.user_score,
            long_term_score=self.long_term_score,
            user_residual=self.user_residual,
            lstm_layers=self.lstm_layers,
            lstm_residual_layers=self.lstm_residual_layers,
        )
        return config
