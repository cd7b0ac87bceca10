"""Tests of `in_batch_softmax_loss` against an independent NumPy computation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_tf.losses import in_batch_softmax_loss

BATCH, DIM = 6, 4
# Items 3 and 8 occur twice: rows 0/3 and 2/5 are each other's accidental hits.
ITEM_IDS = np.array([3, 1, 8, 3, 4, 8])


def _numpy_in_batch(queries, items, ids, probabilities, remove_hits):
    logits = queries @ items.T
    if probabilities is not None:
        logits = logits - np.log(probabilities)[None, :]
    if remove_hits:
        same = ids[:, None] == ids[None, :]
        logits = np.where(same & ~np.eye(len(ids), dtype=bool), -np.inf, logits)
    peak = logits.max(axis=1, keepdims=True)
    log_norm = peak[:, 0] + np.log(np.exp(logits - peak).sum(axis=1))
    return log_norm - np.diag(logits)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    queries = rng.normal(0, 1.0, (BATCH, DIM)).astype(np.float32)
    items = rng.normal(0, 1.0, (BATCH, DIM)).astype(np.float32)
    probabilities = rng.uniform(0.01, 0.5, BATCH).astype(np.float32)
    return queries, items, probabilities


@pytest.mark.parametrize("remove_accidental_hits", [True, False])
@pytest.mark.parametrize("with_probabilities", [True, False])
def test_matches_numpy(with_probabilities, remove_accidental_hits):
    queries, items, probabilities = _data()
    probabilities = probabilities if with_probabilities else None
    loss = in_batch_softmax_loss(
        queries, items, ITEM_IDS, probabilities, remove_accidental_hits
    )
    expected = _numpy_in_batch(
        queries, items, ITEM_IDS, probabilities, remove_accidental_hits
    )
    assert tuple(loss.shape) == (BATCH,)
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-5)


def test_hit_removal_changes_exactly_the_rows_with_duplicates():
    queries, items, probabilities = _data(seed=1)
    kept = in_batch_softmax_loss(queries, items, ITEM_IDS, probabilities, False)
    removed = in_batch_softmax_loss(queries, items, ITEM_IDS, probabilities, True)
    kept, removed = np.asarray(kept), np.asarray(removed)
    duplicated = np.array([True, False, True, True, False, True])
    np.testing.assert_allclose(kept[~duplicated], removed[~duplicated], rtol=1e-6)
    assert np.all(kept[duplicated] > removed[duplicated] + 1e-4)


def test_item_ids_are_optional_without_hit_removal():
    queries, items, _ = _data()
    np.testing.assert_allclose(
        in_batch_softmax_loss(queries, items, remove_accidental_hits=False),
        _numpy_in_batch(queries, items, ITEM_IDS, None, False),
        rtol=1e-5,
        atol=1e-5,
    )


def test_zero_probability_is_clipped_to_a_finite_correction():
    queries, items, probabilities = _data()
    probabilities[1] = 0.0
    loss = in_batch_softmax_loss(queries, items, ITEM_IDS, probabilities)
    clipped = np.maximum(probabilities, 1e-6)
    np.testing.assert_allclose(
        loss, _numpy_in_batch(queries, items, ITEM_IDS, clipped, True), rtol=1e-5
    )


def test_float64_inputs_stay_float64():
    queries, items, probabilities = _data()
    loss = in_batch_softmax_loss(
        queries.astype(np.float64), items.astype(np.float64), ITEM_IDS, probabilities
    )
    assert loss.dtype == tf.float64
    np.testing.assert_allclose(
        loss, _numpy_in_batch(queries, items, ITEM_IDS, probabilities, True), rtol=1e-5
    )


def test_gradients_are_finite_and_masked_entries_get_none():
    queries, items, probabilities = _data()
    query_var, item_var = tf.Variable(queries), tf.Variable(items)
    # Only row 0 contributes: item row 3 (the same item as row 0) is masked off
    # for it, so row 3 of the item tower gets no gradient.
    with tf.GradientTape() as tape:
        loss = in_batch_softmax_loss(query_var, item_var, ITEM_IDS, probabilities)[0]
    query_grad, item_grad = tape.gradient(loss, [query_var, item_var])
    assert np.all(np.isfinite(query_grad)) and np.all(np.isfinite(item_grad))
    assert np.any(np.asarray(query_grad) != 0)
    assert np.all(np.asarray(item_grad)[3] == 0)
    assert np.all(np.abs(np.asarray(item_grad)[[0, 1, 2, 4, 5]]).sum(axis=1) > 0)


def test_compiles_with_xla():
    # jit_compile="auto" is True on a GPU: the loss and its gradient compile.
    queries, items, probabilities = _data()
    query_var = tf.Variable(queries)

    @tf.function(jit_compile=True)
    def loss_and_gradient(item, ids, probability):
        with tf.GradientTape() as tape:
            loss = in_batch_softmax_loss(query_var, item, ids, probability)
            total = tf.reduce_sum(loss)
        return loss, tape.gradient(total, query_var)

    loss, gradient = loss_and_gradient(items, ITEM_IDS, probabilities)
    np.testing.assert_allclose(
        loss,
        _numpy_in_batch(queries, items, ITEM_IDS, probabilities, True),
        rtol=1e-5,
        atol=1e-5,
    )
    with tf.GradientTape() as tape:
        eager = in_batch_softmax_loss(query_var, items, ITEM_IDS, probabilities)
        total = tf.reduce_sum(eager)
    expected = tape.gradient(total, query_var)
    np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-6)


def test_works_inside_tf_function_with_unknown_batch_size():
    queries, items, probabilities = _data()

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, DIM], tf.float32),
            tf.TensorSpec([None, DIM], tf.float32),
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None], tf.float32),
        ]
    )
    def loss_fn(query, item, ids, probability):
        return in_batch_softmax_loss(query, item, ids, probability)

    np.testing.assert_allclose(
        loss_fn(queries, items, ITEM_IDS, probabilities),
        _numpy_in_batch(queries, items, ITEM_IDS, probabilities, True),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"queries": np.zeros(DIM, np.float32)}, "must have shape [batch, dim]"),
        ({"items": np.zeros((BATCH + 1, DIM), np.float32)}, "the same shape"),
        ({"items": np.zeros((BATCH, DIM + 1), np.float32)}, "the same shape"),
        ({"ids": np.zeros(BATCH + 1, np.int64)}, "`item_ids` must have shape"),
        ({"ids": np.zeros((BATCH, 1), np.int64)}, "`item_ids` must have shape"),
        (
            {"probabilities": np.ones(BATCH - 1, np.float32)},
            "`item_sampling_probabilities` must have shape",
        ),
        ({"ids": None}, "`item_ids` is required"),
    ],
)
def test_bad_arguments_raise(change, message):
    queries, items, probabilities = _data()
    arguments = {
        "queries": queries,
        "items": items,
        "ids": ITEM_IDS,
        "probabilities": probabilities,
    }
    arguments.update(change)
    with pytest.raises(ValueError) as error:
        in_batch_softmax_loss(*arguments.values())
    assert message in str(error.value)


def test_half_precision_inputs_under_mixed_policy_compute_in_float32():
    queries, items, probabilities = _data()
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        loss = in_batch_softmax_loss(
            queries.astype(np.float16),
            items.astype(np.float16),
            ITEM_IDS,
            probabilities,
        )
    finally:
        keras.config.set_dtype_policy(previous)
    assert loss.dtype == tf.float32
    expected = _numpy_in_batch(
        queries.astype(np.float16).astype(np.float32),
        items.astype(np.float16).astype(np.float32),
        ITEM_IDS,
        probabilities,
        True,
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-5)
