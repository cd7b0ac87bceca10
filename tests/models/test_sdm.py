"""SDM: shapes, what each position reads (its session, its long-term behaviours,
nothing later), padding, gradients, overfitting, round trips."""

import numpy as np
import pytest

from recsys_tf.data import retrieval
from recsys_tf.models import MODELS, SDM, SequentialRetrievalModel
from tests import testing

NUM_ITEMS, NUM_USERS, LENGTH, BATCH = 30, 12, 8, 6
CATEGORIES = np.arange(NUM_ITEMS) % 4
POSITION, LONG = retrieval.SESSION_INPUTS


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _model(**kwargs):
    kwargs.setdefault("seed", 3)
    kwargs.setdefault("dropout", 0.2)
    return SDM(
        NUM_ITEMS,
        NUM_USERS,
        user_features=("age",),
        user_vocabulary_sizes=(3,),
        item_features=("category",),
        item_feature_codes=(CATEGORIES.tolist(),),
        embedding_dim=6,
        feature_dim=3,
        user_embedding_dim=4,
        user_feature_dim=2,
        units=8,
        num_heads=2,
        **kwargs,
    )


def _batch(seed=1, n=BATCH, horizon=3):
    """Per-position rows: left-padded, sessions starting at random real positions,
    the long-term behaviours the (at most `horizon`) items before each session."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, LENGTH + 1, n)
    lengths[:2] = (LENGTH, LENGTH)
    mask = np.arange(LENGTH)[None, :] >= (LENGTH - lengths)[:, None]
    starts = (rng.random((n, LENGTH)) < 0.35) | ~mask
    starts[0] = [1, 0, 0, 1, 0, 0, 1, 0]
    position = np.zeros((n, LENGTH), np.int32)
    long_term = np.zeros((n, LENGTH), np.int32)
    for b in range(n):
        first = LENGTH - lengths[b]
        start = first
        for t in range(first, LENGTH):
            if starts[b, t]:
                start = t
            position[b, t] = t - start
            long_term[b, t] = min(horizon, start - first)
    sequence = rng.integers(0, NUM_ITEMS, (n, LENGTH + 1))
    x = {
        "user_id": rng.integers(0, NUM_USERS, n),
        "age": rng.integers(0, 3, n),
        "history": np.where(mask, sequence[:, :-1], 0),
        "history_mask": mask,
        POSITION: position,
        LONG: long_term,
    }
    return x, np.where(mask, sequence[:, 1:], 0)


def test_registered():
    assert MODELS["sdm"] is SDM
    assert issubclass(SDM, SequentialRetrievalModel)


def test_shapes_per_position_in_training_last_position_otherwise():
    x, _ = _batch()
    model = _model(per_position=True)
    last = testing.to_numpy(model(x))
    every = testing.to_numpy(model.encode(x))
    assert last.shape == (BATCH, 8) and every.shape == (BATCH, LENGTH, 8)
    assert model(x, training=True).shape == (BATCH, LENGTH, 8)
    np.testing.assert_allclose(last, every[:, -1], rtol=1e-5, atol=1e-6)


def test_each_position_reads_its_session_and_long_term_behaviours_only():
    """Row 0: sessions {0,1,2} {3,4,5} {6,7}, long-term horizon 3 items. Position 7
    reads items 6-7 (session) and 3-5 (long term), never 0-2; position 4 reads
    3-4 and 0-2, never 5-7 (later)."""
    x, _ = _batch()
    model = _model(dropout=0.0)
    # Row 0 repeated, copy k with its item k changed.
    copies = {key: np.repeat(value[:1], LENGTH, axis=0) for key, value in x.items()}
    before = testing.to_numpy(model.encode(copies))
    for k in range(LENGTH):
        copies["history"][k, k] = (copies["history"][k, k] + 1) % NUM_ITEMS
    after = testing.to_numpy(model.encode(copies))
    reads = {7: {3, 4, 5, 6, 7}, 4: {0, 1, 2, 3, 4}, 2: {0, 1, 2}}
    for t, expected in reads.items():
        for k in range(LENGTH):
            moved = not np.allclose(after[k, t], before[k, t], rtol=1e-5, atol=1e-6)
            assert moved == (k in expected), (t, k)


def test_a_later_position_never_changes_an_earlier_query():
    x, _ = _batch()
    model = _model()
    before = testing.to_numpy(model.encode(x))
    for t in range(1, LENGTH):
        changed = dict(x, history=x["history"].copy())
        changed["history"][:, t] = (changed["history"][:, t] + 1) % NUM_ITEMS
        after = testing.to_numpy(model.encode(changed))
        np.testing.assert_allclose(after[:, :t], before[:, :t], rtol=1e-5, atol=1e-6)


def test_padding_codes_and_width_do_not_change_the_queries():
    x, _ = _batch()
    model = _model()
    queries = testing.to_numpy(model(x))
    noisy = dict(x, history=np.where(x["history_mask"], x["history"], 7))
    np.testing.assert_allclose(
        testing.to_numpy(model(noisy)), queries, rtol=1e-5, atol=1e-6
    )
    pad = ((0, 0), (3, 0))
    wider = {
        **x,
        **{k: np.pad(x[k], pad) for k in ("history", "history_mask", POSITION, LONG)},
    }
    np.testing.assert_allclose(
        testing.to_numpy(model(wider)), queries, rtol=1e-5, atol=1e-6
    )
    int8 = dict(x, history_mask=x["history_mask"].astype(np.int8))
    np.testing.assert_allclose(testing.to_numpy(model(int8)), queries, rtol=1e-6)


def test_softmax_loss_is_numpy_cross_entropy_over_real_positions():
    x, y = _batch()
    model = _model(loss="softmax", per_position=True)
    queries = testing.to_numpy(model.encode(x))
    logits = queries @ testing.to_numpy(model.output_embeddings).T
    mask = x["history_mask"]
    expected = testing.numpy_softmax_cross_entropy(logits[mask], y[mask]).mean()
    loss = model.compute_loss(x, y, model.encode(x), training=True)
    np.testing.assert_allclose(testing.to_numpy(loss), expected, rtol=1e-5)


@pytest.mark.parametrize("loss", ["softmax", "sampled_softmax"])
def test_every_variable_gets_a_gradient(loss):
    x, y = _batch()
    model = _model(loss=loss, num_negatives=10, per_position=True)
    testing.assert_model_gradients(model, x, y)


@pytest.mark.slow
def test_overfits_one_batch():
    x, y = _batch()
    model = _model(loss="softmax", per_position=True, dropout=0.0)
    before = float(testing.to_numpy(testing.model_loss(model, x, y, training=False)))
    after = testing.fit_one_batch(model, x, y, steps=150, learning_rate=0.05)
    assert after < 0.2 * before, (before, after)


@pytest.mark.slow
def test_save_reload_and_config_round_trip(tmp_path):
    x, y = _batch()
    model = _model(per_position=True, num_negatives=4)
    testing.assert_one_train_step(model, x, y)
    testing.assert_config_round_trip(model, x)
    testing.assert_save_reload(model, x, tmp_path)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_heads"):
        SDM(NUM_ITEMS, NUM_USERS, units=8, num_heads=3)
    with pytest.raises(ValueError, match="item_feature_codes"):
        SDM(
            NUM_ITEMS, NUM_USERS, item_features=("category",), item_feature_codes=([0],)
        )
    with pytest.raises(ValueError, match="user embedding"):
        SDM(NUM_ITEMS, NUM_USERS, use_user_id=False)


def test_from_task_needs_sessions_and_reads_item_features():
    from tests.data.test_builders import _log

    log = _log()
    plain = retrieval.build_retrieval_task(log, max_length=5, per_position=True)
    with pytest.raises(ValueError, match="max_session_length"):
        SDM.from_task(plain)
    task = retrieval.build_retrieval_task(
        log, max_length=5, per_position=True, session_gap=600, max_session_length=50
    )
    model = SDM.from_task(task, item_features=("category", "brand"), units=8)
    assert model.per_position and model.user_features == ("age",)
    np.testing.assert_array_equal(
        model.item_feature_codes[1], log.items["brand"].to_numpy()
    )
    with pytest.raises(ValueError, match="genre"):
        SDM.from_task(task, item_features=("genre",))
    assert model(task.validation.features()).shape == (len(task.validation), 8)


def test_runs_on_exactly_its_input_fields():
    x, _ = _batch()
    model = _model()
    fields = model.input_fields()
    assert set(fields) == set(x)
    assert fields["history"] == NUM_ITEMS and fields["user_id"] == NUM_USERS
    model(x)
    for field in fields:
        with pytest.raises(KeyError, match=field):
            model({k: v for k, v in x.items() if k != field})
