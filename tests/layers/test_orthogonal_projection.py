"""Tests of `OrthogonalProjection` (DUMN Eq. (6)-(7))."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_tf.layers import OrthogonalProjection
from tests import testing


def _data(shape=(4, 5), seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    basis = rng.normal(size=shape).astype(np.float32)
    return x, basis


def _numpy_orthogonal(x, b):
    x, b = np.asarray(x, np.float64), np.asarray(b, np.float64)
    out = np.empty_like(x)
    for i in np.ndindex(x.shape[:-1]):
        norm = np.linalg.norm(b[i])
        projection = (x[i] @ b[i] / norm) * b[i] / norm if norm else 0.0  # Eq. (6)
        out[i] = x[i] - projection  # Eq. (7)
    return out


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5)])
def test_shapes_config_and_saving(shape, tmp_path):
    x, basis = _data(shape)
    out = testing.run_layer_test(
        OrthogonalProjection,
        {},
        x,
        shape,
        call_kwargs=dict(basis=basis),
        expect_trainable_weights=False,
        save_dir=tmp_path,
    )
    np.testing.assert_allclose(out, _numpy_orthogonal(x, basis), rtol=1e-5, atol=1e-5)


def test_output_is_orthogonal_to_the_basis_and_the_projection_is_parallel():
    x, basis = _data((16, 8), seed=3)
    out, projection = OrthogonalProjection()(x, basis, return_projection=True)
    out, projection = testing.to_numpy(out), testing.to_numpy(projection)
    cosine = np.sum(out * basis, -1) / (
        np.linalg.norm(out, axis=-1) * np.linalg.norm(basis, axis=-1)
    )
    np.testing.assert_allclose(cosine, 0.0, atol=1e-5)
    np.testing.assert_allclose(out + projection, x, rtol=1e-5, atol=1e-6)
    # Parallel: |cos(projection, basis)| = 1.
    parallel = np.sum(projection * basis, -1) / (
        np.linalg.norm(projection, axis=-1) * np.linalg.norm(basis, axis=-1)
    )
    np.testing.assert_allclose(np.abs(parallel), 1.0, rtol=1e-5)
    # Projecting twice changes nothing more.
    again = testing.to_numpy(OrthogonalProjection()(out, basis))
    np.testing.assert_allclose(again, out, rtol=1e-4, atol=1e-5)


def test_zero_basis_leaves_the_input_unchanged_without_nan():
    x, basis = _data()
    basis[1] = 0.0
    layer = OrthogonalProjection()
    xt, bt = tf.constant(x), tf.constant(basis)
    with tf.GradientTape() as tape:
        tape.watch([xt, bt])
        out = layer(xt, bt)
        total = keras.ops.sum(out * testing._random_projection(x.shape))
    grads = tape.gradient(total, [xt, bt])
    np.testing.assert_array_equal(testing.to_numpy(out)[1], x[1])
    np.testing.assert_allclose(
        testing.to_numpy(out), _numpy_orthogonal(x, basis), rtol=1e-5, atol=1e-5
    )
    for grad in grads:
        assert np.all(np.isfinite(testing.to_numpy(grad)))
    # The gradient reaches both the input and the (non-zero) bases.
    assert np.abs(testing.to_numpy(grads[1])[0]).max() > 1e-3


def test_gradients_match_numpy_finite_differences():
    """d sum(out * r) / d(x, basis) against central differences of the NumPy
    Eq. (6)-(7) in float64 (the layer has no weights of its own)."""
    x, basis = _data((3, 4), seed=5)
    r = testing._random_projection(x.shape)
    xt, bt = tf.constant(x), tf.constant(basis)
    with tf.GradientTape() as tape:
        tape.watch([xt, bt])
        total = keras.ops.sum(OrthogonalProjection()(xt, bt) * r)
    grads = [testing.to_numpy(g) for g in tape.gradient(total, [xt, bt])]

    def objective(a, b):
        return float(np.sum(_numpy_orthogonal(a, b) * r))

    step = 1e-5
    for k, grad in enumerate(grads):
        expected = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            args = [x.astype(np.float64), basis.astype(np.float64)]
            plus, minus = [a.copy() for a in args], [a.copy() for a in args]
            plus[k][i] += step
            minus[k][i] -= step
            expected[i] = (objective(*plus) - objective(*minus)) / (2 * step)
        assert np.abs(expected).max() > 1e-2  # a gradient worth comparing
        np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=1e-4)


def test_bad_arguments_and_inputs_raise():
    x, basis = _data()
    with pytest.raises(ValueError, match="epsilon"):
        OrthogonalProjection(epsilon=0.0)
    with pytest.raises(ValueError, match="same shape"):
        OrthogonalProjection()(x, basis[:, :3])
