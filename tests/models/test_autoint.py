"""Tests of `AutoInt` (and AutoInt+ with `deep=True`)."""

import numpy as np
import pytest

from recsys_tf.models import MODELS, AutoInt, CTRModel
from tests import testing

VOCAB = {"user_id": 4, "item_id": 32, "category": 5}
FIELDS = tuple(VOCAB)
EMBEDDING_DIM = 4
VARIANTS = [dict(), dict(deep=True), dict(use_residual=False)]


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=32, seed=1):
    x, y = testing.memorisable_ctr_batch(
        "user_id", "item_id", VOCAB["user_id"], VOCAB["item_id"], n, seed
    )
    x = {"user_id": x["user_id"], "item_id": x["item_id"]}
    x["category"] = x["item_id"] % VOCAB["category"]
    return x, y


def _model(**kwargs):
    kwargs.setdefault("embedding_dim", EMBEDDING_DIM)
    kwargs.setdefault("num_layers", 2)
    kwargs.setdefault("num_heads", 2)
    kwargs.setdefault("head_dim", 3)
    kwargs.setdefault("hidden_units", (8, 4))
    return AutoInt(FIELDS, [VOCAB[f] for f in FIELDS], **kwargs)


def _numpy_interacting(layer, e):
    """AutoInt Eq. (5)-(8) in NumPy, all fields and heads at once."""
    wq, wk, wv = (
        testing.to_numpy(w).astype(np.float64)
        for w in (layer.query_kernel, layer.key_kernel, layer.value_kernel)
    )
    q, k, v = (np.einsum("bmd,dhk->bhmk", e, w) for w in (wq, wk, wv))
    psi = np.einsum("bhmk,bhnk->bhmn", q, k)  # Eq. (6)
    alpha = np.exp(psi - psi.max(-1, keepdims=True))
    alpha /= alpha.sum(-1, keepdims=True)  # Eq. (5)
    heads = np.einsum("bhmn,bhnk->bmhk", alpha, v)
    tilde = heads.reshape(e.shape[0], e.shape[1], -1)  # Eq. (7)
    if layer.use_residual:
        tilde = tilde + e @ testing.to_numpy(layer.residual_kernel)
    return np.maximum(tilde, 0.0)  # Eq. (8)


def _numpy_logits(model, x):
    table = testing.to_numpy(model.embedding.embeddings).astype(np.float64)
    offsets = np.cumsum((0,) + model.vocabulary_sizes[:-1])
    e = np.stack([table[x[f] + o] for f, o in zip(model.fields, offsets)], axis=1)
    h = e
    for layer in model.interacting_layers:
        h = _numpy_interacting(layer, h)
    features = h.reshape(len(h), -1)
    if model.deep:
        deep = testing.numpy_dense_stack(
            e.reshape(len(e), -1),
            testing.mlp_params(model.mlp),
            ["relu"] * len(model.hidden_units),
        )
        features = np.concatenate([features, deep], axis=1)
    kernel, bias = (
        testing.to_numpy(model.logit.kernel),
        testing.to_numpy(model.logit.bias),
    )
    return (features @ kernel + bias)[:, 0]


def test_is_registered():
    assert MODELS["autoint"] is AutoInt
    assert issubclass(AutoInt, CTRModel)


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_shape_and_numpy_logit(variant):
    x, _ = _batch()
    model = _model(**variant)
    model(x)
    model.logit.bias.assign(np.array([0.3], np.float32))
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,)
    np.testing.assert_allclose(logits, _numpy_logits(model, x), rtol=1e-4, atol=1e-5)


def test_default_is_the_papers_autoint_and_deep_adds_a_dnn():
    x, _ = _batch()
    plain, plus = _model(), _model(deep=True)
    plain(x), plus(x)
    assert not plain.deep and not hasattr(plain, "mlp")
    names = {v.path.split("/", 1)[1] for v in plain.trainable_variables}
    extra = {v.path.split("/", 1)[1] for v in plus.trainable_variables} - names
    assert extra == {
        f"deep/dense_{i}/{w}" for i in range(2) for w in ("kernel", "bias")
    }
    # The logit sees F * H * d' attention features (+ the DNN's last layer).
    assert plain.logit.kernel.shape == (3 * 2 * 3, 1)
    assert plus.logit.kernel.shape == (3 * 2 * 3 + 4, 1)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_layers"):
        _model(num_layers=0)
    with pytest.raises(ValueError, match="num_heads"):
        _model(num_heads=0)
    with pytest.raises(ValueError, match="head_dim"):
        _model(head_dim=0)
    with pytest.raises(ValueError, match="differ in length"):
        AutoInt(("a", "b"), (3,))
    with pytest.raises(ValueError):
        _model(deep=True, hidden_units=(8, 0))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variable_gets_a_gradient_and_one_train_step(variant):
    x, y = _batch()
    model = _model(l2=1e-3, **variant)
    # With the default uniform(-0.05, 0.05) rows the attention is nearly uniform and
    # the query / key gradients are O(e^3), below the harness' 1e-6 floor: unit-scale
    # rows make them visible (they are not a dead branch).
    model(x)
    table = model.embedding.embeddings
    table.assign(np.random.default_rng(3).normal(size=table.shape).astype("float32"))
    testing.assert_model_gradients(model, x, y)
    testing.assert_one_train_step(model, x, y)


@pytest.mark.parametrize("variant", VARIANTS[:2])
def test_overfits_one_batch(variant):
    x, y = _batch()
    model = _model(**variant)
    loss = testing.fit_one_batch(model, x, y, steps=100, learning_rate=0.05)
    assert loss < 0.02
    accuracy = np.mean((testing.to_numpy(model(x)) > 0) == (y > 0.5))
    assert accuracy == 1.0


@pytest.mark.parametrize("variant", VARIANTS)
def test_save_reload_and_config_round_trip(variant, tmp_path):
    x, _ = _batch()
    model = _model(dropout=0.1, l2=1e-4, **variant)
    model(x)
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    assert (reloaded.deep, reloaded.use_residual) == (model.deep, model.use_residual)


def test_loss_adds_l2_of_embedding_rows_and_dnn_kernels():
    x, y = _batch(n=8)
    model = _model(l2=0.01, deep=True)
    y_pred = model(x)
    loss = float(testing.to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred)))
    bce = testing.numpy_bce_with_logits(y, testing.to_numpy(y_pred)).mean()
    table = testing.to_numpy(model.embedding.embeddings)
    rows = np.concatenate(
        [table[x["user_id"]], table[x["item_id"] + 4], table[x["category"] + 36]]
    )
    kernels = sum(np.sum(k**2) for k, _ in testing.mlp_params(model.mlp))
    penalty = 0.01 * (np.sum(rows**2) / 8 + kernels)
    np.testing.assert_allclose(loss, bce + penalty, rtol=1e-5)
    assert penalty > 1e-3


def test_from_task_takes_every_field_by_default():
    task = testing.FakeCTRTask(VOCAB)
    model = AutoInt.from_task(task, embedding_dim=2)
    assert (model.fields, model.vocabulary_sizes) == (FIELDS, (4, 32, 5))
    model = AutoInt.from_task(task, fields=("item_id",), deep=True)
    assert (model.fields, model.vocabulary_sizes, model.deep) == (
        ("item_id",),
        (32,),
        True,
    )
