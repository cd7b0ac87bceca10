"""SHAN: sequential recommendation by hierarchical attention (Ying et al., 2018)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import UserAttentionPooling
from recsys_tf.models.base import SequentialRetrievalModel, require_positive


@keras.saving.register_keras_serializable(package="recsys_tf")
class SHAN(SequentialRetrievalModel):
    """Two attention layers with the user embedding as query: long-term, then hybrid.

    SHAN Sec. 3: at each position the history splits into the short-term set
    `S` (the last `short_term_length` items, the current one included) and the
    long-term set `L` (every earlier item of the history). The first attention
    layer pools `L` with the user embedding `u` as query, `u^long = sum_j a_j v_j`,
    `a_j = softmax_j(u^T ReLU(W_1 v_j + b_1))` (Eq. (1)-(3)); the second pools
    `S` together with `u^long`, `u^hybrid = b_0 u^long + sum_{j in S} b_j v_j`
    with `b = softmax(u^T ReLU(W_2 x + b_2))` (Eq. (4)-(6)), both
    `UserAttentionPooling`. Item j scores `R_uj = u^hybrid . v_j` (Eq. (7)) with
    the input item embeddings, without biases. Trained as Eq. (8): BPR,
    `-ln sigma(R_uj - R_uk)` with one negative k drawn per position ("bpr", the
    default; "softmax" and "sampled_softmax" are switches). Regularisation as
    Eq. (8): L2 factor `embeddings_l2` (lambda_uv) on the looked-up user and
    history rows, summed per sequence and averaged over the batch (our scale:
    the target and negative rows are not in it, so lambda_uv is not the paper's
    number), `attention_l2` (lambda_a) on `W_1`, `W_2`. The paper's sets are
    item sets; here a repeated item counts once per occurrence (our choice).
    The paper's `S` is the current session (transactions of one day) with the
    target held out of it; a next-item history has no target inside and Amazon
    Beauty's S3-Rec files have no times, so `S` here is the last
    `short_term_length` items (RecBole's choice, 2 by default). An empty `L`
    (the first positions) leaves `u^long` out of the second layer (the paper is
    silent).

    Inputs: `user_id` int `[batch]`, `history` int `[batch, seq_len]`,
    `history_mask` bool `[batch, seq_len]`.
    Output: the last position's query `[batch, embedding_dim]`, or in
    per-position training every position's `[batch, seq_len, embedding_dim]`.

    Args:
        num_items: catalogue size.
        num_users: user vocabulary size.
        embedding_dim: size K of the user and item embeddings.
        short_term_length: items of the short-term set.
        embeddings_l2: lambda_uv, L2 factor on the looked-up embedding rows.
        attention_l2: lambda_a, L2 factor on the attention kernels.
        loss, num_negatives, per_position, seed: see `SequentialRetrievalModel`.

    Example:
        >>> model = SHAN(num_items=100, num_users=10, embedding_dim=8)
        >>> model({"user_id": keras.ops.zeros((2,), "int32"),
        ...        "history": keras.ops.ones((2, 10), "int32"),
        ...        "history_mask": keras.ops.ones((2, 10), "bool")}).shape
        (2, 8)

    Reference: H. Ying, F. Zhuang, F. Zhang, Y. Liu, G. Xu, X. Xie, H. Xiong and
    J. Wu, "Sequential Recommender System based on Hierarchical Attention
    Network", IJCAI 2018.
    """

    padding_invariant = True

    def __init__(
        self,
        num_items,
        num_users,
        embedding_dim=64,
        short_term_length=2,
        embeddings_l2=0.0,
        attention_l2=0.0,
        loss="bpr",
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
            num_users=num_users,
            embedding_dim=embedding_dim,
            short_term_length=short_term_length,
        )
        if min(embeddings_l2, attention_l2) < 0:
            raise ValueError(
                "`embeddings_l2` and `attention_l2` must be >= 0. Received: "
                f"embeddings_l2={embeddings_l2}, attention_l2={attention_l2}"
            )
        self.num_users = int(num_users)
        self.embedding_dim = int(embedding_dim)
        self.short_term_length = int(short_term_length)
        self.embeddings_l2 = float(embeddings_l2)
        self.attention_l2 = float(attention_l2)
        dim = self.embedding_dim
        self.item_embeddings = self.add_weight(
            name="item_embeddings",
            shape=(self.num_items, dim),
            initializer="glorot_uniform",
        )
        self.user_embeddings = self.add_weight(
            name="user_embeddings",
            shape=(self.num_users, dim),
            initializer="glorot_uniform",
        )
        self.long_term_attention = UserAttentionPooling(
            kernel_regularizer=self.attention_l2, name="long_term_attention"
        )
        self.short_term_attention = UserAttentionPooling(
            kernel_regularizer=self.attention_l2, name="short_term_attention"
        )

    @classmethod
    def from_task(cls, task, **kwargs):
        """Builds the model for a `RetrievalTask` (its users and items)."""
        return super().from_task(task, num_users=task.num_users, **kwargs)

    def input_fields(self):
        """`user_id`, `history` (item codes) and `history_mask`."""
        return {"user_id": self.num_users, **super().input_fields()}

    def _embed(self, inputs):
        """The user `[batch, K]`, the items `[batch, T, K]` and their mask."""
        history = ops.cast(inputs["history"], "int32")
        mask = ops.cast(inputs["history_mask"], "bool")
        items = ops.take(self.item_embeddings, history, 0)
        items = items * ops.cast(mask, items.dtype)[..., None]
        user = ops.take(self.user_embeddings, ops.cast(inputs["user_id"], "int32"), 0)
        if self.embeddings_l2:
            batch = ops.cast(ops.shape(user)[0], "float32")
            rows = ops.sum(ops.square(items)) + ops.sum(ops.square(user))
            self.add_loss(self.embeddings_l2 * rows / batch)
        return user, items, mask

    def _hybrid(self, user, long_term, has_long_term, short_items, short_mask):
        """Eq. (4)-(6) over [u^long; short-term items] `[..., 1 + S, K]`."""
        candidates = ops.concatenate([long_term[..., None, :], short_items], axis=-2)
        mask = ops.concatenate([has_long_term[..., None], short_mask], axis=-1)
        return self.short_term_attention(candidates, query=user, mask=mask)

    def encode(self, inputs, training=False):
        user, items, mask = self._embed(inputs)
        length, window = ops.shape(items)[1], self.short_term_length
        positions = ops.arange(length)
        # Position t's long-term set: the real positions j <= t - window.
        before = positions[None, :] <= positions[:, None] - window  # [t, j]
        long_mask = ops.logical_and(before[None], mask[:, None, :])  # [B, t, j]
        long_term = self.long_term_attention(items[:, None], query=user, mask=long_mask)
        # Position t's short-term set: positions t - window + 1 .. t.
        padded_items = ops.pad(items, ((0, 0), (window - 1, 0), (0, 0)))
        padded_mask = ops.pad(mask, ((0, 0), (window - 1, 0)))
        short_items = ops.stack(
            [padded_items[:, s : s + length] for s in range(window)], axis=2
        )
        short_mask = ops.stack(
            [padded_mask[:, s : s + length] for s in range(window)], axis=2
        )
        has_long_term = ops.any(long_mask, axis=-1)
        return self._hybrid(user, long_term, has_long_term, short_items, short_mask)

    def encode_last(self, inputs, training=False):
        user, items, mask = self._embed(inputs)
        window = self.short_term_length
        long_mask = ops.concatenate(
            [mask[:, :-window], ops.zeros_like(mask[:, -window:])], axis=1
        )
        long_term = self.long_term_attention(items, query=user, mask=long_mask)
        has_long_term = ops.any(long_mask, axis=-1)
        return self._hybrid(
            user, long_term, has_long_term, items[:, -window:], mask[:, -window:]
        )

    def output_table(self):
        return self.item_embeddings, None

    def projector_embeddings(self):
        """The item and user embeddings, for TensorBoard."""
        return {
            "item": ops.convert_to_numpy(self.item_embeddings),
            "user": ops.convert_to_numpy(self.user_embeddings),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            num_users=self.num_users,
            embedding_dim=self.embedding_dim,
            short_term_length=self.short_term_length,
            embeddings_l2=self.embeddings_l2,
            attention_l2=self.attention_l2,
        )
        return config
