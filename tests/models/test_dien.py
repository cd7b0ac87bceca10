"""Tests of `DIEN`: NumPy logits and auxiliary loss, gradients, masking, saving."""

import types

import numpy as np
import pytest

from recsys_tf.models import MODELS, SequenceCTRModel
from recsys_tf.models.baselines.dien import DIEN
from tests import testing

VOCAB = {"user_id": 4, "item_id": 40, "category": 5}
FIELDS = tuple(VOCAB)
ITEM_FEATURES = ("item_id", "category")
OFFSETS = {"user_id": 0, "item_id": 4, "category": 44}
EMBEDDING_DIM = 3


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=32, seed=1):
    return testing.sequence_ctr_batch(
        VOCAB, ITEM_FEATURES, ("click", "unclick"), n=n, seed=seed
    )


def _model(**kwargs):
    kwargs.setdefault("embedding_dim", EMBEDDING_DIM)
    kwargs.setdefault("hidden_units", (8, 4))
    return DIEN(
        FIELDS, [VOCAB[f] for f in FIELDS], item_features=ITEM_FEATURES, **kwargs
    )


def _lookup(model, x, prefix=""):
    table = testing.to_numpy(model.embedding.embeddings).astype(np.float64)
    return np.concatenate(
        [table[x[f"{prefix}{f}"] + OFFSETS[f]] for f in ITEM_FEATURES], -1
    )


def _numpy_forward(model, x):
    """DIEN in inference, in NumPy: (logits, interest states h_t)."""
    table = testing.to_numpy(model.embedding.embeddings).astype(np.float64)
    fields = np.concatenate([table[x[f] + OFFSETS[f]] for f in FIELDS], -1)
    clicks, target = _lookup(model, x, "click_"), _lookup(model, x)
    mask = x["click_mask"] == 1
    ones = np.ones(mask.shape)
    _, h = testing.numpy_augru(model.extractor, clicks, ones, mask)  # Eq. (2)-(5)
    w = testing.to_numpy(model.attention_kernel).astype(np.float64)
    scores = np.zeros(mask.shape)
    for b in range(len(h)):  # Eq. (8), softmax over the valid steps
        valid = np.flatnonzero(mask[b])
        if len(valid):
            s = np.array([h[b, t] @ w @ target[b] for t in valid])
            scores[b, valid] = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    final, _ = testing.numpy_augru(model.evolution, h, scores, mask)
    act = {"relu": "relu", "dice": "silu"}[model.activation]
    logits = testing.numpy_dense_stack(
        np.concatenate([fields, final], -1),
        testing.mlp_params(model.mlp),
        [act] * len(model.hidden_units) + [None],
    )[:, 0]
    return logits, h


def _numpy_auxiliary_loss(model, x, h):
    """Eq. (6) example by example; each example's mean over its valid steps."""
    clicks, negatives = _lookup(model, x, "click_"), _lookup(model, x, "unclick_")
    mask, negative_mask = x["click_mask"] == 1, x["unclick_mask"] == 1
    total = 0.0
    for b in range(len(h)):
        terms = [
            -np.log(1 / (1 + np.exp(-h[b, t] @ clicks[b, t + 1])))
            - np.log(1 - 1 / (1 + np.exp(-h[b, t] @ negatives[b, t + 1])))
            for t in range(h.shape[1] - 1)
            if mask[b, t] and mask[b, t + 1] and negative_mask[b, t + 1]
        ]
        total += np.mean(terms) if terms else 0.0
    return total / len(h)


def test_is_registered():
    assert MODELS["dien"] is DIEN
    assert issubclass(DIEN, SequenceCTRModel)


@pytest.mark.parametrize("activation", ["relu", "dice"])
def test_forward_and_auxiliary_loss_match_numpy(activation):
    x, y = _batch()
    model = _model(activation=activation, auxiliary_weight=0.7)
    model(x)
    for layer in (model.extractor, model.evolution):
        layer.bias.assign(np.linspace(-0.5, 0.5, layer.bias.shape[0]).astype("float32"))
    table = model.embedding.embeddings
    table.assign(np.random.default_rng(3).normal(size=table.shape).astype("float32"))
    expected, h = _numpy_forward(model, x)
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,)
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
    # The auxiliary loss is added in training calls only (Eq. (7)).
    assert model.losses == []
    model(x, training=True)
    (auxiliary,) = [float(testing.to_numpy(v)) for v in model.losses]
    np.testing.assert_allclose(
        auxiliary, 0.7 * _numpy_auxiliary_loss(model, x, h), rtol=1e-4
    )
    assert auxiliary > 0.1


def test_without_auxiliary_loss_no_unclick_inputs_are_read():
    x, y = _batch()
    x = {k: v for k, v in x.items() if not k.startswith("unclick_")}
    model = _model(auxiliary_weight=0.0)
    assert model.sequence_types == ("click",)
    model(x, training=True)
    assert model.losses == []
    with pytest.raises(KeyError):
        _model()(x, training=True)


@pytest.mark.parametrize(
    "activation", ["dice", pytest.param("prelu", marks=pytest.mark.slow)]
)
def test_every_variable_gets_a_gradient_and_one_train_step(activation):
    x, y = _batch()
    model = _model(activation=activation)
    model(x)
    table = model.embedding.embeddings
    table.assign(np.random.default_rng(3).normal(size=table.shape).astype("float32"))
    testing.assert_model_gradients(model, x, y)
    testing.assert_one_train_step(model, x, y)


@pytest.mark.parametrize("training", [False, True])
def test_padding_does_not_change_the_output(training):
    x, _ = _batch()
    changed = testing.change_padding(x)
    outputs = []
    for inputs in (x, changed):
        testing.set_seed()
        model = _model()
        logits = testing.to_numpy(model(inputs, training=training))
        outputs.append((logits, [float(testing.to_numpy(v)) for v in model.losses]))
    np.testing.assert_allclose(outputs[0][0], outputs[1][0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(outputs[0][1], outputs[1][1], rtol=1e-6)
    assert len(outputs[0][1]) == int(training)


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["dice", "prelu"])
def test_overfits_one_batch(activation):
    x, y = _batch()
    model = _model(activation=activation)
    loss = testing.fit_one_batch(model, x, y, steps=150, learning_rate=0.02)
    assert loss < 0.05
    accuracy = np.mean((testing.to_numpy(model(x)) > 0) == (y > 0.5))
    assert accuracy == 1.0


def test_save_reload_and_config_round_trip(tmp_path):
    x, _ = _batch()
    model = _model(auxiliary_weight=0.5, dropout=0.1)
    model(x, training=True)
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    assert (reloaded.auxiliary_weight, reloaded.sequence_types) == (
        0.5,
        ("click", "unclick"),
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="activation"):
        _model(activation="swish")
    with pytest.raises(ValueError, match="auxiliary_weight"):
        _model(auxiliary_weight=-1.0)


def test_from_task_needs_unclick_only_with_the_auxiliary_loss():
    task = types.SimpleNamespace(
        fields=FIELDS,
        vocabulary_sizes=VOCAB,
        sequence_types=("click", "like"),
        item_features=ITEM_FEATURES,
        dataset="tiny",
    )
    with pytest.raises(ValueError, match=r"\['unclick'\].*'tiny'"):
        DIEN.from_task(task)
    model = DIEN.from_task(task, auxiliary_weight=0.0, embedding_dim=2)
    assert model.sequence_types == ("click",)
    assert set(model.input_fields()) == set(FIELDS) | {
        "click_item_id",
        "click_category",
        "click_mask",
    }
    with pytest.raises(ValueError, match="reads the sequences"):
        _model(sequence_types=("click",))


def test_config_builds_the_model():
    from experiments.configs import dien
    from recsys_tf.training import loop

    config = dien.get_config()
    assert (config.task, config.model.name) == ("ctr_sequence", "dien")
    task = types.SimpleNamespace(
        fields=FIELDS,
        vocabulary_sizes=VOCAB,
        sequence_types=("click", "unclick"),
        item_features=ITEM_FEATURES,
        dataset="tiny",
    )
    model = loop.build_model(config, task)
    assert (model.sequence_types, model.auxiliary_weight) == (("click", "unclick"), 1.0)
