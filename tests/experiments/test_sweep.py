"""Tests of the hyper-parameter sweep on tiny simulated data."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments import sweep
from experiments.configs import dcn
from recsys_tf.tasks import TASKS
from recsys_tf.training import loop

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GRID = ["train.learning_rate=1e-4,3e-2", "model.l2=0"]


def _tiny_config(data_root):
    config = dcn.get_config()
    config.data.root = data_root
    config.data.size = "tiny"
    config.train.epochs = 1
    config.train.batch_size = 256
    config.train.histogram_freq = 0
    config.train.verbose = 0
    return config


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))


def test_parse_grid_types_and_bracketed_values():
    grid = sweep.parse_grid(
        [
            "train.learning_rate=1e-3,3e-3",
            "model.l2=0,1e-6",
            "model.hidden_units=(16, 16),(32,)",
            "model.cross=v1,v2",
        ],
        dcn.get_config(),
    )
    assert grid == [
        ("train.learning_rate", [1e-3, 3e-3]),
        ("model.l2", [0, 1e-6]),
        ("model.hidden_units", [(16, 16), (32,)]),
        ("model.cross", ["v1", "v2"]),
    ]


@pytest.mark.parametrize(
    "spec, reason",
    [
        ("train.learning_rat=1e-3", "no key 'train.learning_rat'"),
        ("model.l2", "expected key=value1,value2"),
        ("model.l2=", "expected key=value1,value2"),
        ("model.l2=1e-6,,0", "expected key=value1,value2"),
        ("train.learning_rate=fast", "cannot be casted"),
    ],
)
def test_a_bad_grid_string_errors_naming_it(spec, reason):
    with pytest.raises(ValueError, match=f"--grid='{spec}'.*{reason}"):
        sweep.parse_grid([spec], dcn.get_config())
    with pytest.raises(ValueError, match="given twice"):
        sweep.parse_grid(["model.l2=0", "model.l2=1e-6"], dcn.get_config())


def test_sweep_selects_on_validation_and_reads_test_once(
    data_root, tmp_path, monkeypatch
):
    tasks, scored = [], []
    build_task = loop.build_task

    def spy_build_task(config, log):
        tasks.append(build_task(config, log))
        return tasks[-1]

    kind = type(TASKS["ctr"])
    evaluate = kind.evaluate

    def spy_evaluate(self, config, model, name, part, *args):
        scored.append(
            ("test" if any(part is t.test for t in tasks) else "other", len(tasks))
        )
        return evaluate(self, config, model, name, part, *args)

    monkeypatch.setattr(loop, "build_task", spy_build_task)
    monkeypatch.setattr(kind, "evaluate", spy_evaluate)
    config = _tiny_config(data_root)
    grid = sweep.parse_grid(GRID, config)
    result = sweep.run_sweep(config, grid, str(tmp_path), metric="auc")

    trials = result["trials"]
    assert [t["overrides"] for t in trials] == [
        {"train.learning_rate": lr, "model.l2": 0.0} for lr in (1e-4, 3e-2)
    ]
    scores = [t["validation"]["auc"] for t in trials]
    assert len(set(scores)) == 2, scores
    best = max(range(2), key=scores.__getitem__)
    chosen = result["chosen"]
    assert chosen["name"] == trials[best]["name"]
    assert chosen["overrides"] == trials[best]["overrides"]
    assert chosen["validation"]["auc"] == pytest.approx(scores[best])
    assert set(chosen["test"]) == {"auc", "gauc", "logloss"}
    # The test split was scored once, in the third run (the winner's, resumed).
    assert [s for s in scored if s[0] == "test"] == [("test", 3)]
    # On disk: every trial's folder, test metrics in the winner's results only.
    for trial in trials:
        saved = json.loads((tmp_path / trial["name"] / "results.json").read_text())
        assert ("test" in saved) == (trial["name"] == chosen["name"])
        assert saved["epochs_run"] == 1
        run_config = json.loads((tmp_path / trial["name"] / "config.json").read_text())
        assert (
            run_config["train"]["learning_rate"]
            == trial["overrides"]["train.learning_rate"]
        )
    on_disk = json.loads((tmp_path / "sweep.json").read_text())
    assert on_disk["chosen"]["test"] == pytest.approx(chosen["test"])
    assert [t["score"] for t in on_disk["trials"]] == pytest.approx(scores)
    assert (on_disk["metric"], on_disk["mode"]) == ("auc", "max")
    # Values as the config holds them: the grid's "0" for the float l2 is 0.0.
    assert sweep.config_lines(chosen["overrides"])[1] == "config.model.l2 = 0.0"

    # Run again: finished trials resume (no epoch trained again), same choice;
    # selecting on logloss minimises it.
    again = sweep.run_sweep(config, grid, str(tmp_path), metric="logloss")
    assert again["mode"] == "min"
    losses = [t["validation"]["logloss"] for t in again["trials"]]
    assert again["chosen"]["name"] == again["trials"][losses.index(min(losses))]["name"]
    for trial in again["trials"]:
        state = json.loads(
            (tmp_path / trial["name"] / "checkpoints" / "state.json").read_text()
        )
        assert len(state["history"]) == 1


def test_seeded_sweep_selects_on_the_mean_over_seeds(data_root, tmp_path):
    config = _tiny_config(data_root)
    grid = sweep.parse_grid(GRID, config)
    result = sweep.run_sweep(config, grid, str(tmp_path), metric="auc", seeds=["0", 1])

    def saved(name, seed, what="results.json"):
        return json.loads((tmp_path / name / f"seed{seed}" / what).read_text())

    assert result["seeds"] == [0, 1]
    means = []
    for trial in result["trials"]:
        per_seed = [saved(trial["name"], k)["validation"]["auc"] for k in (0, 1)]
        assert len(set(per_seed)) == 2, per_seed  # the seeds differ
        assert [s["seed"] for s in trial["seeds"]] == [0, 1]
        assert [s["validation"]["auc"] for s in trial["seeds"]] == per_seed
        assert trial["score"] == pytest.approx(np.mean(per_seed))
        assert trial["validation"]["auc"] == pytest.approx(np.mean(per_seed))
        assert trial["score_std"] == pytest.approx(np.std(per_seed, ddof=1))
        assert [saved(trial["name"], k, "config.json")["seed"] for k in (0, 1)] == [
            0,
            1,
        ]
        means.append(np.mean(per_seed))
    chosen = result["chosen"]
    assert chosen["name"] == result["trials"][int(np.argmax(means))]["name"]
    # Test read for every seed of the chosen point only; its mean is reported.
    for trial in result["trials"]:
        for k in (0, 1):
            assert ("test" in saved(trial["name"], k)) == (
                trial["name"] == chosen["name"]
            )
    tests = [saved(chosen["name"], k)["test"]["auc"] for k in (0, 1)]
    assert [s["test"]["auc"] for s in chosen["seeds"]] == pytest.approx(tests)
    assert chosen["test"]["auc"] == pytest.approx(np.mean(tests))
    on_disk = json.loads((tmp_path / "sweep.json").read_text())
    assert on_disk["chosen"]["test"] == pytest.approx(chosen["test"])


@pytest.mark.parametrize(
    "seeds, reason",
    [
        (["0", "x"], "non-negative integers"),
        (["-1"], "non-negative"),
        ([1, "1"], "twice"),
    ],
)
def test_bad_seeds_error_naming_them(seeds, reason):
    assert sweep.parse_seeds(["2", 0]) == [2, 0]
    with pytest.raises(ValueError, match=f"--seeds.*{reason}"):
        sweep.parse_seeds(seeds)


@pytest.mark.slow
def test_cli_bad_grid_is_a_one_line_error(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.sweep",
            f"--config={ROOT}/experiments/configs/dcn.py",
            f"--workdir={tmp_path}",
            "--grid=train.learning_rate=1e-3,3e-3",
            "--grid=model.l2",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "error: --grid='model.l2': expected key=value1,value2" in proc.stderr
    assert "Traceback" not in proc.stderr
