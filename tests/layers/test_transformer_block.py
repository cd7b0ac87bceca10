"""Tests of `TransformerBlock` against Vaswani et al. (2017) Eq. (1)-(2) in NumPy."""

import numpy as np
import pytest

from recsys_tf.layers import TransformerBlock
from tests import testing

BATCH, SEQ_LEN, DIM = 3, 5, 6


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _data(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, SEQ_LEN, DIM)).astype(np.float32)
    mask = np.array(
        [
            [True] * SEQ_LEN,
            [False, False, True, True, True],  # left-padded
            [False, True, False, True, False],  # scattered
        ]
    )
    return x, mask


def _w(layer):
    return testing.to_numpy(layer).astype(np.float64)


def _numpy_layer_norm(x, norm):
    if norm is None:  # layer_norm=False
        return x
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + norm.epsilon) * _w(norm.gamma) + _w(norm.beta)


def _numpy_block(
    block, x, context=None, mask=None, context_mask=None, causal=False, gelu=False
):
    """The layer position by position, head by head (post-norm, Sec. 3.1); with
    `causal` query i reads keys j <= i only, `gelu` the FFN's erf GELU (BERT)."""
    x = np.asarray(x, np.float64)
    if context is None:
        context, context_mask = x, mask
    context = np.asarray(context, np.float64)
    mha = block.attention
    wq, wk = _w(mha.query_dense.kernel), _w(mha.key_dense.kernel)
    wv, wo = _w(mha.value_dense.kernel), _w(mha.output_dense.kernel)
    heads, head_dim = wq.shape[1], wq.shape[2]
    bq, bv = np.zeros((heads, head_dim)), np.zeros((heads, head_dim))
    bo = np.zeros(x.shape[-1])
    if block.use_bias:
        bq, bv, bo = _w(block.query_bias), _w(block.value_bias), _w(block.output_bias)
    out = np.zeros_like(x)
    scores = np.zeros((x.shape[0], heads, x.shape[1], context.shape[1]))
    for b in range(x.shape[0]):
        valid = (
            np.ones(context.shape[1], bool)
            if context_mask is None
            else np.asarray(context_mask[b], bool)
        )
        for i in range(x.shape[1]):
            seen = valid & (np.arange(len(valid)) <= i) if causal else valid
            attended = bo.copy()
            for h in range(heads):
                q = x[b, i] @ wq[:, h] + bq[h]
                if seen.any():
                    logits = np.array(
                        [q @ (context[b, j] @ wk[:, h]) for j in range(len(seen))]
                    ) / np.sqrt(head_dim)  # Eq. (1)
                    a = np.where(seen, np.exp(logits - logits[seen].max()), 0.0)
                    a /= a.sum()
                else:
                    a = np.zeros(len(seen))
                scores[b, h, i] = a
                value = sum(
                    a[j] * (context[b, j] @ wv[:, h] + bv[h]) for j in range(len(a))
                )
                attended = attended + value @ wo[h]  # Concat(heads) W^O
            z = _numpy_layer_norm(x[b, i] + attended, block.attention_norm)
            inner = z @ _w(block.ffn_inner.kernel) + _w(block.ffn_inner.bias)
            inner = testing.numpy_activation("gelu" if gelu else "relu", inner)
            ffn = inner @ _w(block.ffn_outer.kernel) + _w(
                block.ffn_outer.bias
            )  # Eq. (2)
            y = _numpy_layer_norm(z + ffn, block.ffn_norm)
            if mask is not None and not mask[b, i]:
                y = np.zeros_like(y)
            out[b, i] = y
    return out, scores


@pytest.mark.parametrize(
    "kwargs", [dict(num_heads=2), dict(num_heads=3, head_dim=4, ffn_units=5)]
)
def test_shapes_config_gradients_and_saving(kwargs, tmp_path):
    x, mask = _data()
    testing.run_layer_test(
        TransformerBlock,
        kwargs,
        x,
        (BATCH, SEQ_LEN, DIM),
        call_kwargs={"mask": mask},
        save_dir=tmp_path,
    )


def test_cross_attention_shapes_config_and_gradients():
    x, mask = _data()
    context = np.random.default_rng(2).normal(size=(BATCH, 4, DIM)).astype(np.float32)
    context_mask = np.array([[True] * 4, [False, False, True, True], [False] * 4])
    testing.run_layer_test(
        TransformerBlock,
        dict(num_heads=2),
        x[:, :1],
        (BATCH, 1, DIM),
        call_kwargs={"context": context, "context_mask": context_mask},
    )


def test_self_attention_matches_numpy():
    x, mask = _data()
    block = TransformerBlock(num_heads=2, ffn_units=7)
    out, scores = block(x, mask=mask, return_attention_scores=True)
    # Non-trivial LayerNorm parameters, so that they are checked too.
    rng = np.random.default_rng(5)
    for norm in (block.attention_norm, block.ffn_norm):
        norm.gamma.assign(rng.normal(1.0, 0.3, DIM).astype(np.float32))
        norm.beta.assign(rng.normal(0.0, 0.3, DIM).astype(np.float32))
    out, scores = block(x, mask=mask, return_attention_scores=True)
    expected, expected_scores = _numpy_block(block, x, mask=mask)
    np.testing.assert_allclose(testing.to_numpy(out), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        testing.to_numpy(scores), expected_scores, rtol=1e-4, atol=1e-6
    )
    assert block.ffn_inner.units == 7
    assert testing.to_numpy(out)[~mask].max() == 0.0


def test_without_layer_norm_matches_numpy_and_keeps_the_input_scale(tmp_path):
    x, mask = _data()
    small = 0.05 * x
    block = TransformerBlock(num_heads=2, ffn_units=7, layer_norm=False)
    out = block(small, mask=mask)
    assert block.attention_norm is None and block.ffn_norm is None
    expected, _ = _numpy_block(block, small, mask=mask)
    np.testing.assert_allclose(testing.to_numpy(out), expected, rtol=1e-4, atol=1e-6)
    # Unnormalised: outputs at the inputs' scale, not at unit scale.
    assert np.abs(testing.to_numpy(out)).max() < 1.0
    testing.run_layer_test(
        TransformerBlock,
        dict(num_heads=2, layer_norm=False),
        x,
        (BATCH, SEQ_LEN, DIM),
        call_kwargs={"mask": mask},
        save_dir=tmp_path,
    )


def test_cross_attention_matches_numpy_and_empty_context_gives_no_attention():
    x, _ = _data()
    query = x[:, :1]
    context = np.random.default_rng(2).normal(size=(BATCH, 4, DIM)).astype(np.float32)
    context_mask = np.array([[True] * 4, [False, False, True, True], [False] * 4])
    block = TransformerBlock(num_heads=2)
    out, scores = block(
        query, context=context, context_mask=context_mask, return_attention_scores=True
    )
    expected, expected_scores = _numpy_block(
        block, query, context=context, context_mask=context_mask
    )
    np.testing.assert_allclose(testing.to_numpy(out), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(testing.to_numpy(scores), expected_scores, atol=1e-6)
    assert testing.to_numpy(scores)[2].max() == 0.0  # nothing to attend to
    assert block.ffn_inner.units == 4 * DIM  # the default FFN size


@pytest.mark.parametrize("cross", [False, True])
def test_padded_codes_do_not_change_the_output(cross):
    x, mask = _data()
    block = TransformerBlock(num_heads=2)
    noise = np.random.default_rng(9).normal(size=x.shape).astype(np.float32) * 10
    changed = np.where(mask[..., None], x, noise)
    if cross:
        query = x[:, :2]
        a = block(query, context=x, context_mask=mask)
        b = block(query, context=changed, context_mask=mask)
    else:
        a, b = block(x, mask=mask), block(changed, mask=mask)
    np.testing.assert_allclose(testing.to_numpy(a), testing.to_numpy(b), atol=1e-5)
    # ... while a valid position's codes do change it.
    changed[1, 3] += 1.0
    c = (
        block(x[:, :2], context=changed, context_mask=mask)
        if cross
        else block(changed, mask=mask)
    )
    assert np.abs(testing.to_numpy(c)[1] - testing.to_numpy(a)[1]).max() > 1e-3


# BERT's layer as S3-Rec's SASRec uses it (its modules.py `Layer`).
BERT = dict(
    num_heads=2,
    causal=True,
    activation="gelu",
    use_bias=True,
    epsilon=1e-12,
    kernel_initializer={"class_name": "RandomNormal", "config": {"stddev": 0.02}},
)


def _bert_block(**kwargs):
    """A BERT-configured block whose biases and LayerNorms are not at their
    initial values (zeros, ones), so that the reference checks them too."""
    x, mask = _data()
    block = TransformerBlock(**{**BERT, **kwargs})
    block(x, mask=mask)
    rng = np.random.default_rng(5)
    for weight in block.weights:
        if "kernel" not in weight.path:
            shift = 1.0 if "gamma" in weight.path else 0.0
            weight.assign(rng.normal(shift, 0.3, weight.shape).astype(np.float32))
        else:  # larger than 0.02: attention weights far from uniform
            weight.assign(rng.normal(0.0, 0.5, weight.shape).astype(np.float32))
    return block


def test_bert_layer_shapes_config_gradients_and_saving(tmp_path):
    x, mask = _data()
    testing.run_layer_test(
        TransformerBlock,
        dict(BERT, dropout=0.1),
        x,
        (BATCH, SEQ_LEN, DIM),
        call_kwargs={"mask": mask},
        save_dir=tmp_path,
    )


def test_bert_layer_matches_numpy():
    x, mask = _data()
    block = _bert_block()
    out, scores = block(x, mask=mask, return_attention_scores=True)
    expected, expected_scores = _numpy_block(
        block, x, mask=mask, causal=True, gelu=True
    )
    np.testing.assert_allclose(testing.to_numpy(out), expected, rtol=1e-4, atol=1e-5)
    real = mask[:, None, :, None] & mask[:, None, None, :]  # padded queries: any
    np.testing.assert_allclose(
        testing.to_numpy(scores) * real, expected_scores * real, rtol=1e-4, atol=1e-6
    )
    # No look-ahead: every real query's weights after it are 0.
    ahead = np.triu(np.ones((SEQ_LEN, SEQ_LEN), bool), 1)
    assert (testing.to_numpy(scores) * real)[..., ahead].max() == 0.0
    assert testing.to_numpy(out)[~mask].max() == 0.0
    # Exact GELU, not the tanh approximation, and 4 d inner units.
    z = np.array([-2.5, -0.7, 1.5, 3.0], np.float32)
    exact = testing.numpy_activation("gelu", z.astype(np.float64))
    np.testing.assert_allclose(testing.to_numpy(block.activation(z)), exact, atol=1e-6)
    tanh_form = 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))
    assert np.abs(tanh_form - exact).max() > 1e-4
    assert block.ffn_inner.units == 4 * DIM
    assert block.query_bias.shape == (2, DIM // 2) and block.output_bias.shape == (DIM,)


def test_bert_initialisation_is_normal_002_with_zero_biases():
    block = TransformerBlock(**BERT, ffn_units=64)
    block(np.zeros((1, 4, 32), np.float32))
    for weight in block.weights:
        values = testing.to_numpy(weight)
        if "kernel" in weight.path:
            assert abs(values.std() - 0.02) < 0.004, weight.path
        elif "gamma" in weight.path:
            assert (values == 1).all(), weight.path
        else:
            assert (values == 0).all(), weight.path
    # Each projection draws its own values from the one initializer.
    mha = block.attention
    assert not np.allclose(
        testing.to_numpy(mha.query_dense.kernel), testing.to_numpy(mha.key_dense.kernel)
    )


def test_causal_a_later_position_never_changes_an_earlier_output():
    x, mask = _data()
    block = _bert_block()
    before = testing.to_numpy(block(x, mask=mask))
    for t in range(SEQ_LEN):
        changed = x.copy()
        changed[:, t] += np.random.default_rng(t).normal(size=(BATCH, DIM))
        after = testing.to_numpy(block(changed, mask=mask))
        np.testing.assert_allclose(after[:, :t], before[:, :t], rtol=1e-6, atol=1e-6)
        assert not np.allclose(after[mask[:, t], t], before[mask[:, t], t])
    # Without `causal`, an earlier position reads the later ones.
    full = _bert_block(causal=False)
    changed = x.copy()
    changed[:, -1] += 1.0
    assert not np.allclose(
        testing.to_numpy(full(changed, mask=mask))[0, 0],
        testing.to_numpy(full(x, mask=mask))[0, 0],
    )


def test_causal_padding_values_and_width_do_not_change_real_positions():
    x, mask = _data()
    block = _bert_block()
    output = testing.to_numpy(block(x, mask=mask))
    noisy = np.where(mask[..., None], x, 7.0).astype(np.float32)
    np.testing.assert_allclose(
        testing.to_numpy(block(noisy, mask=mask)), output, rtol=1e-6, atol=1e-6
    )
    wider = np.concatenate([np.full((BATCH, 2, DIM), 3.0, np.float32), x], axis=1)
    wider_mask = np.concatenate([np.zeros((BATCH, 2), bool), mask], axis=1)
    np.testing.assert_allclose(
        testing.to_numpy(block(wider, mask=wider_mask))[:, 2:],
        output,
        rtol=1e-5,
        atol=1e-6,
    )


def test_default_block_has_no_attention_biases():
    block = TransformerBlock(num_heads=2)
    block(np.zeros((1, 3, DIM), np.float32))
    assert block.query_bias is None and not block.causal
    assert not [w for w in block.weights if "bias" in w.path and "ffn" not in w.path]


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_heads"):
        TransformerBlock(num_heads=0)
    with pytest.raises(ValueError, match="head_dim"):
        TransformerBlock(head_dim=0)
    with pytest.raises(ValueError, match="ffn_units"):
        TransformerBlock(ffn_units=0)
    with pytest.raises(ValueError, match="dropout"):
        TransformerBlock(dropout=1.0)
    with pytest.raises(ValueError, match="seq_len, d"):
        TransformerBlock()(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="num_heads"):
        TransformerBlock(num_heads=8)(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="activation"):
        TransformerBlock(activation="no_such_activation")
