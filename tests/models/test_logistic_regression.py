"""Tests of `LogisticRegression` and of the `CTRModel` loss it inherits."""

import keras
import numpy as np
import pytest

from recsys_tf.models import MODELS, CTRModel, LogisticRegression
from tests import testing

VOCAB = {"user": 4, "item": 32, "user_x_item": 128}
FIELDS = tuple(VOCAB)
SIZES = tuple(VOCAB.values())


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=32, seed=1):
    return testing.memorisable_ctr_batch(
        "user", "item", VOCAB["user"], VOCAB["item"], n, seed
    )


def _model(**kwargs):
    return LogisticRegression(FIELDS, SIZES, **kwargs)


def _randomise(model, x, seed=2):
    """Replaces the zero initial weights by random ones (so a wrong offset shows)."""
    model(x)
    rng = np.random.default_rng(seed)
    table = model.linear.embeddings
    table.assign(rng.normal(size=table.shape).astype(np.float32))
    model.bias.assign(np.float32(0.3))


def test_is_registered():
    assert MODELS["logistic_regression"] is LogisticRegression
    assert issubclass(LogisticRegression, CTRModel)


def test_forward_shape_and_numpy_logit():
    x, _ = _batch()
    model = _model()
    _randomise(model, x)
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,)
    table = testing.to_numpy(model.linear.embeddings)[:, 0]
    offsets = np.cumsum((0,) + SIZES[:-1])
    expected = 0.3 + sum(table[x[f] + o] for f, o in zip(FIELDS, offsets))
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)


def test_field_order_of_the_input_dict_does_not_matter():
    x, _ = _batch()
    model = _model()
    _randomise(model, x)
    reordered = {k: x[k] for k in reversed(FIELDS)}
    reordered["unused"] = np.zeros(32, np.int64)
    np.testing.assert_array_equal(
        testing.to_numpy(model(reordered)), testing.to_numpy(model(x))
    )


def test_missing_field_raises():
    x, _ = _batch()
    model = _model()
    model(x)
    del x["user_x_item"]
    with pytest.raises(KeyError, match="user_x_item"):
        model(x)


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        LogisticRegression(("a", "b"), (3,))


def test_every_variable_gets_a_gradient_and_one_train_step():
    x, y = _batch()
    model = _model(l2=1e-3)
    testing.assert_model_gradients(model, x, y)
    loss = testing.assert_one_train_step(model, x, y)
    np.testing.assert_allclose(loss, np.log(2.0), rtol=1e-3)  # zero-initialised


def test_overfits_one_batch():
    x, y = _batch()
    model = _model()
    loss = testing.fit_one_batch(model, x, y, steps=100, learning_rate=0.1)
    assert loss < 0.02
    accuracy = np.mean((testing.to_numpy(model(x)) > 0) == (y > 0.5))
    assert accuracy == 1.0


def test_save_reload_and_config_round_trip(tmp_path):
    x, _ = _batch()
    model = _model(l2=1e-4)
    _randomise(model, x)
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    assert reloaded.fields == FIELDS and reloaded.l2 == 1e-4


# --- CTRModel.compute_loss against NumPy -------------------------------------

LABELS = np.array([1.0, 0.0, 0.0, 1.0], np.float32)
LOGITS = np.array([2.0, -1.0, 0.5, -3.0], np.float32)


def test_ctr_loss_is_mean_binary_cross_entropy_on_logits():
    model = _model()
    loss = model.compute_loss(y=LABELS, y_pred=LOGITS)
    # By hand: log(1+e^-2), log(1+e^-1), log(1+e^0.5), log(1+e^3).
    hand = np.mean(np.log1p(np.exp([-2.0, -1.0, 0.5, 3.0])))
    np.testing.assert_allclose(testing.to_numpy(loss), hand, rtol=1e-6)
    np.testing.assert_allclose(
        hand, testing.numpy_bce_with_logits(LABELS, LOGITS).mean(), rtol=1e-12
    )
    # Labels and logits as [batch, 1] columns give the same loss.
    column = model.compute_loss(y=LABELS[:, None], y_pred=LOGITS[:, None])
    np.testing.assert_allclose(testing.to_numpy(column), hand, rtol=1e-6)


def test_ctr_loss_with_sample_weight_sums_over_batch_size():
    model = _model()
    weights = np.array([1.0, 0.0, 2.0, 0.5], np.float32)
    loss = model.compute_loss(y=LABELS, y_pred=LOGITS, sample_weight=weights)
    expected = np.sum(weights * testing.numpy_bce_with_logits(LABELS, LOGITS)) / 4
    np.testing.assert_allclose(testing.to_numpy(loss), expected, rtol=1e-6)


def test_ctr_loss_adds_regularisation_of_the_last_call():
    x, y = _batch(n=8)
    model = _model(l2=0.01)
    _randomise(model, x)
    y_pred = model(x)
    loss = testing.to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred))
    table = testing.to_numpy(model.linear.embeddings)[:, 0]
    offsets = np.cumsum((0,) + SIZES[:-1])
    rows = np.stack([table[x[f] + o] for f, o in zip(FIELDS, offsets)], 1)
    penalty = 0.01 * np.sum(rows**2) / 8
    bce = testing.numpy_bce_with_logits(y, testing.to_numpy(y_pred)).mean()
    np.testing.assert_allclose(loss, bce + penalty, rtol=1e-5)
    assert penalty > 1e-3  # the penalty is large enough to be seen


def test_predict_proba_is_sigmoid():
    np.testing.assert_allclose(
        testing.to_numpy(_model().predict_proba(LOGITS)),
        1.0 / (1.0 + np.exp(-LOGITS)),
        rtol=1e-6,
    )


# --- from_task --------------------------------------------------------------


def test_from_task_takes_every_field_crosses_included():
    task = testing.FakeCTRTask(VOCAB)
    model = LogisticRegression.from_task(task, l2=0.5)
    assert model.fields == FIELDS
    assert model.vocabulary_sizes == SIZES
    assert model.l2 == 0.5
    x, _ = _batch()
    model(x)
    assert model.linear.embeddings.shape == (sum(SIZES), 1)


def test_from_task_with_explicit_fields():
    model = LogisticRegression.from_task(
        testing.FakeCTRTask(VOCAB), fields=("item", "user")
    )
    assert model.fields == ("item", "user")
    assert model.vocabulary_sizes == (32, 4)


def test_compile_keeps_its_meaning():
    # compute_loss is the objective: compile needs no loss, and fit reports it.
    x, y = _batch()
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], np.log(2.0), rtol=1e-5)
