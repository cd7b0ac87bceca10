"""Tests of the `Popularity` baseline: every user gets the items by training count."""

import keras
import numpy as np
import pytest

from recsys_tf.models import MODELS, Popularity, RetrievalModel
from tests import testing

COUNTS = np.array([3, 0, 7, 7, 1, 0, 12, 2], np.int64)
NUM_ITEMS = len(COUNTS)


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _inputs(n=5):
    rng = np.random.default_rng(1)
    return {
        "history": rng.integers(0, NUM_ITEMS, (n, 4)),
        "history_mask": rng.random((n, 4)) > 0.5,
        "user_id": rng.integers(0, 3, n),
    }


def _model(counts=COUNTS):
    model = Popularity(NUM_ITEMS)
    model.adapt(counts)
    return model


def _scores(model, x):
    queries = model.retrieval_queries(model(x))
    return testing.to_numpy(queries) @ testing.to_numpy(model.candidate_embeddings()).T


def test_is_registered():
    assert MODELS["popularity"] is Popularity
    assert issubclass(Popularity, RetrievalModel)


def test_forward_shape_for_any_input_dict():
    model = _model()
    for x in (
        _inputs(5),
        {"user_id": np.arange(3)},
        {"history": np.zeros((2, 7), np.int64)},
    ):
        out = testing.to_numpy(model(x))
        n = len(next(iter(x.values())))
        np.testing.assert_array_equal(out, np.ones((n, 1)))


def test_adapt_sets_log_counts_and_has_no_trainable_weight():
    model = _model()
    np.testing.assert_allclose(
        testing.to_numpy(model.log_counts)[:, 0], np.log1p(COUNTS), rtol=1e-6
    )
    assert model.trainable_weights == []
    # adapt again replaces (does not accumulate) the counts.
    model.adapt(np.ones(NUM_ITEMS))
    np.testing.assert_allclose(
        testing.to_numpy(model.log_counts), np.log(2.0), rtol=1e-6
    )


@pytest.mark.parametrize(
    "counts",
    [
        COUNTS[:-1],  # too short
        np.concatenate([COUNTS, [1]]),  # too long
        COUNTS[None, :],  # 2-D
        np.where(np.arange(NUM_ITEMS) == 2, -1, COUNTS),  # negative
        np.where(np.arange(NUM_ITEMS) == 2, np.nan, COUNTS),  # not a number
        np.where(np.arange(NUM_ITEMS) == 2, np.inf, COUNTS),  # infinite
    ],
)
def test_adapt_rejects_bad_counts(counts):
    model = Popularity(NUM_ITEMS)
    with pytest.raises(ValueError, match="item_counts"):
        model.adapt(counts)
    np.testing.assert_array_equal(testing.to_numpy(model.log_counts), 0.0)


def test_ranks_every_user_by_counts_ties_to_the_lower_id():
    model = _model()
    x = _inputs(5)
    scores = _scores(model, x)
    np.testing.assert_allclose(scores, np.tile(np.log1p(COUNTS), (5, 1)), rtol=1e-6)
    _, top = keras.ops.top_k(scores, k=NUM_ITEMS)
    expected = np.argsort(-COUNTS, kind="stable")  # [6, 2, 3, 0, 7, 4, 1, 5]
    np.testing.assert_array_equal(expected, [6, 2, 3, 0, 7, 4, 1, 5])
    np.testing.assert_array_equal(testing.to_numpy(top), np.tile(expected, (5, 1)))


def test_candidates_and_queries_have_no_bias_column():
    model = _model()
    assert model.output_table()[1] is None
    assert tuple(model.candidate_embeddings().shape) == (NUM_ITEMS, 1)
    queries = model(_inputs(3))
    assert model.retrieval_queries(queries) is queries


@pytest.mark.parametrize("training", [True, False])
def test_loss_is_numpy_softmax_over_log_counts(training):
    model = _model()
    x = _inputs(5)
    labels = np.array([6, 1, 2, 0, 5])
    loss = model.compute_loss(x=x, y=labels, y_pred=model(x), training=training)
    logits = np.tile(np.log1p(COUNTS), (5, 1))
    expected = testing.numpy_softmax_cross_entropy(logits, labels).mean()
    np.testing.assert_allclose(testing.to_numpy(loss), expected, rtol=1e-5)


def test_save_reload_and_config_round_trip(tmp_path):
    x = _inputs(4)
    model = _model()
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    np.testing.assert_array_equal(_scores(reloaded, x), _scores(model, x))
    assert reloaded.num_items == NUM_ITEMS


def test_from_task_adapts_to_the_raw_counts():
    task = testing.FakeRetrievalTask(NUM_ITEMS, {"user_id": 3}, COUNTS)
    model = Popularity.from_task(task)
    assert model.num_items == NUM_ITEMS
    np.testing.assert_allclose(
        testing.to_numpy(model.log_counts)[:, 0], np.log1p(COUNTS), rtol=1e-6
    )
    with pytest.raises(ValueError):
        Popularity.from_task(testing.FakeRetrievalTask(NUM_ITEMS + 1, {}, COUNTS))
