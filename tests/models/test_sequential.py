"""Tests of the sequential retrieval models (SASRec, GRU4Rec, Caser, NARM, SHAN, HPMN,
BINN) and of the per-position loss of `SequentialRetrievalModel`."""

import numpy as np
import pytest

from recsys_tf.models import (
    BINN,
    HPMN,
    MODELS,
    NARM,
    SHAN,
    Caser,
    GRU4Rec,
    SASRec,
    SequentialRetrievalModel,
)
from tests import testing

NUM_ITEMS, NUM_USERS, LENGTH, BATCH = 30, 12, 6, 8


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


# Tiny hyperparameters of each model (dropout on where the model has some).
SMALL = {
    SASRec: dict(max_length=LENGTH, embedding_dim=8, num_heads=2, dropout=0.2),
    GRU4Rec: dict(embedding_dim=6, units=8, num_layers=2),
    Caser: dict(
        num_users=NUM_USERS,
        window=3,
        embedding_dim=4,
        num_horizontal=2,
        num_vertical=2,
        dropout=0.2,
    ),
    NARM: dict(embedding_dim=6, units=8, embedding_dropout=0.1, dropout=0.2),
    SHAN: dict(num_users=NUM_USERS, embedding_dim=6, short_term_length=2),
    HPMN: dict(
        embedding_dim=6,
        units=5,
        periods=(1, 2),
        hops=2,
        attention_units=(4,),
        dropout=0.2,
    ),
    # Per position needs the forward preference encoder (see the BINN tests).
    BINN: dict(
        bidirectional=False, embedding_dim=6, units=5, session_length=3, dropout=0.2
    ),
}


def _model(case, **kwargs):
    """The model of a class or of a case `(cls, variant kwargs)` of `CASES`."""
    cls, variant = case if isinstance(case, tuple) else (case, {})
    kwargs = {**variant, **kwargs}
    kwargs.setdefault("seed", 3)
    if "dropout" in kwargs:  # every dropout of the model (SHAN has none)
        if cls is NARM:
            kwargs.setdefault("embedding_dropout", kwargs["dropout"])
        elif cls is SHAN:
            del kwargs["dropout"]
    return cls(NUM_ITEMS, **{**SMALL[cls], **kwargs})


def _batch(seed=1, n=BATCH):
    """Per-position rows: left-padded inputs, the next item at every real position."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, LENGTH + 1, n)
    lengths[:2] = (1, LENGTH)
    mask = np.arange(LENGTH)[None, :] >= (LENGTH - lengths)[:, None]
    sequence = rng.integers(0, NUM_ITEMS, (n, LENGTH + 1))
    history = np.where(mask, sequence[:, :-1], 0)
    targets = np.where(mask, sequence[:, 1:], 0)
    x = {
        "user_id": rng.integers(0, NUM_USERS, n).astype(np.int64),
        "history": history.astype(np.int64),
        "history_mask": mask,
    }
    return x, targets.astype(np.int64)


MODEL_CLASSES = list(SMALL)
# The cases of the shared model tests: every class at its tiny sizes, and the
# variants a constructor switch selects (SASRec with S3-Rec's BERT blocks).
VARIANTS = {
    "SASRec-bert": (SASRec, {"block": "bert"}),
}
CASES = [pytest.param((cls, {}), id=cls.__name__) for cls in MODEL_CLASSES] + [
    pytest.param(case, id=name) for name, case in VARIANTS.items()
]


def test_registered():
    assert MODELS["sasrec"] is SASRec
    assert MODELS["gru4rec"] is GRU4Rec
    assert MODELS["caser"] is Caser
    assert MODELS["narm"] is NARM
    assert MODELS["shan"] is SHAN
    assert MODELS["hpmn"] is HPMN
    assert MODELS["binn"] is BINN
    for cls in MODEL_CLASSES:
        assert issubclass(cls, SequentialRetrievalModel)


@pytest.mark.parametrize("case", CASES)
def test_shapes_per_position_in_training_last_position_otherwise(case):
    x, _ = _batch()
    model = _model(case, per_position=True)
    last = testing.to_numpy(model(x))
    every = testing.to_numpy(model.encode(x))
    dim = every.shape[-1]
    assert last.shape == (BATCH, dim)
    assert model(x, training=True).shape == (BATCH, LENGTH, dim)
    np.testing.assert_allclose(last, every[:, -1], rtol=1e-5, atol=1e-6)
    assert _model(case)(x, training=True).shape == (BATCH, dim)  # per_position off


@pytest.mark.parametrize("case", CASES)
def test_a_later_position_never_changes_an_earlier_query(case):
    x, _ = _batch()
    model = _model(case)
    before = testing.to_numpy(model.encode(x))
    for t in range(1, LENGTH):
        changed = dict(x, history=x["history"].copy())
        changed["history"][:, t] = (changed["history"][:, t] + 1) % NUM_ITEMS
        after = testing.to_numpy(model.encode(changed))
        np.testing.assert_allclose(after[:, :t], before[:, :t], rtol=1e-5, atol=1e-6)
        real = x["history_mask"][:, t]
        assert not np.allclose(after[real, t], before[real, t])


# SASRec's learned positions count columns, so a prefix moved to the right end
# of the row is another input for it.
@pytest.mark.parametrize("cls", [c for c in MODEL_CLASSES if c is not SASRec])
def test_each_position_equals_its_prefix_given_alone(cls):
    """Per-position training without materialised prefixes: position t's query is
    the query of the row cut after t (left-padded), the evaluation's input."""
    x, _ = _batch()
    model = _model(cls)
    every = testing.to_numpy(model.encode(x))
    for t in range(LENGTH):
        prefix = dict(
            x,
            history=np.pad(x["history"][:, : t + 1], ((0, 0), (LENGTH - 1 - t, 0))),
            history_mask=np.pad(
                x["history_mask"][:, : t + 1], ((0, 0), (LENGTH - 1 - t, 0))
            ),
        )
        real = x["history_mask"][:, t]
        np.testing.assert_allclose(
            testing.to_numpy(model(prefix))[real], every[real, t], rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize("case", CASES)
def test_padding_codes_and_width_do_not_change_the_queries(case):
    x, _ = _batch()
    model = _model(case, **({"max_length": LENGTH + 3} if case[0] is SASRec else {}))
    queries = testing.to_numpy(model(x))
    noisy = dict(x, history=np.where(x["history_mask"], x["history"], 7))
    np.testing.assert_allclose(
        testing.to_numpy(model(noisy)), queries, rtol=1e-5, atol=1e-6
    )
    # Nor the per-position queries of the real positions.
    real = x["history_mask"]
    np.testing.assert_allclose(
        testing.to_numpy(model.encode(noisy))[real],
        testing.to_numpy(model.encode(x))[real],
        rtol=1e-5,
        atol=1e-6,
    )
    wider = dict(
        x,
        history=np.pad(x["history"], ((0, 0), (3, 0))),
        history_mask=np.pad(x["history_mask"], ((0, 0), (3, 0))),
    )
    np.testing.assert_allclose(
        testing.to_numpy(model(wider)), queries, rtol=1e-5, atol=1e-6
    )
    if model.padding_invariant:  # the pipeline cuts training batches' columns
        np.testing.assert_allclose(
            testing.to_numpy(model.encode(wider))[:, 3:][real],
            testing.to_numpy(model.encode(x))[real],
            rtol=1e-5,
            atol=1e-6,
        )
    # int8 masks (as tf.data feeds them) give the same queries as bool ones.
    int8 = dict(x, history_mask=x["history_mask"].astype(np.int8))
    np.testing.assert_allclose(testing.to_numpy(model(int8)), queries, rtol=1e-6)


def _numpy_scores(model, queries, items):
    table, biases = model.output_table()
    table = testing.to_numpy(table)
    scores = np.einsum("...d,...kd->...k", queries, table[items])
    if biases is not None:
        scores = scores + testing.to_numpy(biases)[items]
    return scores


@pytest.mark.parametrize("case", CASES)
def test_softmax_loss_is_numpy_cross_entropy_over_real_positions(case):
    x, y = _batch()
    model = _model(case, loss="softmax", per_position=True)
    queries = testing.to_numpy(model.encode(x))
    every = np.broadcast_to(np.arange(NUM_ITEMS), queries.shape[:2] + (NUM_ITEMS,))
    logits = _numpy_scores(model, queries, every)
    mask = x["history_mask"]
    expected = testing.numpy_softmax_cross_entropy(logits[mask], y[mask]).mean()
    loss = model.compute_loss(x, y, model.encode(x), training=True)
    np.testing.assert_allclose(testing.to_numpy(loss), expected, rtol=1e-5)
    # At evaluation (one query per row) the loss is the last position's.
    last = testing.numpy_softmax_cross_entropy(logits[:, -1], y[:, -1]).mean()
    np.testing.assert_allclose(
        testing.to_numpy(testing.model_loss(model, x, y, training=False)),
        last,
        rtol=1e-5,
    )


@pytest.mark.parametrize("block", ["sasrec", "bert"])
@pytest.mark.parametrize("num_negatives", [1, 3])
@pytest.mark.parametrize("loss", ["bce", "bce_mean"])
def test_bce_loss_is_numpy_binary_cross_entropy_with_the_drawn_negatives(
    loss, num_negatives, block, monkeypatch
):
    import keras

    x, y = _batch()
    model = _model(
        SASRec, loss=loss, num_negatives=num_negatives, per_position=True, block=block
    )
    drawn = np.random.default_rng(5).integers(
        0, NUM_ITEMS, (BATCH, LENGTH, num_negatives)
    )
    drawn[0, -1, 0] = x["history"][0, -1]  # one of the row's items: left out
    monkeypatch.setattr(keras.random, "randint", lambda *a, **k: drawn.astype(np.int32))
    queries = testing.to_numpy(model.encode(x))
    positive = _numpy_scores(model, queries, y[..., None])[..., 0]
    negative = _numpy_scores(model, queries, drawn)
    mask = x["history_mask"]
    own = [set(x["history"][b][mask[b]]) | set(y[b][mask[b]]) for b in range(BATCH)]
    keep = np.array(
        [
            [[d not in own[b] for d in drawn[b, t]] for t in range(LENGTH)]
            for b in range(BATCH)
        ]
    )
    assert not keep[0, -1, 0]
    negative_terms = -(np.log(1 - 1 / (1 + np.exp(-negative))) * keep).sum(-1)
    if loss == "bce_mean":  # the kept negatives' mean
        negative_terms = negative_terms / np.maximum(keep.sum(-1), 1)
    per_position = -np.log(1 / (1 + np.exp(-positive))) + negative_terms
    loss = model.compute_loss(x, y, model.encode(x), training=True)
    np.testing.assert_allclose(
        testing.to_numpy(loss), per_position[mask].mean(), rtol=1e-5
    )


@pytest.mark.parametrize("num_negatives", [1, 3])
def test_bpr_loss_is_numpy_bpr_with_the_drawn_negatives(num_negatives, monkeypatch):
    import keras

    x, y = _batch()
    model = _model(SHAN, loss="bpr", num_negatives=num_negatives, per_position=True)
    drawn = np.random.default_rng(6).integers(
        0, NUM_ITEMS, (BATCH, LENGTH, num_negatives)
    )
    drawn[0, -1, :] = x["history"][0, -1]  # every negative of a position left out
    monkeypatch.setattr(keras.random, "randint", lambda *a, **k: drawn.astype(np.int32))
    queries, _, keep = _numpy_bce_terms(model, x, y, drawn)
    positive = _numpy_scores(model, queries, y[..., None])
    negative = _numpy_scores(model, queries, drawn)
    mask = x["history_mask"]
    # -ln sigma(r_target - r_negative), the kept negatives' mean; 0 without any.
    pairs = -np.log(1 / (1 + np.exp(-(positive - negative)))) * keep
    per_position = pairs.sum(-1) / np.maximum(keep.sum(-1), 1)
    assert per_position[0, -1] == 0 and per_position[mask].min() < per_position.max()
    loss = model.compute_loss(x, y, model.encode(x), training=True)
    np.testing.assert_allclose(
        testing.to_numpy(loss), per_position[mask].mean(), rtol=1e-5
    )


def _numpy_bce_terms(model, x, y, drawn):
    """`-log sigmoid` of the targets' scores and `-log(1 - sigmoid)` of the drawn
    negatives' `[batch, seq_len, k]`, and which negatives are kept (not one of
    the row's items)."""
    queries = testing.to_numpy(model.encode(x))
    mask = x["history_mask"]
    own = [set(x["history"][b][mask[b]]) | set(y[b][mask[b]]) for b in range(BATCH)]
    keep = np.array(
        [
            [[d not in own[b] for d in drawn[b, t]] for t in range(LENGTH)]
            for b in range(BATCH)
        ]
    )
    negative = -np.log(1 - 1 / (1 + np.exp(-_numpy_scores(model, queries, drawn))))
    return queries, negative, keep


def test_caser_code_loss_is_numpy_next_targets_mean_negatives_and_l2(monkeypatch):
    """Caser's code: the mean over the next T = 3 items present, the mean over
    the kept negatives ("bce_mean"), plus l2 / 2 times every weight's square."""
    import keras

    x, y = _batch()
    model = _model(
        Caser,
        num_targets=3,
        l2=0.01,
        loss="bce_mean",
        num_negatives=3,
        per_position=True,
    )
    drawn = np.random.default_rng(7).integers(0, NUM_ITEMS, (BATCH, LENGTH, 3))
    drawn[1, -1, 0] = y[1, -1]  # one of the row's items: left out
    monkeypatch.setattr(keras.random, "randint", lambda *a, **k: drawn.astype(np.int32))
    queries, negative, keep = _numpy_bce_terms(model, x, y, drawn)
    mask = x["history_mask"]
    expected = []
    for b in range(BATCH):
        for t in np.flatnonzero(mask[b]):
            later = [y[b, t + k] for k in range(3) if t + k < LENGTH]
            scores = _numpy_scores(model, queries[b, t], np.array(later))
            positive = np.mean(np.log1p(np.exp(-scores)))
            kept = negative[b, t][keep[b, t]]
            expected.append(positive + (kept.mean() if kept.size else 0.0))
    penalty = (
        0.5
        * 0.01
        * sum(float(np.sum(testing.to_numpy(w) ** 2)) for w in model.trainable_weights)
    )
    assert not keep[1, -1, 0] and penalty > 0
    loss = model.compute_loss(x, y, model.encode(x), training=True)
    np.testing.assert_allclose(
        testing.to_numpy(loss), np.mean(expected) + penalty, rtol=1e-5
    )
    # Without the penalty (which alone moves every weight), every variable still
    # gets a gradient from the next-3-items loss.
    plain = _model(
        Caser, num_targets=3, loss="bce_mean", num_negatives=3, per_position=True
    )
    testing.assert_model_gradients(plain, x, y)


def test_caser_code_config_round_trip_and_bad_arguments():
    x, _ = _batch()
    model = _model(Caser, num_targets=3, l2=1e-6, loss="bce_mean")
    model(x)
    testing.assert_config_round_trip(model, x)
    config = model.get_config()
    assert (config["num_targets"], config["l2"], config["loss"]) == (
        3,
        1e-6,
        "bce_mean",
    )
    with pytest.raises(ValueError, match="num_targets"):
        _model(Caser, num_targets=0)
    with pytest.raises(ValueError, match="`l2`"):
        _model(Caser, l2=-1.0)
    for loss in ("softmax", "sampled_softmax"):  # T > 1 is a bce loss's
        with pytest.raises(ValueError, match="num_targets"):
            _model(Caser, num_targets=3, loss=loss)


def test_sasrec_bert_is_s3rec_input_then_bert_layers_without_a_final_norm():
    """S3-Rec's SASRec (models.py `add_position_embedding`, `finetune`): LN(item +
    position) with no sqrt(d) scaling, the causal BERT layers, the last layer's
    output as the query."""
    from tests.layers.test_transformer_block import _numpy_block

    x, _ = _batch()
    model = _model(SASRec, block="bert", max_length=LENGTH + 2)
    model(x)
    rng = np.random.default_rng(4)
    for weight in model.input_norm.weights:  # not at gamma 1, beta 0
        weight.assign(rng.normal(0.5, 0.3, weight.shape).astype(np.float32))
    mask = x["history_mask"]
    table = testing.to_numpy(model.item_embeddings).astype(np.float64)
    positions = testing.to_numpy(model.position_embeddings)[2:]  # the last LENGTH
    e = table[x["history"]] + positions[None]
    gamma, beta = (testing.to_numpy(w) for w in model.input_norm.weights)
    e = (e - e.mean(-1, keepdims=True)) / np.sqrt(e.var(-1, keepdims=True) + 1e-12)
    h = (gamma * e + beta) * mask[..., None]
    for block in model.blocks:
        assert block.causal and block.use_bias and block.epsilon == 1e-12
        h, _ = _numpy_block(block, h, mask=mask, causal=True, gelu=True)
    np.testing.assert_allclose(
        testing.to_numpy(model.encode(x)), h, rtol=1e-4, atol=2e-5
    )
    assert not hasattr(model, "output_norm")
    # N(0, 0.02) tables (S3-Rec's init_weights), Glorot for the SASRec block.
    assert abs(table.std() - 0.02) < 0.005
    default = _model(SASRec)
    assert testing.to_numpy(default.item_embeddings).std() > 0.1


def test_sasrec_default_block_keeps_its_weight_paths():
    """Checkpoints of the SASRec block from before `block` existed still load."""
    x, _ = _batch()
    model = _model(SASRec, num_blocks=1)
    model(x)
    block = [
        f"block_0/{name}"
        for name in (
            "attention_norm/gamma",
            "attention_norm/beta",
            "query/kernel",
            "query/bias",
            "key/kernel",
            "value/kernel",
            "value/bias",
            "feed_forward_norm/gamma",
            "feed_forward_norm/beta",
            "inner/kernel",
            "inner/bias",
            "outer/kernel",
            "outer/bias",
        )
    ]
    # Below the model's own name (sas_rec, sas_rec_1, ... in one session).
    assert [w.path.split("/", 1)[1] for w in model.weights] == [
        "item_embeddings",
        "position_embeddings",
        *block,
        "output_norm/gamma",
        "output_norm/beta",
    ]


def test_sampled_softmax_of_every_item_equals_the_full_softmax():
    x, y = _batch()
    kwargs = dict(per_position=True, num_negatives=NUM_ITEMS)
    sampled = _model(GRU4Rec, loss="sampled_softmax", **kwargs)
    full = _model(GRU4Rec, loss="softmax", **kwargs)
    full(x)
    sampled(x)
    full.set_weights(sampled.get_weights())
    queries = sampled.encode(x)
    np.testing.assert_allclose(
        testing.to_numpy(sampled.compute_loss(x, y, queries, training=True)),
        testing.to_numpy(full.compute_loss(x, y, queries, training=True)),
        rtol=1e-5,
    )


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("loss", ["bce", "softmax", "sampled_softmax"])
def test_every_variable_gets_a_gradient(case, loss):
    x, y = _batch()
    model = _model(case, loss=loss, num_negatives=5, per_position=True)
    if case[0] is NARM:
        # At initialisation sigma(A_1 h_t + A_2 h_j) is nearly linear, where A_1 h_t,
        # common to every j, cancels in the softmax (a gradient ~1e-7): larger
        # attention weights leave the linear range.
        model(x)
        rng = np.random.default_rng(0)
        for weight in model.attention.weights:
            weight.assign(rng.normal(0, 2.0, weight.shape).astype("float32"))
    if case[1].get("block") == "bert":
        # At BERT's N(0, 0.02) initialisation the attention scores barely
        # differ, and some query / key gradients fall below NUMERICALLY_ZERO
        # (seen on this batch); kernels of std 0.3 give them a visible size.
        model(x)
        rng = np.random.default_rng(0)
        for weight in model.trainable_weights:
            if "attention/" in weight.path:
                weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    testing.assert_model_gradients(model, x, y)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_overfits_one_batch(case):
    x, y = _batch()
    model = _model(case, loss="softmax", per_position=True, dropout=0.0)
    before = float(testing.to_numpy(testing.model_loss(model, x, y, training=False)))
    after = testing.fit_one_batch(model, x, y, steps=150, learning_rate=0.05)
    assert after < 0.2 * before, (before, after)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_save_reload_and_config_round_trip(case, tmp_path):
    x, y = _batch()
    model = _model(case, per_position=True, loss="sampled_softmax", num_negatives=4)
    testing.assert_one_train_step(model, x, y)
    testing.assert_config_round_trip(model, x)
    testing.assert_save_reload(model, x, tmp_path)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="`loss`"):
        _model(SASRec, loss="hinge")
    with pytest.raises(ValueError, match="num_negatives"):
        _model(GRU4Rec, num_negatives=0)
    with pytest.raises(ValueError, match="num_items"):
        SASRec(1)
    with pytest.raises(ValueError, match="`block`"):
        _model(SASRec, block="gpt")
    with pytest.raises(ValueError, match="max_length"):
        _model(SASRec, max_length=3)(_batch()[0])
    with pytest.raises(ValueError, match="window"):
        _model(Caser, window=0)


def test_from_task_follows_the_task():
    from recsys_tf.data import retrieval
    from tests.data.test_builders import _log

    task = retrieval.build_retrieval_task(_log(), max_length=7, per_position=True)
    sasrec = SASRec.from_task(task)
    assert sasrec.per_position and sasrec.max_length == 7
    caser = Caser.from_task(task)
    assert caser.num_users == task.num_users and caser.num_items == task.num_items
    shan = SHAN.from_task(task)
    assert shan.num_users == task.num_users and shan.per_position
    plain = retrieval.build_retrieval_task(_log(), max_length=7)
    assert not GRU4Rec.from_task(plain).per_position


def _split(x, y):
    from recsys_tf.data.retrieval import RetrievalSplit

    return RetrievalSplit(
        user_ids=x["user_id"],
        history=x["history"],
        history_mask=x["history_mask"],
        targets=y,
        timestamps=np.zeros_like(y),
        request_ids=np.zeros_like(y),
        user_features={},
        per_position=True,
    )


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_training_batches_are_cut_to_their_columns_for_padding_invariant_models(cls):
    from experiments.configs import caser, sasrec
    from recsys_tf.tasks import get_task

    x, y = _batch(n=4)
    x["history_mask"][:, :2] = False  # no row uses the first two columns
    config = (caser if cls is Caser else sasrec).get_config()
    config.model.name = cls.__name__.lower()
    # Declared by the models whose queries ignore the padding's width.
    assert cls.padding_invariant == (cls in (SASRec, GRU4Rec, SHAN, HPMN))
    ((batch, targets),) = get_task(config).dataset(config, _split(x, y), batch_size=4)
    cut = 2 if cls.padding_invariant else 0
    np.testing.assert_array_equal(batch["history"], x["history"][:, cut:])
    np.testing.assert_array_equal(batch["history_mask"], x["history_mask"][:, cut:])
    np.testing.assert_array_equal(targets, y[:, cut:])


@pytest.mark.parametrize("case", CASES)
def test_predicted_queries_do_not_depend_on_the_length_sorted_batches(
    case, monkeypatch
):
    from recsys_tf.training import evaluation

    x, _ = _batch(n=11)
    model = _model(case)
    expected = testing.to_numpy(model(x))
    monkeypatch.setattr(evaluation, "SORTED_BATCH", 3)
    np.testing.assert_allclose(
        evaluation.predict_queries(model, x, batch_size=4), expected, atol=1e-5
    )


def test_hpmn_adds_the_slot_covariance_penalty_over_real_positions_in_training():
    from recsys_tf.layers.hierarchical_periodic_memory import slot_covariance_norm

    x, y = _batch()
    model = _model(
        HPMN, loss="softmax", per_position=True, memory_l2=500.0, dropout=0.0
    )
    queries = model(x, training=True)
    assert len(model.losses) == 1
    table = testing.to_numpy(model.item_embeddings)
    items = table[x["history"]] * x["history_mask"][..., None]
    slots = testing.to_numpy(model.memory(items, mask=x["history_mask"]))
    norms = testing.to_numpy(slot_covariance_norm(slots))
    penalty = 500.0 * norms[x["history_mask"]].mean()
    np.testing.assert_allclose(testing.to_numpy(model.losses[0]), penalty, rtol=1e-5)
    with_penalty = model.compute_loss(x, y, queries, training=True)
    model(x)  # evaluation: no penalty
    assert not model.losses
    without = model.compute_loss(x, y, queries, training=True)
    np.testing.assert_allclose(
        testing.to_numpy(with_penalty) - testing.to_numpy(without), penalty, rtol=1e-4
    )


def _binn(**kwargs):
    return _model(BINN, **{"bidirectional": True, **kwargs})


def test_binn_bidirectional_query_has_both_directions_and_ignores_padding():
    x, _ = _batch()
    model = _binn()
    query = testing.to_numpy(model(x))
    assert query.shape == (BATCH, 3 * 5)
    items = testing.to_numpy(model.item_embeddings)[x["history"]]
    items = (items * x["history_mask"][..., None]).astype(np.float32)
    mask = x["history_mask"]
    parts = [
        model.session_encoder(items[:, -3:], None, mask=mask[:, -3:]),
        model.preference_encoder(items, None, mask=mask)[:, -1],
        model.backward_encoder(items, None, mask=mask),
    ]
    expected = np.concatenate([testing.to_numpy(p) for p in parts], -1)
    np.testing.assert_allclose(query, expected, rtol=1e-5, atol=1e-6)
    # The backward state depends on the first behaviour, the session's does not.
    changed = dict(x, history=x["history"].copy())
    first = np.argmax(x["history_mask"], axis=1)
    changed["history"][np.arange(BATCH), first] += 1
    after = testing.to_numpy(model(changed))
    long_rows = x["history_mask"].sum(1) > 3
    assert not np.allclose(after[long_rows, 10:], query[long_rows, 10:])
    np.testing.assert_allclose(after[long_rows, :5], query[long_rows, :5], rtol=1e-6)
    # Padding codes and width do not matter.
    noisy = dict(x, history=np.where(x["history_mask"], x["history"], 7))
    np.testing.assert_allclose(testing.to_numpy(model(noisy)), query, rtol=1e-6)
    wider = dict(
        x,
        history=np.pad(x["history"], ((0, 0), (3, 0))),
        history_mask=np.pad(x["history_mask"], ((0, 0), (3, 0))),
    )
    np.testing.assert_allclose(
        testing.to_numpy(model(wider)), query, rtol=1e-5, atol=1e-6
    )


def test_binn_bidirectional_cannot_train_per_position():
    with pytest.raises(ValueError, match="data.per_position=False"):
        _binn(per_position=True)
    with pytest.raises(ValueError, match="bidirectional=False"):
        _binn().encode(_batch()[0])


def test_binn_bidirectional_gradients_with_behaviour_vectors():
    x, y = _batch()
    x["history_behaviour"] = np.random.default_rng(2).integers(0, 3, x["history"].shape)
    model = _binn(loss="bce", num_negatives=3, num_behaviours=3, behaviour_dim=2)
    testing.assert_model_gradients(model, x, y[:, -1])
    assert "history_behaviour" in model.input_fields()
    # The behaviour types enter the query; a missing input is a clear error.
    other = dict(x, history_behaviour=(x["history_behaviour"] + 1) % 3)
    assert not np.allclose(testing.to_numpy(model(other)), testing.to_numpy(model(x)))
    with pytest.raises(KeyError, match="history_behaviour"):
        model({k: v for k, v in x.items() if k != "history_behaviour"})


@pytest.mark.slow
def test_binn_bidirectional_overfits_one_batch():
    """The default BINN (both directions; one query per row, the last target)."""
    x, y = _batch()
    model = _binn(loss="softmax", dropout=0.0)
    before = float(testing.to_numpy(testing.model_loss(model, x, y[:, -1])))
    after = testing.fit_one_batch(model, x, y[:, -1], steps=150, learning_rate=0.05)
    assert after < 0.2 * before, (before, after)


@pytest.mark.slow
def test_binn_bidirectional_save_reload_and_config_round_trip(tmp_path):
    x, y = _batch()
    model = _binn(num_behaviours=2)
    x["history_behaviour"] = np.random.default_rng(2).integers(0, 2, x["history"].shape)
    testing.assert_one_train_step(model, x, y[:, -1])
    testing.assert_config_round_trip(model, x)
    testing.assert_save_reload(model, x, tmp_path)


def test_binn_bad_arguments_raise():
    with pytest.raises(ValueError, match="session_length"):
        _binn(session_length=0)
    with pytest.raises(ValueError, match="num_behaviours"):
        _binn(num_behaviours=-1)


@pytest.mark.parametrize("case", CASES)
def test_a_size_below_one_is_refused_with_every_size_named(case):
    with pytest.raises(
        ValueError,
        match=r"`embedding_dim`.* must be >= 1\. Received: .*embedding_dim=0",
    ):
        _model(case, embedding_dim=0)
