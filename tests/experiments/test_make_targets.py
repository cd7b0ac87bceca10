"""The reproduce targets of the Makefile name configs and presets that exist."""

import importlib
import os
import re

import pytest

from recsys_tf.training import loop

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_variable(name: str) -> list[str]:
    """The words of the Makefile's `name ?= ...` (continuation lines joined)."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        text = f.read().replace("\\\n", " ")
    match = re.search(rf"^{name} \?=(.*)$", text, re.MULTILINE)
    assert match, f"Makefile has no {name} ?= line"
    return match.group(1).split()


def get_config(name: str, preset=None):
    return importlib.import_module(f"experiments.configs.{name}").get_config(preset)


@pytest.mark.parametrize("variable", ["DUMN_MODELS", "CTRSEQ_RUNS", "SEQ_MODELS"])
def test_every_model_of_a_target_has_a_config(variable):
    names = make_variable(variable)
    assert names
    for name in names:
        assert get_config(name).model.name


def test_every_dumn_ablation_is_a_preset_of_its_config():
    entries = make_variable("DUMN_ABLATIONS")
    assert len(entries) == 17
    for entry in entries:
        if ":" not in entry:  # a model of its own (AutoInt+UMN)
            assert get_config(entry).model.name == entry
            loop._check_config(get_config(entry, "dumn_table1"))
            continue
        config, preset = entry.split(":")
        default, changed = get_config(config), get_config(config, preset)
        assert changed.to_dict() != default.to_dict(), entry
        # On the simulator the target adds the protocol: the variant survives it.
        both = get_config(config, f"{preset}+dumn_table1")
        assert both.name == changed.name and both.data.path == "data/synthetic_compact"
        # The run's config passes the trainer's checks (not only its name).
        loop._check_config(both)
        loop._check_config(get_config(config, f"{preset}+dumn_table1_kuairand"))
    assert {int(v) for v in make_variable("DUMN_GRID")} == {16, 32, 64, 128, 256}


def test_every_sequential_diagnostic_is_a_variant_named_as_its_run():
    entries = make_variable("SEQ_DIAGNOSTICS")
    assert entries == ["caser:code", "sasrec:s3rec"]
    for entry in entries:
        config, variant = entry.split(":")
        changed = get_config(config, f"{variant}+s3rec_beauty")
        # The target's workdir <config>_<variant>_amazon_beauty is the run's name.
        assert changed.name == f"{config}_{variant}"
        assert changed.data.name == "amazon_beauty"


def test_a_missing_variable_is_an_assertion():
    with pytest.raises(AssertionError, match="NO_SUCH"):
        make_variable("NO_SUCH")


def test_the_sequence_targets_turn_onednn_on_unless_the_environment_says():
    """`TF_ENABLE_ONEDNN_OPTS ?= 1` for the targets that train sequence models (an
    environment value wins), and for no plain CTR target (oneDNN is slower there)."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        text = f.read()
    targets = re.search(r"^ONEDNN_TARGETS := (.*)$", text, re.MULTILINE)
    assert targets, "Makefile has no ONEDNN_TARGETS := line"
    assert set(targets.group(1).split()) == {
        "reproduce-ctr-sequence",
        "reproduce-dumn",
        "reproduce-dumn-ablations",
        "reproduce-sequential",
    }
    assert re.search(
        r"^\$\(ONEDNN_TARGETS\): export TF_ENABLE_ONEDNN_OPTS \?= 1$",
        text,
        re.MULTILINE,
    )
