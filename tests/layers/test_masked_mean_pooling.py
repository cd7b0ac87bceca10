"""Tests of `MaskedMeanPooling`: a masked mean that ignores padded positions."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_tf.layers import MaskedMeanPooling
from tests import testing

BATCH, SEQ_LEN, DIM = 4, 5, 3


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _data(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, SEQ_LEN, DIM)).astype(np.float32)
    mask = np.array(
        [
            [True, True, True, True, True],  # no padding
            [False, False, True, False, True],  # scattered
            [False, False, False, False, False],  # empty history
            [True, False, False, False, False],  # one valid position
        ]
    )
    return x, mask


def _numpy_masked_mean(x, mask):
    out = np.zeros((x.shape[0], x.shape[2]))
    for i in range(x.shape[0]):
        if mask[i].any():
            out[i] = x[i][mask[i]].mean(axis=0)
    return out


def test_shapes_config_and_saving(tmp_path):
    x, mask = _data()
    testing.run_layer_test(
        MaskedMeanPooling,
        {},
        x,
        (BATCH, DIM),
        call_kwargs={"mask": mask},
        expect_trainable_weights=False,
        save_dir=tmp_path,
    )


def test_without_mask_shapes_and_plain_mean():
    x, _ = _data()
    out = testing.run_layer_test(
        MaskedMeanPooling, {}, x, (BATCH, DIM), expect_trainable_weights=False
    )
    np.testing.assert_allclose(out, x.mean(axis=1), rtol=1e-6)


def test_matches_numpy_masked_mean():
    x, mask = _data()
    out = testing.to_numpy(MaskedMeanPooling()(x, mask=mask))
    np.testing.assert_allclose(out, _numpy_masked_mean(x, mask), rtol=1e-5, atol=1e-6)
    # Row 3 has a single valid position: the pooled vector is that position.
    np.testing.assert_array_equal(out[3], x[3, 0])


def test_all_masked_row_gives_zeros():
    x, mask = _data()
    out = testing.to_numpy(MaskedMeanPooling()(x + 10.0, mask=mask))
    np.testing.assert_array_equal(out[2], np.zeros(DIM))
    assert np.all(np.isfinite(out))


def test_values_at_masked_positions_do_not_change_the_output():
    x, mask = _data()
    layer = MaskedMeanPooling()
    changed = np.where(mask[..., None], x, np.float32(123.0) * np.sign(x) - 7.0)
    assert not np.array_equal(changed, x)
    np.testing.assert_array_equal(
        testing.to_numpy(layer(changed, mask=mask)),
        testing.to_numpy(layer(x, mask=mask)),
    )
    # Padding more (masked) positions on the right changes nothing either.
    padded = np.concatenate([x, np.ones((BATCH, 2, DIM), np.float32)], axis=1)
    padded_mask = np.concatenate([mask, np.zeros((BATCH, 2), bool)], axis=1)
    np.testing.assert_allclose(
        testing.to_numpy(layer(padded, mask=padded_mask)),
        testing.to_numpy(layer(x, mask=mask)),
        rtol=1e-6,
    )


def test_gradient_reaches_valid_positions_only():
    # The layer has no weights; its inputs get a gradient of 1/count at valid
    # positions (per unit of output) and exactly zero at padded ones.
    x, mask = _data()
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = keras.ops.sum(MaskedMeanPooling()(x, mask=mask))
    grad = testing.to_numpy(tape.gradient(loss, x))
    counts = np.maximum(mask.sum(1), 1)
    expected = np.where(mask, 1.0 / counts[:, None], 0.0)[..., None] * np.ones(DIM)
    np.testing.assert_allclose(grad, expected, rtol=1e-6)


def test_does_not_propagate_a_mask():
    layer = MaskedMeanPooling()
    x, mask = _data()
    assert layer.compute_mask(x, mask) is None


@pytest.mark.parametrize("shape", [(SEQ_LEN, SEQ_LEN), (2, 3, 4, 5)])
def test_inputs_of_wrong_rank_raise(shape):
    # A [batch, seq_len] input with batch == seq_len would otherwise broadcast
    # against the mask into a silently wrong [batch, seq_len] "pooled" output.
    x = np.ones(shape, np.float32)
    mask = np.ones(shape[:2], bool)
    with pytest.raises(ValueError, match="seq_len"):
        MaskedMeanPooling()(x, mask=mask)
    with pytest.raises(ValueError, match="seq_len"):
        MaskedMeanPooling()(
            keras.Input(shape[1:]), mask=keras.Input(shape[1:2], dtype="bool")
        )
