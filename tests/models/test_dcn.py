"""Tests of `DCN` (cross network v1 and keras-rs DCN-v2 cross layers)."""

import numpy as np
import pytest

from recsys_tf.models import DCN, MODELS, CTRModel
from tests import testing

VOCAB = {"user_id": 4, "item_id": 32}
FIELDS = tuple(VOCAB)
EMBEDDING_DIM = 3
HIDDEN = (8, 4)
VARIANTS = [dict(), dict(cross="v2"), dict(cross="v2", projection_dim=2)]


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=32, seed=1):
    x, y = testing.memorisable_ctr_batch(
        "user_id", "item_id", VOCAB["user_id"], VOCAB["item_id"], n, seed
    )
    return {f: x[f] for f in FIELDS}, y


def _model(**kwargs):
    kwargs.setdefault("embedding_dim", EMBEDDING_DIM)
    kwargs.setdefault("hidden_units", HIDDEN)
    kwargs.setdefault("num_cross_layers", 2)
    return DCN(FIELDS, [VOCAB[f] for f in FIELDS], **kwargs)


def _randomise_biases(model, x, seed=2):
    """Cross biases start at zero; random ones make a dropped bias visible."""
    model(x)
    rng = np.random.default_rng(seed)
    for v in model.trainable_variables:
        if "bias" in v.path and "cross" in v.path:
            v.assign(rng.normal(0, 0.3, v.shape).astype(np.float32))


def _numpy_logits(model, x):
    table = testing.to_numpy(model.embedding.embeddings)
    offsets = np.cumsum((0,) + model.vocabulary_sizes[:-1])
    x0 = np.concatenate(
        [table[x[f] + o] for f, o in zip(model.fields, offsets)], axis=1
    ).astype(np.float64)
    xl = x0
    if model.cross == "v1":
        for w, b in zip(model.cross_network.kernels, model.cross_network.biases):
            outer = np.einsum("bi,bj->bij", x0, xl)  # x_0 x_l^T, Eq. (3)
            xl = outer @ testing.to_numpy(w)[:, 0] + testing.to_numpy(b) + xl
    else:
        for layer in model.cross_layers:
            h = xl
            if model.projection_dim is not None:
                h = h @ testing.to_numpy(layer.down_proj_dense.kernel)
            h = h @ testing.to_numpy(layer.dense.kernel) + testing.to_numpy(
                layer.dense.bias
            )
            xl = x0 * h + xl  # DCN-v2 Eq. (1)
    deep = testing.numpy_dense_stack(
        x0, testing.mlp_params(model.mlp), ["relu"] * len(model.hidden_units)
    )
    joined = np.concatenate([xl, deep], axis=1)
    kernel, bias = (
        testing.to_numpy(model.logit.kernel),
        testing.to_numpy(model.logit.bias),
    )
    return (joined @ kernel + bias)[:, 0]


def test_is_registered():
    assert MODELS["dcn"] is DCN
    assert issubclass(DCN, CTRModel)


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_shape_and_numpy_logit(variant):
    x, _ = _batch()
    model = _model(**variant)
    _randomise_biases(model, x)
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,)
    np.testing.assert_allclose(logits, _numpy_logits(model, x), rtol=1e-4, atol=1e-4)


def test_cross_switch_builds_the_right_weights():
    x, _ = _batch()
    d = len(FIELDS) * EMBEDDING_DIM
    shapes = {}
    for key, variant in zip(("v1", "v2", "low_rank"), VARIANTS):
        model = _model(**variant)
        model(x)
        shapes[key] = {
            v.path.split("/", 1)[1]: tuple(v.shape)
            for v in model.trainable_variables
            if "cross" in v.path
        }
    # v1: a vector w_l and b_l per layer (Eq. (3)); v2: a [d, d] matrix per layer;
    # low rank: U [d, r] and V [r, d].
    assert sorted(shapes["v1"].values()) == [(d,)] * 2 + [(d, 1)] * 2
    assert sorted(shapes["v2"].values()) == [(d,)] * 2 + [(d, d)] * 2
    assert sorted(shapes["low_rank"].values()) == (
        [(2, d)] * 2 + [(d,)] * 2 + [(d, 2)] * 2
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="cross"):
        _model(cross="v3")
    with pytest.raises(ValueError, match="projection_dim"):
        _model(projection_dim=2)
    with pytest.raises(ValueError, match="projection_dim"):
        _model(cross="v2", projection_dim=0)
    with pytest.raises(ValueError, match="num_cross_layers"):
        _model(num_cross_layers=0)
    with pytest.raises(ValueError, match="differ in length"):
        DCN(("a", "b"), (3,))
    with pytest.raises(ValueError):
        _model(hidden_units=(8, 0))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variable_gets_a_gradient_and_one_train_step(variant):
    x, y = _batch()
    model = _model(l2=1e-3, **variant)
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
    _randomise_biases(model, x)
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    assert (reloaded.cross, reloaded.projection_dim) == (
        model.cross,
        model.projection_dim,
    )


def test_loss_adds_l2_of_embedding_rows_and_deep_kernels():
    x, y = _batch(n=8)
    model = _model(l2=0.01)
    y_pred = model(x)
    loss = float(testing.to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred)))
    bce = testing.numpy_bce_with_logits(y, testing.to_numpy(y_pred)).mean()
    table = testing.to_numpy(model.embedding.embeddings)
    rows = np.concatenate([table[x["user_id"]], table[x["item_id"] + 4]])
    kernels = sum(np.sum(k**2) for k, _ in testing.mlp_params(model.mlp))
    penalty = 0.01 * (np.sum(rows**2) / 8 + kernels)
    np.testing.assert_allclose(loss, bce + penalty, rtol=1e-5)
    assert penalty > 1e-3


def test_from_task_takes_every_field_but_the_crosses_by_default():
    # The cross network learns the crosses; a hashed cross field is left out, as
    # every embedding model of the suite does (`sparse_fields`).
    task = testing.FakeCTRTask({"user_id": 4, "item_id": 32, "user_id_x_item_id": 128})
    model = DCN.from_task(task, embedding_dim=2, hidden_units=(4,))
    assert model.fields == ("user_id", "item_id")
    assert model.vocabulary_sizes == (4, 32)
    model = DCN.from_task(task, fields=("item_id",), cross="v2")
    assert (model.fields, model.vocabulary_sizes, model.cross) == (
        ("item_id",),
        (32,),
        "v2",
    )
