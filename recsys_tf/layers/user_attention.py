"""Attention over behaviours with the user's profile embedding as the query (SDM)."""

import keras
from keras import ops

SCORES = ("dot", "general", "concat")
_MASKED = -1e9


@keras.saving.register_keras_serializable(package="recsys_tf")
class UserAttention(keras.layers.Layer):
    """Pools behaviour vectors with weights given by the user embedding.

    SDM (Lv et al., CIKM 2019) Eq. (9)-(10), the user attention over the session,
    `alpha_k = exp(h_k^T e_u) / sum_k' exp(h_k'^T e_u)`, `s = sum_k alpha_k h_k`,
    and Eq. (11)-(12), the attention over the long-term behaviours of one side
    feature, `z_f = sum_k alpha_k g_k^f` with the same weights of `g_k^f` and
    `e_u`. `inputs` are the behaviours `h_k` (or `g_k^f`), `user` is `e_u`.
    The score `h_k^T e_u` needs `e_u` and `h_k` of one size, which the paper's
    Taobao embeddings are not; `score` chooses it:

    - "dot": `h_k^T e_u` as written (`e_u` and `h_k` of equal size);
    - "general": `h_k^T tanh(W e_u + b) / sqrt(d)`, the authors' code for the
      session (`user_attn="general"`);
    - "concat": `tanh(w^T [e_u; h_k] + b) / sqrt(d)`, the authors' code for the
      long-term behaviours (`concat_attention`).

    `dropout` drops attention weights (the authors' code). `key_mask` bool
    `[batch, seq_len]` marks the keys; a `[batch, num_queries, seq_len]` mask
    gives one pooled vector per query row (the same scores, different allowed
    keys: e.g. every position of a sequence pooling its own session). A row
    without an allowed key pools to zeros (the paper leaves an empty set open).

    Inputs: `inputs` `[batch, seq_len, d]`, `user` `[batch, d_u]`, `key_mask` as above
    (None = every key).
    Output: `[batch, d]`, or `[batch, num_queries, d]` for a 3-D mask.

    Args:
        score: one of `SCORES`.
        dropout: dropout rate on the attention weights.

    Example:
        >>> attention = UserAttention(score="general")
        >>> attention(keras.ops.ones((2, 5, 8)), user=keras.ops.ones((2, 3))).shape
        (2, 8)

    Reference: F. Lv et al., "SDM: Sequential Deep Matching Model for Online
    Large-scale Recommender System", CIKM 2019.
    """

    def __init__(self, score="general", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(
                f"`score` must be one of {SCORES}. Received: score={score!r}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout}"
            )
        self.score = score
        self.dropout = float(dropout)
        self.weight_dropout = keras.layers.Dropout(self.dropout)

    def build(self, inputs_shape, user_shape):
        if len(inputs_shape) != 3 or inputs_shape[-1] is None:
            raise ValueError(
                "UserAttention takes `[batch, seq_len, d]` inputs with known d. "
                f"Received: inputs_shape={inputs_shape}"
            )
        dim, user_dim = int(inputs_shape[-1]), int(user_shape[-1])
        if self.score == "dot" and dim != user_dim:
            raise ValueError(
                'score="dot" needs `user` of the inputs\' size. Received: '
                f"inputs_shape={inputs_shape}, user_shape={user_shape}"
            )
        if self.score == "general":
            self.query = keras.layers.Dense(dim, activation="tanh", name="query")
            self.query.build((None, user_dim))
        elif self.score == "concat":
            self.scorer = keras.layers.Dense(1, activation="tanh", name="scorer")
            self.scorer.build((None, None, user_dim + dim))

    def _scores(self, inputs, user):
        dim = ops.cast(ops.shape(inputs)[-1], inputs.dtype)
        if self.score == "dot":
            return ops.einsum("btd,bd->bt", inputs, user)
        if self.score == "general":
            return ops.einsum("btd,bd->bt", inputs, self.query(user)) / ops.sqrt(dim)
        users = ops.broadcast_to(
            user[:, None, :], ops.shape(inputs)[:2] + (ops.shape(user)[-1],)
        )
        pairs = ops.concatenate([users, inputs], axis=-1)
        return self.scorer(pairs)[..., 0] / ops.sqrt(dim)

    def call(self, inputs, user, key_mask=None, training=False):
        scores = self._scores(inputs, ops.cast(user, inputs.dtype))  # [batch, T]
        pooled = key_mask is not None and len(key_mask.shape) == 3
        if key_mask is None:
            key_mask = ops.ones(ops.shape(scores), "bool")
        mask = ops.cast(key_mask, "bool")
        if not pooled:
            mask = mask[:, None, :]
        scores = ops.where(mask, scores[:, None, :], ops.cast(_MASKED, scores.dtype))
        weights = ops.softmax(scores, axis=-1) * ops.cast(mask, scores.dtype)
        weights = self.weight_dropout(weights, training=training)
        outputs = ops.einsum("bqt,btd->bqd", weights, inputs)
        return outputs if pooled else outputs[:, 0]

    def compute_output_shape(self, inputs_shape, user_shape=None, key_mask_shape=None):
        if key_mask_shape is not None and len(key_mask_shape) == 3:
            return (inputs_shape[0], key_mask_shape[1], inputs_shape[-1])
        return (inputs_shape[0], inputs_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(score=self.score, dropout=self.dropout)
        return config
