"""Tests of `PNN`: embeddings and their pairwise products into one MLP."""

import numpy as np
import pytest

from recsys_tf.models import MODELS, PNN, CTRModel
from tests import testing

VOCAB = {"user_id": 4, "item_id": 32, "user_id_x_item_id": 128}
FIELDS = tuple(VOCAB)
SIZES = tuple(VOCAB.values())
HIDDEN = (8, 4)
PRODUCTS = ["inner", "outer", "both"]


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=32, seed=1):
    return testing.memorisable_ctr_batch("user_id", "item_id", 4, 32, n, seed)


def _model(**kwargs):
    kwargs.setdefault("embedding_dim", 3)
    kwargs.setdefault("hidden_units", HIDDEN)
    return PNN(FIELDS, SIZES, **kwargs)


def _numpy_logits(model, x):
    e = testing.numpy_field_lookup(
        testing.to_numpy(model.embedding.embeddings), x, FIELDS, SIZES
    )
    signals = [e.reshape(len(e), -1)]
    if model.product in ("inner", "both"):
        signals.append(testing.numpy_kernel_products(e))
    if model.product in ("outer", "both"):
        kernel = testing.to_numpy(model.products[-1].kernel)
        signals.append(testing.numpy_kernel_products(e, kernel, model.kernel_type))
    activations = ["relu"] * len(model.hidden_units) + [None]
    mlp = testing.numpy_dense_stack(
        np.concatenate(signals, axis=1), testing.mlp_params(model.mlp), activations
    )
    return mlp[:, 0]


def test_is_registered():
    assert MODELS["pnn"] is PNN
    assert issubclass(PNN, CTRModel)


@pytest.mark.parametrize(
    "variant",
    [dict(product=p) for p in PRODUCTS]
    + [dict(product="outer", kernel_type=k) for k in ("vec", "num")],
)
def test_forward_shape_and_numpy_logit(variant):
    x, _ = _batch()
    model = _model(**variant)
    model(x)
    # Embeddings large enough for the products to matter beside z.
    table = model.embedding.embeddings
    table.assign(np.random.default_rng(3).normal(size=table.shape).astype("float32"))
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,)
    np.testing.assert_allclose(logits, _numpy_logits(model, x), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "product, first_layer_inputs", [("inner", 9 + 3), ("outer", 9 + 3), ("both", 15)]
)
def test_product_switch_sets_the_signals(product, first_layer_inputs):
    x, _ = _batch()
    model = _model(product=product)
    model(x)
    # z has 3 fields x 3 dims; each product vector has 3 pairs.
    assert model.mlp.dense_layers[0].kernel.shape == (first_layer_inputs, HIDDEN[0])
    names = {v.path.split("/", 1)[1] for v in model.trainable_variables}
    assert ("outer_product/kernel" in names) == (product != "inner")


@pytest.mark.parametrize("product", PRODUCTS)
def test_every_variable_gets_a_gradient_and_one_train_step(product):
    x, y = _batch()
    model = _model(product=product, l2=1e-3)
    testing.assert_model_gradients(model, x, y)
    testing.assert_one_train_step(model, x, y)


@pytest.mark.parametrize("product", ["inner", "outer"])
def test_overfits_one_batch(product):
    x, y = _batch()
    model = _model(product=product)
    loss = testing.fit_one_batch(model, x, y, steps=100, learning_rate=0.05)
    assert loss < 0.02
    assert np.mean((testing.to_numpy(model(x)) > 0) == (y > 0.5)) == 1.0


@pytest.mark.parametrize("product", PRODUCTS)
def test_save_reload_and_config_round_trip(product, tmp_path):
    x, _ = _batch()
    model = _model(product=product, kernel_type="vec", dropout=0.1, l2=1e-4)
    model(x)
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    assert (reloaded.product, reloaded.kernel_type) == (product, "vec")


def test_loss_adds_l2_of_embedding_rows_mlp_and_product_kernels():
    x, y = _batch(n=8)
    model = _model(product="outer", l2=0.01)
    y_pred = model(x)
    loss = float(testing.to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred)))
    bce = testing.numpy_bce_with_logits(y, testing.to_numpy(y_pred)).mean()
    rows = testing.numpy_field_lookup(
        testing.to_numpy(model.embedding.embeddings), x, FIELDS, SIZES
    )
    kernels = sum(np.sum(k**2) for k, _ in testing.mlp_params(model.mlp))
    kernels += np.sum(testing.to_numpy(model.products[0].kernel) ** 2)
    np.testing.assert_allclose(
        loss, bce + 0.01 * (np.sum(rows**2) / 8 + kernels), rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(product="foo"), "product"),
        (dict(kernel_type="foo"), "kernel_type"),
        (dict(hidden_units=(8, 0)), "units"),
        (dict(dropout=1.0), "dropout"),
        (dict(l2=-1.0), "embeddings_regularizer"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _model(**kwargs)


def test_bad_fields_raise():
    with pytest.raises(ValueError, match="differ in length"):
        PNN(("a", "b"), (3,))
    with pytest.raises(ValueError, match="at least two fields"):
        PNN(("a",), (3,))


def test_from_task_takes_every_field_but_the_crosses():
    task = testing.FakeCTRTask(VOCAB)
    model = PNN.from_task(task, embedding_dim=2, hidden_units=(4,), product="both")
    assert model.fields == ("user_id", "item_id")
    assert model.vocabulary_sizes == (4, 32)
    assert model.product == "both"
