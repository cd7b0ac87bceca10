"""Tests of `DSIN`: session self-attention, Bi-LSTM, target attention over both."""

import numpy as np
import pytest

from recsys_tf.models import DSIN, MODELS, CTRModel
from tests import testing

VOCAB = {"user_id": 4, "item_id": 32, "category": 5}
FIELDS = tuple(VOCAB)
ITEM_FEATURES = ("item_id", "category")
SESSIONS = (3, 3)  # K sessions of T items


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=32, seed=1):
    x, y = testing.sequence_ctr_batch(VOCAB, sequence_types=(), n=n, seed=seed)
    return testing.add_sessions(x, VOCAB, *SESSIONS, seed=seed), y


def _model(**kwargs):
    kwargs.setdefault("embedding_dim", 4)
    kwargs.setdefault("hidden_units", (8,))
    return DSIN(
        FIELDS,
        [VOCAB[f] for f in FIELDS],
        item_features=ITEM_FEATURES,
        **kwargs,
    )


def _randomise(model, x):
    """Unit-scale embedding rows and bias encodings (they start at zero)."""
    model(x)
    rng = np.random.default_rng(3)
    weights = [model.embedding.embeddings]
    if model.bias_encoding:
        weights += model.bias.trainable_weights
    for w in weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))


def test_is_registered():
    assert MODELS["dsin"] is DSIN
    assert issubclass(DSIN, CTRModel)


def test_batch_has_users_without_sessions_and_padded_sessions():
    x, _ = _batch()
    sessions = x["session_mask"].any(axis=2)
    assert (~sessions.any(axis=1)).any()  # no session at all
    assert (sessions.any(axis=1) & ~sessions.all(axis=1)).any()


@pytest.mark.parametrize("bias_encoding", [True, False])
def test_forward_shape_and_sizes(bias_encoding):
    x, _ = _batch()
    model = _model(bias_encoding=bias_encoding, lstm_units=5)
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,) and np.all(np.isfinite(logits))
    # Fields 3 x 4, U^I of d_model = 8, U^H of 2 x 5 (both LSTM directions).
    assert model.mlp.dense_layers[0].kernel.shape == (3 * 4 + 8 + 10, 8)
    assert hasattr(model, "bias") == bias_encoding
    if bias_encoding:
        assert [w.shape for w in model.bias.trainable_weights] == [(3,), (3,), (8,)]


def test_interests_are_session_averages_and_read_by_target_attention():
    x, _ = _batch()
    model = _model()
    _randomise(model, x)
    sessions, mask = model.embed_sessions(x)
    encoded = testing.to_numpy(model.bias(sessions)).reshape(-1, 3, 8)
    flat_mask = testing.to_numpy(mask).reshape(-1, 3)
    extracted = testing.to_numpy(model.extractor(encoded, mask=flat_mask))
    counts = np.maximum(flat_mask.sum(1, keepdims=True), 1)
    interests = (extracted.sum(1) / counts).reshape(32, 3, 8)  # I_k = Avg(I_k^Q)
    session_mask = testing.to_numpy(mask).any(axis=2)
    target = model.embed_target(x)
    u_i = testing.to_numpy(
        model.interest_attention(interests, query=target, mask=session_mask)
    )
    w = testing.to_numpy(model.interest_attention.kernel)
    scores = np.einsum("bkd,de,be->bk", interests, w, testing.to_numpy(target))
    a = np.where(session_mask, np.exp(scores - scores.max(1, keepdims=True)), 0)
    a = a / np.maximum(a.sum(1, keepdims=True), 1e-30)
    np.testing.assert_allclose(
        u_i, np.einsum("bk,bkd->bd", a, interests), rtol=1e-4, atol=1e-5
    )


def _numpy_lstm(layer, x, valid):
    """Keras' LSTM (gates i, f, c, o; sigmoid and tanh) over the valid steps of
    `x` `[K, d]` in order, a masked step leaving the state as it is: `[K, u]`."""
    cell = layer.cell
    kernel = testing.to_numpy(cell.kernel).astype(np.float64)
    recurrent = testing.to_numpy(cell.recurrent_kernel).astype(np.float64)
    bias = testing.to_numpy(cell.bias).astype(np.float64)
    units = recurrent.shape[0]
    h, c = np.zeros(units), np.zeros(units)
    out = np.zeros((len(x), units))
    for k in range(len(x)):
        if valid[k]:
            z = x[k] @ kernel + h @ recurrent + bias
            i, f = 1 / (1 + np.exp(-z[:units])), 1 / (1 + np.exp(-z[units : 2 * units]))
            o = 1 / (1 + np.exp(-z[3 * units :]))
            c = f * c + i * np.tanh(z[2 * units : 3 * units])
            h = o * np.tanh(c)
        out[k] = h
    return out


def _numpy_target_attention(layer, keys, query, valid):
    w = testing.to_numpy(layer.kernel).astype(np.float64)
    if not valid.any():
        return np.zeros(keys.shape[-1])
    s = keys[valid] @ w @ query
    a = np.exp(s - s.max())
    return (a / a.sum()) @ keys[valid]


def test_logit_matches_an_independent_numpy_forward():
    """DSIN end to end from the weights: bias encoding, the session Transformer
    and its average (I_k), the Bi-LSTM over the sessions (H_k), the target's
    attention over both, the MLP over [fields; U^I; U^H]."""
    from tests.layers.test_transformer_block import _numpy_block

    x, _ = _batch()
    model = _model(lstm_units=5)
    _randomise(model, x)
    table = testing.to_numpy(model.embedding.embeddings).astype(np.float64)
    offsets = {"user_id": 0, "item_id": 4, "category": 36}

    def items(prefix):
        return np.concatenate(
            [table[np.asarray(x[prefix + f]) + offsets[f]] for f in ITEM_FEATURES],
            axis=-1,
        )

    k_bias, t_bias, c_bias = (
        testing.to_numpy(w).astype(np.float64) for w in model.bias.trainable_weights
    )
    sessions = items("session_") + (
        k_bias[:, None, None] + t_bias[None, :, None] + c_bias[None, None, :]
    )
    mask = np.asarray(x["session_mask"], bool)
    flat, _ = _numpy_block(
        model.extractor, sessions.reshape(-1, 3, 8), mask=mask.reshape(-1, 3)
    )
    counts = np.maximum(mask.reshape(-1, 3).sum(1, keepdims=True), 1)
    interests = (flat.sum(1) / counts).reshape(32, 3, 8)
    target = items("")
    forward, backward = (
        model.interacting.forward_layer,
        model.interacting.backward_layer,
    )
    fields = testing.numpy_field_lookup(table, x, FIELDS, model.vocabulary_sizes)
    features = []
    for b in range(32):
        valid = mask[b].any(axis=1)
        states = np.concatenate(
            [
                _numpy_lstm(forward, interests[b], valid),
                _numpy_lstm(backward, interests[b][::-1], valid[::-1])[::-1],
            ],
            axis=1,
        )
        u_i = _numpy_target_attention(
            model.interest_attention, interests[b], target[b], valid
        )
        u_h = _numpy_target_attention(model.state_attention, states, target[b], valid)
        features.append(np.concatenate([fields[b].reshape(-1), u_i, u_h]))
    expected = testing.numpy_dense_stack(
        np.array(features), testing.mlp_params(model.mlp), ["relu", None]
    )[:, 0]
    assert (~mask.any(axis=(1, 2))).any()  # users without any session too
    np.testing.assert_allclose(
        testing.to_numpy(model(x)), expected, rtol=1e-4, atol=1e-5
    )


def test_session_order_matters_through_the_lstm_and_bias_encoding():
    x, _ = _batch()
    model = _model()
    _randomise(model, x)
    # Swap the two most recent sessions of the users who have both.
    both = x["session_mask"].any(axis=2)[:, 1:].all(axis=1)
    assert both.any()
    swapped = dict(x)
    for key in ("session_item_id", "session_category", "session_mask"):
        swapped[key] = x[key][:, [0, 2, 1]]
    diff = np.abs(testing.to_numpy(model(swapped)) - testing.to_numpy(model(x)))
    assert diff[both].max() > 1e-4


def test_from_task_reads_the_sessions_of_the_click_history():
    task = testing.FakeSequenceCTRTask(VOCAB)
    model = DSIN.from_task(task, embedding_dim=2)
    assert model.item_features == task.item_features and model.fields == FIELDS
    assert model.sequence_types == ("click",)
    inputs = model.input_fields()
    assert inputs["session_item_id"] == 32 and inputs["session_mask"] is None
    assert not [name for name in inputs if name.startswith("click_")]
    no_click = testing.FakeSequenceCTRTask(VOCAB, sequence_types=("like",))
    with pytest.raises(ValueError, match=r"\['click'\].*dataset 'fake'"):
        DSIN.from_task(no_click)
    with pytest.raises(ValueError, match="sessions of the click history"):
        _model(sequence_types=("click", "unclick"))
