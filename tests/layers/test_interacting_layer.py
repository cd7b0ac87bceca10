"""Tests of `InteractingLayer` against AutoInt Eq. (5)-(8) written in NumPy loops."""

import keras
import numpy as np
import pytest

from recsys_tf.layers import InteractingLayer
from tests import testing


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(shape=(3, 4, 5), seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _numpy_interacting(layer, e):
    """Eq. (5)-(8) field by field and head by head; returns (output, alpha)."""
    e = np.asarray(e, np.float64)
    wq, wk, wv = (
        testing.to_numpy(w).astype(np.float64)
        for w in (layer.query_kernel, layer.key_kernel, layer.value_kernel)
    )
    batch, fields, _ = e.shape
    heads = layer.num_heads
    out = np.zeros((batch, fields, heads * layer.head_dim))
    alpha = np.zeros((batch, heads, fields, fields))
    for b in range(batch):
        for m in range(fields):
            per_head = []
            for h in range(heads):
                psi = np.array(
                    [(e[b, m] @ wq[:, h]) @ (e[b, k] @ wk[:, h]) for k in range(fields)]
                )  # Eq. (6)
                a = np.exp(psi - psi.max())
                a /= a.sum()  # Eq. (5)
                alpha[b, h, m] = a
                per_head.append(sum(a[k] * (e[b, k] @ wv[:, h]) for k in range(fields)))
            tilde = np.concatenate(per_head)  # Eq. (7)
            if layer.use_residual:
                tilde = tilde + e[b, m] @ testing.to_numpy(layer.residual_kernel)
            out[b, m] = np.maximum(tilde, 0.0)  # Eq. (8)
    return out, alpha


@pytest.mark.parametrize(
    "kwargs", [dict(num_heads=2, head_dim=3), dict(num_heads=1, head_dim=5)]
)
@pytest.mark.parametrize("use_residual", [True, False])
def test_shapes_config_gradients_and_saving(kwargs, use_residual, tmp_path):
    x = _inputs()
    width = kwargs["num_heads"] * kwargs["head_dim"]
    testing.run_layer_test(
        InteractingLayer,
        dict(use_residual=use_residual, **kwargs),
        x,
        (3, 4, width),
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("use_residual", [True, False])
def test_matches_numpy_equations(use_residual):
    x = _inputs()
    layer = InteractingLayer(num_heads=2, head_dim=3, use_residual=use_residual)
    out, alpha = layer(x, return_attention_scores=True)
    expected, expected_alpha = _numpy_interacting(layer, x)
    np.testing.assert_allclose(testing.to_numpy(out), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(testing.to_numpy(alpha), expected_alpha, atol=1e-5)
    np.testing.assert_allclose(testing.to_numpy(alpha).sum(-1), 1.0, rtol=1e-5)
    # The ReLU of Eq. (8) really clips, and the heads attend unevenly.
    assert (testing.to_numpy(out) == 0).any() and (testing.to_numpy(out) > 0).any()
    assert np.ptp(testing.to_numpy(alpha)) > 0.05
    assert {w.name for w in layer.trainable_weights} == {
        "query_kernel",
        "key_kernel",
        "value_kernel",
    } | ({"residual_kernel"} if use_residual else set())


def test_permuting_fields_permutes_the_output():
    """Self-attention over fields has no field order: it is permutation equivariant."""
    x = _inputs()
    layer = InteractingLayer(num_heads=2, head_dim=3)
    perm = np.array([2, 0, 3, 1])
    np.testing.assert_allclose(
        testing.to_numpy(layer(x[:, perm])),
        testing.to_numpy(layer(x))[:, perm],
        rtol=1e-5,
        atol=1e-6,
    )


def test_differs_from_keras_multi_head_attention():
    """keras.layers.MultiHeadAttention with the same (bias-free) projections attends
    with softmax(psi / sqrt(d')), where AutoInt Eq. (5) has softmax(psi)."""
    x = _inputs()
    layer = InteractingLayer(num_heads=2, head_dim=3, use_residual=False)
    layer(x)
    mha = keras.layers.MultiHeadAttention(2, 3, use_bias=False)
    mha(x, x)
    output_kernel = np.random.default_rng(0).normal(size=(2, 3, 5))
    mha.set_weights(
        [
            testing.to_numpy(layer.query_kernel),
            testing.to_numpy(layer.key_kernel),
            testing.to_numpy(layer.value_kernel),
            output_kernel.astype(np.float32),  # W_O: AutoInt has none
        ]
    )
    _, ours = layer(x, return_attention_scores=True)
    _, theirs = mha(x, x, return_attention_scores=True)
    q = np.einsum("bmd,dhk->bhmk", x, testing.to_numpy(layer.query_kernel))
    k = np.einsum("bmd,dhk->bhmk", x, testing.to_numpy(layer.key_kernel))
    psi = np.einsum("bhmk,bhnk->bhmn", q, k)

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    np.testing.assert_allclose(testing.to_numpy(ours), softmax(psi), atol=1e-5)
    np.testing.assert_allclose(
        testing.to_numpy(theirs), softmax(psi / np.sqrt(3)), atol=1e-5
    )
    assert not np.allclose(testing.to_numpy(ours), testing.to_numpy(theirs), atol=1e-3)


def test_bad_arguments_and_inputs_raise():
    with pytest.raises(ValueError, match="num_heads"):
        InteractingLayer(num_heads=0)
    with pytest.raises(ValueError, match="head_dim"):
        InteractingLayer(head_dim=0)
    with pytest.raises(ValueError, match="num_fields"):
        InteractingLayer()(np.ones((2, 3), np.float32))
