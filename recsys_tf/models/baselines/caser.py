"""Caser: convolutional sequence embedding (Tang & Wang, 2018)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import CaserConvolution
from recsys_tf.models.base import (
    SequentialRetrievalModel,
    require_positive,
    scale_for_replicas,
)


@keras.saving.register_keras_serializable(package="recsys_tf")
class Caser(SequentialRetrievalModel):
    """Convolutions over the last `window` items plus a user embedding.

    Caser Sec. 3: at each position, the embeddings `E` `[L, d]` of the last L
    items (`window`; zero rows before the first item) go through the horizontal
    and vertical convolutions (`CaserConvolution`, Eq. (2)-(6)), dropout and a
    fully-connected layer, `z = phi_a(W [o; o~] + b)` (Eq. (7), ReLU as the
    authors' code); Eq. (8) scores item i by `y_i = W'_i [z; P_u] + b'_i` with
    the user embedding `P_u` and an output table `W'` `[num_items, 2d]` of its own.
    Every window of the sequence is an example (per-position training), with
    `num_negatives` sampled negatives per position and the binary cross-entropy
    (Eq. (10)) by default. The paper's targets are the next T items of each
    window (`num_targets`, 3 in the authors' code; default 1, the next item):
    with T > 1 a position's positive term is the mean over those of its next T
    items that exist, so the last positions train on fewer targets (the code
    forms only windows with T items after them: our choice keeps every position).
    It needs per-position rows (the task's `per_position`: a row of one query
    has one target) and a binary cross-entropy loss ("bce" / "bce_mean").
    `l2` adds `l2 / 2 * sum(w^2)` over every weight to the loss, the authors'
    code's `Adam(weight_decay=1e-6)` (PyTorch adds the decay to the gradient: an
    L2 penalty, every embedding row decayed at every step).

    Inputs: `user_id` int `[batch]`, `history` int `[batch, seq_len]`,
    `history_mask` bool `[batch, seq_len]`.
    Output: the last position's query `[batch, 2 embedding_dim]`, or in
    per-position training every position's `[batch, seq_len, 2 embedding_dim]`.

    Args:
        num_items: catalogue size.
        num_users: user vocabulary size.
        window: L, the items each convolution reads (5 in the paper).
        embedding_dim: d.
        num_horizontal: horizontal filters per height (16).
        num_vertical: vertical filters (4).
        dropout: dropout before the fully-connected layer (0.5).
        num_targets: T, the next items each position is trained on (>= 1).
        l2: coefficient of the L2 penalty over every weight (>= 0).
        loss, num_negatives, per_position, seed: see `SequentialRetrievalModel`
            (Caser's code draws 3 negatives per window and averages their
            terms: `loss="bce_mean"`).

    Example:
        >>> model = Caser(num_items=100, num_users=10, embedding_dim=8)
        >>> model({"user_id": keras.ops.zeros((2,), "int32"),
        ...        "history": keras.ops.ones((2, 10), "int32"),
        ...        "history_mask": keras.ops.ones((2, 10), "bool")}).shape
        (2, 16)

    Reference: J. Tang and K. Wang, "Personalized Top-N Sequential Recommendation
    via Convolutional Sequence Embedding", WSDM 2018; code
    github.com/graytowne/caser_pytorch.
    """

    def __init__(
        self,
        num_items,
        num_users,
        window=5,
        embedding_dim=50,
        num_horizontal=16,
        num_vertical=4,
        dropout=0.5,
        num_targets=1,
        l2=0.0,
        loss="bce",
        num_negatives=3,
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
            window=window,
            embedding_dim=embedding_dim,
            num_targets=num_targets,
        )
        if float(l2) < 0:
            raise ValueError(f"`l2` must be >= 0. Received: l2={l2}")
        if int(num_targets) > 1 and loss not in ("bce", "bce_mean"):
            raise ValueError(
                "`num_targets` > 1 trains each position on its next items with the "
                f"binary cross-entropy: loss must be 'bce' or 'bce_mean'. Received: "
                f"num_targets={num_targets}, loss={loss!r}"
            )
        self.num_targets = int(num_targets)
        self.l2 = float(l2)
        self.num_users = int(num_users)
        self.window = int(window)
        self.embedding_dim = int(embedding_dim)
        self.num_horizontal = int(num_horizontal)
        self.num_vertical = int(num_vertical)
        self.dropout = float(dropout)
        dim = self.embedding_dim
        self.item_embeddings = self.add_weight(
            name="item_embeddings",
            shape=(self.num_items, dim),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / dim),
        )
        self.user_embeddings = self.add_weight(
            name="user_embeddings",
            shape=(self.num_users, dim),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / dim),
        )
        self.convolution = CaserConvolution(
            self.num_horizontal, self.num_vertical, name="convolution"
        )
        self.conv_dropout = keras.layers.Dropout(self.dropout)
        self.fully_connected = keras.layers.Dense(dim, "relu", name="fully_connected")
        self.output_embeddings = self.add_weight(
            name="output_embeddings",
            shape=(self.num_items, 2 * dim),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / (2 * dim)),
        )
        self.output_biases = self.add_weight(
            name="output_biases", shape=(self.num_items,), initializer="zeros"
        )

    @classmethod
    def from_task(cls, task, **kwargs):
        """Builds the model for a `RetrievalTask` (its users and items)."""
        return super().from_task(task, num_users=task.num_users, **kwargs)

    def input_fields(self):
        """`user_id`, `history` (item codes) and `history_mask`."""
        return {"user_id": self.num_users, **super().input_fields()}

    def _windows(self, inputs):
        """The last `window` item embeddings at every position, `[batch, T, L, d]`."""
        history = ops.cast(inputs["history"], "int32")
        mask = ops.cast(inputs["history_mask"], "float32")
        x = ops.take(self.item_embeddings, history, 0) * mask[..., None]
        length = ops.shape(x)[1]
        pad = ops.zeros_like(x[:, :1])
        padded = ops.concatenate([pad] * (self.window - 1) + [x], axis=1)
        return ops.stack(
            [padded[:, shift : shift + length] for shift in range(self.window)], 2
        )

    def _queries(self, inputs, windows, training):
        shape = ops.shape(windows)
        flat = ops.reshape(windows, (-1, self.window, self.embedding_dim))
        z = self.fully_connected(
            self.conv_dropout(self.convolution(flat), training=training)
        )
        z = ops.reshape(z, (shape[0], shape[1], self.embedding_dim))
        users = ops.take(self.user_embeddings, ops.cast(inputs["user_id"], "int32"), 0)
        users = ops.broadcast_to(users[:, None], ops.shape(z))
        return ops.concatenate([z, users], axis=-1)

    def encode(self, inputs, training=False):
        return self._queries(inputs, self._windows(inputs), training)

    def encode_last(self, inputs, training=False):
        last = {
            key: inputs[key][:, -self.window :] for key in ("history", "history_mask")
        }
        windows = self._windows(last)[:, -1:]
        return self._queries(inputs, windows, training)[:, 0]

    def output_table(self):
        return self.output_embeddings, self.output_biases

    def _positive_bce(self, queries, labels, mask):
        """Mean of `-log sigmoid(r)` over the position's next `num_targets` items:
        position t's k-th next item is position t + k - 1's target (the rows are
        left-padded, so they exist while t + k - 1 is a real position)."""
        if self.num_targets == 1:
            return super()._positive_bce(queries, labels, mask)
        length, width = ops.shape(labels)[1], self.num_targets
        pad = ops.zeros_like(labels[:, :1])
        later = ops.concatenate([labels] + [pad] * (width - 1), axis=1)
        real = ops.concatenate(
            [ops.cast(mask, "float32")] + [ops.cast(pad, "float32")] * (width - 1),
            axis=1,
        )
        targets = ops.stack([later[:, k : k + length] for k in range(width)], -1)
        present = ops.stack([real[:, k : k + length] for k in range(width)], -1)
        terms = ops.softplus(-self._logits(queries, targets)) * present
        return ops.sum(terms, -1) / ops.maximum(ops.sum(present, -1), 1.0)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        if not self.l2:
            return loss
        squares = [ops.sum(ops.square(w)) for w in self.trainable_weights]
        return loss + scale_for_replicas(0.5 * self.l2 * ops.sum(ops.stack(squares)))

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
            window=self.window,
            embedding_dim=self.embedding_dim,
            num_horizontal=self.num_horizontal,
            num_vertical=self.num_vertical,
            dropout=self.dropout,
            num_targets=self.num_targets,
            l2=self.l2,
        )
        return config
