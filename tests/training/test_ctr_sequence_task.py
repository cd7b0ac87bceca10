"""The behaviour-sequence CTR task kind ("ctr_sequence") end to end on the tiny
simulator: a CTR model trains on it, a sequence model reads its windows, the
oracle and the evaluation are the CTR kind's, bad configs are one-line errors."""

import importlib.util
import json
import os

import keras
import numpy as np
import pytest

from recsys_tf.data.ctr_sequence import SEQUENCE_TYPES
from recsys_tf.data.datasets import load_event_log
from recsys_tf.models import SequenceCTRModel
from recsys_tf.tasks import TASKS, get_task
from recsys_tf.training import loop
from recsys_tf.training.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _config(name, data_root, **data):
    path = os.path.join(ROOT, "experiments", "configs", f"{name}.py")
    spec = importlib.util.spec_from_file_location("cfg", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    config.task = "ctr_sequence"
    config.data.root = data_root
    config.data.size = "tiny"
    config.data.max_length = 5
    config.train.epochs = 1
    config.train.batch_size = 256
    config.train.verbose = 0
    config.train.histogram_freq = 0
    for key, value in data.items():
        config.data[key] = value
    return config


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))


def test_registered():
    assert TASKS["ctr_sequence"].name == "ctr_sequence"


def test_wide_deep_trains_on_the_task(data_root, tmp_path):
    config = _config("wide_deep", data_root)
    results = loop.run(config, str(tmp_path))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["task"] == "ctr_sequence"
    assert saved["test"] == pytest.approx(results["test"])
    assert 0.0 <= saved["test"]["auc"] <= 1.0 and saved["test"]["logloss"] > 0
    assert saved["monitor"] == "auc"
    assert os.path.exists(tmp_path / "config.json")


def test_oracle_is_the_ctr_kinds(data_root, tmp_path):
    """Same instances and split as the CTR task: the same oracle numbers."""
    scores = {}
    for task in ("ctr", "ctr_sequence"):
        config = _config("oracle_ctr", data_root)
        config.task = task
        scores[task] = loop.run(config, str(tmp_path / task))["test"]
    assert scores["ctr_sequence"] == pytest.approx(scores["ctr"])


class PooledSequences(SequenceCTRModel):
    """Target . mean of each sequence's behaviours + the sessions' mean."""

    uses_sessions = True

    def call(self, inputs, training=False):
        target = self.embed_target(inputs)
        logit = 0.0
        for kind in self.sequence_types:
            items, mask = self.embed_sequence(inputs, kind)
            weights = keras.ops.cast(mask, items.dtype)[..., None]
            pooled = keras.ops.sum(items * weights, 1)
            logit = logit + keras.ops.sum(pooled * target, -1)
        items, mask = self.embed_sessions(inputs)
        weights = keras.ops.cast(mask, items.dtype)[..., None]
        return logit + keras.ops.sum(
            keras.ops.sum(items * weights, (1, 2)) * target, -1
        )


def test_a_sequence_model_reads_the_task_inputs(data_root):
    config = _config("wide_deep", data_root, num_sessions=2, session_length=3)
    kind = get_task(config)
    data = loop.build_task(config, load_event_log(config.data))
    assert data.sequence_types == SEQUENCE_TYPES
    assert data.item_features == ("item_id", "category")
    assert (data.max_length, data.num_sessions, data.session_length) == (5, 2, 3)
    model = PooledSequences.from_task(data, sequence_types=data.sequence_types)
    x, y = next(iter(kind.dataset(config, data.test, batch_size=64)))
    assert x["click_item_id"].shape == (64, 5)
    assert x["session_category"].shape == (64, 2, 3)
    assert np.isfinite(keras.ops.convert_to_numpy(model(x))).all()
    assert x["click_mask"].numpy().any() and x["session_mask"].numpy().any()
    # The evaluation reads the same windows (CTR's evaluate, predict_ctr).
    metrics = kind.evaluate(config, model, "test", data.test, {})
    assert set(metrics) == {"auc", "gauc", "logloss"}


def test_a_type_the_data_lacks_is_a_config_error(data_root, tmp_path):
    # Rating labels: the instances are ratings, no impression is "unclicked".
    config = _config(
        "wide_deep", data_root, label="rating", sequence_types=("click", "unclick")
    )
    with pytest.raises(ConfigError, match="sequence type 'unclick': the dataset"):
        loop.run(config, str(tmp_path))


def test_unknown_type_and_bad_lengths_are_refused_before_reading(tmp_path):
    config = _config("wide_deep", str(tmp_path / "nothing"), sequence_types=("clik",))
    with pytest.raises(ConfigError, match=r"config.data: sequence_types \['clik'\]"):
        loop.run(config, str(tmp_path / "run"))
    config = _config("wide_deep", str(tmp_path / "nothing"), num_sessions=-1)
    with pytest.raises(ConfigError, match="num_sessions >= 0"):
        loop.run(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "nothing")


def test_export_signature_holds_the_sequence_inputs(data_root):
    """The export signature comes from the task's batches: it has the windows."""
    from experiments import export

    config = _config("wide_deep", data_root, num_sessions=2, session_length=3)
    data = loop.build_task(config, load_event_log(config.data))
    model = PooledSequences.from_task(data, sequence_types=("click", "like"))
    batches = get_task(config).dataset(config, data.train, batch_size=1)
    specs = export.serving_specs(model.input_fields(), batches.element_spec[0])
    assert specs["click_category"].shape.as_list() == [None, 5]
    assert specs["click_category"].dtype == "int64"
    assert specs["session_mask"].shape.as_list() == [None, 2, 3]
    assert specs["session_mask"].dtype == "int8"
    assert "unclick_item_id" not in specs


# Tiny sizes of the padding-invariant models, whose batches the task cuts to the
# columns they use (a length unknown when the step is traced, a width per type).
CUT_MODELS = {
    "din": dict(attention_units=(4,), hidden_units=(4,)),
    "dien": dict(hidden_units=(4,)),
    "dfn": dict(hidden_units=(4,)),
    "dmt": dict(hidden_units=(4,), ffn_units=8),
    "dumn": dict(num_slots=4, slot_dim=4, controller_units=8, hidden_units=(4,)),
}


# Each cut width retraces the step (15-20 s a model): `make test` runs DUMN, the
# others are in `make test-slow`.
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            n, marks=[pytest.mark.slow] if n in ("din", "dien", "dfn", "dmt") else []
        )
        for n in sorted(CUT_MODELS)
    ],
)
def test_padding_invariant_models_train_on_cut_batches(name, data_root, tmp_path):
    config = _config(name, data_root, max_length=12)
    config.model.embedding_dim = 4
    for key, value in CUT_MODELS[name].items():
        config.model[key] = value
    kind = get_task(config)
    data = loop.build_task(config, load_event_log(config.data))
    widths = {
        tuple(v.shape[1] for k, v in x.items() if k.endswith("_mask"))
        for x, _ in kind.dataset(config, data.train, batch_size=16).take(20)
    }
    assert len(widths) > 1  # the batches were cut to several widths
    results = loop.run(config, str(tmp_path))
    assert np.isfinite(results["test"]["logloss"])


def test_the_oracle_refuses_the_dislike_label(data_root, tmp_path):
    config = _config("oracle_ctr", data_root, label="dislike")
    with pytest.raises(ConfigError, match="planted click probability"):
        loop.run(config, str(tmp_path))


def _preset_config(name, preset, data_root, **model):
    """Config `name` under `preset`, on the tiny simulator with small sizes."""
    path = os.path.join(ROOT, "experiments", "configs", f"{name}.py")
    spec = importlib.util.spec_from_file_location("cfg", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config(preset)
    reference = _config(name, data_root)
    config.data.root, config.data.size = data_root, "tiny"
    config.data.max_length = reference.data.max_length
    config.train = reference.train
    config.model.embedding_dim = 4
    for key, value in model.items():
        config.model[key] = value
    return config


@pytest.mark.slow
def test_dislike_presets_train_dumn_and_dfn_on_the_dislike_label(data_root, tmp_path):
    """DUMN Table 7's presets: the label is the dislike, the sequences as usual."""
    for name, extra in (
        ("dumn", dict(num_slots=4, slot_dim=4, controller_units=8)),
        ("dfn", {}),
    ):
        config = _preset_config(name, "dislike", data_root, hidden_units=(4,), **extra)
        assert config.data.label == "dislike" and config.name == f"{name}_dislike"
        results = loop.run(config, str(tmp_path / name))
        assert 0.0 <= results["test"]["auc"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name, preset", [("autoint_umn", None), ("dfn", "umn")])
def test_table3_models_train_with_the_user_memory(name, preset, data_root, tmp_path):
    """DUMN Table 3's AutoInt+UMN and DFN+UMN: the memory is written in training
    and the run resumes with its state."""
    config = _preset_config(
        name, preset, data_root, num_slots=4, slot_dim=4, controller_units=8
    )
    assert config.name in ("autoint_umn", "dfn_umn")
    results = loop.run(config, str(tmp_path))
    assert 0.0 <= results["test"]["auc"] <= 1.0
    again = loop.run(config, str(tmp_path))  # a finished run resumes, re-evaluates
    assert again["test"]["auc"] == pytest.approx(results["test"]["auc"])
