"""Tests of `HierarchicalPeriodicMemory` and `slot_covariance_norm` against HPMN's
periodic GRU writing and covariance regularisation written in NumPy."""

import numpy as np
import pytest

from recsys_tf.layers import HierarchicalPeriodicMemory
from recsys_tf.layers.hierarchical_periodic_memory import slot_covariance_norm
from tests import testing

# Nine steps: the all-real row writes the period-4 slot twice (a state to recur on).
MASK = np.array(
    [[0, 0, 1, 1, 1, 1, 1, 1, 1], [1] * 9, [0, 0, 0, 0, 0, 0, 0, 0, 1]], bool
)


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(batch=3, steps=9, dim=4, seed=1):
    return (
        np.random.default_rng(seed).normal(size=(batch, steps, dim)).astype(np.float32)
    )


def _randomise_biases(layer):
    for j, bias in enumerate(layer.biases):
        bias.assign(np.linspace(-0.5, 0.5 + j, bias.shape[0]).astype(np.float32))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_gru(layer, j, x, h):
    w = testing.to_numpy(layer.kernels[j]).astype(np.float64)
    u = testing.to_numpy(layer.recurrent_kernels[j]).astype(np.float64)
    b = testing.to_numpy(layer.biases[j]).astype(np.float64)
    n = layer.units
    z = _sigmoid(x @ w[:, :n] + h @ u[:, :n] + b[:n])
    r = _sigmoid(x @ w[:, n : 2 * n] + h @ u[:, n : 2 * n] + b[n : 2 * n])
    candidate = np.tanh(x @ w[:, 2 * n :] + (r * h) @ u[:, 2 * n :] + b[2 * n :])
    return (1 - z) * h + z * candidate


def _numpy_memory(layer, x, mask):
    """HPMN's update, one row and one behaviour at a time: after the i-th real
    behaviour, slot j is rewritten from slot j-1 (slot 0 from e_i) if i % t^j == 0."""
    batch, steps, _ = x.shape
    out = np.zeros((batch, steps, len(layer.periods), layer.units))
    for b in range(batch):
        slots = [np.zeros(layer.units) for _ in layer.periods]
        i = 0
        for t in range(steps):
            if mask[b, t]:
                i += 1
                below = x[b, t].astype(np.float64)
                for j, period in enumerate(layer.periods):
                    if i % period == 0:
                        slots[j] = _numpy_gru(layer, j, below, slots[j])
                    below = slots[j]
            out[b, t] = np.stack(slots)
    return out


@pytest.mark.parametrize("return_sequences", [False, True])
def test_shapes_config_gradients_and_saving(return_sequences, tmp_path):
    x = _inputs()
    shape = (3, 9, 3, 5) if return_sequences else (3, 3, 5)
    testing.run_layer_test(
        HierarchicalPeriodicMemory,
        dict(units=5, periods=(1, 2, 4), return_sequences=return_sequences),
        x,
        shape,
        call_kwargs=dict(mask=MASK),
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("periods", [(1,), (1, 2), (1, 2, 4), (1, 3, 3)])
def test_every_step_matches_numpy(periods):
    x = _inputs()
    layer = HierarchicalPeriodicMemory(3, periods, return_sequences=True)
    layer(x, mask=MASK)
    _randomise_biases(layer)
    expected = _numpy_memory(layer, x, MASK)
    np.testing.assert_allclose(
        testing.to_numpy(layer(x, mask=MASK)), expected, rtol=1e-5, atol=1e-6
    )
    layer.return_sequences = False
    np.testing.assert_allclose(
        testing.to_numpy(layer(x, mask=MASK)), expected[:, -1], rtol=1e-5, atol=1e-6
    )


def test_a_slot_changes_only_at_its_period():
    # Row 1 is all real: slot j changes exactly after behaviours i = k t^j.
    x = _inputs()
    layer = HierarchicalPeriodicMemory(3, (1, 2, 4), return_sequences=True)
    slots = testing.to_numpy(layer(x))[1]
    previous = np.zeros_like(slots[0])
    for t in range(9):
        i = t + 1
        for j, period in enumerate((1, 2, 4)):
            changed = not np.allclose(slots[t, j], previous[j])
            assert changed == (i % period == 0), (t, j)
        previous = slots[t]


def test_padding_and_width_do_not_change_the_memory():
    x = _inputs()
    layer = HierarchicalPeriodicMemory(3, (1, 2), return_sequences=True)
    memory = testing.to_numpy(layer(x, mask=MASK))
    noisy = np.where(MASK[..., None], x, 9.0).astype(np.float32)
    np.testing.assert_array_equal(testing.to_numpy(layer(noisy, mask=MASK)), memory)
    # Two more padded steps in front: the periods count real behaviours only.
    wider = np.pad(x, ((0, 0), (2, 0), (0, 0)))
    wider_mask = np.pad(MASK, ((0, 0), (2, 0)))
    np.testing.assert_allclose(
        testing.to_numpy(layer(wider, mask=wider_mask))[:, 2:],
        memory,
        rtol=1e-6,
        atol=1e-6,
    )
    # Padded steps keep the zero memory.
    np.testing.assert_array_equal(memory[2, :8], 0.0)


def test_covariance_norm_matches_numpy():
    slots = np.random.default_rng(3).normal(size=(2, 4, 3, 5)).astype(np.float32)
    centred = slots - slots.mean(-1, keepdims=True)
    covariance = np.einsum("...id,...jd->...ij", centred, centred) / 5
    off = covariance - covariance * np.eye(3)
    expected = np.sqrt((off**2).sum((-2, -1)))
    np.testing.assert_allclose(
        testing.to_numpy(slot_covariance_norm(slots)), expected, rtol=1e-5
    )
    # Identical slots are perfectly correlated; orthogonal centred ones are not.
    same = np.repeat(slots[:, :, :1], 3, axis=2)
    assert np.all(testing.to_numpy(slot_covariance_norm(same)) > 0)
    basis = np.array([[1, -1, 0, 0], [0, 0, 1, -1]], np.float32)
    np.testing.assert_allclose(
        testing.to_numpy(slot_covariance_norm(basis)), 0.0, atol=1e-5
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="units"):
        HierarchicalPeriodicMemory(0)
    for periods in [(), (2, 4), (1, 3, 4), (1, 0)]:
        with pytest.raises(ValueError, match="periods"):
            HierarchicalPeriodicMemory(3, periods)
    with pytest.raises(ValueError, match="known in_dim"):
        HierarchicalPeriodicMemory(3).build((None, 5, None))
    HierarchicalPeriodicMemory(3).build((None, None, 4))  # any width


def test_a_traced_call_takes_every_width():
    """One trace with an unknown width serves batches of any width (the input
    pipeline cuts batches to their columns), each as its own NumPy reference."""
    import tensorflow as tf

    layer = HierarchicalPeriodicMemory(4, (1, 2), return_sequences=True)
    x = _inputs()
    mask = np.ones(x.shape[:2], bool)
    layer(x, mask=mask)
    traced = tf.function(
        lambda a, m: layer(a, mask=m),
        input_signature=[
            tf.TensorSpec((None, None, x.shape[-1])),
            tf.TensorSpec((None, None), tf.bool),
        ],
    )
    for width in (x.shape[1], 3, 1):
        a, m = x[:, -width:], mask[:, -width:]
        np.testing.assert_allclose(
            testing.to_numpy(traced(a, m)),
            _numpy_memory(layer, a, m),
            rtol=1e-5,
            atol=1e-6,
        )
