"""experiments/headroom.py: the sequence-signal predictors of issue 19."""

import json
import os
import types

import numpy as np
import pytest

from data_prep import synthetic
from experiments import headroom
from experiments.configs import din
from recsys_tf.data.input import SequenceWindows
from recsys_tf.training import loop


def test_category_counts_match_brute_force():
    rng = np.random.default_rng(0)
    categories = rng.integers(0, 4, size=20)
    values = rng.integers(0, 20, size=50)
    start = rng.integers(0, 50, size=30)
    end = start + rng.integers(0, 50 - start + 1)
    targets = rng.integers(0, 4, size=30)
    counts = headroom.category_counts(values, start, end, categories, targets)
    expected = [
        (categories[values[s:e]] == k).sum() for s, e, k in zip(start, end, targets)
    ]
    np.testing.assert_array_equal(counts, expected)


def test_share_features_by_hand():
    # Items 0..5 of categories 0,0,1,1,2,2. One user; clicks (oldest first):
    # items 0, 2, 3, 4. Row 0 sees all four clicks and targets category 1 on a
    # page with category 1 and 2 items; row 1 sees the first click only; row 2
    # sees none.
    categories = np.array([0, 0, 1, 1, 2, 2])
    clicks = SequenceWindows(
        np.array([0, 2, 3, 4]), np.zeros(3, int), np.array([4, 1, 0]), 2, {}
    )
    part = types.SimpleNamespace(
        features={"category": np.array([1, 1, 2])},
        request_ids=np.array([7, 7, 8]),
    )
    f = headroom.share_features(part, clicks, categories)
    # Last 2 clicks of row 0: items 3, 4 -> categories 1, 2.
    np.testing.assert_allclose(f["last2_share"], [0.5, 0.0, 0.0])
    np.testing.assert_allclose(f["history_share"], [0.5, 0.0, 0.0])
    # Row 0's page (request 7) holds one other item, of category 1; row 2 is
    # alone on its page.
    np.testing.assert_allclose(f["page_share"], [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(f["no_history"], [0, 0, 1])


def test_share_features_need_request_ids():
    part = types.SimpleNamespace(
        features={"category": np.array([0])}, request_ids=np.array([-1])
    )
    clicks = SequenceWindows(np.array([0]), np.zeros(1, int), np.ones(1, int), 2, {})
    with pytest.raises(ValueError, match="request id"):
        headroom.share_features(part, clicks, np.array([0]))


def test_fit_logistic_solves_the_regularised_likelihood():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 2))
    y = (rng.random(500) < 1 / (1 + np.exp(-(x @ [1.5, -0.5] + 0.3)))).astype(float)
    w = headroom.fit_logistic(x, y, l2=1e-3)
    # The gradient of mean log loss + l2/2 |w|^2 vanishes at the optimum.
    xb = np.column_stack([x, np.ones(500)])
    p = 1 / (1 + np.exp(-(xb @ w)))
    np.testing.assert_allclose(xb.T @ (p - y) / 500 + 1e-3 * w, 0, atol=1e-10)
    assert w[0] > 1 and w[1] < 0


@pytest.mark.slow
def test_write_runs_on_the_tiny_simulator(tmp_path):
    path = str(tmp_path / "tiny")
    synthetic.generate("tiny", 0, path)
    names = headroom.write_runs(str(tmp_path / "runs"), path, tag="x")
    assert names == [
        f"headroom_{f}_x_synthetic" for f in headroom.FEATURES + headroom.TRUTH_FEATURES
    ]
    config = din.get_config()
    config.data.path = path
    test = loop.build_task(config, loop.load_event_log(config.data)).test
    for name in names:
        workdir = tmp_path / "runs" / name / "seed0"
        with open(workdir / "results.json") as f:
            results = json.load(f)
        assert results["run"] == name and 0 < results["test"]["auc"] < 1
        outputs = np.load(os.path.join(workdir, loop.TEST_OUTPUTS_FILE))
        np.testing.assert_array_equal(outputs["user_id"], test.user_ids)
        np.testing.assert_array_equal(outputs["label"], test.labels)
