"""Tests of the named protocol presets of experiments/configs/common.py."""

import importlib
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from absl import flags
from ml_collections import config_flags

from experiments.configs import (
    autoint,
    caser,
    common,
    dcn,
    gru4rec,
    hpmn,
    narm,
    sasrec,
    sdm,
    shan,
    wide_deep,
    youtube_dnn,
)
from recsys_tf.data.schema import EventLog, validate
from recsys_tf.training import loop

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _rating_log(n=400, seed=0):
    rng = np.random.default_rng(seed)
    users = pd.DataFrame({"user_id": np.arange(10), "gender": rng.integers(0, 2, 10)})
    items = pd.DataFrame(
        {
            "item_id": np.arange(20),
            "category": rng.integers(0, 4, 20),
            "brand": rng.integers(0, 3, 20),
        }
    )
    events = pd.DataFrame(
        {
            "user_id": rng.integers(0, 10, n),
            "item_id": rng.integers(0, 20, n),
            "timestamp": 1_600_000_000 + np.arange(n),
            "event": "rating",
            "value": rng.integers(1, 6, n).astype(float),
        }
    )
    return validate(EventLog(users, items, events))


@pytest.mark.parametrize("module", [dcn, autoint, wide_deep])
def test_autodenoise_preset_applies_to_each_config(module):
    plain = module.get_config()
    config = module.get_config("autodenoise_ml1m")
    assert config.data.name == "ml1m_all"
    assert config.data.label == "rating"
    assert tuple(config.data.fields) == ("user_id", "item_id")
    assert tuple(config.data.crosses) == ()  # a config's crosses are dropped
    assert config.data.split == "random"
    assert tuple(config.data.fractions) == (0.8, 0.1, 0.1)
    # Only data changes, the settings of AutoDenoise's code where the config names
    # them (CODE), and the values a sweep chose under the preset (TUNED).
    for table in ("CODE", "TUNED"):
        for key, value in (
            getattr(module, table, {}).get("autodenoise_ml1m", {}).items()
        ):
            common.override(plain, key, value)
    assert config.model == plain.model and config.train == plain.train
    assert plain.data.name == "synthetic" and tuple(plain.data.fields) == ()


def test_autodenoise_task_is_rating_above_3_on_user_and_item_ids():
    config = dcn.get_config("autodenoise_ml1m")
    log = _rating_log()
    task = loop.build_task(config, log)
    assert task.fields == ("user_id", "item_id")
    values = log.events["value"].to_numpy()
    labels = np.concatenate([p.labels for p in task.parts().values()])
    assert sorted(labels) == sorted((values > 3).astype(np.float32))
    assert [len(p) for p in task.parts().values()] == [320, 40, 40]
    # The random split is seeded by config.seed: another seed, another split.
    config.seed = 1
    other = loop.build_task(config, log)
    assert not np.array_equal(other.test.user_ids, task.test.user_ids)


def test_preset_through_the_config_flag_string():
    values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "", flag_values=values)
    values(["prog", f"--config={ROOT}/experiments/configs/dcn.py:autodenoise_ml1m"])
    assert values.config.data.name == "ml1m_all"
    assert values.config.model.name == "dcn"


def test_unknown_preset_errors_listing_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown preset 'nope'.*autodenoise_ml1m"):
        dcn.get_config("nope")


def test_override_refuses_unknown_keys():
    config = dcn.get_config()
    common.override(config, "train.learning_rate", 0.01)
    assert config.train.learning_rate == 0.01
    with pytest.raises(KeyError, match="train.learning_rat"):
        common.override(config, "train.learning_rat", 0.01)
    with pytest.raises(KeyError, match="nothing.at_all"):
        common.override(config, "nothing.at_all", 1)


@pytest.mark.real_data
def test_autodenoise_preset_on_the_real_ml1m(tmp_path):
    from recsys_tf.data.datasets import load_event_log
    from tests.data_prep.shared import shared_dataset

    shared_dataset("ml-1m", "ratings_no_timestamp.dat.gz")
    config = dcn.get_config("autodenoise_ml1m")
    config.data.root = str(tmp_path)
    task = loop.build_task(config, load_event_log(config.data))
    assert task.vocabulary_sizes == {"user_id": 6040, "item_id": 3706}
    assert [len(p) for p in task.parts().values()] == [800167, 100021, 100021]
    # Ratings 4 and 5 (348,971 + 226,310) are the positives.
    assert sum(int(p.labels.sum()) for p in task.parts().values()) == 575281


@pytest.mark.slow
def test_cli_unknown_key_after_a_preset_lists_the_valid_keys(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.train",
            f"--config={ROOT}/experiments/configs/dcn.py:autodenoise_ml1m",
            f"--workdir={tmp_path}",
            "--config.data.feilds=()",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown config key(s) ['data.feilds']" in proc.stderr
    assert "data.fields" in proc.stderr


def test_tuned_values_apply_under_their_preset_only():
    default = wide_deep.get_config()
    preset = wide_deep.get_config("autodenoise_ml1m")
    for key, value in wide_deep.TUNED["autodenoise_ml1m"].items():
        block, name = key.split(".")
        assert preset[block][name] == value
    assert default.train.learning_rate == 1e-3 and default.model.l2 == 0.0
    # AutoDenoise's code sizes, under its preset only.
    assert tuple(preset.model.hidden_units) == (16, 16) and preset.model.dropout == 0.2
    assert preset.train.batch_size == 2048 and preset.train.patience == 2
    assert (
        tuple(default.model.hidden_units) == (256, 128, 64)
        and default.model.dropout == 0
    )
    config = common.base("x", "ctr", dict(name="x"))
    with pytest.raises(KeyError, match="train.learning_rat"):
        common.with_preset(
            config, "autodenoise_ml1m", {"autodenoise_ml1m": {"train.learning_rat": 1}}
        )


def test_tuned_values_of_the_default_protocol_apply_without_a_preset():
    tuned = {"": {"train.learning_rate": 0.01}, "autodenoise_ml1m": {"model.l2": 1.0}}
    config = common.with_preset(common.base("x", "ctr", dict(l2=0.0)), None, tuned)
    assert config.train.learning_rate == 0.01 and config.model.l2 == 0.0
    config = common.with_preset(common.base("x", "ctr", dict(l2=0.0)), "", tuned)
    assert config.train.learning_rate == 0.01
    preset = common.with_preset(
        common.base("x", "ctr", dict(l2=0.0)), "autodenoise_ml1m", tuned
    )
    assert preset.train.learning_rate == 1e-3 and preset.model.l2 == 1.0


@pytest.mark.parametrize("module", [sasrec, gru4rec, caser, narm, shan, hpmn])
def test_s3rec_beauty_preset_applies_to_each_sequential_config(module):
    plain = module.get_config()
    config = module.get_config("s3rec_beauty")
    assert config.data.name == "amazon_beauty"
    assert config.data.split == "leave_one_out" and config.data.max_length == 50
    assert config.eval.protocol == "sampled" and config.eval.num_negatives == 99
    assert config.eval.shared_negatives and not config.eval.negatives_file
    assert config.model == plain.model and config.train == plain.train
    # The sequential configs train at every position, whatever the preset.
    assert plain.data.per_position and config.data.per_position
    assert loop.monitor_metric(config) == "ndcg@10"
    loop._check_config(config)
    config.eval.protocol = "full"  # the full-ranking table, by override
    loop._check_config(config)
    assert loop.monitor_metric(config) == "hr@50"


@pytest.mark.parametrize("module", [sasrec, gru4rec, caser])
def test_s3rec_beauty_full_preset_is_s3rec_full_ranking_protocol(module):
    plain = module.get_config()
    config = module.get_config("s3rec_beauty_full")
    assert config.data.name == "amazon_beauty" and config.data.max_length == 50
    assert config.data.split == "leave_one_out" and config.data.per_position
    assert config.eval.protocol == "full" and config.eval.exclude_history == "true"
    assert not config.eval.shared_negatives  # a sampled-protocol key, refused here
    assert 20 in config.eval.ks and loop.monitor_metric(config) == "ndcg@20"
    assert config.train.epochs == 200 and config.train.patience == 10
    loop._check_config(config)
    if module is sasrec:  # S3-Rec's SASRec sizes
        assert config.model.embedding_dim == 64 and config.model.num_heads == 2
        assert config.model.block == "bert" and plain.model.block == "sasrec"
        assert config.train.batch_size == 256
        assert module.get_config("s3rec_beauty").model.embedding_dim == 50
        assert module.get_config("s3rec_beauty").model.block == "sasrec"
    else:
        assert config.model == plain.model
        assert config.train.batch_size == plain.train.batch_size


def test_loo_full_is_the_full_ranking_protocol_without_beauty_or_its_tuned_values():
    beauty = common.PRESETS["s3rec_beauty_full"]
    assert {k: v for k, v in beauty.items() if k != "data.name"} == common.PRESETS[
        "loo_full"
    ]
    assert "data.name" not in common.PRESETS["loo_full"]
    # make reproduce-sequential's ML-1M runs: SDM keeps its session rules and
    # side feature there; only Beauty (order, no features) turns them off.
    on_ml1m = sdm.get_config("loo_full")
    on_ml1m.data.name = "ml1m"
    assert on_ml1m.data.session_gap == 599 and on_ml1m.model.item_features == (
        "category",
    )
    assert on_ml1m.data.long_term_seconds == 7 * 86400
    on_beauty = sdm.get_config("s3rec_beauty_full")
    assert on_beauty.data.session_gap == 0 and on_beauty.model.item_features == ()
    assert on_ml1m.eval.to_dict() == on_beauty.eval.to_dict()
    loop._check_config(on_ml1m)
    # SASRec's S3-Rec sizes belong to the Beauty table, not to loo_full.
    assert sasrec.get_config("loo_full").model.block == "sasrec"


def test_sasrec_s3rec_variant_is_s3rec_sizes_and_selection_on_both_protocols():
    plain = sasrec.get_config("s3rec_beauty")
    config = sasrec.get_config("s3rec+s3rec_beauty")
    assert config.name == "sasrec_s3rec" and plain.name == "sasrec"
    assert (config.model.embedding_dim, config.model.num_heads) == (64, 2)
    assert config.model.block == "bert" and config.train.batch_size == 256
    assert plain.model.block == "sasrec" and plain.model.embedding_dim == 50
    # run_finetune_sample.py stops on validation MRR after 10 epochs without a gain.
    assert config.train.patience == 10 and config.eval.monitor == "mrr@50"
    assert loop.monitor_metric(config) == "mrr@50"
    assert config.eval.to_dict() | {"monitor": "auto"} == plain.eval.to_dict()
    loop._check_config(config)
    # Under full ranking the preset's selection (NDCG@20) stays.
    full = sasrec.get_config("s3rec+s3rec_beauty_full")
    assert full.eval.monitor == "ndcg@20" and full.model.block == "bert"
    assert full.model == sasrec.get_config("s3rec_beauty_full").model


def test_caser_code_variant_trains_as_the_authors_code_on_any_protocol():
    plain = caser.get_config("s3rec_beauty")
    config = caser.get_config("code+s3rec_beauty")
    assert config.name == "caser_code" and plain.name == "caser"
    assert (config.model.num_targets, config.model.l2) == (3, 1e-6)
    assert config.model.loss == "bce_mean" and plain.model.loss == "bce"
    # The default config has neither key (its runs' config.json stay as they were).
    assert "num_targets" not in plain.model and "l2" not in plain.model
    assert config.data == plain.data and config.eval == plain.eval
    loop._check_config(config)


def test_per_position_needs_a_model_with_a_query_per_position():
    config = youtube_dnn.get_config()
    config.data.per_position = True
    with pytest.raises(loop.ConfigError, match="per_position=True needs a model"):
        loop._check_config(config)


def test_the_roundtrip_of_a_sequential_config_through_json():
    import json

    import ml_collections

    config = sasrec.get_config("s3rec_beauty")
    again = ml_collections.ConfigDict(json.loads(config.to_json()))
    assert again.to_dict() == json.loads(config.to_json())
    assert again.model.name == "sasrec" and again.data.per_position


@pytest.mark.real_data
def test_s3rec_beauty_preset_on_the_real_files(tmp_path):
    from recsys_tf.data.datasets import load_event_log
    from tests.data_prep.shared import shared_dataset

    shared_dataset("amazon-beauty-s3rec", "Beauty.txt.gz")
    config = sasrec.get_config("s3rec_beauty")
    config.data.root = str(tmp_path)
    log = load_event_log(config.data)
    assert (log.num_users, log.num_items, len(log.events)) == (22363, 12101, 198502)
    task = loop.build_task(config, log)
    # One training sequence per user; one validation and one test row per user.
    assert [len(p) for p in task.parts().values()] == [22363] * 3
    # Every event but each user's first (no history) and last two is a target.
    assert int(task.train.history_mask.sum()) == 198502 - 3 * 22363 - int(
        np.maximum(0, _beauty_lengths(log) - 53).sum()
    )


def _beauty_lengths(log):
    return np.bincount(log.events["user_id"].to_numpy(), minlength=log.num_users)


def test_split_arg_reads_a_variant_a_protocol_or_both():
    variants = ("umn", "dislike")
    assert common.split_arg(None, variants) == ("", "")
    assert common.split_arg("umn", variants) == ("umn", "")
    assert common.split_arg("dumn_table1", variants) == ("", "dumn_table1")
    assert common.split_arg("umn+dumn_table1", variants) == ("umn", "dumn_table1")
    assert common.split_arg("dumn_table1+umn", variants) == ("umn", "dumn_table1")
    for bad, part in (("umn2", "umn2"), ("umn+dislike", "dislike"), ("umn+", "")):
        with pytest.raises(ValueError, match=f"unknown or repeated preset '{part}'"):
            common.split_arg(bad, variants)


TABLE1 = ("wide_deep", "pnn", "deepfm", "autoint", "din", "dien", "dsin", "dfn", "dmt")
# The baselines whose learning rate a sweep chose under the preset (README "DUMN Table 1").
SWEPT = ("wide_deep", "pnn", "deepfm", "autoint", "din", "dien", "dsin", "dfn", "dmt")


def _changed_keys(default, config) -> set[str]:
    """The dotted keys whose value `config` changes from `default`."""
    before = loop.flatten_config(default.to_dict())
    return {
        k for k, v in loop.flatten_config(config.to_dict()).items() if before[k] != v
    }


@pytest.mark.parametrize("name", TABLE1 + ("dumn", "oracle_ctr"))
def test_dumn_table1_preset_is_the_compact_simulator_with_the_tuned_rates(name):
    module = importlib.import_module(f"experiments.configs.{name}")
    default, config = module.get_config(), module.get_config("dumn_table1")
    assert config.data.path == "data/synthetic_compact"
    assert config.train.epochs == 20
    tuned = getattr(module, "TUNED", {}).get("dumn_table1", {})
    if name in SWEPT:
        assert set(tuned) == {"train.learning_rate"}, name
    else:
        assert not tuned, name
    rate = tuned.get("train.learning_rate", default.train.learning_rate)
    assert config.train.learning_rate == rate
    # Only the preset's keys and the tuned ones differ from the default.
    assert _changed_keys(default, config) <= {
        "data.path",
        "train.epochs",
        "train.learning_rate",
    }


# Those whose rate a choice on KuaiRand's validation split set under its preset.
SWEPT_KUAIRAND = ("dumn",) + TABLE1


@pytest.mark.parametrize("name", TABLE1 + ("dumn",))
def test_dumn_table1_kuairand_preset_is_kuairand_with_its_own_tuned_rates(name):
    module = importlib.import_module(f"experiments.configs.{name}")
    default = module.get_config()
    config = module.get_config("dumn_table1_kuairand")
    assert config.data.name == "kuairand" and not config.data.path
    assert config.train.epochs == 20
    tuned = getattr(module, "TUNED", {}).get("dumn_table1_kuairand", {})
    assert bool(tuned) == (name in SWEPT_KUAIRAND), name
    rate = tuned.get("train.learning_rate", default.train.learning_rate)
    assert config.train.learning_rate == rate
    assert _changed_keys(default, config) <= {
        "data.name",
        "train.epochs",
        "train.learning_rate",
    }
    # The simulator's choices do not leak into KuaiRand's protocol.
    if name == "dumn":
        assert config.train.learning_rate == 0.005
        assert module.get_config("dumn_table1").train.learning_rate == 1e-3
        ablation = module.get_config("no_umn+dumn_table1_kuairand")
        assert ablation.name == "dumn_no_umn" and ablation.train.learning_rate == 0.005


def test_table1_ablations_take_their_backbone_s_tuned_rate():
    from experiments.configs import autoint_umn, dfn

    rate = autoint.TUNED["dumn_table1"]["train.learning_rate"]
    assert autoint_umn.get_config("dumn_table1").train.learning_rate == rate
    control = autoint_umn.get_config("no_memory+dumn_table1")
    assert control.name == "autoint_umn_no_memory" and not control.model.memory
    assert control.model.triplet_weight == 0 and control.train.learning_rate == rate
    assert autoint_umn.get_config().model.memory
    both = dfn.get_config("umn+dumn_table1")
    assert both.name == "dfn_umn" and both.model.user_memory
    assert both.data.path == "data/synthetic_compact" and both.train.epochs == 20
    assert both.train.learning_rate == dfn.get_config("dumn_table1").train.learning_rate
    assert dfn.get_config("dislike+dumn_table1").data.label == "dislike"
