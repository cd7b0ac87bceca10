"""Multi-hop attentive reading of a memory by a query (HPMN, Ren et al., 2019)."""

import keras
from keras import ops

from recsys_tf.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="recsys_tf")
class MultiHopMemoryRead(keras.layers.Layer):
    """`hops` rounds of softmax attention of a query over memory slots.

    HPMN's memory reading as the authors' code (`hpmn.py`, `query_memory`)
    computes it (equation numbers not cited: the paper's text was not at hand): the query is first projected,
    `q_0 = W_q v + b_q` (`units`); hop k weighs the slots `m^j` by
    `w_j = softmax_j(E_k([q_k, m^j, q_k - m^j, q_k * m^j]))`, `E_k` a network of
    `hidden_units` ReLU layers ending in one linear unit without a bias (a
    constant added to every slot's score leaves the softmax unchanged; the
    code's bias there gets no gradient), each hop its own network (as
    `tf.layers.dense` creates new variables at every call in the code), reads
    `r_k = sum_j w_j m^j` and updates the query `q_{k+1} = q_k H + r_k` with one
    `H` `[units, units]` shared by the hops. The output is `q_hops`.

    Inputs: `inputs` the memory `[batch, num_slots, units]`, `query`
    `[batch, query_dim]`. Output: `[batch, units]`; with
    `return_attention_scores=True` also every hop's weights `[batch, hops,
    num_slots]`.

    Args:
        hops: the reading rounds (3 in the authors' code).
        hidden_units: the scoring network's hidden layers ((80, 40) there).

    Example:
        >>> layer = MultiHopMemoryRead(hops=2, hidden_units=(8,))
        >>> layer(keras.ops.ones((2, 3, 4)), query=keras.ops.ones((2, 5))).shape
        (2, 4)

    Reference: K. Ren et al., "Lifelong Sequential Modeling with Personalized
    Memorization for User Response Prediction", SIGIR 2019; code
    github.com/alimamarankgroup/HPMN.
    """

    def __init__(self, hops=3, hidden_units=(80, 40), **kwargs):
        super().__init__(**kwargs)
        hidden_units = tuple(int(u) for u in hidden_units)
        if int(hops) < 1:
            raise ValueError(f"`hops` must be >= 1. Received: hops={hops}")
        if hidden_units and min(hidden_units) < 1:
            raise ValueError(
                "`hidden_units` must be positive integers. Received: "
                f"hidden_units={hidden_units}"
            )
        self.hops = int(hops)
        self.hidden_units = hidden_units
        self.hidden = [
            MLP(hidden_units, activation="relu", name=f"hidden_{k}")
            if hidden_units
            else None
            for k in range(self.hops)
        ]
        self.scorers = [
            keras.layers.Dense(1, use_bias=False, name=f"score_{k}")
            for k in range(self.hops)
        ]

    def build(self, inputs_shape, query_shape):
        if len(inputs_shape) != 3 or inputs_shape[-1] is None:
            raise ValueError(
                "`inputs` must be the memory [batch, num_slots, units] with known "
                f"units. Received: {inputs_shape}"
            )
        if len(query_shape) != 2 or query_shape[-1] is None:
            raise ValueError(
                "`query` must be [batch, query_dim] with a known query_dim. "
                f"Received: {query_shape}"
            )
        units = int(inputs_shape[-1])
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(int(query_shape[-1]), units)
        )
        self.query_bias = self.add_weight(
            name="query_bias", shape=(units,), initializer="zeros"
        )
        self.hop_kernel = self.add_weight(name="hop_kernel", shape=(units, units))
        features_shape = tuple(inputs_shape[:-1]) + (4 * units,)
        for hidden, scorer in zip(self.hidden, self.scorers):
            if hidden is not None:
                hidden.build(features_shape)
            width = self.hidden_units[-1] if self.hidden_units else 4 * units
            scorer.build(tuple(inputs_shape[:-1]) + (width,))

    def call(self, inputs, query, return_attention_scores=False):
        query = ops.matmul(query, self.query_kernel) + self.query_bias
        weights = []
        for hidden, scorer in zip(self.hidden, self.scorers):
            queries = ops.broadcast_to(query[:, None, :], ops.shape(inputs))
            features = ops.concatenate(
                [queries, inputs, queries - inputs, queries * inputs], axis=-1
            )
            if hidden is not None:
                features = hidden(features)
            scores = ops.softmax(ops.squeeze(scorer(features), -1), axis=-1)
            read = ops.einsum("bj,bjd->bd", scores, inputs)
            query = ops.matmul(query, self.hop_kernel) + read
            weights.append(scores)
        if return_attention_scores:
            return query, ops.stack(weights, axis=1)
        return query

    def compute_output_shape(self, inputs_shape, query_shape=None):
        return (inputs_shape[0], inputs_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(hops=self.hops, hidden_units=self.hidden_units)
        return config
