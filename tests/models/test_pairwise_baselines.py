"""Tests of the pairwise baselines of Table 4: BPR, WMF, NeuMF (NCF) and MFPR."""

import keras
import numpy as np
import pytest

from recsys_tf.models import BPR, MFPR, MODELS, WMF, NeuMF, PairwiseModel
from tests import testing
from tests.models.pairwise_batch import NUM_ITEMS, NUM_USERS, batch, pairs, table
from tests.models.test_mf_mlp import _numpy_logits

CLASSES = {"bpr": BPR, "wmf": WMF, "neumf": NeuMF, "mfpr": MFPR}


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _model(name, **kwargs):
    kwargs.setdefault("factors", 3)
    kwargs.setdefault("init_std", 0.5)
    return CLASSES[name](NUM_USERS, NUM_ITEMS, **kwargs)


def _numpy_scores(model, x):
    if isinstance(model, NeuMF):
        return _numpy_logits(model, x)
    users = table(model.user_factors)[x["user_id"]]
    return (users * table(model.item_factors)[x["item_id"]]).sum(axis=1)


def _negative_scores(model, x):
    return np.stack(
        [
            _numpy_scores(model, {"user_id": x["user_id"], "item_id": column})
            for column in x["negatives"].T
        ],
        axis=1,
    )


def _softplus(z):
    return np.log1p(np.exp(z))


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_registered_and_scores_match_numpy(name):
    assert MODELS[name] is CLASSES[name] and issubclass(CLASSES[name], PairwiseModel)
    x, _ = batch()
    model = _model(name)
    got = testing.to_numpy(model(pairs(x)))
    np.testing.assert_allclose(got, _numpy_scores(model, x), rtol=1e-5, atol=1e-6)


def test_neumf_is_one_branch_without_fusion():
    model = _model("neumf")
    assert model.feedback_types == ("buy",) and model.fusion_layer is None
    assert model.loss == "pointwise"


@pytest.mark.parametrize("name", ["bpr", "wmf", "neumf"])
def test_loss_matches_numpy(name):
    x, y = batch()
    model = _model(name, positive_weight=3.0)
    model(pairs(x))
    p = _numpy_scores(model, x)
    n = _negative_scores(model, x)
    if name == "bpr":
        expected = _softplus(n - p[:, None]).mean()
    elif name == "wmf":
        expected = ((3.0 * (1 - p) ** 2 + (n**2).sum(axis=1)) / 4).mean()
    else:
        expected = ((_softplus(-p) + _softplus(n).sum(axis=1)) / 4).mean()
    got = float(testing.to_numpy(testing.model_loss(model, x, y)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_mfpr_loss_ranks_target_over_supportive_over_untouched():
    x, y = batch()
    model = _model("mfpr", seed=7)
    model(pairs(x))
    p = _numpy_scores(model, x)
    n = _negative_scores(model, x)
    drawn = testing.to_numpy(
        keras.random.randint(
            (n.size, 1), 0, NUM_ITEMS, seed=keras.random.SeedGenerator(7)
        )
    ).reshape(n.shape)
    k = np.stack(
        [
            _numpy_scores(model, {"user_id": x["user_id"], "item_id": column})
            for column in drawn.T
        ],
        axis=1,
    )
    expected = (
        _softplus(n - p[:, None]).mean(axis=1) + _softplus(k - n).mean(axis=1)
    ).mean()
    got = float(testing.to_numpy(testing.model_loss(model, x, y)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_gradients_overfit_and_round_trips(name, tmp_path):
    x, y = batch()
    model = _model(name)
    model(pairs(x))
    testing.assert_model_gradients(model, x, y)
    testing.assert_config_round_trip(model, pairs(x))
    testing.assert_save_reload(model, pairs(x), tmp_path)
    fresh = _model(name, init_std=0.1)
    before = float(testing.to_numpy(testing.model_loss(fresh, x, y, training=False)))
    after = testing.fit_one_batch(fresh, x, y, steps=150)
    assert after < 0.5 * before


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="`factors` must be >= 1"):
        BPR(NUM_USERS, NUM_ITEMS, factors=0)
    with pytest.raises(ValueError, match="num_users"):
        WMF(0, NUM_ITEMS)
