"""Tests of `PAIRGate` against DUMN Eq. (13)-(14) and the Table 4 fusions in NumPy."""

import numpy as np
import pytest

from recsys_tf.layers import PAIRGate
from recsys_tf.layers.pair_gate import FUSIONS
from tests import testing

B, K, D, Z = 3, 4, 5, 6
WIDTH = {"gate": D + Z, "concat": D + Z, "ffn": D + Z, "cross": 3 * D, "attention": D}


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _data(seed=1):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(B, K, D)).astype(np.float32),
        rng.normal(size=(B, K, Z)).astype(np.float32),
    )


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_pair(layer, short, long):
    """Eq. (13) (or the ablation) per example and type, then Eq. (14)."""
    w = {v.name: testing.to_numpy(v).astype(np.float64) for v in layer.weights}
    out = []
    for b in range(short.shape[0]):
        per_type = []
        for k in range(short.shape[1]):
            f, r = short[b, k].astype(np.float64), long[b, k].astype(np.float64)
            if layer.fusion == "gate":
                u = np.concatenate(
                    [
                        f * _sigmoid(f @ w["short_kernel"][k]),
                        r * _sigmoid(r @ w["long_kernel"][k]),
                    ]
                )
            elif layer.fusion == "concat":
                u = np.concatenate([f, r])
            elif layer.fusion == "ffn":
                u = np.concatenate(
                    [
                        np.maximum(f @ w["short_kernel"][k] + w["short_bias"][k], 0),
                        np.maximum(r @ w["long_kernel"][k] + w["long_bias"][k], 0),
                    ]
                )
            else:
                rc = r @ w["conversion_kernel"][k]
                if layer.fusion == "cross":
                    u = np.concatenate([f + rc, f - rc, f * rc])
                else:
                    scores = np.array(
                        [
                            np.tanh(
                                x @ w["attention_kernel"][k] + w["attention_bias"][k]
                            )
                            @ w["attention_vector"][k]
                            for x in (f, rc)
                        ]
                    )
                    beta = np.exp(scores) / np.exp(scores).sum()
                    u = beta[0] * f + beta[1] * rc
            per_type.append(u)
        out.append(np.concatenate(per_type))  # Eq. (14)
    return np.array(out)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_shapes_config_gradients_numpy_and_saving(fusion, tmp_path):
    short, long = _data()
    out = testing.run_layer_test(
        PAIRGate,
        dict(fusion=fusion),
        short,
        (B, K * WIDTH[fusion]),
        call_kwargs=dict(long_term=long),
        expect_trainable_weights=fusion != "concat",
        save_dir=tmp_path,
    )
    layer = PAIRGate(fusion=fusion)
    got = testing.to_numpy(layer(short, long))
    np.testing.assert_allclose(
        got, _numpy_pair(layer, short, long), rtol=1e-4, atol=1e-5
    )
    assert out.shape == got.shape


def test_gate_weights_are_per_feedback_type():
    short, long = _data()
    layer = PAIRGate()
    base = testing.to_numpy(layer(short, long)).reshape(B, K, D + Z)
    kernel = testing.to_numpy(layer.short_kernel)
    kernel[1] += 1.0
    layer.short_kernel.assign(kernel)
    changed = testing.to_numpy(layer(short, long)).reshape(B, K, D + Z)
    changed_types = [k for k in range(K) if not np.allclose(changed[:, k], base[:, k])]
    assert changed_types == [1]


def test_bad_arguments_and_inputs_raise():
    short, long = _data()
    with pytest.raises(ValueError, match="fusion"):
        PAIRGate(fusion="sum")
    with pytest.raises(ValueError, match="number of feedback"):
        PAIRGate()(short, long[:, :2])
    with pytest.raises(ValueError, match="long_term"):
        PAIRGate()(short, long[:, 0])
    with pytest.raises(ValueError, match="long_term_shape"):
        PAIRGate().compute_output_shape(short.shape)
