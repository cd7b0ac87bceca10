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


def _numpy_lstm(layer, x, mask, resets):
    """Eq. (6), Keras' gate order (in, forget, cell, out); the state restarts at
    zero at a session start and stays put over padding."""
    cell = layer.rnn.cell.cell
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


def test_padding_codes_never_matter():
    x, mask, resets = _inputs()
    layer = SessionLSTM(UNITS)
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
    with pytest.raises(ValueError, match="SessionLSTM takes"):
        SessionLSTM(4)(np.ones((2, 3), "float32"))
