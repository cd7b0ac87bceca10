"""The dataset registry: config `data` block -> event log."""

import ml_collections
import pytest

from recsys_tf.data import datasets


def _data(root, **kwargs):
    data = ml_collections.ConfigDict(
        dict(name="synthetic", path="", root=str(root), size="tiny", simulator_seed=0, disable=())
    )
    data.update(kwargs)
    return data


def test_synthetic_path_names():
    assert datasets.synthetic_path("d", "small", 0) == "d/synthetic_small"
    assert datasets.synthetic_path("d", "tiny", 2, ("label_noise", "buy_follows_cart")) == (
        "d/synthetic_tiny_seed2_no_buy_follows_cart_no_label_noise"
    )


def test_generates_once_then_reads(tmp_path, capsys):
    log = datasets.load_event_log(_data(tmp_path))
    assert log.path == str(tmp_path / "synthetic_tiny")
    assert "[synthetic]" in capsys.readouterr().out
    again = datasets.load_event_log(_data(tmp_path))
    assert "[synthetic]" not in capsys.readouterr().out
    assert len(again.events) == len(log.events)
    by_path = datasets.load_event_log(_data(tmp_path, path=log.path, name="anything"))
    assert len(by_path.events) == len(log.events)


def test_disabled_mechanism_is_a_separate_dataset(tmp_path):
    log = datasets.load_event_log(_data(tmp_path, disable=("label_noise",)))
    assert log.path.endswith("synthetic_tiny_no_label_noise")
    assert not log.events["truth_accidental"].any()


def test_other_datasets_need_a_path(tmp_path):
    with pytest.raises(ValueError, match="set --config.data.path"):
        datasets.load_event_log(_data(tmp_path, name="ml1m"))
