"""The tf.distribute strategy factory."""

import pytest
import tensorflow as tf

from recsys_tf.training.strategy import STRATEGIES, get_strategy


def test_default_and_one_device():
    assert get_strategy("default").num_replicas_in_sync == 1
    assert isinstance(get_strategy("one_device"), tf.distribute.OneDeviceStrategy)


def test_mirrored_uses_local_devices():
    strategy = get_strategy("mirrored")
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == len(tf.config.list_logical_devices("CPU"))


def test_multi_worker_needs_a_valid_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        get_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        get_strategy("multi_worker")


def test_unknown_strategy():
    with pytest.raises(ValueError, match="Unknown strategy 'tpu'"):
        get_strategy("tpu")
    assert "mirrored" in STRATEGIES
