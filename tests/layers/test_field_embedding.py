"""Tests of `FieldEmbedding`: one shared table, field f at rows offset_f + code."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_tf.layers import FieldEmbedding
from tests import testing

VOCAB = (3, 5, 2)


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _codes(batch=6, vocabulary_sizes=VOCAB, seed=1):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, v, batch) for v in vocabulary_sizes], 1).astype(
        np.int32
    )


def _numpy_lookup(table, codes, vocabulary_sizes):
    offsets = np.concatenate([[0], np.cumsum(vocabulary_sizes)[:-1]])
    return table[codes + offsets]


@pytest.mark.parametrize(
    "init_kwargs, inputs, expected_shape",
    [
        (dict(vocabulary_sizes=VOCAB, output_dim=4), _codes(), (6, 3, 4)),
        (
            dict(vocabulary_sizes=VOCAB, output_dim=1, embeddings_regularizer=0.1),
            _codes(),
            (6, 3, 1),
        ),
        # One field looked up at every position of a sequence (the YouTube DNN
        # history): [batch, seq_len, 1] -> [batch, seq_len, 1, dim].
        (
            dict(vocabulary_sizes=(7,), output_dim=2),
            _codes(8, (7,)).reshape(2, 4, 1),
            (2, 4, 1, 2),
        ),
    ],
)
def test_shapes_config_gradients_and_saving(
    init_kwargs, inputs, expected_shape, tmp_path
):
    testing.run_layer_test(
        FieldEmbedding, init_kwargs, inputs, expected_shape, save_dir=tmp_path
    )


def test_matches_numpy_offset_lookup():
    codes = _codes()
    layer = FieldEmbedding(VOCAB, 4, embeddings_initializer="normal")
    out = testing.to_numpy(layer(codes))
    table = testing.to_numpy(layer.embeddings)
    assert table.shape == (sum(VOCAB), 4)
    np.testing.assert_array_equal(out, _numpy_lookup(table, codes, VOCAB))


def test_same_code_in_different_fields_reads_different_rows():
    layer = FieldEmbedding(VOCAB, 2, embeddings_initializer="normal")
    out = testing.to_numpy(layer(np.zeros((1, 3), np.int32)))
    table = testing.to_numpy(layer.embeddings)
    np.testing.assert_array_equal(out[0], table[[0, 3, 8]])
    assert len({tuple(row) for row in out[0]}) == 3


def test_int64_inputs_give_the_same_rows():
    codes = _codes()
    layer = FieldEmbedding(VOCAB, 3)
    np.testing.assert_array_equal(
        testing.to_numpy(layer(codes)), testing.to_numpy(layer(codes.astype(np.int64)))
    )


def test_only_looked_up_rows_get_gradient():
    codes = np.array([[0, 4, 1], [2, 4, 0]], np.int32)
    layer = FieldEmbedding(VOCAB, 2)
    layer(codes)
    with tf.GradientTape() as tape:
        loss = keras.ops.sum(layer(codes))
    grad = testing.to_numpy(tape.gradient(loss, layer.embeddings))
    used = np.unique(codes + np.array([0, 3, 8]))
    np.testing.assert_array_equal(np.flatnonzero(np.abs(grad).sum(1)), used)
    # Row 7 (field 1, code 4) is looked up twice: its gradient counts both.
    np.testing.assert_array_equal(grad[7], [2.0, 2.0])


def test_regulariser_adds_batch_mean_of_squared_rows():
    codes = _codes(batch=6)
    layer = FieldEmbedding(
        VOCAB, 4, embeddings_initializer="normal", embeddings_regularizer=0.1
    )
    rows = testing.to_numpy(layer(codes))
    assert len(layer.losses) == 1
    expected = 0.1 * np.sum(np.square(rows)) / len(codes)
    np.testing.assert_allclose(testing.to_numpy(layer.losses[0]), expected, rtol=1e-5)
    # Independent of the batch size: the same examples twice give the same
    # penalty, so it does not change with the split of a batch across replicas.
    layer(np.concatenate([codes, codes]))
    np.testing.assert_allclose(testing.to_numpy(layer.losses[0]), expected, rtol=1e-5)


def test_no_regulariser_no_loss():
    layer = FieldEmbedding(VOCAB, 4)
    layer(_codes())
    assert layer.losses == []


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(vocabulary_sizes=(), output_dim=2),
        dict(vocabulary_sizes=(3, 0), output_dim=2),
        dict(vocabulary_sizes=(3, -2), output_dim=2),
        dict(vocabulary_sizes=(3,), output_dim=0),
        dict(vocabulary_sizes=(3,), output_dim=2, embeddings_regularizer=-0.1),
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        FieldEmbedding(**kwargs)


def test_wrong_number_of_fields_raises():
    # One column for three fields would otherwise broadcast silently to three
    # lookups of the same code (and disagree with compute_output_shape).
    with pytest.raises(ValueError, match="fields"):
        FieldEmbedding(VOCAB, 2)(np.zeros((4, 1), np.int32))
    with pytest.raises(ValueError, match="fields"):
        FieldEmbedding(VOCAB, 2)(keras.Input((2,), dtype="int32"))
