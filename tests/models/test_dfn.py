"""Tests of `DFN`: internal and external feedback interaction, Wide + FM + Deep."""

import numpy as np
import pytest

from recsys_tf.models import DFN, MODELS, CTRModel
from tests import testing
from tests.layers.test_ntm_memory import M, Z, _numpy_memory
from tests.layers.test_pair_gate import _numpy_pair
from tests.models.test_dumn import _numpy_triplet

TYPES = ("click", "unclick", "dislike")
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
    kwargs.setdefault("embedding_dim", 4)
    kwargs.setdefault("hidden_units", (8,))
    kwargs.setdefault("sequence_types", TYPES)
    return DFN(
        FIELDS,
        [VOCAB[f] for f in FIELDS],
        item_features=ITEM_FEATURES,
        **kwargs,
    )


def _randomise(model, x):
    """Unit-scale embedding rows (else the attention is nearly uniform and its
    query / key gradients fall below the harness' floor) and non-zero wide weights."""
    model(x)
    rng = np.random.default_rng(3)
    for table in (model.embedding.embeddings, model.linear.embeddings):
        table.assign(rng.normal(size=table.shape).astype("float32"))


def _numpy_head(model, x):
    """The Wide + FM + Deep logit from the model's own feedback features."""
    features = [testing.to_numpy(f) for f in model.feedback_features(x)]
    sizes = model.vocabulary_sizes
    e = testing.numpy_field_lookup(
        testing.to_numpy(model.embedding.embeddings), x, FIELDS, sizes
    )
    vectors = np.concatenate(
        [e] + [f.reshape(len(f), 2, 4) for f in features], axis=1
    ).astype(np.float64)
    wide = testing.numpy_field_lookup(
        testing.to_numpy(model.linear.embeddings), x, FIELDS, sizes
    ).sum(axis=(1, 2))
    fm = testing.numpy_kernel_products(vectors).sum(axis=1)
    deep = testing.numpy_dense_stack(
        vectors.reshape(len(vectors), -1),
        testing.mlp_params(model.mlp),
        ["relu"] * len(model.hidden_units) + [None],
    )[:, 0]
    return wide + fm + deep


def test_is_registered():
    assert MODELS["dfn"] is DFN
    assert issubclass(DFN, CTRModel)


def test_forward_shape_and_wide_fm_deep_logit():
    x, _ = _batch()
    model = _model()
    _randomise(model, x)
    logits = testing.to_numpy(model(x))
    assert logits.shape == (32,)
    np.testing.assert_allclose(logits, _numpy_head(model, x), rtol=1e-4, atol=1e-4)
    # Three internal features and two external ones (click and dislike query unclick).
    assert len(model.feedback_features(x)) == 5
    assert model.external_types == ("click", "dislike")


def test_internal_feature_is_the_transformer_average_with_the_target_first():
    x, _ = _batch()
    model = _model()
    _randomise(model, x)
    target = testing.to_numpy(model.embed_target(x))
    sequence, mask = model.embed_sequence(x, "dislike")
    tokens = np.concatenate([target[:, None], testing.to_numpy(sequence)], axis=1)
    valid = np.concatenate([np.ones((32, 1), bool), testing.to_numpy(mask)], axis=1)
    outputs = testing.to_numpy(model.internal["dislike"](tokens, mask=valid))
    expected = (outputs * valid[..., None]).sum(1) / valid.sum(1, keepdims=True)
    np.testing.assert_allclose(
        testing.to_numpy(model.feedback_features(x)[2]), expected, rtol=1e-5, atol=1e-6
    )
    # A user with no dislike still has the target: f_d is not zero.
    empty = ~testing.to_numpy(mask).any(axis=1)
    assert empty.any() and np.abs(expected[empty]).min() > 0


def _numpy_items(table, x, prefix):
    """Concat of the item features' rows (item_id, category) for codes
    `x[prefix + feature]` of any shape: `[..., 2 E]`."""
    offsets = {"item_id": VOCAB["user_id"], "category": VOCAB["user_id"] + 32}
    return np.concatenate(
        [table[np.asarray(x[f"{prefix}{f}"]) + offsets[f]] for f in ITEM_FEATURES],
        axis=-1,
    )


def _numpy_feedback_features(model, x):
    """DFN's internal and external feedback interaction from the weights alone:
    a Transformer over [target; sequence] averaged over the valid tokens, then
    f_cu = sum_i softmax_i(u_i^T W f_c / sqrt(d)) u_i over the valid unclicks."""
    from tests.layers.test_transformer_block import _numpy_block

    table = testing.to_numpy(model.embedding.embeddings).astype(np.float64)
    target = _numpy_items(table, x, "")
    internal, sequences = {}, {}
    for t in TYPES:
        sequence = _numpy_items(table, x, f"{t}_")
        mask = np.asarray(x[f"{t}_mask"], bool)
        sequences[t] = sequence, mask
        tokens = np.concatenate([target[:, None], sequence], axis=1)
        valid = np.concatenate([np.ones((len(mask), 1), bool), mask], axis=1)
        out, _ = _numpy_block(model.internal[t], tokens, mask=valid)
        internal[t] = (out * valid[..., None]).sum(1) / valid.sum(1, keepdims=True)
    unclick, unclick_mask = sequences["unclick"]
    external = []
    for t in ("click", "dislike"):
        w = testing.to_numpy(model.external[t].kernel).astype(np.float64)
        pooled = np.zeros_like(internal[t])
        for b in range(len(pooled)):
            keys = np.flatnonzero(unclick_mask[b])
            if keys.size:
                s = unclick[b, keys] @ w @ internal[t][b] / np.sqrt(w.shape[0])
                a = np.exp(s - s.max())
                pooled[b] = (a / a.sum()) @ unclick[b, keys]
        external.append(pooled)
    return [internal[t] for t in TYPES] + external


def test_feedback_features_match_an_independent_numpy_computation():
    x, _ = _batch()
    model = _model()
    _randomise(model, x)
    got = [testing.to_numpy(f) for f in model.feedback_features(x)]
    expected = _numpy_feedback_features(model, x)
    assert len(got) == len(expected) == 5
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
    # Rows without unclicks read nothing from them.
    empty = ~np.asarray(x["unclick_mask"], bool).any(axis=1)
    assert empty.any() and np.all(expected[3][empty] == 0)


def test_external_interaction_needs_unclick():
    x, _ = _batch(("click", "dislike"))
    model = _model(sequence_types=("click", "dislike"))
    model(x)
    assert model.external_types == () and len(model.feedback_features(x)) == 2
    x, _ = _batch(("click", "unclick"))
    model = _model(sequence_types=("click", "unclick"))
    assert model.external_types == ("click",)
    assert testing.to_numpy(model(x)).shape == (32,)


def test_from_task_reads_the_types_asked_for():
    task = testing.FakeSequenceCTRTask(VOCAB)
    model = DFN.from_task(task, sequence_types=("click", "unclick"), embedding_dim=2)
    assert model.sequence_types == ("click", "unclick")
    assert model.item_features == task.item_features
    no_dislike = testing.FakeSequenceCTRTask(VOCAB, sequence_types=("click", "unclick"))
    with pytest.raises(ValueError, match=r"\['dislike'\].*dataset 'fake'"):
        DFN.from_task(no_dislike)  # the default reads the paper's three


def _umn_model(**kwargs):
    return _model(
        user_memory=True, num_slots=M, slot_dim=Z, controller_units=6, **kwargs
    )


def test_user_memory_joins_the_deep_part_as_numpy_says():
    """DFN+UMN (DUMN Table 3): f_t of each type read from its memory with
    e_user (Eq. (8)-(12)), fused by PAIR (Eq. (13)-(14)), after the Deep input."""
    x, _ = _batch()
    model = _umn_model()
    _randomise(model, x)
    features = [testing.to_numpy(f) for f in model.feedback_features(x)]
    short = np.stack(features[:3], axis=1)
    e = testing.numpy_field_lookup(
        testing.to_numpy(model.embedding.embeddings),
        x,
        FIELDS,
        model.vocabulary_sizes,
    )
    user = e[:, 0]  # user_id, the one field that is not an item feature
    reads = [
        _numpy_memory(
            model.umn.memories[k],
            short[:, k],
            user,
            testing.to_numpy(model.umn.memories[k].memory),
        )[0]
        for k in range(3)
    ]
    memory = _numpy_pair(model.umn.pair, short, np.stack(reads, axis=1))
    vectors = np.concatenate(
        [e] + [f.reshape(len(f), 2, 4) for f in features], axis=1
    ).astype(np.float64)
    wide = testing.numpy_field_lookup(
        testing.to_numpy(model.linear.embeddings), x, FIELDS, model.vocabulary_sizes
    ).sum(axis=(1, 2))
    fm = testing.numpy_kernel_products(vectors).sum(axis=1)
    deep = testing.numpy_dense_stack(
        np.concatenate([vectors.reshape(len(vectors), -1), memory], axis=1),
        testing.mlp_params(model.mlp),
        ["relu"] * len(model.hidden_units) + [None],
    )[:, 0]
    np.testing.assert_allclose(
        testing.to_numpy(model(x)), wide + fm + deep, rtol=1e-4, atol=1e-4
    )
    assert memory.shape == (32, 3 * (8 + Z))


def test_user_memory_gradients_config_and_writes():
    x, y = _batch()
    model = _umn_model(l2=1e-3)
    _randomise(model, x)
    testing.assert_model_gradients(model, x, y)
    testing.assert_config_round_trip(model, x)
    before = testing.to_numpy(model.umn.memories[0].memory).copy()
    model(x)
    np.testing.assert_array_equal(
        testing.to_numpy(model.umn.memories[0].memory), before
    )
    model(x, training=True)
    assert np.abs(testing.to_numpy(model.umn.memories[0].memory) - before).max() > 0
    assert not hasattr(_model(), "umn")


def test_user_memory_triplet_term_matches_numpy():
    """DFN+UMN with DUMN's triplet loss (`triplet_weight`): <click, unclick> and
    <unclick, click> (dislike has no like here, so its memory has no anchor).
    T = 1: each row's sample is its one item, so the draw is deterministic."""
    x, _ = _batch(length=1)
    model = _umn_model(triplet_weight=0.5, triplet_margin=0.2)
    _randomise(model, x)
    assert [m.anchor_dim for m in model.umn.memories] == [8, 8, None]
    memories = [m.memory for m in model.umn.memories]
    start = [testing.to_numpy(v).copy() for v in memories]
    model(x, training=True)
    (term,) = [float(testing.to_numpy(v)) for v in model.losses]
    for v, value in zip(memories, start):
        v.assign(value)
    table = testing.to_numpy(model.embedding.embeddings).astype(np.float64)
    samples = {
        t: (_numpy_items(table, x, f"{t}_")[:, 0], x[f"{t}_mask"][:, 0] == 1)
        for t in ("click", "unclick")
    }
    features = model.feedback_features(x)
    user = table[x["user_id"]]
    expected = 0.0
    for k, (t, other) in enumerate((("click", "unclick"), ("unclick", "click"))):
        _, anchor = model.umn.memories[k](features[k], user, return_anchor=True)
        expected += _numpy_triplet(
            testing.to_numpy(anchor).astype(np.float64),
            *samples[t],
            *samples[other],
            0.2,
        )
    np.testing.assert_allclose(term, 0.5 * expected, rtol=1e-4)
    assert term > 0.05
    model(x)
    assert not model.losses  # inference: none
    x, y = _batch()  # T = 4: the external attention has positions to weigh
    model = _umn_model(triplet_weight=0.5)
    _randomise(model, x)
    testing.assert_model_gradients(model, x, y)  # the anchor maps W_q included
    testing.assert_config_round_trip(model, x)
