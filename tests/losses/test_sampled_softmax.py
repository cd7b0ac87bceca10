"""Tests of `SampledSoftmax` against independent NumPy computations."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_tf.losses import SampledSoftmax
from recsys_tf.losses.sampled_softmax import SAMPLERS

NUM_ITEMS, DIM, BATCH = 8, 4, 8


def _logsumexp(x, axis):
    peak = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(peak + np.log(np.exp(x - peak).sum(axis, keepdims=True)), axis)


def _numpy_full_softmax(table, biases, queries, labels):
    """Exact cross entropy; labels [batch, num_true], target 1/num_true each."""
    logits = queries @ table.T + biases
    true_logits = np.take_along_axis(logits, labels, axis=1)
    return _logsumexp(logits, 1) - true_logits.mean(1)


def _numpy_sampled_softmax(
    table, biases, queries, labels, sampled_values, logq, remove_hits
):
    """Rebuilds the sampled logits: [true - log Q(true), sampled - log Q(sampled)]."""
    sampled, true_count, sampled_count = (np.asarray(v) for v in sampled_values)
    true_logits = np.einsum("bd,btd->bt", queries, table[labels]) + biases[labels]
    sampled_logits = queries @ table[sampled].T + biases[sampled]
    if logq:
        true_logits = true_logits - np.log(true_count)
        sampled_logits = sampled_logits - np.log(sampled_count)[None, :]
    if remove_hits:
        hits = (labels[:, :, None] == sampled[None, None, :]).any(axis=1)
        sampled_logits = np.where(hits, -np.inf, sampled_logits)
    logits = np.concatenate([true_logits, sampled_logits], axis=1)
    return _logsumexp(logits, 1) - true_logits.mean(1)


def _data(num_items=NUM_ITEMS, num_true=1, seed=0):
    rng = np.random.default_rng(seed)
    table = rng.normal(0, 0.7, (num_items, DIM)).astype(np.float32)
    biases = rng.normal(0, 0.3, num_items).astype(np.float32)
    queries = rng.normal(0, 1.0, (BATCH, DIM)).astype(np.float32)
    # Row i holds items i, i+1, ... (mod num_items): distinct within a row, and
    # with BATCH == num_items every item is some row's label, so every sampled
    # candidate is an accidental hit of at least one row.
    rows = np.arange(BATCH)[:, None] + np.arange(num_true)[None, :]
    labels = (rows % num_items).astype(np.int64)
    return table, biases, queries, labels


def _counts(num_items=NUM_ITEMS):
    return np.arange(1, num_items + 1, dtype=np.float64)[::-1] ** 2


# --- Sampling every item reproduces the full softmax -------------------------


@pytest.mark.parametrize("num_true", [1, 3])
@pytest.mark.parametrize("logq_correction", [True, False])
def test_uniform_sampling_of_every_item_equals_full_softmax(logq_correction, num_true):
    # Unique uniform sampling of num_sampled == num_items draws every item once.
    # Its expected counts are all equal to 1 - (1 - 1/N)^T (T = number of draws),
    # for the true and the sampled items alike, so log-Q correction shifts every
    # logit by the same constant and the loss is exact with or without it.
    # Removing accidental hits drops the copy of each positive from the sample.
    table, biases, queries, labels = _data(num_true=num_true)
    loss_fn = SampledSoftmax(
        NUM_ITEMS,
        NUM_ITEMS,
        sampler="uniform",
        logq_correction=logq_correction,
        remove_accidental_hits=True,
        unique=True,
        seed=3,
    )
    sampled, true_count, sampled_count = loss_fn.sample_candidates(labels)
    np.testing.assert_array_equal(np.sort(sampled), np.arange(NUM_ITEMS))
    np.testing.assert_allclose(sampled_count, np.full(NUM_ITEMS, sampled_count[0]))
    np.testing.assert_allclose(true_count, np.full(labels.shape, sampled_count[0]))

    loss = loss_fn(table, biases, queries, labels)
    expected = _numpy_full_softmax(table, biases, queries, labels)
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-5)


def test_every_item_without_hit_removal_counts_the_positive_twice():
    table, biases, queries, labels = _data()
    loss_fn = SampledSoftmax(
        NUM_ITEMS, NUM_ITEMS, sampler="uniform", remove_accidental_hits=False, seed=3
    )
    loss = loss_fn(table, biases, queries, labels)
    logits = queries @ table.T + biases
    true_logits = np.take_along_axis(logits, labels, axis=1)
    expected = _logsumexp(np.concatenate([true_logits, logits], 1), 1)
    expected = expected - true_logits[:, 0]
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-5)
    full = _numpy_full_softmax(table, biases, queries, labels)
    assert np.all(np.asarray(loss) > full + 1e-3)


def test_log_uniform_sampling_of_every_item_needs_logq_off_to_equal_full_softmax():
    # Log-uniform expected counts differ from item to item, so with log-Q
    # correction the logits are not shifted uniformly: the loss is the NumPy
    # corrected value, not the full softmax. Without correction it is exact.
    table, biases, queries, labels = _data()
    exact = SampledSoftmax(NUM_ITEMS, NUM_ITEMS, logq_correction=False, seed=4)
    full = _numpy_full_softmax(table, biases, queries, labels)
    np.testing.assert_allclose(
        exact(table, biases, queries, labels), full, rtol=1e-5, atol=1e-5
    )

    corrected = SampledSoftmax(NUM_ITEMS, NUM_ITEMS, logq_correction=True, seed=4)
    values = corrected.sample_candidates(labels)
    loss = corrected(table, biases, queries, labels, sampled_values=values)
    expected = _numpy_sampled_softmax(
        table, biases, queries, labels, values, logq=True, remove_hits=True
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-5)
    assert np.max(np.abs(np.asarray(loss) - full)) > 1e-3


def test_full_softmax_matches_numpy():
    table, biases, queries, labels = _data(num_items=11, num_true=3)
    loss_fn = SampledSoftmax(11, 5, sampler="uniform")
    np.testing.assert_allclose(
        loss_fn.full_softmax(table, biases, queries, labels),
        _numpy_full_softmax(table, biases, queries, labels),
        rtol=1e-5,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        loss_fn.full_softmax(table, None, queries, labels[:, 0]),
        _numpy_full_softmax(table, np.zeros(11), queries, labels[:, :1]),
        rtol=1e-5,
        atol=1e-5,
    )


# --- Sampled logits rebuilt from the sampler output --------------------------


@pytest.mark.parametrize("num_true", [1, 2])
@pytest.mark.parametrize("remove_accidental_hits", [True, False])
@pytest.mark.parametrize("logq_correction", [True, False])
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_matches_numpy_for_fixed_sampler_output(
    sampler, logq_correction, remove_accidental_hits, num_true
):
    table, biases, queries, labels = _data(num_true=num_true, seed=1)
    loss_fn = SampledSoftmax(
        NUM_ITEMS,
        6,
        sampler=sampler,
        unigram_counts=_counts() if sampler == "unigram" else None,
        logq_correction=logq_correction,
        remove_accidental_hits=remove_accidental_hits,
        seed=5,
    )
    values = loss_fn.sample_candidates(labels)
    loss = loss_fn(table, biases, queries, labels, sampled_values=values)
    expected = _numpy_sampled_softmax(
        table, biases, queries, labels, values, logq_correction, remove_accidental_hits
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("logq_correction", [True, False])
def test_keeping_accidental_hits_changes_exactly_the_rows_with_hits(logq_correction):
    table, biases, queries, _ = _data(seed=2)
    # Hand-made sampler output: rows 0-3 have their positive among the samples.
    labels = np.array([[0], [3], [5], [0], [1], [2], [4], [7]])
    hits = np.array([True] * 4 + [False] * 4)
    rng = np.random.default_rng(2)
    values = (
        np.array([0, 3, 5], np.int64),
        rng.uniform(0.2, 1.0, (BATCH, 1)).astype(np.float32),
        np.array([0.9, 0.5, 0.3], np.float32),
    )
    kwargs = {
        "num_items": NUM_ITEMS,
        "num_sampled": 3,
        "logq_correction": logq_correction,
    }
    losses = {}
    for remove in (True, False):
        loss_fn = SampledSoftmax(remove_accidental_hits=remove, **kwargs)
        losses[remove] = np.asarray(
            loss_fn(table, biases, queries, labels, sampled_values=values)
        )
        expected = _numpy_sampled_softmax(
            table, biases, queries, labels, values, logq_correction, remove
        )
        np.testing.assert_allclose(losses[remove], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(losses[True][~hits], losses[False][~hits], rtol=1e-6)
    assert np.all(losses[False][hits] > losses[True][hits] + 1e-3)


def test_biases_none_equals_zero_biases():
    table, _, queries, labels = _data()
    loss_fn = SampledSoftmax(NUM_ITEMS, 5, sampler="uniform", seed=1)
    values = loss_fn.sample_candidates(labels)
    np.testing.assert_allclose(
        loss_fn(table, None, queries, labels, sampled_values=values),
        loss_fn(table, np.zeros(NUM_ITEMS, np.float32), queries, labels, values),
        rtol=1e-6,
    )


# --- The samplers -------------------------------------------------------------


def _log_uniform_probability(ids, range_max):
    ids = np.asarray(ids, np.float64)
    return (np.log(ids + 2) - np.log(ids + 1)) / np.log(range_max + 1)


def test_log_uniform_expected_counts_without_uniqueness():
    num_items, num_sampled = 30, 5
    labels = np.array([[0], [7], [29]])
    loss_fn = SampledSoftmax(num_items, num_sampled, unique=False, seed=8)
    sampled, true_count, sampled_count = loss_fn.sample_candidates(labels)
    np.testing.assert_allclose(
        sampled_count,
        num_sampled * _log_uniform_probability(sampled, num_items),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        true_count,
        num_sampled * _log_uniform_probability(labels, num_items),
        rtol=1e-5,
    )


def test_log_uniform_expected_counts_with_uniqueness():
    # TF reports Q(k) = 1 - (1 - P(k))^T, the probability that k is among the
    # T draws it needed to collect num_sampled distinct ids. T is not returned:
    # recover it from each id and check that all ids agree on one T.
    num_items, num_sampled = 30, 10
    labels = np.array([[1], [20]])
    loss_fn = SampledSoftmax(num_items, num_sampled, unique=True, seed=9)
    sampled, true_count, sampled_count = loss_fn.sample_candidates(labels)
    assert len(set(np.asarray(sampled).tolist())) == num_sampled
    ids = np.concatenate([np.asarray(sampled), labels[:, 0]])
    counts = np.concatenate([np.asarray(sampled_count), np.asarray(true_count)[:, 0]])
    probability = _log_uniform_probability(ids, num_items)
    # Counts within float32 rounding of 1 carry no information about T.
    informative = counts < 1 - 1e-4
    tries = np.log1p(-counts[informative].astype(np.float64))
    tries = tries / np.log1p(-probability[informative])
    num_tries = np.round(np.median(tries))
    assert num_tries >= num_sampled
    np.testing.assert_allclose(tries, num_tries, rtol=1e-3)
    np.testing.assert_allclose(
        counts, -np.expm1(num_tries * np.log1p(-probability)), rtol=1e-4
    )


def test_unigram_sampler_follows_the_counts():
    counts = np.array([0.0, 1.0, 2.0, 3.0, 0.0, 4.0, 10.0])
    num_items, num_calls = len(counts), 3_000
    loss_fn = SampledSoftmax(
        num_items, num_items, "unigram", counts, unique=False, seed=10
    )
    draws = [loss_fn.sample_candidates(np.array([1, 2])) for _ in range(num_calls)]
    sampled = np.concatenate([np.asarray(d[0]) for d in draws])
    sampled_count = np.concatenate([np.asarray(d[2]) for d in draws])
    probability = counts / counts.sum()
    frequency = np.bincount(sampled, minlength=num_items) / len(sampled)
    np.testing.assert_allclose(frequency, probability, atol=0.015)
    assert frequency[0] == 0 and frequency[4] == 0
    np.testing.assert_allclose(
        sampled_count, num_items * probability[sampled], rtol=1e-5
    )

    unique_fn = SampledSoftmax(len(counts), 5, "unigram", counts, seed=11)
    sampled, _, _ = unique_fn.sample_candidates(np.array([1, 2]))
    assert sorted(np.asarray(sampled).tolist()) == [1, 2, 3, 5, 6]


def test_half_precision_queries_compute_in_float32():
    table, biases, queries, labels = _data()
    loss_fn = SampledSoftmax(NUM_ITEMS, 5, sampler="uniform", seed=15)
    values = loss_fn.sample_candidates(labels)
    half = queries.astype(np.float16)
    loss = loss_fn(table, biases, half, labels, sampled_values=values)
    assert loss.dtype == tf.float32
    expected = _numpy_sampled_softmax(
        table, biases, half.astype(np.float32), labels, values, True, True
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-5)
    full = loss_fn.full_softmax(table, biases, half, labels)
    assert full.dtype == tf.float32


# --- Gradients, graphs and distribution ---------------------------------------


def test_gradients_are_finite_and_non_zero():
    table, biases, queries, labels = _data(num_true=2)
    table_var = keras.Variable(table)  # What a Keras Embedding layer owns.
    bias_var = tf.Variable(biases)
    query_var = tf.Variable(queries)
    loss_fn = SampledSoftmax(NUM_ITEMS, 5, seed=12)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(loss_fn(table_var, bias_var, query_var, labels))
    grads = tape.gradient(loss, [table_var.value, bias_var, query_var])
    for grad in grads:
        grad = tf.convert_to_tensor(grad).numpy()
        assert np.all(np.isfinite(grad))
        assert np.any(grad != 0)


@pytest.mark.parametrize("num_true", [1, 2])
def test_compiles_with_xla_given_the_candidates(num_true):
    # TensorFlow's samplers and its ComputeAccidentalHits op have no XLA kernel:
    # under jit_compile=True the candidates come from outside the compiled step,
    # and the loss itself, accidental hits included, must compile.
    table, biases, queries, labels = _data(num_true=num_true, seed=1)
    loss_fn = SampledSoftmax(NUM_ITEMS, 6, seed=5)
    values = loss_fn.sample_candidates(labels)
    table_var = tf.Variable(table)
    xla = True

    def loss_and_gradient(sampled, true_count, sampled_count):
        with tf.GradientTape() as tape:
            loss = loss_fn(
                table_var,
                biases,
                queries,
                labels,
                (sampled, true_count, sampled_count),
                xla=xla,
            )
            total = tf.reduce_sum(loss)
        return loss, tape.gradient(total, table_var)

    loss, gradient = tf.function(loss_and_gradient, jit_compile=True)(*values)
    expected = _numpy_sampled_softmax(
        table, biases, queries, labels, values, True, True
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-5)
    eager_loss, eager_gradient = loss_and_gradient(*values)
    # The table's gradient covers the gathered rows only (what LazyAdam updates).
    assert isinstance(eager_gradient, tf.IndexedSlices)
    np.testing.assert_allclose(
        tf.convert_to_tensor(gradient), tf.convert_to_tensor(eager_gradient), atol=1e-6
    )
    # The same loss and gradient as tf.nn.sampled_softmax_loss (xla=False).
    xla = False
    tf_loss, tf_gradient = loss_and_gradient(*values)
    np.testing.assert_allclose(loss, tf_loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        tf.convert_to_tensor(gradient), tf.convert_to_tensor(tf_gradient), atol=1e-6
    )


def test_works_inside_tf_function_with_unknown_batch_size():
    table, biases, queries, labels = _data()
    loss_fn = SampledSoftmax(NUM_ITEMS, NUM_ITEMS, sampler="uniform", seed=13)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, DIM], tf.float32),
            tf.TensorSpec([None], tf.int32),
        ]
    )
    def losses(query, label):
        return loss_fn(table, biases, query, label), loss_fn.full_softmax(
            table, biases, query, label
        )

    sampled, full = losses(queries, labels[:, 0].astype(np.int32))
    expected = _numpy_full_softmax(table, biases, queries, labels)
    np.testing.assert_allclose(sampled, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(full, expected, rtol=1e-5, atol=1e-5)


def test_per_example_losses_under_mirrored_strategy():
    table, biases, queries, labels = _data()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        table_var = tf.Variable(table)
        bias_var = tf.Variable(biases)
    loss_fn = SampledSoftmax(NUM_ITEMS, NUM_ITEMS, sampler="uniform", seed=14)

    @tf.function
    def step(query, label):
        def replica_step(query, label):
            with tf.GradientTape() as tape:
                per_example = loss_fn(table_var, bias_var, query, label)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=BATCH)
            grad = tape.gradient(loss, bias_var)
            return per_example, grad

        return strategy.run(replica_step, args=(query, label))

    per_example, grad = step(tf.constant(queries), tf.constant(labels))
    (per_example,) = strategy.experimental_local_results(per_example)
    (grad,) = strategy.experimental_local_results(grad)
    expected = _numpy_full_softmax(table, biases, queries, labels)
    np.testing.assert_allclose(per_example, expected, rtol=1e-5, atol=1e-5)
    assert per_example.shape == (BATCH,)
    assert np.all(np.isfinite(tf.convert_to_tensor(grad)))


# --- Configuration and argument checks ----------------------------------------


def test_config_round_trip():
    loss_fn = SampledSoftmax(
        5, 3, "unigram", np.array([1, 2, 3, 4, 5]), False, False, False, 7
    )
    config = loss_fn.get_config()
    assert config == {
        "num_items": 5,
        "num_sampled": 3,
        "sampler": "unigram",
        "unigram_counts": [1.0, 2.0, 3.0, 4.0, 5.0],
        "logq_correction": False,
        "remove_accidental_hits": False,
        "unique": False,
        "seed": 7,
    }
    restored = SampledSoftmax.from_config(json.loads(json.dumps(config)))
    assert restored.get_config() == config
    # The restored loss computes the same loss for the same candidates.
    table, biases, queries, labels = _data(num_true=1, seed=1)
    original = SampledSoftmax(
        NUM_ITEMS, 6, "unigram", _counts(), False, False, False, 7
    )
    clone = SampledSoftmax.from_config(json.loads(json.dumps(original.get_config())))
    values = original.sample_candidates(labels)
    np.testing.assert_allclose(
        np.asarray(clone(table, biases, queries, labels, sampled_values=values)),
        np.asarray(original(table, biases, queries, labels, sampled_values=values)),
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_items": 0}, "`num_items` must be an int >= 1. Received: num_items=0"),
        ({"num_items": 10.0}, "`num_items` must be an int >= 1"),
        (
            {"num_sampled": 0},
            "`num_sampled` must be an int in [1, num_items]. Received: num_sampled=0",
        ),
        ({"num_sampled": 11}, "Received: num_sampled=11, num_items=10"),
        ({"num_sampled": "3"}, "`num_sampled` must be an int"),
        ({"sampler": "zipf"}, "`sampler` must be one of"),
        ({"logq_correction": "yes"}, "`logq_correction` must be a bool"),
        ({"remove_accidental_hits": 1}, "`remove_accidental_hits` must be a bool"),
        ({"unique": None}, "`unique` must be a bool"),
        ({"seed": 1.5}, "`seed` must be an int or None"),
        ({"sampler": "unigram"}, "`unigram_counts` is required"),
        ({"unigram_counts": [1.0] * 10}, "only used with sampler='unigram'"),
        ({"sampler": "unigram", "unigram_counts": [1.0] * 9}, "1-D with num_items"),
        ({"sampler": "unigram", "unigram_counts": [[1.0] * 10]}, "1-D with num_items"),
        ({"sampler": "unigram", "unigram_counts": ["a"] * 10}, "sequence of numbers"),
        (
            {"sampler": "unigram", "unigram_counts": [-1.0] + [1.0] * 9},
            "finite and >= 0",
        ),
        ({"sampler": "unigram", "unigram_counts": [np.nan] * 10}, "finite and >= 0"),
        ({"sampler": "unigram", "unigram_counts": [0.0] * 10}, "positive sum"),
        (
            {"sampler": "unigram", "unigram_counts": [1.0] * 4 + [0.0] * 6},
            "non-zero counts=4",
        ),
    ],
)
def test_bad_constructor_arguments_raise(kwargs, message):
    arguments = {"num_items": 10, "num_sampled": 5}
    arguments.update(kwargs)
    with pytest.raises(ValueError) as error:
        SampledSoftmax(**arguments)
    assert message in str(error.value)


def test_all_bad_arguments_are_reported_at_once():
    with pytest.raises(ValueError) as error:
        SampledSoftmax(0, -1, "zipf", logq_correction=None, seed="x")
    message = str(error.value)
    assert "5 problems" in message
    for name in ("num_items", "num_sampled", "sampler", "logq_correction", "seed"):
        assert f"`{name}`" in message


def test_non_unique_unigram_accepts_few_non_zero_counts():
    SampledSoftmax(10, 5, "unigram", [1.0] + [0.0] * 9, unique=False)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"labels": np.zeros((BATCH, 1, 1), np.int64)}, "`labels` must have shape"),
        ({"labels": np.zeros(BATCH, np.float32)}, "integer item ids"),
        ({"table": np.zeros((NUM_ITEMS + 1, DIM), np.float32)}, "`item_embeddings`"),
        ({"biases": np.zeros((NUM_ITEMS, 1), np.float32)}, "`item_biases`"),
        ({"queries": np.zeros(DIM, np.float32)}, "`queries` must have shape"),
        ({"sampled_values": (np.arange(5),)}, "`sampled_values` must be"),
        (
            {"sampled_values": (np.arange(4), np.ones((BATCH, 1)), np.ones(4))},
            "`sampled_values[0]` must have shape [5]",
        ),
    ],
)
def test_bad_call_arguments_raise(change, message):
    table, biases, queries, labels = _data()
    arguments = {
        "table": table,
        "biases": biases,
        "queries": queries,
        "labels": labels,
        "sampled_values": None,
    }
    arguments.update(change)
    loss_fn = SampledSoftmax(NUM_ITEMS, 5)
    with pytest.raises(ValueError) as error:
        loss_fn(*arguments.values())
    assert message in str(error.value)
