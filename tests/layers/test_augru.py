"""Tests of `AUGRU` against DIEN Eq. (2)-(5), (11)-(12) written in NumPy."""

import numpy as np
import pytest

from recsys_tf.layers import AUGRU
from tests import testing

MASK = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]], bool)


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(batch=3, steps=5, dim=4, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, dim)).astype(np.float32)
    attention = rng.uniform(0.05, 1.0, size=(batch, steps)).astype(np.float32)
    return x, attention


def _randomise_bias(layer):
    layer.bias.assign(np.linspace(-0.5, 0.5, 3 * layer.units).astype(np.float32))


@pytest.mark.parametrize(
    "return_sequences, unroll", [(False, False), (True, False), (True, True)]
)
def test_shapes_config_gradients_and_saving(return_sequences, unroll, tmp_path):
    x, attention = _inputs()
    shape = (3, 5, 6) if return_sequences else (3, 6)
    testing.run_layer_test(
        AUGRU,
        dict(units=6, return_sequences=return_sequences, unroll=unroll),
        x,
        shape,
        call_kwargs=dict(attention=attention, mask=MASK),
        save_dir=tmp_path,
    )


def test_one_step_matches_numpy():
    x, attention = _inputs(steps=1)
    layer = AUGRU(3)
    layer(x, attention)
    _randomise_bias(layer)
    h0 = np.zeros((3, 3))
    expected = testing.numpy_augru_step(
        layer, x[:, 0].astype(np.float64), h0, attention[:, 0]
    )
    np.testing.assert_allclose(
        testing.to_numpy(layer(x, attention)), expected, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("unroll", [False, True])
def test_sequence_with_mask_matches_numpy(unroll):
    x, attention = _inputs()
    layer = AUGRU(3, return_sequences=True, unroll=unroll)
    layer(x, attention, mask=MASK)
    _randomise_bias(layer)
    final, states = testing.numpy_augru(layer, x, attention, MASK)
    np.testing.assert_allclose(
        testing.to_numpy(layer(x, attention, mask=MASK)), states, rtol=1e-5, atol=1e-6
    )
    layer.return_sequences = False
    np.testing.assert_allclose(
        testing.to_numpy(layer(x, attention, mask=MASK)), final, rtol=1e-5, atol=1e-6
    )


def test_without_attention_it_is_the_papers_gru():
    x, _ = _inputs()
    layer = AUGRU(3)
    layer(x)
    _randomise_bias(layer)
    final, _ = testing.numpy_augru(
        layer, x, np.ones(x.shape[:2]), np.ones(x.shape[:2], bool)
    )
    np.testing.assert_allclose(testing.to_numpy(layer(x)), final, rtol=1e-5, atol=1e-6)


def test_zero_attention_keeps_the_state():
    # Eq. (12): a_t = 0 gives u~_t = 0 and h_t = h_{t-1}.
    x, attention = _inputs()
    attention[:, 2:] = 0.0
    layer = AUGRU(3, return_sequences=True)
    states = testing.to_numpy(layer(x, attention))
    for t in range(2, 5):
        np.testing.assert_array_equal(states[:, t], states[:, 1])
    assert not np.allclose(states[:, 1], 0.0)


def test_padding_does_not_change_the_output():
    x, attention = _inputs()
    changed_x = np.where(MASK[..., None], x, 9.0).astype(np.float32)
    changed_a = np.where(MASK, attention, 0.77).astype(np.float32)
    layer = AUGRU(3)
    np.testing.assert_array_equal(
        testing.to_numpy(layer(x, attention, mask=MASK)),
        testing.to_numpy(layer(changed_x, changed_a, mask=MASK)),
    )
    # A row with no valid step keeps the zero state.
    empty = np.zeros_like(MASK)
    np.testing.assert_array_equal(
        testing.to_numpy(layer(x, attention, mask=empty)), 0.0
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="units"):
        AUGRU(0)
    with pytest.raises(ValueError, match="seq_len"):
        AUGRU(3)(np.ones((2, 4), np.float32))


def test_an_unknown_length_is_a_clear_error():
    with pytest.raises(ValueError, match="known seq_len"):
        AUGRU(3).build((None, None, 4))


@pytest.mark.parametrize("attention", [False, True])
def test_a_length_unknown_when_traced_gives_the_same_states(attention):
    """Batches cut to the columns they use reach the layer with seq_len None."""
    import tensorflow as tf

    x, scores = _inputs()
    layer = AUGRU(3, return_sequences=True)
    expected = testing.to_numpy(layer(x, scores if attention else None, mask=MASK))

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, 4]),
            tf.TensorSpec([None, None]),
            tf.TensorSpec([None, None], tf.bool),
        ]
    )
    def traced(x, scores, mask):
        return layer(x, scores if attention else None, mask=mask)

    np.testing.assert_allclose(
        traced(x, scores, MASK).numpy(), expected, rtol=1e-5, atol=1e-6
    )
