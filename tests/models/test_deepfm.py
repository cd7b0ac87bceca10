"""Tests of `DeepFM`: linear part + FM + MLP, the last two on one embedding table."""

import numpy as np
import pytest

from recsys_tf.layers import FieldEmbedding
from recsys_tf.models import MODELS, CTRModel, DeepFM
from tests import testing

VOCAB = {"user_id": 4, "item_id": 32, "user_id_x_item_id": 128}
FIELDS = tuple(VOCAB)
SIZES = tuple(VOCAB.values())
HIDDEN = (8, 4)


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=32, seed=1):
    return testing.memorisable_ctr_batch("user_id", "item_id", 4, 32, n, seed)


def _model(**kwargs):
    kwargs.setdefault("embedding_dim", 3)
    kwargs.setdefault("hidden_units", HIDDEN)
    return DeepFM(FIELDS, SIZES, **kwargs)


def _randomise(model, x, seed=2):
    """Random linear weights (zero-initialised) and embeddings large enough for the
    FM term to matter beside the MLP."""
    model(x)
    rng = np.random.default_rng(seed)
    for table in (model.linear.embeddings, model.embedding.embeddings):
        table.assign(rng.normal(size=table.shape).astype("float32"))


def _numpy_logits(model, x):
    linear = testing.numpy_field_lookup(
        testing.to_numpy(model.linear.embeddings), x, FIELDS, SIZES
    )
    e = testing.numpy_field_lookup(
        testing.to_numpy(model.embedding.embeddings), x, FIELDS, SIZES
    )
    fm = testing.numpy_kernel_products(e).sum(axis=1)
    activations = ["relu"] * len(model.hidden_units) + [None]
    mlp = testing.numpy_dense_stack(
        e.reshape(len(e), -1), testing.mlp_params(model.mlp), activations
    )
    return linear.sum(axis=(1, 2)) + fm + mlp[:, 0]


def test_is_registered():
    assert MODELS["deepfm"] is DeepFM
    assert issubclass(DeepFM, CTRModel)


def test_forward_shape_and_numpy_logit():
    x, _ = _batch()
    model = _model()
    _randomise(model, x)
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,)
    np.testing.assert_allclose(logits, _numpy_logits(model, x), rtol=1e-5, atol=1e-4)


def test_fm_and_mlp_share_one_embedding_table():
    x, _ = _batch()
    model = _model()
    model(x)
    tables = [
        layer for layer in model._flatten_layers() if isinstance(layer, FieldEmbedding)
    ]
    assert sorted(t.output_dim for t in tables) == [1, 3]
    names = {v.path.split("/", 1)[1] for v in model.trainable_variables}
    assert names == {"linear/embeddings", "embedding/embeddings"} | {
        f"mlp/dense_{i}/{w}" for i in range(3) for w in ("kernel", "bias")
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


def test_dropout_acts_in_training_only():
    x, _ = _batch()
    model = _model(dropout=0.5, hidden_units=(32, 32))
    inference = testing.to_numpy(model(x))
    np.testing.assert_array_equal(testing.to_numpy(model(x, training=False)), inference)
    assert not np.allclose(testing.to_numpy(model(x, training=True)), inference)


def test_save_reload_and_config_round_trip(tmp_path):
    x, _ = _batch()
    model = _model(dropout=0.1, l2=1e-4)
    _randomise(model, x)
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    assert reloaded.hidden_units == HIDDEN


def test_loss_adds_l2_of_embedding_rows_and_mlp_kernels_not_linear():
    x, y = _batch(n=8)
    model = _model(l2=0.01)
    _randomise(model, x)
    y_pred = model(x)
    loss = float(testing.to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred)))
    bce = testing.numpy_bce_with_logits(y, testing.to_numpy(y_pred)).mean()
    rows = testing.numpy_field_lookup(
        testing.to_numpy(model.embedding.embeddings), x, FIELDS, SIZES
    )
    kernels = sum(np.sum(k**2) for k, _ in testing.mlp_params(model.mlp))
    np.testing.assert_allclose(
        loss, bce + 0.01 * (np.sum(rows**2) / 8 + kernels), rtol=1e-5
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="differ in length"):
        DeepFM(("a", "b"), (3,))
    with pytest.raises(ValueError, match="units"):
        _model(hidden_units=(8, 0))
    with pytest.raises(ValueError, match="dropout"):
        _model(dropout=1.0)
    with pytest.raises(ValueError, match="embeddings_regularizer"):
        _model(l2=-1.0)


def test_from_task_takes_every_field_but_the_crosses():
    task = testing.FakeCTRTask(VOCAB)
    model = DeepFM.from_task(task, embedding_dim=2, hidden_units=(4,))
    assert model.fields == ("user_id", "item_id")
    assert model.vocabulary_sizes == (4, 32)
    assert (model.embedding_dim, model.hidden_units) == (2, (4,))
