"""End-to-end tests of the experiment entry point on tiny simulated data."""

import glob
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from recsys_tf.data.datasets import load_event_log
from recsys_tf.models import MODELS
from recsys_tf.tasks import TASKS, get_task
from recsys_tf.tasks.retrieval import fixed_negatives
from recsys_tf.training import evaluation, loop
from recsys_tf.training.strategy import machine_description

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
    config.eval.ks = (5, 20)
    config.eval.monitor = "auc" if config.task.startswith("ctr") else "hr@20"
    config.train.epochs = 1
    config.train.batch_size = 256
    # Short sequences (the configs' T = 100 costs minutes per model on 2 cores).
    config.data.max_length = min(config.data.max_length, 12)
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
    assert config.task in TASKS
    module_doc = open(path).read().split('"""')[1]
    for needed in ("Table", "Command", "Expected time"):
        assert needed in module_doc, f"{path}: docstring lacks {needed!r}"
    # One config per model, named after its file; the dataset is an override.
    assert config.name == os.path.basename(path)[: -len(".py")]
    # Every validation / test example is evaluated unless a run asks otherwise.
    assert config.data.max_eval_examples == 0


# End-to-end runs of 15-70 s each on 2 cores (`make test-slow` runs them): their
# models have unit tests of their own, and their tasks are run end to end here by
# din.py and dumn.py (behaviour sequences) and sasrec.py / gru4rec.py (per position).
SLOW_END_TO_END = (
    "autoint_umn.py",
    "binn.py",
    "dfn.py",
    "dien.py",
    "dmt.py",
    "dsin.py",
    "hpmn.py",
)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            p,
            marks=[pytest.mark.slow] if os.path.basename(p) in SLOW_END_TO_END else [],
        )
        for p in CONFIGS
    ],
    ids=os.path.basename,
)
def test_every_config_trains_end_to_end(path, data_root, tmp_path):
    config = _config(path, data_root)
    results = loop.run(config, str(tmp_path))
    assert os.path.exists(tmp_path / "config.json")
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["test"] == pytest.approx(results["test"])
    assert saved["run"] == f"{config.name}_synthetic"
    assert "eval_subsampled" not in saved
    metric = "auc" if config.task.startswith("ctr") else "hr@20"
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
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep.py")
    proc = _cli(
        *_tiny_args(path, tmp_path, data_root),
        "--config.seed=3",
        "--config.train.jit_compile=False",  # a bool as a user writes it
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    # TF_CPP_MIN_LOG_LEVEL unset: the entry point silences the CPU-only cuInit line.
    assert "cuInit" not in err
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["seed"] == 3 and config["data"]["size"] == "tiny"
    assert config["train"]["jit_compile"] == "false"  # one spelling, for resuming
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seed"] == 3 and "auc" in results["test"]
    assert results["machine"] == machine_description()  # the README footers' source
    # TensorFlow's own choice of CPU kernels, recorded as the environment left it.
    assert results["onednn_opts"] == "unset"


def test_resume_continues_from_last_epoch(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep.py")
    straight = loop.run(_config(path, data_root, epochs=2), str(tmp_path / "straight"))
    loop.run(_config(path, data_root, epochs=1), str(tmp_path / "resumed"))
    # The peak memory is the largest of every session's: one earlier session of
    # 1,000 GB (written into the state) stays the run's peak after the resume.
    state_file = tmp_path / "resumed" / "checkpoints" / "state.json"
    earlier = json.loads(state_file.read_text())
    assert 0.1 < earlier["peak_rss_gb"] < 1000  # a TensorFlow process
    state_file.write_text(json.dumps({**earlier, "peak_rss_gb": 1000.0}))
    resumed = loop.run(_config(path, data_root, epochs=2), str(tmp_path / "resumed"))
    state = json.loads(state_file.read_text())
    assert [h["epoch"] for h in state["history"]] == [1, 2]
    assert resumed["epochs_run"] == 2
    assert resumed["peak_rss_gb"] == state["peak_rss_gb"] == 1000.0
    assert 0.1 < straight["peak_rss_gb"] < 1000
    # A finished run trained before the record existed (its state has no peak):
    # re-evaluating it records none rather than the evaluation's alone.
    del state["peak_rss_gb"]
    state_file.write_text(json.dumps(state))
    again = loop.run(_config(path, data_root, epochs=2), str(tmp_path / "resumed"))
    assert again["epochs_run"] == 2 and "peak_rss_gb" not in again
    # Same seed, same per-epoch batch order: the resumed run matches the straight one.
    assert resumed["validation"]["auc"] == pytest.approx(
        straight["validation"]["auc"], abs=2e-3
    )


def test_keep_checkpoints_all_keeps_every_epoch_and_resumes(data_root, tmp_path):
    """`train.keep_checkpoints="all"` (DUMN Figure 5) keeps each epoch's weights;
    "best" keeps the best and the last; the key may change on resume; a wrong
    value is a ConfigError."""
    path = os.path.join(ROOT, "experiments", "configs", "logistic.py")
    kept = {}
    for keep in ("best", "all"):
        workdir = tmp_path / keep
        config = _config(path, data_root, epochs=3, keep_checkpoints=keep, patience=0)
        loop.run(config, str(workdir))
        state = json.loads((workdir / "checkpoints" / "state.json").read_text())
        kept[keep] = sorted(
            p.name for p in (workdir / "checkpoints").glob("epoch_*.weights.h5")
        )
        if keep == "best":
            wanted = {f"epoch_{e:04d}.weights.h5" for e in (3, state["best_epoch"])}
            assert set(kept["best"]) == wanted
    assert kept["all"] == [f"epoch_{e:04d}.weights.h5" for e in (1, 2, 3)]
    config = _config(path, data_root, epochs=4, keep_checkpoints="best", patience=0)
    assert loop.run(config, str(tmp_path / "all"))["epochs_run"] == 4
    config.train.keep_checkpoints = "every"
    with pytest.raises(loop.ConfigError, match="keep_checkpoints"):
        loop.run(config, str(tmp_path / "bad"))


def test_unknown_model_and_task_are_clear_errors(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep.py")
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
    """`python -m experiments.train *args` in a subprocess (extra `env` variables;
    TF_CPP_MIN_LOG_LEVEL and TF_ENABLE_ONEDNN_OPTS unset unless given, as for a
    user)."""
    base = dict(os.environ)
    for name in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS"):
        base.pop(name, None)
    env = {**base, "PYTHONPATH": ROOT, **(env or {})}
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
    """The AutoDenoise protocol's field restriction reaches the task from the CLI."""
    path = os.path.join(ROOT, "experiments", "configs", name)
    proc = _cli(
        *_tiny_args(path, tmp_path, data_root),
        "--config.data.fields=('user_id','item_id')",
        *extra,
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["data"]["fields"] == ["user_id", "item_id"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert 0.0 < results["test"]["auc"] < 1.0


def test_cli_unknown_config_key_is_one_line_error(tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep.py")
    proc = _cli(f"--config={path}", f"--workdir={tmp_path}", "--config.train.bogus=1")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "unknown config key(s) ['train.bogus']" in err
    assert "Traceback" not in err


def test_killed_run_resumes_and_mirrored_strategy(data_root, tmp_path):
    """A run killed after its first checkpoint resumes there; it runs on 2 replicas."""
    path = os.path.join(ROOT, "experiments", "configs", "youtube_dnn.py")
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


def _recompute_ranks(queries, candidates, targets, negatives):
    """Pessimistic rank of each target among its negatives, one row at a time."""
    ranks = []
    for query, target, row in zip(queries, targets, negatives):
        scores = candidates @ query
        ranks.append(int(np.sum(scores[row] >= scores[target])))
    return np.array(ranks)


def test_sampled_protocol(data_root, tmp_path, monkeypatch):
    path = os.path.join(ROOT, "experiments", "configs", "youtube_dnn.py")
    config = _config(path, data_root, epochs=2, patience=0)
    config.eval.protocol = "sampled"
    config.eval.num_negatives = 50
    calls = []
    sampled_ranks = evaluation.sampled_ranks

    def recording(model, split, negatives, batch_size=4096):
        queries, candidates = evaluation._queries_and_candidates(
            model, split, batch_size
        )
        calls.append((split, negatives.copy(), queries, candidates))
        return sampled_ranks(model, split, negatives, batch_size)

    monkeypatch.setattr(evaluation, "sampled_ranks", recording)
    results = loop.run(config, str(tmp_path))
    assert results["protocol"] == "sampled" and results["num_negatives"] == 50
    assert results["exclude_history"] is True
    # Validation after epochs 1 and 2, test, validation of the best epoch.
    log = load_event_log(config.data)
    seen = evaluation.user_items(log)
    assert len(calls) == 4
    validation, test = calls[:2] + calls[3:], calls[2]
    for _, negatives, _, _ in validation[1:]:
        np.testing.assert_array_equal(negatives, validation[0][1])  # fixed
    split, negatives, queries, candidates = test
    assert len(split) == results["num_test"]
    for user, row in zip(split.user_ids, negatives):
        assert not set(row.tolist()) & set(seen[int(user)].tolist())
    ranks = _recompute_ranks(queries, candidates, split.targets, negatives)
    for k in config.eval.ks:
        hit = ranks < k
        assert results["test"][f"hr@{k}"] == pytest.approx(hit.mean(), abs=1e-12)
        assert results["test"][f"ndcg@{k}"] == pytest.approx(
            np.mean(hit / np.log2(ranks + 2)), abs=1e-12
        )
    with np.load(tmp_path / loop.TEST_OUTPUTS_FILE) as saved:
        np.testing.assert_array_equal(saved["rank"], ranks)
        np.testing.assert_array_equal(saved["user_id"], split.user_ids)
    config.eval.protocol = "bogus"
    with pytest.raises(loop.ConfigError, match="protocol"):
        loop.run(config, str(tmp_path / "bad"))


def test_sampled_protocol_of_the_oracle(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "oracle_retrieval.py")
    config = _config(path, data_root)
    config.eval.protocol = "sampled"
    config.eval.num_negatives = 50
    results = loop.run(config, str(tmp_path))
    assert results["protocol"] == "sampled" and results["exclude_history"] is True
    assert 0 < results["test"]["hr@5"] <= results["test"]["hr@20"] <= 1


def _task(config):
    log = load_event_log(config.data)
    return log, loop.build_task(config, log)


def test_shared_negatives_and_negatives_file(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "popularity.py")
    config = _config(path, data_root)
    config.eval.protocol = "sampled"
    config.eval.num_negatives = 7
    config.eval.shared_negatives = True
    log, task = _task(config)
    seen = evaluation.user_items(log)
    negatives = fixed_negatives(config, log, task)
    rows = {}
    for name in ("validation", "test"):
        part = task.parts()[name]
        for user, row in zip(part.user_ids, negatives[name]):
            rows.setdefault(int(user), []).append(row.tolist())
            assert not set(row.tolist()) & set(seen[int(user)].tolist())
    assert any(len(r) > 1 for r in rows.values())
    assert all(r == [r[0]] * len(r) for r in rows.values())  # one list per user
    # A published list (ids = codes on simulated data, which has no id tables).
    file = tmp_path / "sample.txt"
    lists = {
        u: [i for i in range(log.num_items) if i not in set(seen[u].tolist())][:4]
        for u in sorted(seen)
    }
    file.write_text("".join(f"{u} {' '.join(map(str, v))}\n" for u, v in lists.items()))
    config.eval.negatives_file = str(file)
    negatives = fixed_negatives(config, log, task)
    for user, row in zip(task.test.user_ids, negatives["test"]):
        assert row.tolist() == lists[int(user)]
    config.eval.protocol = "full"
    with pytest.raises(loop.ConfigError, match="need config.eval.protocol='sampled'"):
        fixed_negatives(config, log, task)


def test_exclude_history_is_resolved_and_recorded(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "popularity.py")
    config = _config(path, data_root)
    kept = loop.run(config, str(tmp_path / "auto"))
    # Simulated clicks repeat (user, item) pairs: "auto" keeps the history.
    assert kept["exclude_history"] is False
    config.eval.exclude_history = "True"  # as an absl flag gives it
    excluded = loop.run(config, str(tmp_path / "true"))
    assert excluded["exclude_history"] is True
    # Removing candidates can only move targets up.
    assert excluded["test"]["hr@20"] >= kept["test"]["hr@20"]
    assert excluded["test"]["mrr@20"] > kept["test"]["mrr@20"]
    config.eval.exclude_history = "sometimes"
    with pytest.raises(loop.ConfigError, match="exclude_history must be"):
        loop.run(config, str(tmp_path / "bad"))
    config.eval.exclude_history = "false"
    config.eval.protocol = "sampled"
    with pytest.raises(loop.ConfigError, match="does not apply to the sampled"):
        loop.run(config, str(tmp_path / "bad2"))


def test_results_validation_metric_is_the_best_of_the_history(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep.py")
    results = loop.run(_config(path, data_root, epochs=3, patience=0), str(tmp_path))
    state = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    history = [h["val_auc"] for h in state["history"]]
    assert len(history) == 3
    assert results["best_epoch"] == int(np.argmax(history)) + 1
    assert results["validation"]["auc"] == pytest.approx(max(history), abs=1e-9)
    assert results["history"] == state["history"]  # the curves, in results.json
    with np.load(tmp_path / loop.TEST_OUTPUTS_FILE) as saved:
        assert saved["probability"].dtype == np.float16
        assert len(saved["label"]) == len(saved["user_id"]) == results["num_test"]


def test_resume_refuses_a_different_config(data_root, tmp_path):
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep.py")
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
    path = os.path.join(ROOT, "experiments", "configs", "wide_deep.py")
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
    path = os.path.join(ROOT, "experiments", "configs", "logistic.py")
    config = _config(path, data_root, epochs=30, patience=1, learning_rate=0.05)
    first = loop.run(config, str(tmp_path))
    state = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    assert state["stopped"] and first["epochs_run"] < 30
    assert first["epochs_run"] == first["best_epoch"] + 1
    again = loop.run(config, str(tmp_path))
    assert again["epochs_run"] == first["epochs_run"]
    assert again["test"] == pytest.approx(first["test"])


# YouTube DNN in batches of 4,096 (its config's 512 makes the epoch 8x the steps):
# the point is the conversion and a valid metric, not what one epoch learns.
BIG_BATCH = ("--config.train.batch_size=4096",)
REAL_RUNS = [
    ("wide_deep.py", "ml1m_all", "auc", ("--config.data.split=random",)),
    ("youtube_dnn.py", "ml1m", "hr@50", BIG_BATCH),
    ("wide_deep.py", "kuairand", "auc", ()),
    # 55 k items, most seen once: one epoch may not place any test target in the top
    # 50, so only a valid metric is required there.
    ("youtube_dnn.py", "taobao_userbehavior", None, BIG_BATCH),
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
    assert results["run"] == f"{config[: -len('.py')]}_{dataset}"
    if metric is None:
        assert results["num_test"] > 0
        assert all(0.0 <= v <= 1.0 for v in results["test"].values())
    else:
        assert 0.0 < results["test"][metric] < 1.0


# ------------------------------------------------------------ issue 17 hardening


def _path(name):
    return os.path.join(ROOT, "experiments", "configs", name)


def test_a_workdir_in_use_is_refused_and_a_killed_holder_leaves_no_lock(
    data_root, tmp_path
):
    """Two runs on one workdir: the second stops naming the holder's pid (it used to
    train and report the other run's best epoch as its own). The lock dies with its
    process, kill -9 included."""
    workdir = tmp_path / "run"
    workdir.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "f = open(sys.argv[1], 'a+')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\n"
            "f.seek(0); f.truncate(); f.write(str(os.getpid())); f.flush()\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
            str(workdir / loop.LOCK_FILE),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        config = _config(_path("oracle_ctr.py"), data_root)
        with pytest.raises(
            loop.RunError,
            match=rf"--workdir {workdir} is in use by another run \(pid {holder.pid}\)",
        ):
            loop.run(config, str(workdir))
        assert not (workdir / "config.json").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # No stale lock: the same run now goes through, and its pid is in the file.
    assert loop.run(config, str(workdir))["run"] == "oracle_ctr_synthetic"
    assert (workdir / loop.LOCK_FILE).read_text().strip() == str(os.getpid())


def test_resume_refuses_a_changed_dataset(tmp_path):
    """Regenerating the dataset at the same path between two sessions of a run is
    refused, naming the changed file (it used to resume across two datasets)."""
    from data_prep import synthetic

    folder = tmp_path / "data"
    synthetic.generate("tiny", 0, str(folder))
    config = _config(_path("wide_deep.py"), "unused")
    config.data.path = str(folder)
    workdir = str(tmp_path / "run")
    first = loop.run(config, workdir)
    assert first["run"] == "wide_deep_synthetic"
    state = json.loads((tmp_path / "run" / "checkpoints" / "state.json").read_text())
    assert state["data_fingerprint"] == loop.data_fingerprint(str(folder))
    assert {"events.parquet", "meta.json", "truth.npz"} <= set(
        state["data_fingerprint"]
    )
    # Statistics written beside the dataset (data_prep.describe) are not data.
    (folder / "stats.json").write_text("{}")
    assert loop.run(config, workdir)["test"] == pytest.approx(first["test"])
    synthetic.generate("tiny", 1, str(folder))
    config.train.epochs = 2
    with pytest.raises(loop.RunError, match=rf"{folder}: .*events\.parquet.* changed"):
        loop.run(config, workdir)


def _rating_only_dataset(folder):
    """A tiny canonical dataset of ratings only (no impressions, no clicks)."""
    import numpy as np
    import pandas as pd

    from recsys_tf.data import schema

    rng = np.random.default_rng(0)
    rows = 400
    events = pd.DataFrame(
        {
            "user_id": rng.integers(0, 20, rows),
            "item_id": rng.integers(0, 30, rows),
            "timestamp": 1_000_000 + np.arange(rows) * 60,
            "event": "rating",
            "value": rng.integers(1, 6, rows).astype(float),
        }
    )
    users = pd.DataFrame({"user_id": range(20)})
    items = pd.DataFrame({"item_id": range(30), "category": 0, "brand": 0})
    log = schema.validate(schema.EventLog(users, items, events, {"name": "ratings"}))
    schema.write_event_log(log, str(folder))


@pytest.mark.parametrize(
    "config, overrides, expected",
    [
        ("wide_deep.py", ["--config.data.label=click"], "config.data.label: "),
        ("wide_deep.py", ["WORKDIR_UNDER_A_FILE"], "cannot be written"),
        (
            "din.py",
            ["--config.train.jit_compile=yes"],
            "config.train.jit_compile must be one of 'auto', 'true', 'false'. "
            "Received: 'yes'",
        ),
    ],
    ids=["click_label_on_ratings", "workdir", "jit_compile"],
)
def test_cli_user_errors_are_one_line(config, overrides, expected, tmp_path):
    """A user error is one line naming the config key, exit 2, no traceback."""
    data = tmp_path / "ratings"
    _rating_only_dataset(data)
    workdir = tmp_path / "run"
    if overrides == ["WORKDIR_UNDER_A_FILE"]:
        (tmp_path / "file").write_text("")
        workdir, overrides = tmp_path / "file" / "run", []
    proc = _cli(
        f"--config={_path(config)}",
        f"--workdir={workdir}",
        f"--config.data.path={data}",
        "--config.train.verbose=0",
        *overrides,
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err[-2000:]
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and expected in lines[0], err[-2000:]


@pytest.mark.parametrize(
    "config, changes, expected",
    [
        ("wide_deep.py", dict(train=dict(batch_size=0)), "config.train.batch_size"),
        (
            "youtube_dnn.py",
            dict(data=dict(fractions=(0.9, 0.0, 0.1))),
            "config.data.fractions / config.data.min_history: the validation part",
        ),
        ("wide_deep.py", dict(data=dict(split="leave_one_out")), "config.data.split"),
        (
            "wide_deep.py",
            dict(data=dict(split="random", fractions=(0.9, 0.1, 0.0))),
            "config.data.fractions: the test part",
        ),
    ],
    ids=["batch_size", "no_instance", "split", "empty_part"],
)
def test_user_errors_exit_2_in_one_line(
    config, changes, expected, data_root, capsys, tmp_path
):
    """The same one-line exit as the CLI (`train.run_or_exit`), in-process."""
    from experiments import train

    config = _config(_path(config), data_root)
    for block, values in changes.items():
        for key, value in values.items():
            config[block][key] = value
    with pytest.raises(SystemExit) as exit_info:
        train.run_or_exit(config, str(tmp_path / "run"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: config."), err
    assert expected in err[0]


@pytest.mark.parametrize(
    "changes, expected",
    [
        (dict(train=dict(epochs=-1)), "config.train.epochs must be >= 0"),
        (dict(eval=dict(batch_size=-5)), "config.eval.batch_size"),
        (dict(eval=dict(monitor="hr@7")), "config.eval.monitor='hr@7' is not a"),
        (
            dict(eval=dict(protocol="sampled", num_negatives=50, ks=(10, 51, 100))),
            r"config.eval.ks has cut-off\(s\) \[51, 100\] at or beyond the 51 ",
        ),
    ],
)
def test_config_values_no_run_can_use(changes, expected, tmp_path):
    config = _config(_path("youtube_dnn.py"), str(tmp_path / "never_written"))
    for block, values in changes.items():
        for key, value in values.items():
            config[block][key] = value
    with pytest.raises(loop.ConfigError, match=expected):
        loop.run(config, str(tmp_path / "run"))
    # Refused before any data is generated.
    assert not (tmp_path / "never_written").exists()


def test_jit_compile_setting_in_any_spelling_and_a_bad_one():
    assert loop.jit_compile_setting("auto") == "auto"
    assert loop.jit_compile_setting("True") is True
    assert loop.jit_compile_setting(True) is True
    assert loop.jit_compile_setting(" FALSE") is False
    with pytest.raises(
        loop.ConfigError,
        match=r"^--jit_compile must be one of 'auto', 'true', 'false'. Received: 1$",
    ):
        loop.jit_compile_setting(1, "--jit_compile")


def test_auto_monitor_per_task_and_protocol():
    ctr = _config(_path("wide_deep.py"), "unused")
    retrieval = _config(_path("youtube_dnn.py"), "unused")
    for config in (ctr, retrieval):
        config.eval.monitor = "auto"
    assert loop.monitor_metric(ctr) == "auc"
    assert loop.monitor_metric(retrieval) == "hr@50"
    retrieval.eval.protocol = "sampled"
    assert loop.monitor_metric(retrieval) == "ndcg@10"
    # The defaults of every config resolve to a metric the run computes.
    for path in CONFIGS:
        spec = importlib.util.spec_from_file_location("cfg", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        config = module.get_config()
        assert config.eval.monitor == "auto"
        assert loop.monitor_metric(config) in get_task(config).metric_names(config)


def test_subsampled_evaluation_is_recorded(data_root, tmp_path):
    config = _config(_path("popularity.py"), data_root)
    full = loop.run(config, str(tmp_path / "full"))
    assert "eval_subsampled" not in full
    config.data.max_eval_examples = 7
    cut = loop.run(config, str(tmp_path / "cut"))
    assert cut["num_test"] == 7 and cut["num_validation"] == 7
    assert cut["eval_subsampled"] == {
        "validation": [7, full["num_validation"]],
        "test": [7, full["num_test"]],
    }


def test_run_name_from_config_and_dataset():
    from types import SimpleNamespace

    config = _config(_path("youtube_dnn.py"), "unused")
    synthetic = SimpleNamespace(
        meta={"name": "synthetic_large", "source": "data_prep.synthetic"}
    )
    assert loop.run_name(config, synthetic) == "youtube_dnn_synthetic"
    config.data.name = "ml1m"
    assert loop.run_name(config, SimpleNamespace(meta={})) == "youtube_dnn_ml1m"
    config.data.path = "/somewhere/my_data/"
    assert loop.run_name(config, synthetic) == "youtube_dnn_synthetic"
    assert (
        loop.run_name(config, SimpleNamespace(meta={"name": "beauty"}))
        == "youtube_dnn_beauty"
    )
    assert loop.run_name(config, SimpleNamespace(meta={})) == "youtube_dnn_my_data"


def test_full_disk_keeps_the_last_good_checkpoint(
    data_root, tmp_path, monkeypatch, capsys
):
    """ENOSPC while checkpointing: one line naming the file, exit 2, and the last
    good checkpoint still loads and resumes (it used to segfault inside h5py)."""
    import errno

    import keras

    from experiments import train
    from recsys_tf.training import callbacks

    path = _path("logistic.py")
    workdir = tmp_path / "run"
    loop.run(_config(path, data_root, epochs=1), str(workdir))
    good = (workdir / "checkpoints" / "epoch_0001.weights.h5").read_bytes()

    def full(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:  # a partial file, then the disk is full
            f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device", filepath)

    monkeypatch.setattr(keras.Model, "save_weights", full)
    with pytest.raises(SystemExit) as exit_info:
        train.run_or_exit(_config(path, data_root, epochs=2), str(workdir))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the disk is full" in err[0]
    assert "checkpoints/epoch_0002.weights.h5" in err[0]
    monkeypatch.undo()
    folder = workdir / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == [
        "epoch_0001.weights.h5",
        "state.json",
    ]
    assert (folder / "epoch_0001.weights.h5").read_bytes() == good
    assert json.loads((folder / "state.json").read_text())["epoch"] == 1

    # Too little free space is refused before h5py writes anything.
    usage = callbacks.shutil.disk_usage(str(folder))
    monkeypatch.setattr(
        callbacks.shutil, "disk_usage", lambda p: usage._replace(free=1000)
    )
    with pytest.raises(callbacks.DiskFullError, match="epoch_0002"):
        loop.run(_config(path, data_root, epochs=2), str(workdir))
    monkeypatch.undo()
    assert (folder / "epoch_0001.weights.h5").read_bytes() == good
    resumed = loop.run(_config(path, data_root, epochs=2), str(workdir))
    assert resumed["epochs_run"] == 2


def test_atomic_writes_keep_the_previous_file_on_a_full_disk(tmp_path):
    import errno

    from recsys_tf.training import callbacks

    target = tmp_path / "results.json"
    callbacks.write_json_atomic(str(target), {"a": 1})
    with pytest.raises(callbacks.DiskFullError, match="results.json"):
        with callbacks.atomic_path(str(target)) as tmp:
            with open(tmp, "w") as f:
                f.write('{"a": 2, "trunc')
            raise OSError(errno.ENOSPC, "No space left on device")
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_a_full_disk_while_writing_the_projector_files_is_one_line(
    data_root, tmp_path, monkeypatch
):
    import errno

    from recsys_tf.training import callbacks, projector

    def full(logdir, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(projector, "write", full)
    with pytest.raises(callbacks.DiskFullError, match="tensorboard/projector"):
        loop.run(_config(_path("popularity.py"), data_root), str(tmp_path))
    assert not (tmp_path / "results.json").exists()
