"""Tests of `DMT`: one Transformer encoder-decoder per behaviour sequence."""

import numpy as np
import pytest

from recsys_tf.models import DMT, MODELS, CTRModel
from tests import testing

TYPES = ("click", "unclick")
VOCAB = {"user_id": 4, "item_id": 32, "category": 5}
FIELDS = tuple(VOCAB)
ITEM_FEATURES = ("item_id", "category")


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=32, seed=1):
    return testing.sequence_ctr_batch(
        VOCAB, sequence_types=TYPES, n=n, length=4, seed=seed
    )


def _model(**kwargs):
    kwargs.setdefault("embedding_dim", 4)
    kwargs.setdefault("hidden_units", (8,))
    kwargs.setdefault("sequence_types", TYPES)
    kwargs.setdefault("max_length", 4)
    return DMT(
        FIELDS, [VOCAB[f] for f in FIELDS], item_features=ITEM_FEATURES, **kwargs
    )


def _unit_scale(model, x):
    """Unit-scale embedding rows: with the default +-0.05 rows the attention is
    nearly uniform and its query / key gradients fall below the harness' floor."""
    model(x)
    table = model.embedding.embeddings
    table.assign(np.random.default_rng(3).normal(size=table.shape).astype("float32"))


def test_is_registered():
    assert MODELS["dmt"] is DMT
    assert issubclass(DMT, CTRModel)


def test_forward_shape_and_one_transformer_per_sequence():
    x, _ = _batch()
    model = _model(num_encoder_layers=2)
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,) and np.all(np.isfinite(logits))
    names = {v.path.split("/")[1] for v in model.trainable_variables}
    assert {
        "click_encoder_0",
        "click_encoder_1",
        "click_decoder_0",
        "unclick_encoder_0",
        "unclick_encoder_1",
        "unclick_decoder_0",
    } <= names
    # The MLP reads the fields and one d_model = 2 x 4 interest per sequence.
    assert model.mlp.dense_layers[0].kernel.shape == (3 * 4 + 2 * 8, 8)


def test_each_sequence_is_read():
    x, _ = _batch()
    model = _model()
    _unit_scale(model, x)
    base = testing.to_numpy(model(x))
    for t in TYPES:
        changed = dict(x)
        changed[f"{t}_item_id"] = np.where(
            x[f"{t}_mask"] > 0, (x[f"{t}_item_id"] + 1) % 32, 0
        )
        assert np.abs(testing.to_numpy(model(changed)) - base).max() > 1e-4, t


def test_from_task_reads_the_types_asked_for():
    task = testing.FakeSequenceCTRTask(VOCAB)
    model = DMT.from_task(task, sequence_types=("click", "like"), embedding_dim=2)
    assert model.sequence_types == ("click", "like")
    assert model.max_length == task.max_length
    assert model.item_features == task.item_features
    with pytest.raises(ValueError, match=r"\['cart'\].*dataset 'fake'"):
        DMT.from_task(task, sequence_types=("click", "cart"))
    # By default, one Transformer per sequence the data has.
    assert DMT.from_task(task).sequence_types == task.sequence_types


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_encoder_layers"):
        _model(num_encoder_layers=0)
    with pytest.raises(ValueError, match="max_length"):
        DMT(FIELDS, (4, 32, 5), max_length=0)
    x, _ = testing.sequence_ctr_batch(VOCAB, sequence_types=TYPES, length=6)
    with pytest.raises(ValueError, match="max_length=4"):
        _model()(x)
