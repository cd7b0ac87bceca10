"""How much a request's intent shows in the user's recent clicks (issue 19).

    python -m experiments.headroom --data_path=data/synthetic_small --runs=runs

Single-feature click predictors on the behaviour-sequence CTR task (the instances,
split and click windows of `recsys_tf/data/ctr_sequence.py`, built from the DIN
config as its runs build them), each written as a run (`results.json` with the test
AUC and gAUC, `test_outputs.npz`) that `experiments.summarize` collects into the
README table `simulator_sequence_headroom` beside Wide&Deep, DIN and the oracle:

- `last2_share`: the share of the target's category among the user's last 2 clicks
  before the request (0 without any);
- `history_share`: the same among all the user's earlier clicks;
- `page_share`: the same among the other items shown on the same page (request);
- `last2_history`: a logistic regression on (`last2_share`, `history_share`,
  an indicator of no earlier click);
- `cross`: a logistic regression on the smoothed training click rate (log-odds)
  of the instance's (user, category) pair and of its item: what a user x category
  cross and an item id give, counted rather than learnt (it matches Wide&Deep);
- `cross_sequence`: `cross` plus the three inputs of `last2_history`: what the
  click sequence adds beyond the cross;
- `cross_intent` (simulator truth): `cross` plus an indicator that the target's
  category is the request's planted intent: the most that reading the intent
  from any sequence could add to the cross.

The logistic regressions are fitted on the validation part (the click rates are
counted on the training part), and scored on the test part.

A feature with ties scores them as ties (AUC counts a tied pair 1/2). Runs are named
`headroom_<feature>[_<tag>]_<dataset>`; `--tag` names a simulator setting other than
the default (e.g. the one `data_prep/synthetic.py` documents for sequence studies).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from absl import app, flags

from experiments.configs import din
from recsys_tf.data.datasets import load_event_log
from recsys_tf.metrics.classification import auc, gauc
from recsys_tf.training.evaluation import save_outputs
from recsys_tf.training.loop import TEST_OUTPUTS_FILE, build_task, run_name
from recsys_tf.training.strategy import machine_description

FEATURES = (
    "last2_share",
    "history_share",
    "page_share",
    "last2_history",
    "cross",
    "cross_sequence",
)
"""The headroom predictors, in table order."""

TRUTH_FEATURES = ("cross_intent",)
"""Predictors that read the simulator's planted truth (the request's intent)."""


def category_counts(values, start, end, categories, targets):
    """How many of `values[start[r]:end[r]]` have the category `targets[r]`.

    Args:
        values: int [events] item ids (a `SequenceWindows`' values).
        start, end: int [n] each row's slice.
        categories: int [num_items] category of each item.
        targets: int [n] category of each row's target.

    Returns:
        int64 [n] counts (from per-category prefix sums, no per-row loop).
    """
    of = categories[values]
    order = np.argsort(of, kind="stable")  # positions grouped by category
    first = np.searchsorted(of[order], np.arange(categories.max() + 2))
    count = np.zeros(len(targets), np.int64)
    for k in np.unique(targets):
        rows = np.flatnonzero(targets == k)
        positions = order[first[k] : first[k + 1]]  # sorted: stable argsort
        count[rows] = np.searchsorted(positions, end[rows]) - np.searchsorted(
            positions, start[rows]
        )
    return count


def share_features(part, clicks, categories, last=2) -> dict[str, np.ndarray]:
    """`last2_share`, `history_share`, `page_share` and has-history of a part.

    Args:
        part: a `CTRSplit` of the behaviour-sequence task (features "category"
            and the "click" `SequenceWindows`, request ids).
        clicks: its click `SequenceWindows`.
        categories: int [num_items] item categories.
        last: the recent clicks counted by `last2_share`.
    """
    target = part.features["category"]
    start, end = clicks.start.astype(np.int64), clicks.end.astype(np.int64)
    recent = np.maximum(start, end - last)
    n_all, n_recent = end - start, end - recent
    all_hits = category_counts(clicks.values, start, end, categories, target)
    recent_hits = category_counts(clicks.values, recent, end, categories, target)
    requests = part.request_ids
    if requests is None or (requests < 0).any():
        raise ValueError("page_share needs the request id of every instance")
    pair = requests * (categories.max() + 1) + target
    _, pair_index, pair_count = np.unique(pair, return_inverse=True, return_counts=True)
    _, page_index, page_count = np.unique(
        requests, return_inverse=True, return_counts=True
    )
    same = pair_count[pair_index.ravel()] - 1
    others = page_count[page_index.ravel()] - 1
    return {
        "last2_share": recent_hits / np.maximum(n_recent, 1),
        "history_share": all_hits / np.maximum(n_all, 1),
        "page_share": same / np.maximum(others, 1),
        "no_history": (n_all == 0).astype(np.float64),
    }


def fit_logistic(x, y, l2=1e-6, steps=25) -> np.ndarray:
    """Weights [d + 1] (bias last) of an L2-regularised logistic regression by
    Newton's method (a handful of features: the Hessian is tiny)."""
    x = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) / len(y) + l2 * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x / len(y) + l2 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    return w


def _smoothed_logit(keys_train, labels, keys, size, prior, strength=5.0):
    """log-odds of the click rate per key in the training part, shrunk towards
    `prior` with `strength` pseudo-impressions (an unseen key gets the prior)."""
    clicks = np.bincount(keys_train, weights=labels, minlength=size)
    shown = np.bincount(keys_train, minlength=size)
    rate = (clicks + strength * prior) / (shown + strength)
    return np.log(rate / (1.0 - rate))[keys]


def scores(task, categories, truth=None) -> dict[str, np.ndarray]:
    """Test scores of every feature of `FEATURES` (and `TRUTH_FEATURES` when the
    planted `truth` is given); the logistic regressions are fitted on validation."""
    train, validation, test = task.train, task.validation, task.test
    num_categories = int(categories.max()) + 1
    prior = float(train.labels.mean())
    num_users = int(max(p.user_ids.max() for p in (train, validation, test))) + 1
    num_items = len(categories)

    def static(part):
        return [
            _smoothed_logit(
                train.user_ids * num_categories + train.features["category"],
                train.labels,
                part.user_ids * num_categories + part.features["category"],
                num_users * num_categories,
                prior,
            ),
            _smoothed_logit(
                train.features["item_id"],
                train.labels,
                part.features["item_id"],
                num_items,
                prior,
            ),
        ]

    def shares(part):
        return share_features(part, part.features["click"], categories)

    def sequence(part):
        f = shares(part)
        return [f["last2_share"], f["history_share"], f["no_history"]]

    def intent(part):
        return [
            (
                part.features["category"] == truth["request_intent"][part.request_ids]
            ).astype(np.float64)
        ]

    def fitted(columns):
        w = fit_logistic(
            np.column_stack(columns(validation)), validation.labels.astype(float)
        )
        x = np.column_stack(columns(test) + [np.ones(len(test))])
        return 1.0 / (1.0 + np.exp(-(x @ w)))

    test_shares = shares(test)
    out = {k: test_shares[k] for k in FEATURES[:3]}
    out["last2_history"] = fitted(sequence)
    out["cross"] = fitted(static)
    out["cross_sequence"] = fitted(lambda p: static(p) + sequence(p))
    if truth is not None:
        out["cross_intent"] = fitted(lambda p: static(p) + intent(p))
    return out


def write_runs(runs: str, data_path: str, tag: str = "") -> list[str]:
    """Builds the task of `data_path` and writes one run per feature under
    `runs/<run>/seed0/`; returns the run names."""
    start = time.time()
    config = din.get_config()
    config.data.path = data_path
    log = load_event_log(config.data)
    task = build_task(config, log)
    categories = log.items["category"].to_numpy(np.int64)
    test = task.test
    written = []
    truth = log.truth() if log.meta.get("source") == "data_prep.synthetic" else None
    for feature, score in scores(task, categories, truth).items():
        config.name = f"headroom_{feature}" + (f"_{tag}" if tag else "")
        name = run_name(config, log)
        workdir = os.path.join(runs, name, "seed0")
        os.makedirs(workdir, exist_ok=True)
        results = {
            "run": name,
            "seed": 0,
            "machine": machine_description(),
            "task": "ctr_sequence",
            "data_path": data_path,
            "feature": feature,
            "test": {
                "auc": auc(test.labels, score),
                "gauc": gauc(test.user_ids, test.labels, score),
            },
            "seconds": time.time() - start,
        }
        save_outputs(
            os.path.join(workdir, TEST_OUTPUTS_FILE),
            user_id=test.user_ids,
            label=test.labels,
            probability=score.astype(np.float32),
        )
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump(results, f, indent=2)
        print(f"[headroom] {name}: test auc {results['test']['auc']:.4f}")
        written.append(name)
    return written


def _define_flags():
    """Flags of the command line, defined only when run as a program (the module is
    imported beside experiments.summarize, which has its own --runs)."""
    flags.DEFINE_string("data_path", "data/synthetic_small", "Simulator dataset.")
    flags.DEFINE_string("runs", "runs", "Folder of run workdirs.")
    flags.DEFINE_string("tag", "", "Simulator setting named in the run names.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    values = flags.FLAGS
    write_runs(values.runs, values.data_path, values.tag)


if __name__ == "__main__":
    _define_flags()
    app.run(main)
