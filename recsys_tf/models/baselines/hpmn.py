"""HPMN: hierarchical periodic memory network (Ren et al., 2019), as a next-item
recommender."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import HierarchicalPeriodicMemory, MultiHopMemoryRead
from recsys_tf.layers.hierarchical_periodic_memory import slot_covariance_norm
from recsys_tf.models.base import SequentialRetrievalModel, require_positive


@keras.saving.register_keras_serializable(package="recsys_tf")
class HPMN(SequentialRetrievalModel):
    """Periodically written memory slots, read by the latest behaviour.

    HPMN (equation numbers not cited: the paper's text was not at hand; the
    authors' code `hpmn.py` settles the details): each behaviour's item embedding `e_i` (`embedding_dim`) is
    written into `len(periods)` memory slots of `units`, slot j by a GRU of its
    own every `periods[j]` behaviours from the slot below
    (`HierarchicalPeriodicMemory`, the paper's hierarchical periodic memory
    writing); a query reads the slots in `hops` attention rounds
    (`MultiHopMemoryRead`, the paper's memory reading) and the user
    representation is `u = [q_hops; v]`, the read-out beside the query
    embedding `v`, as `user_repre = concat([query, last])` in the authors' code.
    The memory is regularised by the slots' covariance (`slot_covariance_norm`,
    the paper's covariance regularisation), weighted by `memory_l2`.

    HPMN predicts a user's response to a given target item, which is its query;
    as a next-item recommender (DMAN's and the issue's use) no target is known:
    here the query is the most recent behaviour's embedding (`v = e_t`, in place
    of the target: the authors' code appends the candidate to the sequence, so
    its `last` is the target, also written into the memory), and item i is
    scored by `u . w_i + b_i` with an output table of its own instead of HPMN's
    CTR network. The memory at position t is the lifelong memory after the
    user's first t behaviours (periods counted from her first behaviour), so
    per-position training gives every prefix exactly the memory it would have
    alone; "first" is the first of the history window (`data.max_length`, 50
    under s3rec_beauty): for a longer user the memory starts at the window's
    first item, not her lifelong first, and the period count shifts with it.
    The penalty is averaged over the real positions in training. The authors'
    code adds 1e-5 times its sum over a batch of 128 samples to their mean log
    loss: 1.28e-3 per log-loss term; a position here sums 1 + `num_negatives`
    such terms, so the config's `memory_l2` is 1.28e-3 x 6 = 7.68e-3 (our
    calibration). Trained by default with the binary cross-entropy of the next
    item against 5 sampled negatives per position (HPMN's log loss; DMAN trains
    every baseline with 5 samples). Dropout `dropout` on `u` (ours: the code's
    dropout sits in its CTR network, which the output table replaces). A
    behaviour is its item embedding alone (ours: the code concatenates user,
    item and category fields; the S3-Rec Beauty files hold item ids only).

    Inputs: `history` int `[batch, seq_len]`, `history_mask` bool
    `[batch, seq_len]`.
    Output: the last position's query `[batch, units + embedding_dim]`, or in
    per-position training every position's `[batch, seq_len, units +
    embedding_dim]`.

    Args:
        num_items: catalogue size.
        embedding_dim: item embedding size.
        units: memory slot size (the GRUs' state size).
        periods: update period t^j of each slot, e.g. (1, 2, 4) (the authors'
            Amazon setting: 3 layers, periods 2 and 2 between them).
        hops: memory reading rounds (3 in the authors' code).
        attention_units: hidden layers of each hop's scoring network ((80, 40)).
        memory_l2: weight of the covariance regularisation.
        dropout: dropout on the user representation.
        loss, num_negatives, per_position, seed: see `SequentialRetrievalModel`.

    Example:
        >>> model = HPMN(num_items=100, embedding_dim=8, units=8)
        >>> model({"history": keras.ops.ones((2, 8), "int32"),
        ...        "history_mask": keras.ops.ones((2, 8), "bool")}).shape
        (2, 16)

    Reference: K. Ren, J. Qin, Y. Fang, W. Zhang, L. Zheng, W. Bian, G. Zhou,
    J. Xu, Y. Yu, X. Zhu and K. Gai, "Lifelong Sequential Modeling with
    Personalized Memorization for User Response Prediction", SIGIR 2019; code
    github.com/alimamarankgroup/HPMN.
    """

    padding_invariant = True

    def __init__(
        self,
        num_items,
        embedding_dim=64,
        units=64,
        periods=(1, 2, 4),
        hops=3,
        attention_units=(80, 40),
        memory_l2=1e-3,
        dropout=0.2,
        loss="bce",
        num_negatives=5,
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
        if float(memory_l2) < 0:
            raise ValueError(f"`memory_l2` must be >= 0. Received: {memory_l2}")
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.periods = tuple(int(p) for p in periods)
        self.hops = int(hops)
        self.attention_units = tuple(int(u) for u in attention_units)
        self.memory_l2 = float(memory_l2)
        self.dropout = float(dropout)
        self.item_embeddings = self.add_weight(
            name="item_embeddings",
            shape=(self.num_items, self.embedding_dim),
            initializer="glorot_uniform",
        )
        self.memory = HierarchicalPeriodicMemory(
            self.units, self.periods, return_sequences=True, name="memory"
        )
        self.reader = MultiHopMemoryRead(self.hops, self.attention_units, name="reader")
        self.user_dropout = keras.layers.Dropout(self.dropout)
        self.output_embeddings = self.add_weight(
            name="output_embeddings",
            shape=(self.num_items, self.units + self.embedding_dim),
            initializer="glorot_uniform",
        )
        self.output_biases = self.add_weight(
            name="output_biases", shape=(self.num_items,), initializer="zeros"
        )

    def _memory(self, inputs):
        """Item embeddings `[B, T, d]`, the memory after every step
        `[B, T, slots, units]` and the mask (bool `[B, T]`)."""
        history = ops.cast(inputs["history"], "int32")
        mask = ops.cast(inputs["history_mask"], "bool")
        items = ops.take(self.item_embeddings, history, 0)
        items = items * ops.cast(mask, items.dtype)[..., None]
        return items, self.memory(items, mask=mask), mask

    def _users(self, slots, queries, real, training):
        """`u = [read-out; query]` of memories `[n, slots, units]` and queries
        `[n, d]`; adds the covariance penalty over the `real` ones in training."""
        if training and self.memory_l2:
            weights = ops.cast(real, slots.dtype)
            penalty = ops.sum(slot_covariance_norm(slots) * weights)
            self.add_loss(self.memory_l2 * penalty / ops.maximum(ops.sum(weights), 1))
        users = ops.concatenate([self.reader(slots, queries), queries], axis=-1)
        return self.user_dropout(users, training=training)

    def encode(self, inputs, training=False):
        items, slots, mask = self._memory(inputs)
        shape = ops.shape(items)
        flat = self._users(
            ops.reshape(slots, (-1, len(self.periods), self.units)),
            ops.reshape(items, (-1, self.embedding_dim)),
            ops.reshape(mask, (-1,)),
            training,
        )
        return ops.reshape(flat, (shape[0], shape[1], -1))

    def encode_last(self, inputs, training=False):
        items, slots, mask = self._memory(inputs)
        return self._users(slots[:, -1], items[:, -1], mask[:, -1], training)

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
            periods=self.periods,
            hops=self.hops,
            attention_units=self.attention_units,
            memory_l2=self.memory_l2,
            dropout=self.dropout,
        )
        return config
