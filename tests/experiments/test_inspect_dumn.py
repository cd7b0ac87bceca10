"""Tests of experiments/inspect_dumn.py: its statistics against NumPy, the
alignment of the planted accidental clicks with the click windows, and the
script end to end on a tiny simulator run."""

import json
import os

import numpy as np
import pytest

from experiments import inspect_dumn
from recsys_tf.data.ctr_sequence import build_ctr_sequence_task
from recsys_tf.data.schema import EventLog, validate
from tests.data import test_ctr_sequence as seq


def test_pca_2d_is_the_top_two_covariance_eigenvectors():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(50, 5)) @ np.diag([5.0, 3.0, 1.0, 0.5, 0.1])
    xy = inspect_dumn.pca_2d(points)
    centred = points - points.mean(0)
    values, vectors = np.linalg.eigh(np.cov(centred.T))
    top = vectors[:, np.argsort(values)[::-1][:2]]
    expected = centred @ top
    for k in range(2):  # each axis up to its sign
        sign = np.sign(np.dot(xy[:, k], expected[:, k]))
        np.testing.assert_allclose(xy[:, k] * sign, expected[:, k], atol=1e-8)
    assert inspect_dumn.pca_2d(np.ones((4, 3))).shape == (4, 2)


def test_row_cosine_and_its_empty_rows():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    b = np.array([[2.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    out = inspect_dumn.row_cosine(a, b)
    np.testing.assert_allclose(out[:2], [1.0, -1 / np.sqrt(2)])
    assert np.isnan(out[2])


def _log_with_accidents(seed):
    log = seq.random_log(seed, num_requests=14)
    events = log.events.copy()
    rng = np.random.default_rng(seed)
    events["truth_accidental"] = (events["event"] == "click") & (
        rng.random(len(events)) < 0.4
    )
    return validate(EventLog(log.users, log.items, events, {"name": "toy"}))


@pytest.mark.parametrize("seed", [0, 1])
def test_accidental_share_matches_the_brute_force_click_windows(seed):
    log = _log_with_accidents(seed)
    T = 3
    task = build_ctr_sequence_task(log, max_length=T, fractions=(0.5, 0.25, 0.25))
    part = task.train
    window = part.features["click"]
    flags = inspect_dumn.click_accidental_flags(log, window)
    rows = np.arange(len(part))
    share = inspect_dumn.accidental_share(window, flags, rows)
    e = log.events.reset_index(drop=True)
    clicks = e[e.event == "click"]
    for row in rows:
        user, t, request = (
            part.user_ids[row],
            part.timestamps[row],
            part.request_ids[row],
        )
        cutoff = min(t, e[e.request_id == request].timestamp.min())
        mine = clicks[(clicks.user_id == user) & (clicks.timestamp < cutoff)]
        mine = mine.sort_values(["timestamp"], kind="stable").tail(T)
        if len(mine) == 0:
            assert np.isnan(share[row])
        else:
            assert share[row] == pytest.approx(mine.truth_accidental.mean())
    assert np.nanmax(share) > 0
    # A log whose click order differs from the windows' is refused.
    shuffled = window.__class__(
        window.values[::-1].copy(), window.start, window.end, T, window.lookups
    )
    with pytest.raises(ValueError, match="cannot align"):
        inspect_dumn.click_accidental_flags(log, shuffled)


def test_relative_spread_is_within_user_over_overall_distance():
    points = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [10.0, 4.0]])
    users = np.array([1, 1, 2, 2])
    centre = points.mean(axis=0)
    overall = np.mean([np.hypot(*(p - centre)) for p in points])
    within = np.mean([1.0, 1.0, 2.0, 2.0])  # distances to (1, 0) and (10, 2)
    assert inspect_dumn.relative_spread(points, users) == pytest.approx(
        within / overall
    )
    # Each user a single point: no spread; one group: about 1.
    assert inspect_dumn.relative_spread(points[[0, 0, 2, 2]], users) == 0.0
    assert inspect_dumn.relative_spread(points, np.zeros(4)) == pytest.approx(1.0)
    assert np.isnan(inspect_dumn.relative_spread(points[:1], users[:1]))


def test_epoch_checkpoints_lists_the_kept_epochs_in_order(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("epoch_0010.weights.h5", "epoch_0002.weights.h5", "state.json"):
        (folder / name).write_text("")
    assert [e for e, _ in inspect_dumn.epoch_checkpoints(str(tmp_path))] == [2, 10]
    assert inspect_dumn.epoch_checkpoints(str(tmp_path / "none")) == []


def test_without_the_truth_column_there_is_no_share():
    log = seq.random_log(0, num_requests=14)
    task = build_ctr_sequence_task(log, max_length=3, fractions=(0.5, 0.25, 0.25))
    assert (
        inspect_dumn.click_accidental_flags(log, task.train.features["click"]) is None
    )


@pytest.mark.slow
def test_inspect_writes_figures_projector_and_summary(tmp_path):
    from recsys_tf.training import loop
    from tests.training.test_ctr_sequence_task import _config

    config = _config("dumn", str(tmp_path / "data"), max_length=8)
    config.model.embedding_dim = 4
    config.model.num_slots, config.model.slot_dim = 4, 4
    config.model.controller_units, config.model.hidden_units = 8, (4,)
    config.train.epochs, config.train.patience = 2, 0
    assert config.train.keep_checkpoints == "all"  # DUMN's config: Figure 5
    workdir = str(tmp_path / "run")
    loop.run(config, workdir)
    result = inspect_dumn.inspect(workdir, examples=300, users=3)
    out = os.path.join(workdir, "inspection")
    assert sorted(result["figure5_relative_spread"]) == ["1", "2"]
    for name in (
        "figure3_purification.png",
        "figure4_long_term.png",
        "figure5_drift.png",
        "projector_config.pbtxt",
        "representations.tsv",
        "inspection.json",
    ):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    assert json.load(open(os.path.join(out, "inspection.json"))) == result
    assert result["examples"] == 300
    # like / dislike are not purified: f^o = f wherever the type has events.
    assert result["cosine_short_purified"]["like"] == pytest.approx(1.0)
    assert "corr_accidental_share_vs_removed" in result
    lines = open(os.path.join(out, "representations.tsv")).read().splitlines()
    assert lines[0].split("\t") == [
        "stage",
        "type",
        "user",
        "label",
        "accidental_share",
    ]
    assert len(lines) == 1 + 2 * 4 * 300
