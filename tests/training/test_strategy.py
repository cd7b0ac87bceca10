"""The tf.distribute strategy factory."""

import os

import pytest
import tensorflow as tf

from recsys_tf.training.strategy import (
    STRATEGIES,
    get_strategy,
    machine_description,
    onednn_opts,
)


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


def test_machine_description_names_cpu_cores_and_gpus(monkeypatch):
    text = machine_description()
    model, cores, accelerator = text.rsplit(", ", 2)
    assert model and cores == f"{os.cpu_count()} cores"
    assert accelerator == "no GPU"  # this CPU machine
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: [0, 1])
    assert machine_description().endswith(", 2 GPU(s)")


def test_onednn_opts_reads_the_environment(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert onednn_opts() == "0"
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    assert onednn_opts() == "unset"  # TensorFlow's own choice by CPU
