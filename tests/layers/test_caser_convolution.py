"""Tests of `CaserConvolution` (Caser's horizontal and vertical convolutions)."""

import numpy as np
import pytest

from recsys_tf.layers import CaserConvolution
from tests import testing

BATCH, WINDOW, DIM = 3, 4, 5


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(seed=0):
    return (
        np.random.default_rng(seed).normal(size=(BATCH, WINDOW, DIM)).astype("float32")
    )


def _numpy_caser(layer, x):
    """Eq. (2)-(6), filter by filter and window by window."""
    out = []
    for b in range(x.shape[0]):
        parts = []
        for h in range(1, WINDOW + 1):
            if not layer.num_horizontal:
                break
            kernel = testing.to_numpy(layer.horizontal_kernels[h - 1])
            bias = testing.to_numpy(layer.horizontal_biases[h - 1])
            for k in range(layer.num_horizontal):
                c = [
                    max(0.0, float(np.sum(x[b, i : i + h] * kernel[:, :, k]) + bias[k]))
                    for i in range(WINDOW - h + 1)
                ]
                parts.append(max(c))
        if layer.num_vertical:
            kernel = testing.to_numpy(layer.vertical_kernel)
            bias = testing.to_numpy(layer.vertical_bias)
            for k in range(layer.num_vertical):
                parts.extend(kernel[:, k] @ x[b] + bias[k])
        out.append(parts)
    return np.array(out, np.float32)


@pytest.mark.parametrize("num_horizontal,num_vertical", [(2, 3), (0, 2), (3, 0)])
def test_shapes_config_gradients_and_saving(num_horizontal, num_vertical, tmp_path):
    testing.run_layer_test(
        CaserConvolution,
        {"num_horizontal": num_horizontal, "num_vertical": num_vertical},
        _inputs(),
        (BATCH, num_horizontal * WINDOW + num_vertical * DIM),
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("num_horizontal,num_vertical", [(2, 3), (0, 2), (3, 0)])
def test_matches_numpy_convolutions(num_horizontal, num_vertical):
    x = _inputs()
    layer = CaserConvolution(num_horizontal, num_vertical)
    layer(x)
    # Non-zero biases, so that the test sees them.
    for bias in layer.horizontal_biases + (
        [layer.vertical_bias] if num_vertical else []
    ):
        bias.assign(np.random.default_rng(1).normal(size=bias.shape) * 0.3)
    np.testing.assert_allclose(
        testing.to_numpy(layer(x)), _numpy_caser(layer, x), rtol=1e-5, atol=1e-5
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="at least one filter"):
        CaserConvolution(0, 0)
    with pytest.raises(ValueError, match=">= 0"):
        CaserConvolution(-1, 2)
    with pytest.raises(ValueError, match="batch, L, d"):
        CaserConvolution()(np.zeros((2, DIM), np.float32))
