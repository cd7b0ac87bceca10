"""Tests of the dataset statistics."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from data_prep import describe
from recsys_tf.data import schema, sources
from tests.data_prep.shared import run_module


def _log(timestamps="seconds"):
    users = pd.DataFrame({"user_id": [0, 1, 2]})
    items = pd.DataFrame({"item_id": range(4), "category": 0, "brand": 0})
    rows = [
        (0, 0, 86400, "impression"),
        (0, 0, 86400, "click"),
        (0, 1, 86400 * 2, "click"),
        (0, 1, 86400 * 3, "buy"),
        (1, 2, 86400 * 4, "click"),
        (2, 3, 86400 * 11, "impression"),
    ]
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "event"])
    events["value"] = 1.0
    log = schema.validate(schema.EventLog(users, items, events, {"name": "toy"}))
    log.meta["timestamps"] = timestamps
    return log


def test_statistics_against_hand_counts():
    stats = describe.describe(_log())
    assert (stats["users"], stats["items"], stats["events"]) == (3, 4, 6)
    assert stats["events_per_type"] == {"impression": 2, "click": 3, "buy": 1}
    # Pairs (0,0), (0,1), (1,2), (2,3) of 12.
    assert stats["pairs"] == 4 and stats["density"] == pytest.approx(4 / 12)
    # Click sequences: user 0 has 2, user 1 has 1, user 2 none.
    lengths = np.array([2, 1])
    assert stats["sequence_events"] == ["click"] and stats["sequence_users"] == 2
    assert stats["sequence_length_p50"] == pytest.approx(np.quantile(lengths, 0.5))
    assert stats["sequence_length_p90"] == pytest.approx(np.quantile(lengths, 0.9))
    assert (stats["sequence_length_min"], stats["sequence_length_max"]) == (1, 2)
    assert (stats["first"], stats["last"], stats["days"]) == (
        "1970-01-02",
        "1970-01-12",
        10.0,
    )
    text = describe.format_stats(stats)
    assert "density 33.3333%" in text and "1970-01-02 .. 1970-01-12 (10.0 days)" in text


def test_no_time_span_without_timestamps():
    stats = describe.describe(_log("absent"))
    assert "first" not in stats
    assert "timestamps: absent" in describe.format_stats(stats)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="neither a dataset folder nor a registered"):
        describe.load("no_such_thing")


def test_cli_writes_stats(tmp_path):
    folder = tmp_path / "toy"
    schema.write_event_log(_log(), str(folder))
    results = tmp_path / "results"
    run = run_module("describe", f"--output={results}", str(folder))
    assert run.returncode == 0, run.stderr
    assert "users 3  items 4  events 6" in run.stdout
    written = json.loads((results / "toy.json").read_text())
    assert written == json.loads((folder / "stats.json").read_text())
    assert written["pairs"] == 4


def test_cli_writes_beside_the_dataset_unless_asked(tmp_path):
    """Without --output only the dataset folder gets stats.json (it used to write
    into the repository's experiments/results/datasets as well)."""
    log = _log()
    log.meta["name"] = "describe_test_unasked"
    folder = tmp_path / "toy"
    schema.write_event_log(log, str(folder))
    before = sorted(p.name for p in folder.iterdir())
    repo_file = os.path.join(
        sources.REPO_ROOT,
        "experiments",
        "results",
        "datasets",
        f"{log.meta['name']}.json",
    )
    try:
        run = run_module("describe", str(folder))
        assert run.returncode == 0, run.stderr
        assert not os.path.exists(repo_file)
    finally:
        if os.path.exists(repo_file):
            os.remove(repo_file)
    assert sorted(p.name for p in folder.iterdir()) == sorted(before + ["stats.json"])
