"""SessionLSTM: SDM Eq. (6) against NumPy, restarts at session starts, padding."""

import numpy as np
import pytest

from recsys_tf.layers import SessionLSTM
from tests import testing

B, T, D, UNITS = 3, 6, 4, 5


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    mask = np.arange(T)[None, :] >= np.array([[0], [2], [4]])  # left padding
    resets = np.zeros((B, T), bool)
    resets[0, [0, 3]] = True
    resets[1, [2, 5]] = True
    resets[2, 4] = True
    return x, mask, resets


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_lstm(layer, x, mask, resets, index=0):
    """Eq. (6), Keras' gate order (in, forget, cell, out); the state restarts at
    zero at a session start and stays put over padding (layer `index` of the
    stack)."""
    cell = layer.rnns[index].cell.cell
    kernel = testing.to_numpy(cell.kernel).astype(np.float64)
    recurrent = testing.to_numpy(cell.recurrent_kernel).astype(np.float64)
    bias = testing.to_numpy(cell.bias).astype(np.float64)
    out = np.zeros(x.shape[:2] + (UNITS,))
    for b in range(x.shape[0]):
        h, c = np.zeros(UNITS), np.zeros(UNITS)
        for t in range(x.shape[1]):
            if not mask[b, t]:
                continue
            if resets[b, t]:
                h, c = np.zeros(UNITS), np.zeros(UNITS)
            z = x[b, t] @ kernel + h @ recurrent + bias
            i, f, g, o = np.split(z, 4)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            out[b, t] = h
    return out


def test_layer_contract_and_numpy_reference(tmp_path):
    x, mask, resets = _inputs()
    testing.run_layer_test(
        SessionLSTM,
        {"units": UNITS, "dropout": 0.1},
        x,
        (B, T, UNITS),
        call_kwargs={"mask": mask, "resets": resets},
        save_dir=tmp_path,
    )
    layer = SessionLSTM(UNITS)
    out = testing.to_numpy(layer(x, mask=mask, resets=resets))
    np.testing.assert_allclose(
        out, _numpy_lstm(layer, x, mask, resets), rtol=1e-5, atol=1e-6
    )
    assert not out[~mask].any()


def test_stacked_layers_with_a_residual_top_against_numpy(tmp_path):
    # The authors' stack: two LSTMs, the top one adding its input.
    x, mask, resets = _inputs()
    testing.run_layer_test(
        SessionLSTM,
        {"units": UNITS, "dropout": 0.1, "num_layers": 2, "num_residual_layers": 1},
        x,
        (B, T, UNITS),
        call_kwargs={"mask": mask, "resets": resets},
        save_dir=tmp_path,
    )
    layer = SessionLSTM(UNITS, num_layers=2, num_residual_layers=1)
    out = testing.to_numpy(layer(x, mask=mask, resets=resets))
    bottom = _numpy_lstm(layer, x, mask, resets, index=0)
    expected = _numpy_lstm(layer, bottom, mask, resets, index=1) + bottom
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert not out[~mask].any()
    # Without the residual the top layer's output alone.
    plain = SessionLSTM(UNITS, num_layers=2)
    out = testing.to_numpy(plain(x, mask=mask, resets=resets))
    bottom = _numpy_lstm(plain, x, mask, resets, index=0)
    np.testing.assert_allclose(
        out, _numpy_lstm(plain, bottom, mask, resets, index=1), rtol=1e-5, atol=1e-5
    )


def test_a_residual_bottom_layer_needs_inputs_of_units_channels():
    x, mask, resets = _inputs()  # D = 4 channels, UNITS = 5
    with pytest.raises(ValueError, match="residual SessionLSTM"):
        SessionLSTM(UNITS, num_layers=1, num_residual_layers=1)(x, mask=mask)
    wide = np.concatenate([x, x[..., :1]], axis=-1)  # 5 channels
    layer = SessionLSTM(UNITS, num_layers=1, num_residual_layers=1)
    out = testing.to_numpy(layer(wide, mask=mask, resets=resets))
    expected = _numpy_lstm(layer, wide, mask, resets) + wide * mask[..., None]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_a_session_is_encoded_as_if_it_were_alone():
    x, mask, resets = _inputs()
    layer = SessionLSTM(UNITS)
    out = testing.to_numpy(layer(x, mask=mask, resets=resets))
    # Row 0's second session (positions 3-5) alone, left-padded.
    alone = np.zeros_like(x[:1])
    alone[0, 3:] = x[0, 3:]
    only = np.arange(T)[None, :] >= 3
    out_alone = testing.to_numpy(layer(alone, mask=only))
    np.testing.assert_allclose(out[0, 3:], out_alone[0, 3:], rtol=1e-5, atol=1e-6)
    # Without the restarts the earlier session leaks into it.
    joined = testing.to_numpy(layer(x, mask=mask))
    assert not np.allclose(joined[0, 3:], out[0, 3:])


@pytest.mark.parametrize("num_layers", [1, 2])
def test_padding_codes_never_matter(num_layers):
    x, mask, resets = _inputs()
    layer = SessionLSTM(
        UNITS, num_layers=num_layers, num_residual_layers=num_layers - 1
    )
    out = testing.to_numpy(layer(x, mask=mask, resets=resets))
    noisy = np.where(mask[..., None], x, 5.0).astype(np.float32)
    np.testing.assert_allclose(
        testing.to_numpy(layer(noisy, mask=mask, resets=resets | ~mask)),
        out,
        rtol=1e-6,
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="`units`"):
        SessionLSTM(0)
    with pytest.raises(ValueError, match="`dropout`"):
        SessionLSTM(4, dropout=1.0)
    with pytest.raises(ValueError, match="`num_layers`"):
        SessionLSTM(4, num_layers=0)
    with pytest.raises(ValueError, match="`num_residual_layers`"):
        SessionLSTM(4, num_layers=2, num_residual_layers=3)
    with pytest.raises(ValueError, match="SessionLSTM takes"):
        SessionLSTM(4)(np.ones((2, 3), "float32"))
