"""Tests of `MultiHopMemoryRead` against HPMN's memory reading written in NumPy."""

import numpy as np
import pytest

from recsys_tf.layers import MultiHopMemoryRead
from tests import testing


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(batch=3, slots=4, units=5, query_dim=6, seed=1):
    rng = np.random.default_rng(seed)
    memory = rng.normal(size=(batch, slots, units)).astype(np.float32)
    query = rng.normal(size=(batch, query_dim)).astype(np.float32)
    return memory, query


def _numpy_read(layer, memory, query):
    q = query @ testing.to_numpy(layer.query_kernel) + testing.to_numpy(
        layer.query_bias
    )
    h = testing.to_numpy(layer.hop_kernel)
    weights = []
    for hidden, scorer in zip(layer.hidden, layer.scorers):
        qs = np.broadcast_to(q[:, None], memory.shape)
        features = np.concatenate([qs, memory, qs - memory, qs * memory], -1)
        params = testing.mlp_params(hidden)
        features = testing.numpy_dense_stack(features, params, ["relu"] * len(params))
        scores = (features @ testing.to_numpy(scorer.kernel))[..., 0]
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores = scores / scores.sum(-1, keepdims=True)
        q = q @ h + np.einsum("bj,bjd->bd", scores, memory)
        weights.append(scores)
    return q, np.stack(weights, 1)


def test_shapes_config_gradients_and_saving(tmp_path):
    memory, query = _inputs()
    testing.run_layer_test(
        MultiHopMemoryRead,
        dict(hops=2, hidden_units=(7, 3)),
        memory,
        (3, 5),
        call_kwargs=dict(query=query),
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("hops", [1, 3])
def test_matches_numpy(hops):
    memory, query = _inputs()
    layer = MultiHopMemoryRead(hops, hidden_units=(7, 3))
    layer(memory, query)
    layer.query_bias.assign(np.linspace(-1, 1, 5).astype(np.float32))
    expected, weights = _numpy_read(layer, memory, query)
    output, scores = layer(memory, query, return_attention_scores=True)
    np.testing.assert_allclose(testing.to_numpy(output), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(testing.to_numpy(scores), weights, rtol=1e-4, atol=1e-6)
    # Every hop's weights are a distribution over the slots.
    np.testing.assert_allclose(testing.to_numpy(scores).sum(-1), 1.0, rtol=1e-5)


def test_without_hidden_layers_the_score_is_linear():
    memory, query = _inputs()
    layer = MultiHopMemoryRead(1, hidden_units=())
    out, scores = layer(memory, query, return_attention_scores=True)
    q = query @ testing.to_numpy(layer.query_kernel)
    qs = np.broadcast_to(q[:, None], memory.shape)
    features = np.concatenate([qs, memory, qs - memory, qs * memory], -1)
    logits = (features @ testing.to_numpy(layer.scorers[0].kernel))[..., 0]
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(testing.to_numpy(scores)[:, 0], expected, rtol=1e-4)


def test_one_slot_is_read_whole():
    # With one slot every hop reads it with weight 1: q_{k+1} = q_k H + m.
    memory, query = _inputs(slots=1)
    layer = MultiHopMemoryRead(2, hidden_units=(4,))
    out = testing.to_numpy(layer(memory, query))
    q = query @ testing.to_numpy(layer.query_kernel)
    h = testing.to_numpy(layer.hop_kernel)
    for _ in range(2):
        q = q @ h + memory[:, 0]
    np.testing.assert_allclose(out, q, rtol=1e-4, atol=1e-5)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="hops"):
        MultiHopMemoryRead(0)
    with pytest.raises(ValueError, match="hidden_units"):
        MultiHopMemoryRead(2, hidden_units=(0,))
    memory, query = _inputs()
    with pytest.raises(ValueError, match="query"):
        MultiHopMemoryRead(2)(memory, query[:, None])
