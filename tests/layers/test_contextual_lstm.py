"""Tests of `ContextualLSTM` (BINN's CLSTM) against its gates written in NumPy."""

import numpy as np
import pytest

from recsys_tf.layers import ContextualLSTM
from tests import testing

MASK = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]], bool)


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(batch=3, steps=5, dim=4, context_dim=2, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, dim)).astype(np.float32)
    context = rng.normal(size=(batch, steps, context_dim)).astype(np.float32)
    return x, context


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_clstm(layer, x, context, mask):
    """The CLSTM gates, one row and one real step at a time."""
    w = testing.to_numpy(layer.kernel).astype(np.float64)
    u = testing.to_numpy(layer.recurrent_kernel).astype(np.float64)
    b = testing.to_numpy(layer.bias).astype(np.float64)
    v = None if context is None else testing.to_numpy(layer.context_kernel)
    n = layer.units
    batch, steps, _ = x.shape
    outputs = np.zeros((batch, steps, n))
    finals = np.zeros((batch, n))
    for row in range(batch):
        h, c = np.zeros(n), np.zeros(n)
        order = range(steps - 1, -1, -1) if layer.go_backwards else range(steps)
        for t in order:
            if mask[row, t]:
                z = x[row, t] @ w + h @ u + b
                if v is not None:
                    z = z + context[row, t] @ v
                i, f = _sigmoid(z[:n]), _sigmoid(z[n : 2 * n])
                g, o = np.tanh(z[2 * n : 3 * n]), _sigmoid(z[3 * n :])
                c = f * c + i * g
                h = o * np.tanh(c)
            outputs[row, t] = h
        finals[row] = h
    return finals, outputs


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_shapes_config_gradients_and_saving(return_sequences, go_backwards, tmp_path):
    x, context = _inputs()
    shape = (3, 5, 6) if return_sequences else (3, 6)
    testing.run_layer_test(
        ContextualLSTM,
        dict(units=6, return_sequences=return_sequences, go_backwards=go_backwards),
        x,
        shape,
        call_kwargs=dict(context=context, mask=MASK),
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("with_context", [False, True])
def test_matches_numpy(go_backwards, with_context):
    x, context = _inputs()
    context = context if with_context else None
    layer = ContextualLSTM(3, return_sequences=True, go_backwards=go_backwards)
    layer(x, context, mask=MASK)
    layer.bias.assign(np.linspace(-0.5, 1.0, 12).astype(np.float32))
    finals, outputs = _numpy_clstm(layer, x, context, MASK)
    np.testing.assert_allclose(
        testing.to_numpy(layer(x, context, mask=MASK)), outputs, rtol=1e-5, atol=1e-6
    )
    layer.return_sequences = False
    np.testing.assert_allclose(
        testing.to_numpy(layer(x, context, mask=MASK)), finals, rtol=1e-5, atol=1e-6
    )


def test_without_context_it_is_keras_lstm():
    import keras

    x, _ = _inputs()
    layer = ContextualLSTM(3)
    ours = testing.to_numpy(layer(x))
    reference = keras.layers.LSTM(3)
    reference(x)
    reference.set_weights([w.numpy() for w in layer.weights])
    np.testing.assert_allclose(
        testing.to_numpy(reference(x)), ours, rtol=1e-5, atol=1e-6
    )


def test_the_context_enters_the_gates_and_padding_does_not():
    x, context = _inputs()
    layer = ContextualLSTM(3)
    out = testing.to_numpy(layer(x, context, mask=MASK))
    other = context.copy()
    other[:, -1] += 1.0
    assert not np.allclose(testing.to_numpy(layer(x, other, mask=MASK)), out)
    noisy_x = np.where(MASK[..., None], x, 9.0).astype(np.float32)
    noisy_c = np.where(MASK[..., None], context, -3.0).astype(np.float32)
    np.testing.assert_array_equal(
        testing.to_numpy(layer(noisy_x, noisy_c, mask=MASK)), out
    )
    np.testing.assert_array_equal(
        testing.to_numpy(layer(x, context, mask=np.zeros_like(MASK))), 0.0
    )


def test_bad_arguments_raise():
    x, context = _inputs()
    with pytest.raises(ValueError, match="units"):
        ContextualLSTM(0)
    with pytest.raises(ValueError, match="known seq_len"):
        ContextualLSTM(3).build((None, None, 4))
    layer = ContextualLSTM(3)
    layer(x, context)
    with pytest.raises(ValueError, match="context"):
        layer(x)
