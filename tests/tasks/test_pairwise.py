"""Tests of the pairwise-ranking task kind (MF + M-MLP, issue 22) in the loop."""

import importlib.util
import json
import os

import numpy as np
import pytest

from data_prep import synthetic
from recsys_tf import metrics
from recsys_tf.data.schema import read_event_log
from recsys_tf.models import BPR
from recsys_tf.tasks import TASKS, Pairwise, get_task
from recsys_tf.training import evaluation, loop
from recsys_tf.training.errors import ConfigError
from tests import testing

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("tiny"))
    synthetic.generate("tiny", 0, folder)
    return folder


def _config(data, name="mf_mlp", **data_overrides):
    path = os.path.join(ROOT, "experiments", "configs", f"{name}.py")
    spec = importlib.util.spec_from_file_location("cfg", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    config.data.path = data
    config.train.epochs = 1
    config.train.verbose = 0
    config.train.histogram_freq = 0
    for key, value in data_overrides.items():
        config.data[key] = value
    return config


def test_registered():
    assert isinstance(TASKS["pairwise"], Pairwise)


@pytest.mark.parametrize("sampler", ["supportive", "random"])
def test_results_report_the_protocol_sampler_and_dropped_users(
    data, sampler, tmp_path, capsys
):
    config = _config(data, negative_sampler=sampler)
    loop.run(config, str(tmp_path))
    results = json.loads((tmp_path / "results.json").read_text())
    task = get_task(config).build(config, read_event_log(data))
    assert results["task"] == "pairwise" and results["protocol"] == "sampled"
    assert results["num_negatives"] == 99 and results["train_negatives"] == 3
    assert results["negative_sampler"] == sampler
    assert results["dropped_users"] == task.dropped_users > 0
    assert results["fallback_users"] == 0  # every simulated buyer clicked more
    assert results["num_test"] == len(task.test)
    assert set(results["test"]) >= {"hr@10", "ndcg@10"}
    assert f"{task.dropped_users} users with fewer than 3" in capsys.readouterr().out


def test_evaluate_ranks_pair_scores_among_the_fixed_negatives(data):
    config = _config(data, name="bpr")
    kind = get_task(config)
    log = read_event_log(data)
    task = kind.build(config, log)
    state = kind.evaluation(config, log, task)
    negatives = state["negatives"]["test"]
    seen = evaluation.user_items(log)
    for user, row in zip(task.test.user_ids, negatives):
        assert not set(row.tolist()) & set(seen[int(user)].tolist())
    testing.set_seed()
    model = BPR.from_task(task, init_std=1.0)
    model(kind.inputs(config, task.test)[0])
    users = testing.to_numpy(model.user_factors.embeddings)[task.test.user_ids]
    items = testing.to_numpy(model.item_factors.embeddings)
    candidates = np.concatenate([task.test.targets[:, None], negatives], axis=1)
    scores = np.einsum("nd,nkd->nk", users, items[candidates])
    expected = metrics.ranking_metrics_from_ranks(
        (scores[:, 1:] >= scores[:, :1]).sum(axis=1), (10,)
    )
    got = kind.evaluate(config, model, "test", task.test, state)
    assert got == pytest.approx(expected)


def test_training_batches_follow_the_run_seed(data):
    kind = TASKS["pairwise"]
    log = read_event_log(data)
    batches = {}
    for seed in (0, 0, 1):
        config = _config(data)
        config.seed = seed
        task = kind.build(config, log)
        x, targets = next(iter(kind.dataset(config, task.train, 64, shuffle=True)))
        np.testing.assert_array_equal(x["item_id"].numpy(), targets.numpy())
        batches.setdefault(seed, []).append(x["negatives"].numpy())
    np.testing.assert_array_equal(*batches[0])
    assert not np.array_equal(batches[0][0], batches[1][0])
    pairs, _ = next(iter(kind.dataset(config, task.test, 8)))
    assert set(pairs) == {"user_id", "item_id"}


def test_bad_configs_are_one_line_errors(data, tmp_path):
    config = _config(data)
    config.eval.protocol = "full"
    with pytest.raises(ConfigError, match="must be 'sampled' for the pairwise task"):
        loop.run(config, str(tmp_path / "a"))
    with pytest.raises(ConfigError, match="config.data: `mode` must be one of"):
        loop.run(_config(data, negative_sampler="hard"), str(tmp_path / "b"))
    with pytest.raises(ConfigError, match="config.data.target_event"):
        loop.run(_config(data, min_target_events=10_000), str(tmp_path / "c"))
