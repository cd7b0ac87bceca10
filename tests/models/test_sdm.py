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


def _w(layer):
    return [testing.to_numpy(v).astype(np.float64) for v in layer.weights]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_encode(model, x):
    """Eq. (4)-(16) of every position in NumPy, row by row (dropout off): the
    LSTM over the session so far (restarting at its start), self-attention over
    it, the user attention with the residual, the long-term attention per
    feature over the behaviours before the session, the gate."""
    tables = [testing.to_numpy(t).astype(np.float64) for t in model.item_tables]
    users = [testing.to_numpy(t).astype(np.float64) for t in model.user_tables]
    (wq, bq), (wk,), (wv, bv), (wo, bo) = (
        _w(model.query),
        _w(model.key),
        _w(model.value),
        _w(model.attention_output),
    )
    gamma, beta = _w(model.attention_norm)
    wu, bu = _w(model.user_attention.query)
    scorers = [_w(a.scorer) for a in model.long_term_attention]
    wp, bp = _w(model.long_term_dense)
    wg, bg = _w(model.fusion.gate)
    n, h = model.units, model.num_heads
    d = n // h
    out = np.zeros(x["history"].shape + (n,))
    for b in range(len(x["history"])):
        e_u = np.concatenate([users[0][x["user_id"][b]], users[1][x["age"][b]]])
        real = np.flatnonzero(x["history_mask"][b])
        items = x["history"][b]
        feats = [tables[0][items], tables[1][CATEGORIES[items]]]  # Eq. (4)
        e = np.concatenate(feats, axis=-1)
        hidden = e
        for index, rnn in enumerate(model.lstm.rnns):  # Eq. (6), stacked
            kernel, recurrent, bias = _w(rnn.cell.cell)
            below, hidden = hidden, np.zeros((len(items), n))
            hc = (np.zeros(n), np.zeros(n))
            for t in real:
                if x[POSITION][b, t] == 0:
                    hc = (np.zeros(n), np.zeros(n))
                z = below[t] @ kernel + hc[0] @ recurrent + bias
                i, f, g, o = np.split(z, 4)
                c = _sigmoid(f) * hc[1] + _sigmoid(i) * np.tanh(g)
                hc = (_sigmoid(o) * np.tanh(c), c)
                hidden[t] = hc[0]
            if index >= model.lstm_layers - model.lstm_residual_layers:
                hidden[real] += below[real]
        for t in real:
            session = np.arange(t - x[POSITION][b, t], t + 1)
            before = session[0] - np.arange(1, x[LONG][b, t] + 1)
            # Eq. (7)-(8): each session position's heads over the session up to
            # itself, then LayerNorm(X + X^).
            attended = {}
            for query in session:
                keys = np.arange(session[0], query + 1)
                q = (hidden[query] @ wq + bq).reshape(h, d)
                k = (hidden[keys] @ wk).reshape(len(keys), h, d)
                v = (hidden[keys] @ wv + bv).reshape(len(keys), h, d)
                heads = []
                for j in range(h):
                    s = k[:, j] @ q[j] / np.sqrt(d)
                    a = np.exp(s - s.max())
                    heads.append((a / a.sum()) @ v[:, j])
                z = hidden[query] + np.concatenate(heads) @ wo + bo
                z = (z - z.mean()) / np.sqrt(z.var() + 1e-8)
                attended[query] = z * gamma + beta
            values = np.stack([attended[k_] for k_ in session])
            # Eq. (9)-(10), "general", plus the residual h^_t.
            s = values @ np.tanh(e_u @ wu + bu) / np.sqrt(n)
            a = np.exp(s - s.max())
            s_t = (a / a.sum()) @ values + (attended[t] if model.user_residual else 0)
            # Eq. (11)-(14): per feature, "concat" scores over the long term.
            pooled = []
            for (ws, bs), table_values in zip(scorers, feats):
                dim = table_values.shape[-1]
                if len(before) == 0:
                    pooled.append(np.zeros(dim))
                    continue
                g_k = table_values[before]
                pairs = np.concatenate([np.repeat(e_u[None], len(before), 0), g_k], 1)
                s = np.tanh(pairs @ ws + bs)[:, 0] / np.sqrt(dim)
                a = np.exp(s - s.max())
                pooled.append((a / a.sum()) @ g_k)
            p = np.tanh(np.concatenate(pooled) @ wp + bp)
            gate = _sigmoid(np.concatenate([e_u, s_t, p]) @ wg + bg)  # Eq. (16)
            out[b, t] = gate * s_t + (1 - gate) * p  # Eq. (15)
    return out


@pytest.mark.parametrize(
    "user_residual, lstm_layers", [(True, 2), (False, 2), (True, 1)]
)
def test_encode_matches_numpy_eq_4_to_16(user_residual, lstm_layers):
    x, _ = _batch()
    model = _model(
        dropout=0.0,
        user_residual=user_residual,
        lstm_layers=lstm_layers,
        lstm_residual_layers=lstm_layers - 1,
    )
    model(x)
    for table in model.item_tables + model.user_tables:
        shape = table.shape
        table.assign(np.random.default_rng(4).normal(size=shape).astype("float32"))
    want = _numpy_encode(model, x)
    real = x["history_mask"]
    assert (x[LONG][real] == 0).any() and (x[LONG][real] > 0).any()
    got = testing.to_numpy(model.encode(x))
    np.testing.assert_allclose(got[real], want[real], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        testing.to_numpy(model(x)), want[:, -1], rtol=1e-4, atol=1e-5
    )


def test_tables_start_as_the_authors_code_initialises_them():
    # Input tables: the feature columns' truncated normal, std 1 / sqrt(dim), cut
    # at 2 std (std of the cut normal: 0.880 of it); output table: U(-0.1, 0.1).
    model = SDM(
        4000,
        NUM_USERS,
        item_features=("category",),
        item_feature_codes=((np.arange(4000) % 500).tolist(),),
        embedding_dim=16,
        feature_dim=4,
        user_embedding_dim=4,
        units=8,
        num_heads=2,
    )
    for table, dim in zip(model.item_tables, (16, 4)):
        values = testing.to_numpy(table)
        assert np.abs(values).max() <= 2.0 / np.sqrt(dim) + 1e-6
        np.testing.assert_allclose(values.std(), 0.8796 / np.sqrt(dim), rtol=0.03)
    output = testing.to_numpy(model.output_embeddings)
    assert np.abs(output).max() <= 0.1
    np.testing.assert_allclose(output.std(), 0.1 / np.sqrt(3.0), rtol=0.03)
