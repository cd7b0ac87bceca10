"""Tests of `MFMLP` (MF + M-MLP) and of the `PairwiseModel` loss."""

import keras
import numpy as np
import pytest

from recsys_tf.models import MFMLP, MODELS, PairwiseModel
from tests import testing
from tests.models.pairwise_batch import NUM_ITEMS, NUM_USERS, TYPES, batch, pairs, table


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _model(**kwargs):
    kwargs.setdefault("factors", 3)
    kwargs.setdefault("init_std", 0.5)  # gradients well above rounding noise
    return MFMLP(NUM_USERS, NUM_ITEMS, TYPES, **kwargs)


def _dense(layer):
    return testing.to_numpy(layer.kernel), testing.to_numpy(layer.bias)


def _numpy_logits(model, x):
    """Eq. 2-7 by hand: MF product, shared MLP embedding, ReLU branches, ReLU
    fusion, and the output layer's logit."""
    u, i = x["user_id"], x["item_id"]
    mf = table(model.mf_user)[u] * table(model.mf_item)[i]
    z = np.concatenate([table(model.mlp_user)[u], table(model.mlp_item)[i]], axis=1)
    outputs = []
    for branch in model.branches:
        params = [_dense(d) for d in branch.layers] if branch is not None else []
        outputs.append(testing.numpy_dense_stack(z, params, ["relu"] * len(params)))
    mlp = np.concatenate(outputs, axis=1)
    if model.fusion:
        mlp = testing.numpy_dense_stack(mlp, [_dense(model.fusion_layer)], ["relu"])
    fused = np.concatenate([mf, mlp], axis=1)
    return testing.numpy_dense_stack(fused, [_dense(model.output_layer)], [None])[:, 0]


def test_is_registered():
    assert MODELS["mf_mlp"] is MFMLP and issubclass(MFMLP, PairwiseModel)


@pytest.mark.parametrize("num_layers", [0, 1, 2])
def test_logits_match_numpy(num_layers):
    x, _ = batch()
    model = _model(num_layers=num_layers)
    got = testing.to_numpy(model(pairs(x)))
    assert got.shape == (len(x["user_id"]),)
    np.testing.assert_allclose(got, _numpy_logits(model, x), rtol=1e-5, atol=1e-6)
    units = [d.units for d in model.branches[0].layers] if num_layers else []
    assert units == [3 * 2 ** (num_layers - 1 - k) for k in range(num_layers)]
    # Training feedback changes gradients only, never the scores.
    np.testing.assert_allclose(
        testing.to_numpy(model(x, training=True)), got, rtol=1e-6
    )


def test_symbolic_shape():
    model = _model()
    inputs = {
        "user_id": keras.Input((), dtype="int64"),
        "item_id": keras.Input((), dtype="int64"),
    }
    assert tuple(model(inputs).shape) == (None,)


def test_loss_is_bpr_over_the_negatives():
    x, y = batch()
    model = _model()
    model(pairs(x))
    positive = _numpy_logits(model, x)
    negative = np.stack(
        [
            _numpy_logits(model, {"user_id": x["user_id"], "item_id": column})
            for column in x["negatives"].T
        ],
        axis=1,
    )
    expected = np.mean(np.log1p(np.exp(-(positive[:, None] - negative))))
    got = float(testing.to_numpy(testing.model_loss(model, x, y)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_every_variable_gets_a_gradient():
    x, y = batch()
    testing.assert_model_gradients(_model(loss="pointwise"), x, y)
    # BPR scores differences: the output bias cancels and gets no gradient.
    model = _model()
    model(pairs(x))
    others = [v for v in model.trainable_variables if v is not model.output_layer.bias]
    testing.assert_trainable_gradients(
        model, lambda: testing.model_loss(model, x, y), others
    )


def _branch_gradient(model, x, y, t):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = testing.model_loss(model, x, y)
    grads = tape.gradient(loss, model.branches[t].trainable_variables)
    return max(float(np.abs(testing.to_numpy(g)).max()) for g in grads)


def test_a_supportive_branch_learns_only_from_pairs_of_its_type():
    x, y = batch(without=("cart",))
    cart = TYPES.index("cart")
    model = _model()
    assert _branch_gradient(model, x, y, cart) == 0.0
    assert _branch_gradient(model, x, y, TYPES.index("fav")) > 0.0
    # The ablation updates every branch on every pair.
    assert _branch_gradient(_model(branch_update="always"), x, y, cart) > 0.0
    # One pair with a cart is enough.
    x["negative_feedback"][0, 0, cart] = 1
    assert _branch_gradient(model, x, y, cart) > 0.0


def test_a_batch_without_cart_pairs_leaves_the_cart_branch_unchanged():
    """Even under Adam, whose moments from earlier batches would move it."""
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    x, y = batch()
    model(pairs(x))
    model.optimizer.build(model.trainable_variables)
    for _ in range(3):
        model.train_on_batch(x, y)
    cart = model.branches[TYPES.index("cart")]
    fav = model.branches[TYPES.index("fav")]
    before_cart = [testing.to_numpy(v).copy() for v in cart.trainable_variables]
    before_fav = [testing.to_numpy(v).copy() for v in fav.trainable_variables]
    moments = [
        testing.to_numpy(
            model.optimizer._momentums[model.optimizer._get_variable_index(v)]
        )
        for v in cart.trainable_variables
    ]
    without, _ = batch(seed=2, without=("cart",))
    model.train_on_batch(without, y)
    for v, old in zip(cart.trainable_variables, before_cart):
        np.testing.assert_array_equal(testing.to_numpy(v), old, err_msg=v.path)
    for v, old in zip(cart.trainable_variables, moments):
        index = model.optimizer._get_variable_index(v)
        np.testing.assert_array_equal(
            testing.to_numpy(model.optimizer._momentums[index]), old
        )
    assert any(
        not np.array_equal(testing.to_numpy(v), old)
        for v, old in zip(fav.trainable_variables, before_fav)
    )
    # With the ablation, the same batch moves the cart branch (Adam momentum).
    model.branch_update = "always"
    model.make_train_function(force=True)
    model.train_on_batch(without, y)
    assert any(
        not np.array_equal(testing.to_numpy(v), old)
        for v, old in zip(cart.trainable_variables, before_cart)
    )


def test_overfits_one_batch():
    x, y = batch()
    model = _model(init_std=0.1)
    before = float(testing.to_numpy(testing.model_loss(model, x, y, training=False)))
    after = testing.fit_one_batch(model, x, y, steps=150)
    assert after < 0.05 < before


def test_config_round_trip_and_save_reload(tmp_path):
    x, _ = batch()
    model = _model()
    model(pairs(x))
    testing.assert_config_round_trip(model, pairs(x))
    testing.assert_save_reload(model, pairs(x), tmp_path)


def test_from_task_takes_the_feedback_types():
    class Task:
        num_users, num_items, feedback_types = NUM_USERS, NUM_ITEMS, ("buy", "click")

    model = MFMLP.from_task(Task(), factors=2)
    assert model.feedback_types == ("buy", "click") and len(model.branches) == 2
    assert model.input_fields() == {"user_id": NUM_USERS, "item_id": NUM_ITEMS}


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="`factors` must be >= 1"):
        _model(factors=0)
    with pytest.raises(ValueError, match="`branch_update` must be one of"):
        _model(branch_update="never")
    with pytest.raises(ValueError, match="`loss` must be one of"):
        _model(loss="hinge")
    with pytest.raises(ValueError, match="single feedback type"):
        _model(fusion=False)
    with pytest.raises(ValueError, match="at least the target"):
        MFMLP(NUM_USERS, NUM_ITEMS, ())
