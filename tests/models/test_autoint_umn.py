"""Tests of `AutoIntUMN` (DUMN Table 3's AutoInt+UMN) against NumPy."""

import numpy as np
import pytest

from recsys_tf.models import MODELS, AutoIntUMN, CTRModel
from tests import testing
from tests.layers.test_ntm_memory import M, Z, _numpy_memory
from tests.layers.test_pair_gate import _numpy_pair
from tests.models.test_autoint import _numpy_interacting
from tests.models.test_dumn import _numpy_triplet

TYPES = ("click", "unclick", "like", "dislike")
VOCAB = {"user_id": 4, "item_id": 32, "category": 5}
FIELDS = tuple(VOCAB)
ITEM_FEATURES = ("item_id", "category")


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(types=TYPES, n=32, seed=1, length=4):
    return testing.sequence_ctr_batch(
        VOCAB, sequence_types=types, n=n, length=length, seed=seed
    )


def _model(**kwargs):
    kwargs.setdefault("sequence_types", TYPES)
    return AutoIntUMN(
        FIELDS,
        [VOCAB[f] for f in FIELDS],
        item_features=ITEM_FEATURES,
        embedding_dim=4,
        num_layers=2,
        num_heads=2,
        head_dim=3,
        num_slots=M,
        slot_dim=Z,
        controller_units=16,
        **kwargs,
    )


def _randomise(model, x):
    """Unit-scale embedding rows: else the attention is nearly uniform and its
    query / key gradients fall below the harness' floor."""
    model(x)
    table = model.embedding.embeddings
    table.assign(np.random.default_rng(3).normal(size=table.shape).astype("float32"))


def _numpy_logits(model, x):
    """AutoInt Eq. (5)-(8), each window's mean, DUMN Eq. (8)-(14), the logit."""
    table = testing.to_numpy(model.embedding.embeddings).astype(np.float64)
    e = testing.numpy_field_lookup(table, x, FIELDS, model.vocabulary_sizes)
    h = e
    for layer in model.interacting_layers:
        h = _numpy_interacting(layer, h)
    offsets = dict(zip(FIELDS, np.cumsum((0,) + model.vocabulary_sizes[:-1])))
    short = []
    for t in model.sequence_types:
        items = np.concatenate(
            [table[x[f"{t}_{f}"] + offsets[f]] for f in ITEM_FEATURES], axis=-1
        )
        mask = x[f"{t}_mask"].astype(bool)
        total = (items * mask[..., None]).sum(1)
        short.append(total / np.maximum(mask.sum(1), 1)[:, None])
    short = np.stack(short, axis=1)
    user = e[:, 0]
    if not model.memory:  # the control: the window means beside AutoInt
        features = np.concatenate([h.reshape(len(h), -1), short.reshape(len(h), -1)], 1)
        kernel, bias = (testing.to_numpy(w) for w in model.logit.weights)
        return (features @ kernel + bias)[:, 0]
    reads = [
        _numpy_memory(
            model.umn.memories[k],
            short[:, k],
            user,
            testing.to_numpy(model.umn.memories[k].memory),
        )[0]
        for k in range(len(model.sequence_types))
    ]
    memory = _numpy_pair(model.umn.pair, short, np.stack(reads, axis=1))
    features = np.concatenate([h.reshape(len(h), -1), memory], axis=1)
    kernel, bias = (testing.to_numpy(w) for w in model.logit.weights)
    return (features @ kernel + bias)[:, 0]


def test_is_registered():
    assert MODELS["autoint_umn"] is AutoIntUMN
    assert issubclass(AutoIntUMN, CTRModel)


def test_matches_numpy():
    x, _ = _batch()
    model = _model()
    _randomise(model, x)
    np.testing.assert_allclose(
        testing.to_numpy(model(x)), _numpy_logits(model, x), rtol=1e-4, atol=1e-5
    )


def test_gradients_config_round_trip_and_memory_writes():
    x, y = _batch()
    model = _model(l2=1e-3)
    _randomise(model, x)
    testing.assert_model_gradients(model, x, y)
    testing.assert_config_round_trip(model, x)
    before = [testing.to_numpy(m.memory).copy() for m in model.umn.memories]
    model(x, training=True)
    for memory, state in zip(model.umn.memories, before):
        assert np.abs(testing.to_numpy(memory.memory) - state).max() > 0


def test_the_padding_width_does_not_change_the_output():
    x, _ = _batch()
    model = _model()
    assert model.padding_invariant
    wide = testing.widen_padding(x, {t: 2 for t in TYPES})
    np.testing.assert_allclose(
        testing.to_numpy(model(wide)), testing.to_numpy(model(x)), rtol=1e-5, atol=1e-6
    )


@pytest.mark.slow
def test_overfits_one_batch():
    x, y = _batch()
    model = _model()
    _randomise(model, x)
    loss = testing.fit_one_batch(model, x, y, steps=150, learning_rate=0.02)
    assert loss < 0.05
    assert np.mean((testing.to_numpy(model(x)) > 0) == (y > 0.5)) == 1.0


@pytest.mark.slow
def test_save_reload(tmp_path):
    x, _ = _batch()
    model = _model()
    model(x, training=True)
    testing.assert_save_reload(model, x, tmp_path)


def test_from_task_and_bad_arguments():
    task = testing.FakeSequenceCTRTask(VOCAB, sequence_types=TYPES)
    model = AutoIntUMN.from_task(task, embedding_dim=2, num_slots=4, slot_dim=2)
    assert model.sequence_types == TYPES
    no_dislike = testing.FakeSequenceCTRTask(
        VOCAB, sequence_types=("click", "unclick", "like")
    )
    with pytest.raises(ValueError, match=r"\['dislike'\].*dataset 'fake'"):
        AutoIntUMN.from_task(no_dislike)
    with pytest.raises(ValueError, match="user field"):
        AutoIntUMN(("item_id",), (32,))
    with pytest.raises(ValueError, match="num_layers"):
        AutoIntUMN(FIELDS, (4, 32, 5), num_layers=0)


@pytest.mark.parametrize("samples", ["window", "history"])
def test_triplet_term_matches_numpy(samples):
    """With `triplet_weight` (the reading of UMN with DUMN's triplet loss): Eq.
    (17)-(20) over the four memories' anchors, hardest samples of the batch,
    drawn from each row's window (T = 1: its one item, a deterministic draw) or
    given as its drawn history event (`k_sample_*`, `data.history_samples`)."""
    x, _ = _batch(length=1)
    prefix = ""
    if samples == "history":
        prefix = "sample_"
        for t in TYPES:  # other items than the windows'
            x[f"{t}_sample_item_id"] = (x[f"{t}_item_id"] * 7 + 3) % VOCAB["item_id"]
            x[f"{t}_sample_category"] = x[f"{t}_sample_item_id"] % VOCAB["category"]
            x[f"{t}_sample_mask"] = x[f"{t}_mask"][:, ::-1].copy()
            x[f"{t}_sample_mask"][:5] = 1
    model = _model(triplet_weight=0.7, triplet_margin=0.3, triplet_samples=samples)
    _randomise(model, x)
    memories = [m.memory for m in model.umn.memories]
    start = [testing.to_numpy(v).copy() for v in memories]
    model(x, training=True)
    (term,) = [float(testing.to_numpy(v)) for v in model.losses]
    for v, value in zip(memories, start):  # the anchors read the memory before
        v.assign(value)
    table = testing.to_numpy(model.embedding.embeddings).astype(np.float64)
    offsets = dict(zip(FIELDS, np.cumsum((0,) + model.vocabulary_sizes[:-1])))
    samples = {
        t: (
            np.concatenate(
                [
                    table[x[f"{t}_{prefix}{f}"][:, 0] + offsets[f]]
                    for f in ITEM_FEATURES
                ],
                -1,
            ),
            x[f"{t}_{prefix}mask"][:, 0] == 1,
        )
        for t in TYPES
    }
    short, _ = model.short_term(x)
    user = table[x["user_id"]]
    pairs = {"click": "unclick", "unclick": "click", "like": "dislike"}
    pairs["dislike"] = "like"
    expected = 0.0
    for k, t in enumerate(TYPES):
        _, anchor = model.umn.memories[k](short[:, k], user, return_anchor=True)
        expected += _numpy_triplet(
            testing.to_numpy(anchor).astype(np.float64),
            *samples[t],
            *samples[pairs[t]],
            0.3,
        )
    np.testing.assert_allclose(term, 0.7 * expected, rtol=1e-4)
    assert term > 0.1


def test_triplet_loss_is_a_switch_with_gradients_and_round_trip():
    x, y = _batch()
    plain = _model()
    plain(x, training=True)
    assert not plain.losses  # the default: the logloss alone
    assert all(m.anchor_dim is None for m in plain.umn.memories)
    model = _model(triplet_weight=1.0, triplet_sampling="random", seed=3)
    _randomise(model, x)
    model(x)
    assert not model.losses  # inference: no triplet term
    testing.assert_model_gradients(model, x, y)  # the anchor maps W_q included
    testing.assert_config_round_trip(model, x)
    # No dislike data: like has no negative, so only click and unclick anchor.
    three = _model(sequence_types=TYPES[:3], triplet_weight=1.0)
    x3, _ = _batch(types=TYPES[:3])
    three(x3, training=True)
    assert [m.anchor_dim is not None for m in three.umn.memories] == [
        True,
        True,
        False,
    ]
    assert len(three.losses) == 1
    with pytest.raises(ValueError, match="triplet_sampling"):
        _model(triplet_sampling="semi_hard")


def test_memory_off_is_the_control_with_the_same_windows():
    x, y = _batch()
    model = _model(memory=False)
    _randomise(model, x)
    assert model.umn is None and not model.non_trainable_weights
    np.testing.assert_allclose(
        testing.to_numpy(model(x)), _numpy_logits(model, x), rtol=1e-4, atol=1e-5
    )
    model(x, training=True)
    assert not model.losses
    testing.assert_model_gradients(model, x, y)
    testing.assert_config_round_trip(model, x)
    with pytest.raises(ValueError, match="memory=False set triplet_weight=0"):
        _model(memory=False, triplet_weight=1.0)
