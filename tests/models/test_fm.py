"""Tests of `FM`: bias + a weight per code + the pairwise factor interactions."""

import numpy as np
import pytest

from recsys_tf.models import FM, MODELS, CTRModel
from tests import testing

VOCAB = {"user_id": 4, "item_id": 32, "user_id_x_item_id": 128}
FIELDS = tuple(VOCAB)
SIZES = tuple(VOCAB.values())


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=32, seed=1):
    return testing.memorisable_ctr_batch("user_id", "item_id", 4, 32, n, seed)


def _model(**kwargs):
    kwargs.setdefault("embedding_dim", 3)
    return FM(FIELDS, SIZES, **kwargs)


def _randomise_linear(model, x, seed=2):
    """The linear part is zero-initialised; random weights make its numbers visible."""
    model(x)
    table = model.linear.embeddings
    table.assign(np.random.default_rng(seed).normal(size=table.shape).astype("float32"))
    model.bias.assign(np.float32(-0.2))


def _numpy_logits(model, x):
    linear = testing.numpy_field_lookup(
        testing.to_numpy(model.linear.embeddings), x, FIELDS, SIZES
    )
    factors = testing.numpy_field_lookup(
        testing.to_numpy(model.embedding.embeddings), x, FIELDS, SIZES
    )
    pairwise = testing.numpy_kernel_products(factors).sum(axis=1)
    return testing.to_numpy(model.bias) + linear.sum(axis=(1, 2)) + pairwise


def test_is_registered():
    assert MODELS["fm"] is FM
    assert issubclass(FM, CTRModel)


def test_forward_shape_and_numpy_logit():
    x, _ = _batch()
    model = _model()
    _randomise_linear(model, x)
    # Factors large enough for the pairwise term to matter beside the linear one.
    table = model.embedding.embeddings
    table.assign(np.random.default_rng(3).normal(size=table.shape).astype("float32"))
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,)
    np.testing.assert_allclose(logits, _numpy_logits(model, x), rtol=1e-5, atol=1e-5)


def test_variables():
    x, _ = _batch()
    model = _model()
    model(x)
    names = {v.path.split("/", 1)[1]: v.shape for v in model.trainable_variables}
    assert names == {
        "bias": (),
        "linear/embeddings": (4 + 32 + 128, 1),
        "embedding/embeddings": (4 + 32 + 128, 3),
    }


def test_every_variable_gets_a_gradient_and_one_train_step():
    x, y = _batch()
    model = _model(l2=1e-3)
    testing.assert_model_gradients(model, x, y)
    testing.assert_one_train_step(model, x, y)


def test_overfits_one_batch():
    x, y = _batch()
    model = _model()
    loss = testing.fit_one_batch(model, x, y, steps=100, learning_rate=0.05)
    assert loss < 0.02
    assert np.mean((testing.to_numpy(model(x)) > 0) == (y > 0.5)) == 1.0


def test_save_reload_and_config_round_trip(tmp_path):
    x, _ = _batch()
    model = _model(l2=1e-4)
    _randomise_linear(model, x)
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    assert (reloaded.fields, reloaded.embedding_dim) == (FIELDS, 3)


def test_loss_adds_l2_of_the_factor_rows_not_the_linear_weights():
    x, y = _batch(n=8)
    model = _model(l2=0.01)
    _randomise_linear(model, x)
    y_pred = model(x)
    loss = float(testing.to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred)))
    bce = testing.numpy_bce_with_logits(y, testing.to_numpy(y_pred)).mean()
    rows = testing.numpy_field_lookup(
        testing.to_numpy(model.embedding.embeddings), x, FIELDS, SIZES
    )
    np.testing.assert_allclose(loss, bce + 0.01 * np.sum(rows**2) / 8, rtol=1e-5)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="differ in length"):
        FM(("a", "b"), (3,))
    with pytest.raises(ValueError, match="output_dim"):
        _model(embedding_dim=0)
    with pytest.raises(ValueError, match="embeddings_regularizer"):
        _model(l2=-1.0)
    with pytest.raises(KeyError, match="user_id_x_item_id"):
        _model()({"user_id": np.array([1]), "item_id": np.array([2])})


def test_from_task_takes_every_field_but_the_crosses():
    task = testing.FakeCTRTask(VOCAB)
    model = FM.from_task(task, embedding_dim=2)
    assert model.fields == ("user_id", "item_id")
    assert model.vocabulary_sizes == (4, 32)
    explicit = FM.from_task(task, fields=("item_id", "user_id_x_item_id"))
    assert explicit.vocabulary_sizes == (32, 128)
    # () is a config's way of saying "the default".
    assert FM.from_task(task, fields=()).fields == ("user_id", "item_id")
    with pytest.raises(ValueError, match=r"\['movie_id'\] are not in the task"):
        FM.from_task(task, fields=("user_id", "movie_id"))
