"""Tests of `YouTubeDNN` and of the `RetrievalModel` loss and retrieval helpers."""

import numpy as np
import pytest

from recsys_tf.models import MODELS, RetrievalModel, YouTubeDNN
from tests import testing

NUM_ITEMS = 40
USERS = {"user_id": 16, "age": 3}
SEQ_LEN = 5
HIDDEN = (8, 6)
EMBEDDING_DIM = 4


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _batch(n=16, seed=1):
    """Left-padded histories (padding id 0, masked), one label per example."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, SEQ_LEN + 1, n)
    lengths[:2] = (0, SEQ_LEN)  # an empty history and a full one
    mask = np.arange(SEQ_LEN)[None, :] >= (SEQ_LEN - lengths)[:, None]
    history = np.where(mask, rng.integers(1, NUM_ITEMS, (n, SEQ_LEN)), 0)
    x = {
        "history": history.astype(np.int64),
        "history_mask": mask,
        "user_id": rng.permutation(USERS["user_id"])[:n].astype(np.int64),
        "age": rng.integers(0, USERS["age"], n).astype(np.int64),
    }
    labels = rng.integers(0, NUM_ITEMS, n).astype(np.int64)
    return x, labels


def _model(**kwargs):
    kwargs.setdefault("user_features", tuple(USERS))
    kwargs.setdefault("user_vocabulary_sizes", tuple(USERS.values()))
    kwargs.setdefault("embedding_dim", EMBEDDING_DIM)
    kwargs.setdefault("hidden_units", HIDDEN)
    kwargs.setdefault("num_sampled", 10)
    kwargs.setdefault("seed", 3)
    return YouTubeDNN(NUM_ITEMS, **kwargs)


def _randomise_biases(model, x, seed=2):
    model(x)
    biases = np.random.default_rng(seed).normal(0, 0.5, NUM_ITEMS).astype(np.float32)
    model.output_biases.assign(biases)


def _numpy_queries(model, x):
    items = testing.to_numpy(model.item_embedding.embeddings)
    history = items[x["history"]]
    mask = x["history_mask"][..., None]
    pooled = (history * mask).sum(1) / np.maximum(mask.sum(1), 1)
    parts = [pooled]
    if model.user_features:
        users = testing.to_numpy(model.user_embedding.embeddings)
        offsets = np.cumsum((0,) + model.user_vocabulary_sizes[:-1])
        parts += [users[x[f] + o] for f, o in zip(model.user_features, offsets)]
    activations = ["relu"] * (len(model.hidden_units) - 1) + [None]
    return testing.numpy_dense_stack(
        np.concatenate(parts, axis=1), testing.mlp_params(model.tower), activations
    )


def _numpy_full_softmax_loss(model, queries, labels):
    table = testing.to_numpy(model.output_embeddings)
    biases = testing.to_numpy(model.output_biases)
    return testing.numpy_softmax_cross_entropy(
        queries @ table.T + biases, labels
    ).mean()


def test_is_registered():
    assert MODELS["youtube_dnn"] is YouTubeDNN
    assert issubclass(YouTubeDNN, RetrievalModel)


@pytest.mark.parametrize("with_users", [True, False])
def test_forward_shape_and_numpy_user_tower(with_users):
    x, _ = _batch()
    model = (
        _model() if with_users else _model(user_features=(), user_vocabulary_sizes=())
    )
    queries = testing.to_numpy(model(x))
    assert queries.shape == (16, HIDDEN[-1])
    np.testing.assert_allclose(queries, _numpy_queries(model, x), rtol=1e-5, atol=1e-6)
    assert (queries < 0).any(), "the last tower layer is linear"


def test_values_at_masked_history_positions_do_not_change_the_queries():
    x, _ = _batch()
    model = _model()
    queries = testing.to_numpy(model(x))
    other = dict(x)
    noise = np.random.default_rng(5).integers(0, NUM_ITEMS, x["history"].shape)
    other["history"] = np.where(x["history_mask"], x["history"], noise)
    assert not np.array_equal(other["history"], x["history"])
    np.testing.assert_allclose(
        testing.to_numpy(model(other)), queries, rtol=1e-6, atol=1e-7
    )


def test_int8_mask_gives_the_same_queries_as_bool():
    # recsys_tf.data.input feeds masks as int8 0/1 (see test_mirrored.py).
    x, _ = _batch()
    model = _model()
    as_int8 = dict(x, history_mask=x["history_mask"].astype(np.int8))
    np.testing.assert_array_equal(
        testing.to_numpy(model(as_int8)), testing.to_numpy(model(x))
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_items"):
        YouTubeDNN(1)
    with pytest.raises(ValueError):
        YouTubeDNN(NUM_ITEMS, user_features=("age",), user_vocabulary_sizes=())
    with pytest.raises(ValueError):
        YouTubeDNN(NUM_ITEMS, num_sampled=NUM_ITEMS + 1)
    with pytest.raises(ValueError):
        YouTubeDNN(NUM_ITEMS, sampler="unigram")  # no counts
    with pytest.raises(ValueError):
        YouTubeDNN(NUM_ITEMS, hidden_units=())


# --- RetrievalModel.compute_loss ---------------------------------------------


def test_eval_loss_is_numpy_full_softmax_over_output_table():
    x, labels = _batch()
    model = _model()
    _randomise_biases(model, x)
    queries = testing.to_numpy(model(x))
    loss = model.compute_loss(x=x, y=labels, y_pred=queries, training=False)
    np.testing.assert_allclose(
        testing.to_numpy(loss),
        _numpy_full_softmax_loss(model, queries, labels),
        rtol=1e-5,
    )
    # evaluate() goes through the same path (training=False).
    model.compile(optimizer="adam")
    evaluated = model.evaluate(x, labels, batch_size=16, verbose=0)
    np.testing.assert_allclose(evaluated, testing.to_numpy(loss), rtol=1e-5)


def test_eval_loss_with_sample_weight():
    x, labels = _batch()
    model = _model()
    _randomise_biases(model, x)
    queries = testing.to_numpy(model(x))
    weights = np.linspace(0.0, 2.0, 16).astype(np.float32)
    loss = model.compute_loss(
        y=labels, y_pred=queries, sample_weight=weights, training=False
    )
    table = testing.to_numpy(model.output_embeddings)
    per_example = testing.numpy_softmax_cross_entropy(
        queries @ table.T + testing.to_numpy(model.output_biases), labels
    )
    np.testing.assert_allclose(
        testing.to_numpy(loss), np.mean(weights * per_example), rtol=1e-5
    )


def test_training_loss_is_sampled_and_exact_when_every_item_is_sampled():
    x, labels = _batch()
    # Unique uniform sampling of num_items candidates draws every item once: the
    # sampled softmax (accidental hits removed) is then the full softmax.
    model = _model(num_sampled=NUM_ITEMS, sampler="uniform")
    _randomise_biases(model, x)
    queries = testing.to_numpy(model(x))
    full = _numpy_full_softmax_loss(model, queries, labels)
    train = model.compute_loss(y=labels, y_pred=queries, training=True)
    np.testing.assert_allclose(testing.to_numpy(train), full, rtol=1e-4)

    # With 10 of 40 items sampled the training loss is an estimate, not the full loss.
    sampled = _model(num_sampled=10, sampler="uniform")
    sampled(x)
    sampled.set_weights(model.get_weights())
    estimate = testing.to_numpy(
        sampled.compute_loss(y=labels, y_pred=queries, training=True)
    )
    assert np.isfinite(estimate) and abs(estimate - full) > 1e-3


def test_num_sampled_zero_trains_on_the_full_softmax():
    x, labels = _batch()
    model = _model(num_sampled=0)
    assert model.sampled_softmax is None
    _randomise_biases(model, x)
    queries = testing.to_numpy(model(x))
    train = model.compute_loss(y=labels, y_pred=queries, training=True)
    np.testing.assert_allclose(
        testing.to_numpy(train),
        _numpy_full_softmax_loss(model, queries, labels),
        rtol=1e-5,
    )


@pytest.mark.parametrize("padded", [False, True])
def test_loss_adds_l2_of_valid_rows_and_tower_kernels(padded):
    x, labels = _batch(n=8)
    if not padded:
        x["history_mask"] = np.ones_like(x["history_mask"])
    model = _model(l2=0.01)
    queries = model(x)
    loss = float(
        testing.to_numpy(model.compute_loss(y=labels, y_pred=queries, training=False))
    )
    items = testing.to_numpy(model.item_embedding.embeddings)
    users = testing.to_numpy(model.user_embedding.embeddings)
    user_rows = np.stack([users[x["user_id"]], users[x["age"] + 16]], 1)
    kernels = sum(np.sum(k**2) for k, _ in testing.mlp_params(model.tower))
    # Padded positions (id 0, mask False) carry no penalty.
    valid = items[x["history"]] ** 2 * x["history_mask"][..., None]
    penalty = 0.01 * (np.sum(valid) / 8 + np.sum(user_rows**2) / 8 + kernels)
    ce = _numpy_full_softmax_loss(model, testing.to_numpy(queries), labels)
    np.testing.assert_allclose(loss, ce + penalty, rtol=1e-5)


def test_candidates_and_queries_fold_in_the_bias():
    x, _ = _batch()
    model = _model()
    _randomise_biases(model, x)
    queries = model(x)
    candidates = testing.to_numpy(model.candidate_embeddings())
    folded = testing.to_numpy(model.retrieval_queries(queries))
    assert candidates.shape == (NUM_ITEMS, HIDDEN[-1] + 1)
    assert folded.shape == (16, HIDDEN[-1] + 1)
    q = testing.to_numpy(queries)
    table = testing.to_numpy(model.output_embeddings)
    biases = testing.to_numpy(model.output_biases)
    np.testing.assert_allclose(
        folded @ candidates.T, q @ table.T + biases, rtol=1e-5, atol=1e-6
    )


# --- Training ----------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
def test_every_variable_gets_a_gradient(training):
    x, labels = _batch()
    model = _model(l2=1e-3)
    testing.assert_model_gradients(model, x, labels, training=training)


def test_one_train_step():
    x, labels = _batch()
    model = _model(dropout=0.1)
    loss = testing.assert_one_train_step(model, x, labels)
    assert loss > 0


def test_overfits_one_batch_with_sampled_softmax():
    x, labels = _batch()
    model = _model(num_sampled=10, sampler="log_uniform")
    before = float(
        testing.to_numpy(testing.model_loss(model, x, labels, training=False))
    )
    assert before > 0.8 * np.log(NUM_ITEMS)
    after = testing.fit_one_batch(model, x, labels, steps=200, learning_rate=0.03)
    assert after < 0.1 * np.log(NUM_ITEMS), (before, after)
    top1 = np.argmax(
        testing.to_numpy(model.retrieval_queries(model(x)))
        @ testing.to_numpy(model.candidate_embeddings()).T,
        axis=1,
    )
    assert np.mean(top1 == labels) == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(sampler="unigram", sampler_counts=list(range(1, NUM_ITEMS + 1)), l2=1e-4),
    ],
)
def test_save_reload_and_config_round_trip(kwargs, tmp_path):
    x, _ = _batch()
    model = _model(**kwargs)
    _randomise_biases(model, x)
    testing.assert_config_round_trip(model, x)
    reloaded = testing.assert_save_reload(model, x, tmp_path)
    np.testing.assert_array_equal(
        testing.to_numpy(reloaded.candidate_embeddings()),
        testing.to_numpy(model.candidate_embeddings()),
    )
    assert reloaded.sampled_softmax.get_config() == model.sampled_softmax.get_config()


# --- from_task --------------------------------------------------------------


def test_from_task_wires_user_features_and_catalogue():
    counts = np.arange(NUM_ITEMS) % 4
    task = testing.FakeRetrievalTask(NUM_ITEMS, USERS, counts)
    model = YouTubeDNN.from_task(
        task, embedding_dim=2, hidden_units=(4,), num_sampled=5
    )
    assert model.num_items == NUM_ITEMS
    assert model.user_features == ("user_id", "age")
    assert model.user_vocabulary_sizes == (16, 3)
    assert model.sampler == "log_uniform" and model.sampler_counts is None
    x, _ = _batch()
    assert testing.to_numpy(model(x)).shape == (16, 4)


def test_from_task_unigram_sampler_gets_counts_plus_one():
    counts = np.arange(NUM_ITEMS) % 4  # some items never seen as targets
    task = testing.FakeRetrievalTask(NUM_ITEMS, USERS, counts)
    model = YouTubeDNN.from_task(task, sampler="unigram", num_sampled=5)
    np.testing.assert_array_equal(model.sampler_counts, counts + 1)
    np.testing.assert_array_equal(model.sampled_softmax.unigram_counts, counts + 1)
    # Explicit counts win.
    explicit = list(np.ones(NUM_ITEMS))
    model = YouTubeDNN.from_task(
        task, sampler="unigram", sampler_counts=explicit, num_sampled=5
    )
    assert model.sampler_counts == explicit
