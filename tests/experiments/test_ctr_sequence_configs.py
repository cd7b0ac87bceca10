"""The DSIN, DFN, DMT and DUMN configs (DUMN's ablation presets too) build their
models from a behaviour-sequence task."""

import importlib

import numpy as np
import pytest

from data_prep import synthetic
from experiments.configs import dfn, dmt, dsin, dumn
from recsys_tf.models import DFN, DMT, DSIN, DUMN
from recsys_tf.tasks.ctr_sequence import CTRSequence
from recsys_tf.training import loop
from tests import testing

CONFIGS = [(dsin, DSIN), (dfn, DFN), (dmt, DMT)]
VOCAB = {"user_id": 4, "item_id": 32, "category": 5}


@pytest.mark.parametrize(
    "module, cls", CONFIGS, ids=lambda v: getattr(v, "__name__", "")
)
def test_config_builds_its_model(module, cls):
    config = module.get_config()
    assert config.task == "ctr_sequence" and config.model.name == config.name
    model = loop.build_model(config, testing.FakeSequenceCTRTask(VOCAB, max_length=100))
    assert type(model) is cls
    assert model.embedding_dim == 16 and model.num_heads == 4
    assert model.item_features == ("item_id", "category")


def test_each_model_reads_its_sequences():
    task = testing.FakeSequenceCTRTask(VOCAB, max_length=100)
    assert loop.build_model(dsin.get_config(), task).sequence_types == ("click",)
    assert dsin.get_config().data.num_sessions == 5
    assert loop.build_model(dfn.get_config(), task).sequence_types == (
        "click",
        "unclick",
        "dislike",
    )
    # DMT: one Transformer per sequence type the data has.
    model = loop.build_model(dmt.get_config(), task)
    assert model.sequence_types == task.sequence_types and model.max_length == 100


def test_dfn_on_data_without_dislike_names_it_and_the_switch_turns_it_off():
    task = testing.FakeSequenceCTRTask(
        VOCAB, sequence_types=("click", "unclick"), dataset="taobao_ad"
    )
    config = dfn.get_config()
    with pytest.raises(ValueError, match=r"\['dislike'\].*'taobao_ad'"):
        loop.build_model(config, task)
    config.model.sequence_types = ("click", "unclick")
    assert loop.build_model(config, task).external_types == ("click",)


@pytest.mark.parametrize("preset", [None, *sorted(dumn.ABLATIONS)])
def test_every_dumn_preset_builds_its_model(preset):
    config = dumn.get_config(preset)
    assert config.name == ("dumn" if preset is None else f"dumn_{preset}")
    assert config.model.name == "dumn" and config.train.learning_rate == 1e-3
    CTRSequence().check_config(config)
    # The task the builder gives for this data config (its sequence types).
    task = testing.FakeSequenceCTRTask(
        VOCAB, sequence_types=config.data.sequence_types, max_length=100
    )
    model = loop.build_model(config, task)
    assert type(model) is DUMN
    assert (model.num_slots, model.slot_dim, model.controller_units) == (256, 64, 512)
    switches = dumn.ABLATIONS.get(preset, {})
    for key, value in switches.items():
        if key.startswith("model."):
            assert getattr(model, key[len("model.") :]) == value, key
    assert set(model.sequence_types) <= set(config.data.sequence_types)


def test_dumn_on_data_without_dislike_names_it_and_the_preset_turns_it_off():
    task = testing.FakeSequenceCTRTask(
        VOCAB, sequence_types=("click", "unclick", "like"), dataset="taobao_ad"
    )
    with pytest.raises(ValueError, match=r"\['dislike'\].*'taobao_ad'"):
        loop.build_model(dumn.get_config(), task)
    model = loop.build_model(dumn.get_config("no_dislike"), task)
    assert "dislike" not in model.memories and model.purified_pairs == (
        ("unclick", "like"),
    )
    with pytest.raises(ValueError, match="unknown or repeated preset 'umn2'"):
        dumn.get_config("umn2")


@pytest.mark.parametrize("name", ["din", "dien", "dsin", "dfn", "dmt", "dumn"])
def test_sequence_models_evaluate_at_their_training_batch(name):
    """[batch, heads, T, T] attention per type: an 8192 batch took DUMN's
    validation pass on KuaiRand-Pure to 6.5 GB (1.9 GB at 1024)."""
    config = importlib.import_module(f"experiments.configs.{name}").get_config()
    assert config.task == "ctr_sequence"
    assert config.eval.batch_size == config.train.batch_size == 1024
    wide_deep = importlib.import_module("experiments.configs.wide_deep").get_config()
    assert wide_deep.eval.batch_size == 8192  # no sequences: the larger batch


@pytest.mark.slow
def test_every_model_of_the_target_reads_the_same_ctr_instances(tmp_path):
    """`make reproduce-ctr-sequence` compares models with and without sequences:
    all read the same instances, labels and split (so its † marks pair them)."""
    path = str(tmp_path / "tiny")
    synthetic.generate("tiny", 0, path)
    names = ("wide_deep", "pnn", "deepfm", "autoint", "din", "dien", "dsin", "dfn")
    parts = {}
    for name in names + ("dmt", "oracle_ctr"):
        config = importlib.import_module(f"experiments.configs.{name}").get_config()
        config.data.path = path
        parts[name] = loop.build_task(config, loop.load_event_log(config.data)).parts()
    assert loop.get_task(dsin.get_config()).name == "ctr_sequence"
    reference = parts.pop("wide_deep")
    for name, task in parts.items():
        for part, split in task.items():
            mine = reference[part]
            for field in ("user_ids", "labels", "timestamps", "request_ids"):
                np.testing.assert_array_equal(
                    getattr(split, field), getattr(mine, field), err_msg=name
                )
            np.testing.assert_array_equal(
                split.features["item_id"], mine.features["item_id"], err_msg=name
            )


@pytest.mark.parametrize("preset", [None, "no_dislike", "af"])
def test_dumn_like_is_like_fav_cart_buy(preset):
    """DUMN Sec. 4.1.1 (NOTES): like = purchased / cart / like (fav: Taobao's
    like label); AutoInt+UMN reads DUMN's memories of the same sequences. A bad
    value is a ConfigError naming the field."""
    from experiments.configs import autoint_umn

    for config in (dumn.get_config(preset), autoint_umn.get_config()):
        assert tuple(config.data.like_events) == ("like", "fav", "cart", "buy")
        CTRSequence().check_config(config)
    config = dumn.get_config(preset)
    # Sec. 3.5: triplet samples from the whole earlier history of each type.
    assert config.data.history_samples and config.model.triplet_samples == "history"
    config.data.like_events = ("like", "rating")
    with pytest.raises(loop.ConfigError, match="config.data: like_events"):
        CTRSequence().check_config(config)
    # History samples: the model's switch needs the task's inputs.
    for config in (dumn.get_config(preset), dfn.get_config("umn")):
        assert config.model.triplet_samples == "history"
        CTRSequence().check_config(config)
        config.data.history_samples = False
        with pytest.raises(loop.ConfigError, match="data.history_samples=True"):
            CTRSequence().check_config(config)
