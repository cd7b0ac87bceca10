"""Tests of `WideDeep`: a linear part over all fields plus an MLP over embeddings."""

import keras
import numpy as np
import pytest

from recsys_tf.models import MODELS, CTRModel, WideDeep
from recsys_tf.models.base import stack_fields
from tests import testing

VOCAB = {"user_id": 4, "item_id": 32, "user_id_x_item_id": 128}
DEEP = ("user_id", "item_id")
WIDE = tuple(VOCAB)
EMBEDDING_DIM = 3
HIDDEN = (8, 4)


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=32, seed=1):
    return testing.memorisable_ctr_batch(
        "user_id", "item_id", VOCAB["user_id"], VOCAB["item_id"], n, seed
    )


def _model(**kwargs):
    kwargs.setdefault("embedding_dim", EMBEDDING_DIM)
    kwargs.setdefault("hidden_units", HIDDEN)
    return WideDeep(
        DEEP, [VOCAB[f] for f in DEEP], WIDE, [VOCAB[f] for f in WIDE], **kwargs
    )


def _randomise_wide(model, x, seed=2):
    """The wide part is zero-initialised; random weights make its numbers visible."""
    model(x)
    if model.wide:
        rng = np.random.default_rng(seed)
        table = model.linear.embeddings
        table.assign(rng.normal(size=table.shape).astype(np.float32))
        model.bias.assign(np.float32(-0.2))


def _numpy_logits(model, x):
    logits = np.zeros(len(next(iter(x.values()))))
    if model.wide:
        table = testing.to_numpy(model.linear.embeddings)
        wide = testing.numpy_field_lookup(
            table, x, model.wide_fields, model.wide_vocabulary_sizes
        )
        logits += wide.sum(axis=(1, 2)) + testing.to_numpy(model.bias)
    if model.deep:
        table = testing.to_numpy(model.embedding.embeddings)
        rows = testing.numpy_field_lookup(
            table, x, model.deep_fields, model.deep_vocabulary_sizes
        )
        flat = rows.reshape(len(rows), -1)
        activations = ["relu"] * len(model.hidden_units) + [None]
        mlp = testing.numpy_dense_stack(
            flat, testing.mlp_params(model.mlp), activations
        )
        logits += mlp[:, 0]
    return logits


VARIANTS = [dict(), dict(wide=False), dict(deep=False)]


def test_is_registered():
    assert MODELS["wide_deep"] is WideDeep
    assert issubclass(WideDeep, CTRModel)


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_shape_and_numpy_logit(variant):
    x, _ = _batch()
    model = _model(**variant)
    _randomise_wide(model, x)
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,)
    np.testing.assert_allclose(logits, _numpy_logits(model, x), rtol=1e-5, atol=1e-5)


def test_switches_remove_their_part():
    x, _ = _batch()
    names = {}
    for key, variant in (
        ("both", {}),
        ("deep", dict(wide=False)),
        ("wide", dict(deep=False)),
    ):
        model = _model(**variant)
        model(x)
        names[key] = {v.path.split("/", 1)[1] for v in model.trainable_variables}
    assert names["wide"] == {"bias", "wide/embeddings"}
    assert not names["deep"] & names["wide"]
    assert names["both"] == names["deep"] | names["wide"]
    # Full Wide & Deep: wide weight table, bias, deep table, two hidden + output layer.
    assert len(names["both"]) == 2 + 1 + 2 * (len(HIDDEN) + 1)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="wide"):
        _model(wide=False, deep=False)
    with pytest.raises(ValueError):
        WideDeep(("a",), (3, 4), ("a",), (3,))
    with pytest.raises(ValueError):
        WideDeep(("a",), (3,), ("a", "b"), (3,))
    with pytest.raises(ValueError):
        _model(hidden_units=(8, 0))


def test_stack_fields_orders_columns_and_reports_missing_fields():
    x = {"b": np.array([1, 2]), "a": np.array([3, 4])}
    np.testing.assert_array_equal(
        testing.to_numpy(stack_fields(x, ("a", "b"))), [[3, 1], [4, 2]]
    )
    with pytest.raises(KeyError, match="'c'"):
        stack_fields(x, ("a", "c"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variable_gets_a_gradient_and_one_train_step(variant):
    x, y = _batch()
    model = _model(l2=1e-3, **variant)
    testing.assert_model_gradients(model, x, y)
    testing.assert_one_train_step(model, x, y)


def test_overfits_one_batch():
    x, y = _batch()
    model = _model()
    loss = testing.fit_one_batch(model, x, y, steps=100, learning_rate=0.05)
    assert loss < 0.02
    accuracy = np.mean((testing.to_numpy(model(x)) > 0) == (y > 0.5))
    assert accuracy == 1.0


def test_dropout_acts_in_training_only():
    x, _ = _batch()
    model = _model(dropout=0.5, hidden_units=(32, 32))
    inference = testing.to_numpy(model(x))
    np.testing.assert_array_equal(testing.to_numpy(model(x, training=False)), inference)
    assert not np.allclose(testing.to_numpy(model(x, training=True)), inference)


@pytest.mark.parametrize("variant", VARIANTS)
def test_save_reload_and_config_round_trip(variant, tmp_path):
    x, _ = _batch()
    model = _model(dropout=0.1, l2=1e-4, **variant)
    _randomise_wide(model, x)
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    assert (reloaded.wide, reloaded.deep) == (model.wide, model.deep)
    assert reloaded.hidden_units == HIDDEN


def test_loss_adds_l2_of_deep_rows_and_mlp_kernels_not_wide():
    x, y = _batch(n=8)
    model = _model(l2=0.01)
    _randomise_wide(model, x)
    y_pred = model(x)
    loss = float(testing.to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred)))
    bce = testing.numpy_bce_with_logits(y, testing.to_numpy(y_pred)).mean()
    rows = testing.numpy_field_lookup(
        testing.to_numpy(model.embedding.embeddings), x, DEEP, [4, 32]
    )
    kernels = sum(np.sum(k**2) for k, _ in testing.mlp_params(model.mlp))
    penalty = 0.01 * (np.sum(rows**2) / 8 + kernels)
    np.testing.assert_allclose(loss, bce + penalty, rtol=1e-5)
    assert penalty > 1e-3


# --- from_task --------------------------------------------------------------


def test_from_task_excludes_crosses_from_the_deep_part():
    task = testing.FakeCTRTask(VOCAB)
    model = WideDeep.from_task(task, embedding_dim=2, hidden_units=(4,))
    assert model.wide_fields == WIDE
    assert model.wide_vocabulary_sizes == (4, 32, 128)
    assert model.deep_fields == DEEP
    assert model.deep_vocabulary_sizes == (4, 32)
    assert (model.embedding_dim, model.hidden_units) == (2, (4,))
    x, _ = _batch()
    model(x)
    assert model.linear.embeddings.shape == (4 + 32 + 128, 1)
    assert model.embedding.embeddings.shape == (4 + 32, 2)


def test_from_task_with_explicit_fields():
    task = testing.FakeCTRTask(VOCAB)
    model = WideDeep.from_task(
        task, wide_fields=("user_id_x_item_id",), deep_fields=("item_id",), deep=True
    )
    assert model.wide_fields == ("user_id_x_item_id",)
    assert model.wide_vocabulary_sizes == (128,)
    assert model.deep_fields == ("item_id",)
    assert model.deep_vocabulary_sizes == (32,)


def test_projector_embeddings_are_the_user_and_item_rows():
    x, _ = _batch()
    model = _model()
    model(x)
    table = testing.to_numpy(model.embedding.embeddings)
    out = model.projector_embeddings()
    assert sorted(out) == ["item", "user"]
    np.testing.assert_array_equal(out["user"], table[:4])
    np.testing.assert_array_equal(out["item"], table[4:36])
    assert _model(deep=False).projector_embeddings() == {}


def test_int32_and_int64_inputs_agree():
    x, _ = _batch()
    model = _model()
    x32 = {k: v.astype(np.int32) for k, v in x.items()}
    np.testing.assert_array_equal(
        testing.to_numpy(model(x)), testing.to_numpy(model(x32))
    )
    assert keras.ops.convert_to_tensor(model(x)).dtype == "float32"
