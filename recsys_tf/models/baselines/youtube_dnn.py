"""YouTube DNN candidate generation (Covington et al., 2016)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import MLP, FieldEmbedding, MaskedMeanPooling
from recsys_tf.losses import SampledSoftmax
from recsys_tf.models.base import RetrievalModel, stack_fields


@keras.saving.register_keras_serializable(package="recsys_tf")
class YouTubeDNN(RetrievalModel):
    """Next-item retrieval as extreme multiclass classification.

    User tower (Covington et al. 2016, Fig. 3): the average of the embeddings of
    the watched (clicked) items, concatenated with embedded user features, through
    a ReLU MLP, gives the user vector `u`; `P(w_t = i | U) = softmax_i(u^T v_i +
    b_i)` over the catalogue, trained with a sampled softmax (the paper samples
    several thousand negatives with importance weighting, i.e. log-Q correction).
    The output vectors `v_i` are a separate table from the input item embeddings,
    as in the paper's softmax layer. The paper's last layer is ReLU; here it is
    linear, so `u` can have negative coordinates (as in DeepMatch).

    Inputs: dict with `history` int `[batch, seq_len]`, `history_mask` bool
    `[batch, seq_len]` and each of `user_features` int `[batch]`.
    Output: user vectors `[batch, hidden_units[-1]]`.

    Args:
        num_items: catalogue size.
        user_features: names of the categorical user inputs.
        user_vocabulary_sizes: their vocabulary sizes.
        embedding_dim: input embedding size.
        hidden_units: user tower sizes; the last one is the retrieval dimension.
        dropout: tower dropout.
        l2: L2 factor on looked-up embeddings (valid history positions only)
            and tower kernels, per example.
        num_sampled: negatives per batch of the sampled softmax (0 = full softmax).
        sampler: "log_uniform", "uniform" or "unigram".
        sampler_counts: item frequencies for "unigram".
        logq_correction: subtract log Q of the proposal from the logits.
        remove_accidental_hits: mask sampled negatives equal to the label.
        seed: sampler seed.
    """

    def __init__(
        self,
        num_items,
        user_features=(),
        user_vocabulary_sizes=(),
        embedding_dim=16,
        hidden_units=(256, 128, 64),
        dropout=0.0,
        l2=0.0,
        num_sampled=100,
        sampler="log_uniform",
        sampler_counts=None,
        logq_correction=True,
        remove_accidental_hits=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_items) < 2:
            raise ValueError(
                f"`num_items` must be >= 2. Received: num_items={num_items}"
            )
        if len(user_features) != len(user_vocabulary_sizes):
            raise ValueError(
                "`user_features` and `user_vocabulary_sizes` differ in length."
            )
        self.num_items = int(num_items)
        self.user_features = tuple(user_features)
        self.user_vocabulary_sizes = tuple(int(v) for v in user_vocabulary_sizes)
        self.embedding_dim = int(embedding_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.dropout = dropout
        self.l2 = l2
        self.num_sampled = int(num_sampled)
        self.sampler = sampler
        self.sampler_counts = (
            None if sampler_counts is None else [float(c) for c in sampler_counts]
        )
        self.logq_correction = logq_correction
        self.remove_accidental_hits = remove_accidental_hits
        self.seed = seed
        self.item_embedding = FieldEmbedding(
            (self.num_items,),
            self.embedding_dim,
            name="item_embedding",
        )
        self.pooling = MaskedMeanPooling(name="history_pooling")
        if self.user_features:
            self.user_embedding = FieldEmbedding(
                self.user_vocabulary_sizes,
                self.embedding_dim,
                embeddings_regularizer=l2,
                name="user_feature_embedding",
            )
        self.tower = MLP(
            self.hidden_units,
            output_activation=None,
            dropout=dropout,
            kernel_regularizer=l2,
            name="user_tower",
        )
        dim = self.hidden_units[-1]
        self.output_embeddings = self.add_weight(
            name="output_embeddings",
            shape=(self.num_items, dim),
            initializer=keras.initializers.TruncatedNormal(stddev=1.0 / dim**0.5),
        )
        self.output_biases = self.add_weight(
            name="output_biases", shape=(self.num_items,), initializer="zeros"
        )
        if self.num_sampled:
            self.sampled_softmax = SampledSoftmax(
                num_items=self.num_items,
                num_sampled=self.num_sampled,
                sampler=sampler,
                unigram_counts=self.sampler_counts,
                logq_correction=logq_correction,
                remove_accidental_hits=remove_accidental_hits,
                seed=seed,
            )

    @classmethod
    def from_task(cls, task, **kwargs):
        """Builds the model for a `RetrievalTask`, with all its user features; the
        "unigram" sampler gets the training target counts plus one."""
        if kwargs.get("sampler") == "unigram" and kwargs.get("sampler_counts") is None:
            kwargs["sampler_counts"] = (task.item_counts + 1).tolist()
        names = tuple(task.user_vocabulary_sizes)
        return cls(
            num_items=task.num_items,
            user_features=names,
            user_vocabulary_sizes=[task.user_vocabulary_sizes[n] for n in names],
            **kwargs,
        )

    def projector_embeddings(self):
        """The output item vectors `v_i`, for TensorBoard."""
        return {"item": keras.ops.convert_to_numpy(self.output_embeddings)}

    def input_fields(self):
        """`history` (item codes), `history_mask` and the user features."""
        return {
            "history": self.num_items,
            "history_mask": None,
            **dict(zip(self.user_features, self.user_vocabulary_sizes)),
        }

    def call(self, inputs, training=False):
        history = self.item_embedding(ops.expand_dims(inputs["history"], -1))
        history = ops.squeeze(history, 2)
        if self.l2:
            # L2 on the valid history rows only (padding reuses item id 0).
            mask = ops.cast(inputs["history_mask"], history.dtype)[..., None]
            batch = ops.cast(ops.shape(history)[0], history.dtype)
            self.add_loss(self.l2 * ops.sum(ops.square(history) * mask) / batch)
        parts = [self.pooling(history, mask=inputs["history_mask"])]
        if self.user_features:
            users = self.user_embedding(stack_fields(inputs, self.user_features))
            parts.append(
                ops.reshape(users, (-1, len(self.user_features) * self.embedding_dim))
            )
        return self.tower(ops.concatenate(parts, axis=-1), training=training)

    def output_table(self):
        return self.output_embeddings, self.output_biases

    def get_config(self):
        config = super().get_config()
        config.update(
            num_items=self.num_items,
            user_features=self.user_features,
            user_vocabulary_sizes=self.user_vocabulary_sizes,
            embedding_dim=self.embedding_dim,
            hidden_units=self.hidden_units,
            dropout=self.dropout,
            l2=self.l2,
            num_sampled=self.num_sampled,
            sampler=self.sampler,
            sampler_counts=self.sampler_counts,
            logq_correction=self.logq_correction,
            remove_accidental_hits=self.remove_accidental_hits,
            seed=self.seed,
        )
        return config
