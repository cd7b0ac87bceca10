"""Tests of `DUMN`: shapes, gradients, padding, triplet term against NumPy,
saving with the memory state, and every ablation switch."""

import os
import types

import keras
import numpy as np
import pytest

from recsys_tf.data.ctr_sequence import MERGED
from recsys_tf.layers import NTMMemory, OrthogonalProjection
from recsys_tf.models import MODELS, SequenceCTRModel
from recsys_tf.models.dumn import DUMN
from recsys_tf.training import callbacks
from tests import testing

VOCAB = {"user_id": 4, "item_id": 40, "category": 5}
FIELDS = tuple(VOCAB)
ITEM_FEATURES = ("item_id", "category")
OFFSETS = {"user_id": 0, "item_id": 4, "category": 44}
FOUR = ("click", "unclick", "like", "dislike")
SMALL = dict(
    embedding_dim=4,
    num_slots=8,
    slot_dim=6,
    controller_units=8,
    hidden_units=(8,),
    seed=3,
)


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(types_=FOUR, n=16, length=4, seed=1):
    return testing.sequence_ctr_batch(
        VOCAB, ITEM_FEATURES, types_, n=n, length=length, seed=seed
    )


def _model(**kwargs):
    return DUMN(
        FIELDS,
        [VOCAB[f] for f in FIELDS],
        item_features=ITEM_FEATURES,
        **{**SMALL, **kwargs},
    )


def _randomise_embeddings(model):
    """Unit-scale embeddings (the default uniform(-0.05, 0.05) rows give Eq. (3)'s
    attention kernel gradients below the harness's numerical zero)."""
    table = model.embedding.embeddings
    table.assign(np.random.default_rng(3).normal(size=table.shape).astype("float32"))


def _memories(model):
    return [v for v in model.non_trainable_weights if v.path.endswith("/memory")]


def _task(sequence_types):
    return types.SimpleNamespace(
        fields=FIELDS,
        vocabulary_sizes=VOCAB,
        sequence_types=sequence_types,
        item_features=ITEM_FEATURES,
        dataset="tiny",
        max_length=4,
    )


def test_is_registered():
    assert MODELS["dumn"] is DUMN
    assert issubclass(DUMN, SequenceCTRModel)


def test_forward_shapes_and_representations():
    x, _ = _batch()
    model = _model()
    assert tuple(model(x).shape) == (16,)
    parts = model.representations(x)
    assert tuple(parts["user"].shape) == (16, 4)  # user_id's embedding
    assert tuple(parts["item"].shape) == (16, 8)  # item_id + category
    for t in FOUR:
        assert tuple(parts["purified"][t].shape) == (16, 8)
    assert model.purified_pairs == (("click", "dislike"), ("unclick", "like"))
    # Eq. (7): the purified click is orthogonal to the dislike representation.
    dots = testing.to_numpy(
        keras.ops.sum(parts["purified"]["click"] * parts["short"]["dislike"], -1)
    )
    np.testing.assert_allclose(dots, 0.0, atol=1e-5)
    assert model.losses == []  # inference adds no triplet term


def test_every_variable_gets_a_gradient_and_one_train_step():
    x, y = _batch()
    model = _model()
    model(x)
    _randomise_embeddings(model)
    before = [testing.to_numpy(v).copy() for v in _memories(model)]
    testing.assert_model_gradients(model, x, y)
    testing.assert_one_train_step(model, x, y)
    # Training calls write every memory (Eq. (12)).
    for old, new in zip(before, _memories(model)):
        assert not np.allclose(old, testing.to_numpy(new))


@pytest.mark.parametrize("training", [False, True])
def test_padding_does_not_change_the_output(training):
    x, _ = _batch()
    outputs = []
    for inputs in (x, testing.change_padding(x)):
        testing.set_seed()
        model = _model()
        logits = testing.to_numpy(model(inputs, training=training))
        losses = [float(testing.to_numpy(v)) for v in model.losses]
        memories = [testing.to_numpy(v) for v in _memories(model)]
        outputs.append((logits, losses, memories))
    np.testing.assert_allclose(outputs[0][0], outputs[1][0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(outputs[0][1], outputs[1][1], rtol=1e-6)
    for a, b in zip(outputs[0][2], outputs[1][2]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert len(outputs[0][1]) == int(training)


def test_with_max_length_the_padding_width_does_not_matter():
    """`padding_invariant`: with `max_length` set (as `from_task` does), a batch
    cut to fewer columns or padded to more gives the same logits and the same
    memory writes, so the task may cut batches to the columns they use."""
    x, _ = _batch(length=4)
    outputs = []
    for inputs in (x, testing.widen_padding(x, 3)):
        testing.set_seed()
        model = _model(max_length=4)
        logits = testing.to_numpy(model(inputs))
        model(inputs, training=True)
        memories = [testing.to_numpy(v) for v in _memories(model)]
        outputs.append((logits, memories))
    assert DUMN.padding_invariant
    np.testing.assert_allclose(outputs[0][0], outputs[1][0], rtol=1e-5, atol=1e-6)
    for a, b in zip(outputs[0][1], outputs[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Without max_length, Eq. (1)'s sqrt(T) follows the width: the logits move.
    testing.set_seed()
    model = _model()
    assert not np.allclose(
        testing.to_numpy(model(x)), testing.to_numpy(model(testing.widen_padding(x, 3)))
    )


def _numpy_triplet(anchor, positives, has_positive, negatives, has_negative, margin):
    """Eq. (17)-(19), hardest positive and negative of the batch, per anchor."""

    def distance(a, b):
        return 1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))

    losses = []
    for q in anchor:
        pos = [distance(q, s) for s, ok in zip(positives, has_positive) if ok]
        neg = [distance(q, s) for s, ok in zip(negatives, has_negative) if ok]
        losses.append(max(max(pos) - min(neg) + margin, 0.0) if pos and neg else 0.0)
    return np.mean(losses)


PAIRS = {"click": "unclick", "unclick": "click", "like": "dislike", "dislike": "like"}


def _term_and_numpy(model, x, prefix):
    """The triplet term of one training call, and Eq. (17)-(20) in NumPy with
    the hardest samples among each row's one item `x[f"{t}_{prefix}<f>"][:, 0]`
    (unweighted, margin `model.triplet_margin`)."""
    model(x)
    _randomise_embeddings(model)
    memories = _memories(model)
    start = [testing.to_numpy(v).copy() for v in memories]
    model(x, training=True)
    (term,) = [float(testing.to_numpy(v)) for v in model.losses]
    for v, value in zip(memories, start):  # the anchors read the memory before
        v.assign(value)
    parts = model.representations(x)
    table = testing.to_numpy(model.embedding.embeddings).astype(np.float64)
    samples = {
        t: (
            np.concatenate(
                [
                    table[x[f"{t}_{prefix}{f}"][:, 0] + OFFSETS[f]]
                    for f in ITEM_FEATURES
                ],
                -1,
            ),
            x[f"{t}_{prefix}mask"][:, 0] == 1,
        )
        for t in FOUR
    }
    expected = 0.0
    for t, other in PAIRS.items():
        _, anchor = model.memories[t](
            parts["purified"][t], parts["user"], return_anchor=True
        )
        expected += _numpy_triplet(
            testing.to_numpy(anchor).astype(np.float64),
            *samples[t],
            *samples[other],
            model.triplet_margin,
        )
    return term, expected


def test_triplet_term_matches_numpy():
    # T = 1: each row's sample is its one item, so the draw is deterministic.
    x, _ = _batch(length=1)
    model = _model(triplet_weight=0.7, triplet_margin=0.3)
    term, expected = _term_and_numpy(model, x, "")
    np.testing.assert_allclose(term, 0.7 * expected, rtol=1e-4)
    assert term > 0.1


def test_history_samples_feed_the_triplet_term():
    """`triplet_samples="history"` (Sec. 3.5: samples "from the data of all user
    interactions"): each row's sample is its drawn history event
    (`k_sample_*` inputs, `data.history_samples`), not an item of its window."""
    x, _ = _batch(length=4)
    rng = np.random.default_rng(5)
    for t in FOUR:
        items = rng.integers(1, VOCAB["item_id"], (len(x["user_id"]), 1))
        has = rng.random((len(items), 1)) < 0.8
        x[f"{t}_sample_item_id"] = np.where(has, items, 0)
        x[f"{t}_sample_category"] = np.where(has, items % VOCAB["category"], 0)
        x[f"{t}_sample_mask"] = has.astype(np.int8)
    model = _model(triplet_weight=0.7, triplet_margin=0.3, triplet_samples="history")
    term, expected = _term_and_numpy(model, x, "sample_")
    np.testing.assert_allclose(term, 0.7 * expected, rtol=1e-4)
    testing.assert_config_round_trip(model, x)
    del x["like_sample_mask"]
    with pytest.raises(ValueError, match="like_sample_mask.*data.history_samples"):
        model(x, training=True)
    with pytest.raises(ValueError, match="triplet_samples"):
        _model(triplet_samples="all")


def test_random_sampling_gives_a_smaller_term_than_the_hardest():
    # DUMN_RS: random samples are never farther (positive) / nearer (negative)
    # than the hardest ones, so the term is smaller on the same weights.
    x, _ = _batch(n=32, length=4)
    terms = {}
    for sampling in ("hardest", "random"):
        testing.set_seed()
        model = _model(triplet_sampling=sampling)
        model(x, training=True)
        terms[sampling] = float(testing.to_numpy(model.losses[0]))
    assert terms["random"] < terms["hardest"]


@pytest.mark.slow
def test_overfits_one_batch():
    x, y = _batch(n=32)
    model = _model(hidden_units=(16,))
    loss = testing.fit_one_batch(model, x, y, steps=150, learning_rate=0.02)
    assert loss < 0.05
    assert np.mean((testing.to_numpy(model(x)) > 0) == (y > 0.5)) == 1.0


@pytest.mark.parametrize(
    "switches",
    [
        pytest.param({}, id="default", marks=pytest.mark.slow),
        pytest.param({"fusion": "cross", "triplet_sampling": "random"}, id="cross_rs"),
        pytest.param({"memory": "one"}, id="umn1"),
        pytest.param({"write_content": "key", "key_strength": 10.0}, id="key_writes"),
    ],
)
def test_save_reload_keeps_the_memory_state(switches, tmp_path):
    x, y = _batch()
    model = _model(**switches)
    model(x)
    start = [testing.to_numpy(v).copy() for v in _memories(model)]
    model(x, training=True)  # a write: the memory is not its initial value
    assert not np.allclose(start[0], testing.to_numpy(_memories(model)[0]))
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    for a, b in zip(_memories(reloaded), _memories(model)):
        np.testing.assert_array_equal(testing.to_numpy(a), testing.to_numpy(b))
    for key, value in switches.items():
        assert getattr(reloaded, key) == value


@pytest.mark.parametrize(
    "memory, names",
    [
        ("per_type", [f"{t}_memory_slot_cosine" for t in FOUR]),
        ("one", ["memory_slot_cosine"]),
        ("none", []),
    ],
)
def test_state_diagnostics_log_each_memory_slot_cosine(memory, names):
    x, _ = _batch()
    model = _model(memory=memory)
    model(x)
    found = callbacks.state_diagnostics(model)
    assert sorted(found) == sorted(names)
    layers = {m.name: m for m in model.memories.values()}
    for name, value in found.items():
        layer = layers[name.removesuffix("_slot_cosine")]
        assert value == layer.slot_cosine()
        assert -1.0 <= value <= 1.0


def test_one_memory_reads_every_type_before_the_batch_write():
    """DUMN+UMN1: in a training call every type reads the memory as it was
    before the batch (no type sees another's write), and the memory is written
    once, with the mean of the K x batch rows' writes."""
    x, _ = _batch()
    model = _model(memory="one")
    model(x)
    memory = model.memories["click"]
    assert all(model.memories[t] is memory for t in FOUR)
    before = testing.to_numpy(memory.memory).copy()
    parts = model.representations(x)
    args = parts["purified"], parts["user"]
    reads, _ = model.read_memories(*args, training=False)
    np.testing.assert_array_equal(testing.to_numpy(memory.memory), before)
    trained, anchors = model.read_memories(*args, training=True)
    assert sorted(anchors) == sorted(FOUR)
    for t, a, b in zip(FOUR, reads, trained):
        np.testing.assert_allclose(
            testing.to_numpy(b), testing.to_numpy(a), rtol=1e-5, atol=1e-6, err_msg=t
        )
    after = testing.to_numpy(memory.memory).copy()
    assert not np.allclose(after, before)
    # The same as one write of the four types' rows stacked as one batch.
    memory.memory.assign(before)
    stacked = np.concatenate([testing.to_numpy(parts["purified"][t]) for t in FOUR])
    user = np.concatenate([testing.to_numpy(parts["user"])] * len(FOUR))
    memory(stacked, user, training=True)
    np.testing.assert_allclose(
        testing.to_numpy(memory.memory), after, rtol=1e-5, atol=1e-6
    )


@pytest.mark.slow
def test_checkpoint_resume_keeps_the_memory_state(tmp_path):
    """The trainer's checkpoints (`save_weights_atomic` / `load_weights`) carry
    the memories: a resumed model continues from the written state."""
    x, y = _batch()
    model = _model()
    model.compile(optimizer="adam")
    for _ in range(2):
        model.train_on_batch(x, y)
    path = os.path.join(tmp_path, "epoch_0001.weights.h5")
    callbacks.save_weights_atomic(model, path)
    resumed = _model()
    resumed(x)
    resumed.compile(optimizer="adam")
    resumed.optimizer.build(resumed.trainable_variables)
    initial = [testing.to_numpy(v).copy() for v in _memories(resumed)]
    resumed.load_weights(path)
    for a, b, c in zip(_memories(resumed), _memories(model), initial):
        np.testing.assert_array_equal(testing.to_numpy(a), testing.to_numpy(b))
        assert not np.allclose(testing.to_numpy(a), c)
    np.testing.assert_array_equal(
        testing.to_numpy(resumed(x)), testing.to_numpy(model(x))
    )
    # One more step from the same state gives the same memory on both.
    model.train_on_batch(x, y)
    resumed.train_on_batch(x, y)
    for a, b in zip(_memories(resumed), _memories(model)):
        np.testing.assert_allclose(
            testing.to_numpy(a), testing.to_numpy(b), rtol=1e-5, atol=1e-6
        )


def _structure(model):
    layers = {type(layer).__name__ for layer in model._flatten_layers()}
    return {
        "memories": len(_memories(model)),
        "projection": OrthogonalProjection.__name__ in layers,
        "ntm": NTMMemory.__name__ in layers,
        "anchor_kernels": sum(
            v.path.endswith("anchor_kernel") for v in model.trainable_weights
        ),
    }


ABLATIONS = {
    # name: (constructor switches, inputs' types, expected structure, term?)
    "dumn": ({}, FOUR, (4, True, True, 4), True),
    "umn": ({"memory": False}, FOUR, (0, True, False, 0), False),
    "umn1": ({"memory": "one"}, FOUR, (1, True, True, 1), True),
    "concat": ({"fusion": "concat"}, FOUR, (4, True, True, 4), True),
    "attention": ({"fusion": "attention"}, FOUR, (4, True, True, 4), True),
    "tl": ({"triplet_weight": 0.0}, FOUR, (4, True, True, 0), False),
    "rs": ({"triplet_sampling": "random"}, FOUR, (4, True, True, 4), True),
    "implicit": ({"feedback": "implicit"}, FOUR[:2], (2, False, True, 2), True),
    "all": ({"feedback": "all"}, (MERGED,), (1, False, True, 0), False),
    "fp": ({"purify": False}, FOUR, (4, False, True, 4), True),
    # Data without dislike: no M_d, no <click, dislike> projection, and like has
    # no negative (no triplet term on M_l).
    "no_dislike": (
        {"sequence_types": FOUR[:3]},
        FOUR[:3],
        (3, True, True, 2),
        True,
    ),
}


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_ablation_changes_the_computation(name):
    switches, types_, (memories, projection, ntm, anchors), term = ABLATIONS[name]
    x, _ = _batch(types_)
    model = _model(**switches)
    model(x)
    assert model.sequence_types == types_
    assert tuple(_structure(model).values()) == (memories, projection, ntm, anchors)
    model(x, training=True)
    assert len(model.losses) == int(term)
    if name == "no_dislike":
        assert model.purified_pairs == (("unclick", "like"),)
        assert model.triplet_types == ("click", "unclick")
    if name in ("concat", "attention"):
        assert model.pair.fusion == switches["fusion"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_ablation_gradients_and_one_train_step(name):
    switches, types_, *_ = ABLATIONS[name]
    x, y = _batch(types_)
    model = _model(**switches)
    model(x)
    _randomise_embeddings(model)
    testing.assert_model_gradients(model, x, y)
    testing.assert_one_train_step(model, x, y)


def test_purify_switch_changes_the_logits_only_through_the_projection():
    x, _ = _batch()
    model, unpurified = _model(), _model(purify=False)
    model(x)
    unpurified(x)
    unpurified.set_weights(model.get_weights())  # the projection has no weights
    a, b = testing.to_numpy(model(x)), testing.to_numpy(unpurified(x))
    assert not np.allclose(a, b)
    parts = unpurified.representations(x)
    for t in FOUR:
        np.testing.assert_array_equal(
            testing.to_numpy(parts["purified"][t]), testing.to_numpy(parts["short"][t])
        )


def test_from_task_defaults_and_missing_types():
    model = DUMN.from_task(_task(FOUR + ("cart",)), **SMALL)
    assert model.sequence_types == FOUR
    assert model.max_length == 4  # the task's T, for Eq. (1)'s sqrt(T)
    with pytest.raises(ValueError, match=r"\['dislike'\].*'tiny'"):
        DUMN.from_task(_task(FOUR[:3]), **SMALL)
    model = DUMN.from_task(_task(FOUR[:3]), sequence_types=FOUR[:3], **SMALL)
    assert "dislike" not in model.memories
    with pytest.raises(ValueError, match=r"\['all'\].*'tiny'"):
        DUMN.from_task(_task(FOUR), feedback="all", **SMALL)
    model = DUMN.from_task(_task(FOUR), feedback="implicit", **SMALL)
    assert model.sequence_types == ("click", "unclick")
    assert set(model.input_fields()) == set(FIELDS) | {
        f"{t}_{f}" for t in ("click", "unclick") for f in ITEM_FEATURES + ("mask",)
    }


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="feedback"):
        _model(feedback="explicit")
    with pytest.raises(ValueError, match="memory"):
        _model(memory="two")
    with pytest.raises(ValueError, match="triplet_sampling"):
        _model(triplet_sampling="semi_hard")
    with pytest.raises(ValueError, match="triplet_weight"):
        _model(triplet_weight=-1.0)
    with pytest.raises(ValueError, match="needs a memory"):
        _model(memory="none", fusion="concat")
    with pytest.raises(ValueError, match="reads click, unclick"):
        _model(sequence_types=("click", "like"))
    with pytest.raises(ValueError, match="reads the sequences"):
        _model(feedback="implicit", sequence_types=FOUR)
    with pytest.raises(ValueError, match="user field"):
        DUMN(("item_id", "category"), [40, 5], item_features=ITEM_FEATURES)


@pytest.mark.slow
def test_trains_with_xla_as_eagerly():
    # T = 1 and hardest mining: no random draw (XLA's stateless generator
    # differs from the eager one), so the two must agree.
    x, y = _batch(length=1)
    losses = []
    for jit_compile in (False, True):
        testing.set_seed()
        model = _model()
        model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            jit_compile=jit_compile,
            run_eagerly=not jit_compile,
        )
        losses.append([float(model.train_on_batch(x, y)) for _ in range(2)])
    assert np.all(np.isfinite(losses))
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
