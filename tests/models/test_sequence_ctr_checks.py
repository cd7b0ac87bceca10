"""The checks every behaviour-sequence CTR model passes, once for each.

Each model's own file keeps what is its own (its NumPy references, its invariants,
`from_task`, bad arguments) and gives here how to build it and a batch of its
inputs (`_model`, `_batch`) and how to give its weights a scale at which every
gradient is measurable (`_randomise`, None for none).
"""

import keras
import numpy as np
import pytest

from tests import testing
from tests.models import test_dfn, test_dien, test_din, test_dmt, test_dsin

# name -> (its test module, its weight randomiser or None, kwargs of the config
# round trip, kwargs of the .keras round trip).
CASES = {
    "dsin": (
        test_dsin,
        test_dsin._randomise,
        dict(dropout=0.1, l2=1e-4, bias_encoding=False),
        dict(dropout=0.1, l2=1e-4),
    ),
    "dfn": (
        test_dfn,
        test_dfn._randomise,
        dict(dropout=0.1, l2=1e-4),
        dict(dropout=0.1, l2=1e-4),
    ),
    "dmt": (
        test_dmt,
        test_dmt._unit_scale,
        dict(dropout=0.1, l2=1e-4, num_decoder_layers=2),
        dict(dropout=0.1, l2=1e-4, num_decoder_layers=2),
    ),
}
TRANSFORMER_MODELS = list(CASES)


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _built(name, **kwargs):
    """The model `name`, its batch `(x, y)`, weights at unit scale."""
    module, randomise, _, _ = CASES[name]
    x, y = module._batch()
    model = module._model(**kwargs)
    randomise(model, x)
    return model, x, y


@pytest.mark.parametrize("name", TRANSFORMER_MODELS)
def test_padded_codes_do_not_change_the_output(name):
    # DSIN: the padded items of sessions and the padded sessions too.
    model, x, _ = _built(name)
    np.testing.assert_allclose(
        testing.to_numpy(model(testing.change_padding(x))),
        testing.to_numpy(model(x)),
        rtol=1e-5,
        atol=1e-5,
    )


PADDING_INVARIANT = {
    "dfn": test_dfn,
    "dmt": test_dmt,
    "din": test_din,
    "dien": test_dien,
}


@pytest.mark.parametrize("name", sorted(PADDING_INVARIANT))
def test_the_padding_width_does_not_change_the_output(name):
    """`padding_invariant`: more padding columns (as a batch not cut to the
    columns it uses), 3 on the click sequence and 1 on the others (the task cuts
    each type on its own), leave the logits and the training losses as they
    are."""
    module = PADDING_INVARIANT[name]
    x, y = module._batch()
    # DMT's position table holds the widest batch.
    kwargs = {"max_length": x["click_mask"].shape[1] + 3} if name == "dmt" else {}
    model = module._model(**kwargs)
    assert model.padding_invariant
    if name in CASES:
        CASES[name][1](model, x)
    types = [k[: -len("_mask")] for k in x if k.endswith("_mask")]
    wide = testing.widen_padding(x, {t: 3 if t == "click" else 1 for t in types})
    assert wide["click_item_id"].shape[1] == x["click_item_id"].shape[1] + 3
    assert len(types) == 1 or wide[f"{types[-1]}_mask"].shape[1] == (
        x[f"{types[-1]}_mask"].shape[1] + 1
    )
    for training in (False, True):
        narrow_out = testing.to_numpy(model(x, training=training))
        narrow_losses = [testing.to_numpy(v) for v in model.losses]
        wide_out = testing.to_numpy(model(wide, training=training))
        wide_losses = [testing.to_numpy(v) for v in model.losses]
        np.testing.assert_allclose(wide_out, narrow_out, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(wide_losses, narrow_losses, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", TRANSFORMER_MODELS)
def test_every_variable_gets_a_gradient(name):
    model, x, y = _built(name, l2=1e-3)
    testing.assert_model_gradients(model, x, y)


@pytest.mark.slow
@pytest.mark.parametrize("name", TRANSFORMER_MODELS)
def test_one_train_step_updates_every_variable(name):
    model, x, y = _built(name, l2=1e-3)
    testing.assert_one_train_step(model, x, y)


@pytest.mark.slow
@pytest.mark.parametrize("name", TRANSFORMER_MODELS)
def test_overfits_one_batch(name):
    module = CASES[name][0]
    x, y = module._batch()
    model = module._model(hidden_units=(16,))
    loss = testing.fit_one_batch(model, x, y, steps=150, learning_rate=0.02)
    assert loss < 0.05
    assert np.mean((testing.to_numpy(model(x)) > 0) == (y > 0.5)) == 1.0


@pytest.mark.parametrize("name", TRANSFORMER_MODELS)
def test_config_round_trip(name):
    module, _, kwargs, _ = CASES[name]
    x, _ = module._batch()
    model = module._model(**kwargs)
    model(x)
    testing.assert_config_round_trip(model, x)


@pytest.mark.slow
@pytest.mark.parametrize("name", TRANSFORMER_MODELS)
def test_save_reload(name, tmp_path):
    # `assert_save_reload` compares the reloaded config (sequence types,
    # bias_encoding, layer counts) with the saved one.
    module, _, _, kwargs = CASES[name]
    x, _ = module._batch()
    model = module._model(**kwargs)
    model(x)
    testing.assert_save_reload(model, x, tmp_path)


@pytest.mark.parametrize("module", [test_din, test_dien], ids=["din", "dien"])
def test_trains_with_xla_as_eagerly(module):
    x, y = module._batch()
    losses = []
    for jit_compile in (False, True):
        testing.set_seed()
        # DIEN's GRUs loop by default; XLA needs them unrolled (the same sums).
        unroll = jit_compile and module is test_dien
        model = module._model(**({"unroll": True} if unroll else {}))
        model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            jit_compile=jit_compile,
            run_eagerly=not jit_compile,
        )
        losses.append([float(model.train_on_batch(x, y)) for _ in range(2)])
    assert np.all(np.isfinite(losses))
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
