"""Under XLA no batch is cut to its used columns (`loop.uses_xla`): XLA compiles a
program per input shape, and cut batches change shape every step."""

import numpy as np
import pytest
import tensorflow as tf

from experiments.configs import dumn, sasrec, wide_deep
from recsys_tf.data.ctr_sequence import build_ctr_sequence_task
from recsys_tf.tasks import get_task
from recsys_tf.training import evaluation, loop
from tests.data.test_ctr_sequence import random_log


def test_uses_xla_follows_the_setting_and_the_devices():
    config = wide_deep.get_config()
    for value, expected in (("true", True), ("FALSE", False), (" True", True)):
        config.train.jit_compile = value
        assert loop.uses_xla(config) is expected
    config.train.jit_compile = "auto"  # Keras: XLA only where an accelerator is
    accelerator = any(d.device_type != "CPU" for d in tf.config.list_physical_devices())
    assert loop.uses_xla(config) is accelerator
    config.train.jit_compile = "sometimes"
    with pytest.raises(loop.ConfigError, match="config.train.jit_compile"):
        loop.uses_xla(config)


def test_cuts_batches_needs_a_padding_invariant_model_and_no_xla():
    for module, invariant in ((dumn, True), (sasrec, True), (wide_deep, False)):
        config = module.get_config()
        config.train.jit_compile = "false"
        assert loop.cuts_batches(config) is invariant, module.__name__
        config.train.jit_compile = "true"
        assert loop.cuts_batches(config) is False, module.__name__


def _widths(dataset, key):
    return {int(x[key].shape[1]) for x, *_ in dataset}


def test_ctr_sequence_batches_keep_their_width_under_xla():
    log = random_log(5, num_requests=24)
    part = build_ctr_sequence_task(log, sequence_types=("click",), max_length=8).train
    config = dumn.get_config()
    kind = get_task(config)
    config.train.jit_compile = "false"
    assert kind.trimmer(config, part) is not None
    cut = _widths(kind.dataset(config, part, batch_size=4), "click_item_id")
    assert len(cut) > 1  # without XLA the batches were cut to several widths
    config.train.jit_compile = "true"
    assert kind.trimmer(config, part) is None
    assert _widths(kind.dataset(config, part, batch_size=4), "click_item_id") == {8}


class _Part:
    """A retrieval part: left-padded histories of lengths 1-4 in a width of 6."""

    def __init__(self):
        lengths = np.array([1, 2, 3, 4, 1, 2, 3, 4])
        self.history_mask = np.arange(6)[None, :] >= 6 - lengths[:, None]
        self.targets = np.arange(8)

    def features(self):
        history = np.where(self.history_mask, 5, 0)
        return {"history": history, "history_mask": self.history_mask}


def test_retrieval_batches_keep_their_width_under_xla():
    config = sasrec.get_config()
    kind = get_task(config)
    config.train.jit_compile = "false"
    assert _widths(kind.dataset(config, _Part(), batch_size=2), "history") == {2, 4}
    config.train.jit_compile = "true"
    assert _widths(kind.dataset(config, _Part(), batch_size=2), "history") == {6}


class _WidthModel:
    """Stands in for a padding-invariant query model: each row's query is the
    width of the batch it came in."""

    padding_invariant = True

    def __init__(self, jit_compile):
        self.jit_compile = jit_compile

    def predict(self, dataset, verbose=0):
        return np.concatenate(
            [np.full((len(x["history"]), 1), x["history"].shape[1]) for x in dataset]
        )


def test_predict_queries_keeps_the_width_for_a_model_under_xla():
    features = _Part().features()
    cut = evaluation.predict_queries(_WidthModel(False), features, batch_size=2)
    assert set(cut[:, 0]) == {1, 2, 3, 4}  # sorted by length, then cut
    whole = evaluation.predict_queries(_WidthModel(True), features, batch_size=2)
    np.testing.assert_array_equal(whole[:, 0], np.full(8, 6))
