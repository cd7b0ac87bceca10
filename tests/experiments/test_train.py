"""End-to-end tests of the experiment entry point on tiny simulated data."""

import glob
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from recsys_tf.models import MODELS
from recsys_tf.training import loop

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(
    p
    for p in glob.glob(os.path.join(ROOT, "experiments", "configs", "*.py"))
    if os.path.basename(p) not in ("__init__.py", "common.py")
)


def _config(path, data_root, **train_overrides):
    spec = importlib.util.spec_from_file_location("cfg", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    config.data.root = data_root
    config.data.size = "tiny"
    config.data.max_eval_examples = 0
    config.eval.ks = (5, 20)
    config.eval.monitor = "auc" if config.task == "ctr" else "hr@20"
    config.train.epochs = 1
    config.train.batch_size = 256
    config.train.histogram_freq = 1
    config.train.verbose = 0
    for key, value in train_overrides.items():
        config.train[key] = value
    return config


def _event_tags(folder):
    import tensorflow as tf

    tags = set()
    for path in glob.glob(str(folder / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_config_loads_and_model_is_registered(path):
    config = _config(path, "unused")
    assert config.model.name in MODELS or config.model.name == loop.ORACLE
    assert config.task in loop.TASKS
    module_doc = open(path).read().split('"""')[1]
    for needed in ("Table", "Command", "Expected time"):
        assert needed in module_doc, f"{path}: docstring lacks {needed!r}"


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_every_config_trains_end_to_end(path, data_root, tmp_path):
    config = _config(path, data_root)
    results = loop.run(config, str(tmp_path))
    assert os.path.exists(tmp_path / "config.json")
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["test"] == pytest.approx(results["test"])
    metric = "auc" if config.task == "ctr" else "hr@20"
    assert 0.0 <= saved["test"][metric] <= 1.0
    if config.task == "ctr":
        assert saved["test"]["logloss"] > 0
    assert glob.glob(
        str(tmp_path / "tensorboard" / "**" / "events.out.tfevents.*"), recursive=True
    )
    if config.model.name not in (loop.ORACLE, "popularity"):
        assert saved["epochs_run"] == 1 and saved["best_epoch"] == 1
    if config.model.name not in (loop.ORACLE, "popularity"):
        # Epoch scalars, validation metrics (same names as results.json) and
        # weight histograms, although log_every_steps (100) exceeds the steps.
        train_tags = _event_tags(tmp_path / "tensorboard" / "train")
        assert "epoch_loss" in train_tags
        assert any(tag.endswith("/histogram") for tag in train_tags)
        assert f"epoch_{metric}" in _event_tags(tmp_path / "tensorboard" / "validation")
    if config.model.name in ("wide_deep", "youtube_dnn"):
        assert os.path.exists(
            tmp_path / "tensorboard" / "projector" / "projector_config.pbtxt"
        )
        # An event file makes the folder a TensorBoard run, found by the projector.
        assert "embeddings" in _event_tags(tmp_path / "tensorboard" / "projector")


def test_train_main_through_absl_flags(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep_synthetic.py")
    proc = _cli(*_tiny_args(path, tmp_path, data_root), "--config.seed=3")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["seed"] == 3 and config["data"]["size"] == "tiny"
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seed"] == 3 and "auc" in results["test"]


def test_resume_continues_from_last_epoch(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep_synthetic.py")
    straight = loop.run(_config(path, data_root, epochs=2), str(tmp_path / "straight"))
    loop.run(_config(path, data_root, epochs=1), str(tmp_path / "resumed"))
    resumed = loop.run(_config(path, data_root, epochs=2), str(tmp_path / "resumed"))
    state = json.loads(
        (tmp_path / "resumed" / "checkpoints" / "state.json").read_text()
    )
    assert [h["epoch"] for h in state["history"]] == [1, 2]
    assert resumed["epochs_run"] == 2
    # Same seed, same per-epoch batch order: the resumed run matches the straight one.
    assert resumed["validation"]["auc"] == pytest.approx(
        straight["validation"]["auc"], abs=2e-3
    )


def test_unknown_model_and_task_are_clear_errors(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep_synthetic.py")
    config = _config(path, data_root)
    config.model.name = "nope"
    with pytest.raises(loop.ConfigError, match="not a registered model"):
        loop.run(config, str(tmp_path / "a"))
    config = _config(path, data_root)
    config.model.unknown_width = 3
    with pytest.raises(loop.ConfigError, match="unknown_width"):
        loop.run(config, str(tmp_path / "b"))


def _tiny_args(path, workdir, data_root):
    """CLI flags of a one-epoch, silent run of config `path` on tiny simulated data."""
    return [
        f"--config={path}",
        f"--workdir={workdir}",
        f"--config.data.root={data_root}",
        "--config.data.size=tiny",
        "--config.train.epochs=1",
        "--config.train.verbose=0",
    ]


def _cli(*args, env=None):
    """`python -m experiments.train *args` in a subprocess (extra `env` variables)."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.train", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    "name, extra",
    [
        # A CLI run costs ~20 s, mostly TensorFlow's start-up: the default run keeps
        # one; the in-process test above already trains every config.
        pytest.param("fm.py", (), marks=pytest.mark.slow),
        pytest.param(
            "pnn.py", ("--config.model.product=outer",), marks=pytest.mark.slow
        ),
        ("deepfm.py", ()),
    ],
)
def test_feature_interaction_configs_through_the_cli(name, extra, data_root, tmp_path):
    """The AutoDenoise protocol's field override reaches the model from the CLI."""
    path = os.path.join(ROOT, "experiments", "configs", name)
    proc = _cli(
        *_tiny_args(path, tmp_path, data_root),
        "--config.model.fields=('user_id','item_id')",
        *extra,
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"]["fields"] == ["user_id", "item_id"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert 0.0 < results["test"]["auc"] < 1.0


def test_cli_unknown_config_key_is_one_line_error(tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep_synthetic.py")
    proc = _cli(f"--config={path}", f"--workdir={tmp_path}", "--config.train.bogus=1")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "unknown config key(s) ['train.bogus']" in err
    assert "Traceback" not in err


def test_killed_run_resumes_and_mirrored_strategy(data_root, tmp_path):
    """A run killed after its first checkpoint resumes there; it runs on 2 replicas."""
    path = os.path.join(ROOT, "experiments", "configs", "youtube_dnn_synthetic.py")
    args = [
        f"--config={path}",
        f"--workdir={tmp_path}",
        f"--config.data.root={data_root}",
        "--config.data.size=tiny",
        "--config.train.epochs=30",
        "--config.train.patience=0",
        "--config.train.verbose=0",
        "--config.train.batch_size=64",
        "--config.eval.ks=(5,20)",
        "--config.eval.monitor=hr@20",
        "--config.data.max_eval_examples=0",
        "--strategy=mirrored",
        "--cpu_devices=2",
    ]
    proc = _cli(*args)
    state_file = tmp_path / "checkpoints" / "state.json"
    deadline = time.time() + 240
    while not state_file.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert state_file.exists(), proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.loads(state_file.read_text())["epoch"]
    assert 1 <= done < 30
    proc = _cli(*[a.replace("epochs=30", f"epochs={done + 1}") for a in args])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert f"resuming {tmp_path} after epoch {done}" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["replicas"] == 2 and results["epochs_run"] == done + 1


@pytest.mark.parametrize(
    "name", ["youtube_dnn_synthetic.py", "oracle_retrieval_synthetic.py"]
)
def test_sampled_protocol(name, data_root, tmp_path):
    config = _config(os.path.join(ROOT, "experiments", "configs", name), data_root)
    config.eval.protocol = "sampled"
    config.eval.num_negatives = 50
    results = loop.run(config, str(tmp_path))
    assert results["protocol"] == "sampled"
    # With 50 negatives a hit@20 is far easier than in the 300-item catalogue.
    full = loop.run(
        _config(os.path.join(ROOT, "experiments", "configs", name), data_root),
        str(tmp_path / "full"),
    )
    assert results["test"]["hr@20"] > full["test"]["hr@20"]
    config.eval.protocol = "bogus"
    with pytest.raises(loop.ConfigError, match="protocol"):
        loop.run(config, str(tmp_path / "bad"))


def test_resume_refuses_a_different_config(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep_synthetic.py")
    loop.run(_config(path, data_root), str(tmp_path))
    changed = _config(path, data_root, epochs=2)
    changed.model.embedding_dim = 8
    with pytest.raises(loop.ConfigError, match=r"differs in \['model.embedding_dim'\]"):
        loop.run(changed, str(tmp_path))
    # More epochs alone is a resume, not a new run.
    assert (
        loop.run(_config(path, data_root, epochs=2), str(tmp_path))["epochs_run"] == 2
    )


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_strategy_on_localhost(data_root, tmp_path):
    """Two workers on loopback train one model; the second writes under worker1/."""
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep_synthetic.py")
    # Generate the data once, before two processes race to write it.
    loop.load_event_log(_config(path, data_root).data)
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        )
        procs.append(
            _cli(
                *_tiny_args(path, tmp_path, data_root),
                "--config.train.batch_size=256",
                "--strategy=multi_worker",
                env={"TF_CONFIG": tf_config},
            )
        )
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    chief = json.loads((tmp_path / "results.json").read_text())
    other = json.loads((tmp_path / "worker1" / "results.json").read_text())
    assert chief["replicas"] == 2 and chief["strategy"] == "multi_worker"
    # Synchronous training: both workers end with the same model.
    assert chief["test"]["auc"] == pytest.approx(other["test"]["auc"], abs=1e-6)


def test_early_stopping_is_kept_across_restarts(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "logistic_synthetic.py")
    config = _config(path, data_root, epochs=30, patience=1, learning_rate=0.05)
    first = loop.run(config, str(tmp_path))
    state = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    assert state["stopped"] and first["epochs_run"] < 30
    assert first["epochs_run"] == first["best_epoch"] + 1
    again = loop.run(config, str(tmp_path))
    assert again["epochs_run"] == first["epochs_run"]
    assert again["test"] == pytest.approx(first["test"])


REAL_RUNS = [
    ("wide_deep_synthetic.py", "ml1m_all", "auc", ("--config.data.split=random",)),
    ("youtube_dnn_synthetic.py", "ml1m", "hr@50", ()),
    ("wide_deep_synthetic.py", "kuairand", "auc", ()),
    # 55 k items, most seen once: one epoch may not place any test target in the top
    # 50, so only a valid metric is required there.
    ("youtube_dnn_synthetic.py", "taobao_userbehavior", None, ()),
]


@pytest.mark.real_data
@pytest.mark.parametrize("config, dataset, metric, extra", REAL_RUNS)
def test_real_dataset_by_name_only(config, dataset, metric, extra, tmp_path_factory):
    """The foundation's models train on a real dataset named in the config alone."""
    from data_prep.describe import PAPER_STATS  # noqa: F401  (registry and stats agree)
    from recsys_tf.data import datasets
    from tests.data_prep.shared import shared_dataset

    shared_dataset(datasets.REAL[dataset].folder)
    root = tmp_path_factory.mktemp("real")
    workdir = root / "run"
    proc = _cli(
        f"--config={os.path.join(ROOT, 'experiments', 'configs', config)}",
        f"--workdir={workdir}",
        f"--config.data.name={dataset}",
        f"--config.data.root={root}",
        "--config.data.max_eval_examples=2000",
        "--config.train.epochs=1",
        "--config.train.verbose=0",
        *extra,
    )
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    assert f"[{datasets.REAL[dataset].converter}] written" in out
    results = json.loads((workdir / "results.json").read_text())
    assert results["dataset"] == dataset
    if metric is None:
        assert results["num_test"] > 0
        assert all(0.0 <= v <= 1.0 for v in results["test"].values())
    else:
        assert 0.0 < results["test"][metric] < 1.0
