"""Tests of `DIN`: NumPy logits, gradients, masking, overfitting, saving, MBA."""

import dataclasses
import types

import numpy as np
import pytest

from recsys_tf.models import MODELS, SequenceCTRModel
from recsys_tf.models.baselines.din import DIN, training_counts
from tests import testing

VOCAB = {"user_id": 4, "item_id": 40, "category": 5}
FIELDS = tuple(VOCAB)
ITEM_FEATURES = ("item_id", "category")
EMBEDDING_DIM = 4
ACTIVATIONS = ["dice", "prelu", "relu"]


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=32, seed=1, sequence_type="click"):
    return testing.sequence_ctr_batch(
        VOCAB, ITEM_FEATURES, (sequence_type,), n=n, seed=seed
    )


def _model(**kwargs):
    kwargs.setdefault("embedding_dim", EMBEDDING_DIM)
    kwargs.setdefault("attention_units", (6,))
    kwargs.setdefault("hidden_units", (8, 4))
    return DIN(
        FIELDS, [VOCAB[f] for f in FIELDS], item_features=ITEM_FEATURES, **kwargs
    )


def _numpy_logits(model, x):
    """DIN in inference, in NumPy: Eq. (3) pooling, then the MLP."""
    table = testing.to_numpy(model.embedding.embeddings).astype(np.float64)
    offsets = dict(zip(FIELDS, np.cumsum((0,) + model.vocabulary_sizes[:-1])))
    fields = np.concatenate([table[x[f] + offsets[f]] for f in FIELDS], -1)
    t = model.sequence_type
    behaviours = np.concatenate(
        [table[x[f"{t}_{f}"] + offsets[f]] for f in ITEM_FEATURES], -1
    )
    target = np.concatenate([table[x[f] + offsets[f]] for f in ITEM_FEATURES], -1)
    mask = x[f"{t}_mask"] == 1
    # Fresh Dice in inference: moving mean 0, variance 1, alpha 0 -> s sigmoid(s).
    act = {"relu": "relu", "dice": "silu"}[model.activation]
    unit = model.activation_unit
    z = np.concatenate(
        [
            behaviours,
            np.broadcast_to(target[:, None], behaviours.shape),
            behaviours - target[:, None],
            behaviours * target[:, None],
        ],
        -1,
    )
    weights = testing.numpy_dense_stack(
        z, testing.mlp_params(unit.mlp), [act] * len(unit.hidden_units) + [None]
    )[..., 0]
    interest = np.sum(np.where(mask, weights, 0.0)[..., None] * behaviours, 1)
    features = np.concatenate([fields, interest], -1)
    return testing.numpy_dense_stack(
        features,
        testing.mlp_params(model.mlp),
        [act] * len(model.hidden_units) + [None],
    )[:, 0]


def test_is_registered():
    assert MODELS["din"] is DIN
    assert issubclass(DIN, SequenceCTRModel)


@pytest.mark.parametrize("activation", ["relu", "dice"])
def test_forward_shape_and_numpy_logits(activation):
    x, _ = _batch()
    model = _model(activation=activation)
    model(x)
    for dense in model.mlp.dense_layers + model.activation_unit.mlp.dense_layers:
        dense.bias.assign(np.linspace(-0.3, 0.3, dense.units).astype(np.float32))
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,)
    with np.errstate(all="ignore"):
        expected = _numpy_logits(model, x)
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)


def test_attends_to_the_configured_sequence_type():
    x, _ = _batch(sequence_type="like")
    model = _model(sequence_types=("like",))
    assert testing.to_numpy(model(x)).shape == (32,)
    with pytest.raises(KeyError):
        _model()(x)  # no click inputs


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_variable_gets_a_gradient_and_one_train_step(activation):
    x, y = _batch()
    model = _model(activation=activation, mba_l2=1e-3, l2=0.0)
    model(x)
    # Unit-scale rows: the default uniform(-0.05, 0.05) rows make the activation
    # unit's gradients O(e^3), below the harness' floor.
    table = model.embedding.embeddings
    table.assign(np.random.default_rng(3).normal(size=table.shape).astype("float32"))
    testing.assert_model_gradients(model, x, y)
    testing.assert_one_train_step(model, x, y)


@pytest.mark.parametrize("training", [False, True])
def test_padding_does_not_change_the_output(training):
    x, _ = _batch()
    changed = testing.change_padding(x)
    assert any(not np.array_equal(changed[k], x[k]) for k in x)
    outputs = []
    for inputs in (x, changed):
        testing.set_seed()
        model = _model(mba_l2=0.01)
        outputs.append(
            (
                testing.to_numpy(model(inputs, training=training)),
                [float(testing.to_numpy(v)) for v in model.losses],
            )
        )
    np.testing.assert_allclose(outputs[0][0], outputs[1][0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(outputs[0][1], outputs[1][1], rtol=1e-6)


@pytest.mark.parametrize(
    "activation", ["dice", pytest.param("prelu", marks=pytest.mark.slow)]
)
def test_overfits_one_batch(activation):
    x, y = _batch()
    model = _model(activation=activation)
    loss = testing.fit_one_batch(model, x, y, steps=150, learning_rate=0.02)
    assert loss < 0.05
    accuracy = np.mean((testing.to_numpy(model(x)) > 0) == (y > 0.5))
    assert accuracy == 1.0


def test_save_reload_and_config_round_trip(tmp_path):
    x, y = _batch(sequence_type="like")
    model = _model(mba_l2=1e-3, dropout=0.1, sequence_types=("like",))
    model.feature_counts.assign(np.arange(1, 50, dtype=np.float32))
    model(x, training=True)  # moves Dice's moving averages off their start
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    assert (reloaded.activation, reloaded.mba_l2, reloaded.sequence_types) == (
        "dice",
        1e-3,
        ("like",),
    )


def test_mini_batch_aware_penalty_matches_numpy():
    x, y = _batch(n=8)
    model = _model(mba_l2=0.5)
    model(x)
    counts = np.random.default_rng(2).integers(1, 6, 49).astype(np.float32)
    model.feature_counts.assign(counts)
    y_pred = model(x)
    (penalty,) = [float(testing.to_numpy(v)) for v in model.losses]
    table = testing.to_numpy(model.embedding.embeddings).astype(np.float64)
    offsets = {"user_id": 0, "item_id": 4, "category": 44}
    expected = 0.0
    for i in range(8):  # Eq. (5), sample by sample, feature by feature
        rows = [x[f][i] + offsets[f] for f in FIELDS]
        rows += [
            x[f"click_{f}"][i, t] + offsets[f]
            for f in ITEM_FEATURES
            for t in range(5)
            if x["click_mask"][i, t]
        ]
        expected += sum(np.sum(table[r] ** 2) / counts[r] for r in rows)
    np.testing.assert_allclose(penalty, 0.5 * expected / 8, rtol=1e-5)
    loss = float(testing.to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred)))
    bce = testing.numpy_bce_with_logits(y, testing.to_numpy(y_pred)).mean()
    np.testing.assert_allclose(loss, bce + penalty, rtol=1e-5)
    assert not hasattr(_model(), "feature_counts")


@dataclasses.dataclass
class _Windows:
    values: np.ndarray
    start: np.ndarray
    end: np.ndarray
    length: int
    lookups: dict


def test_training_counts_count_targets_and_window_positions():
    rng = np.random.default_rng(0)
    values = rng.integers(1, VOCAB["item_id"], 30)
    category = np.arange(VOCAB["item_id"]) % VOCAB["category"]
    start = np.array([0, 0, 10, 10, 25, 30])
    end = np.array([4, 9, 10, 22, 30, 30])
    windows = _Windows(values, start, end, 5, {"item_id": None, "category": category})
    features = {f: rng.integers(0, VOCAB[f], 6) for f in FIELDS}
    features["click"] = windows
    task = type(
        "Task",
        (),
        dict(vocabulary_sizes=VOCAB, train=type("Part", (), {"features": features})),
    )
    counts = training_counts(task, FIELDS, "click")
    expected = np.zeros(49)
    offsets = {"user_id": 0, "item_id": 4, "category": 44}
    for r in range(6):  # brute force: cut every window
        for f in FIELDS:
            expected[features[f][r] + offsets[f]] += 1
        for item in values[max(start[r], end[r] - 5) : end[r]]:
            expected[item + offsets["item_id"]] += 1
            expected[category[item] + offsets["category"]] += 1
    np.testing.assert_array_equal(counts, np.maximum(expected, 1))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="activation"):
        _model(activation="swish")
    with pytest.raises(ValueError, match="mba_l2"):
        _model(mba_l2=-1.0)
    with pytest.raises(ValueError, match="one type"):
        _model(sequence_types=("click", "like"))


def _task(sequence_types=("click", "unclick")):
    rng = np.random.default_rng(0)
    features = {f: rng.integers(0, VOCAB[f], 6) for f in FIELDS}
    category = np.arange(VOCAB["item_id"]) % VOCAB["category"]
    for t in sequence_types:
        features[t] = _Windows(
            rng.integers(1, VOCAB["item_id"], 12),
            np.zeros(6, int),
            np.arange(6) * 2,
            5,
            {"item_id": None, "category": category},
        )
    return types.SimpleNamespace(
        fields=FIELDS,
        vocabulary_sizes=VOCAB,
        sequence_types=sequence_types,
        item_features=ITEM_FEATURES,
        dataset="tiny",
        train=types.SimpleNamespace(features=features),
    )


def test_from_task_reads_clicks_counts_rows_and_names_a_missing_type():
    task = _task()
    model = DIN.from_task(task, embedding_dim=2, mba_l2=0.1)
    assert (model.fields, model.sequence_types, model.item_features) == (
        FIELDS,
        ("click",),
        ITEM_FEATURES,
    )
    np.testing.assert_array_equal(
        testing.to_numpy(model.feature_counts), training_counts(task, FIELDS, "click")
    )
    assert DIN.from_task(task, sequence_types=("unclick",)).sequence_type == "unclick"
    with pytest.raises(ValueError, match=r"\['like'\].*'tiny'"):
        DIN.from_task(task, sequence_types=("like",))


def test_config_builds_the_model():
    from experiments.configs import din
    from recsys_tf.training import loop

    config = din.get_config()
    assert (config.task, config.model.name) == ("ctr_sequence", "din")
    model = loop.build_model(config, _task())
    assert (model.sequence_types, model.activation, model.hidden_units) == (
        ("click",),
        "dice",
        (200, 80),
    )
