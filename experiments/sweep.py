"""Grid search of hyper-parameters on the validation split.

    python -m experiments.sweep --config=experiments/configs/dcn.py \
        --grid=train.learning_rate=1e-3,3e-3 --grid=model.l2=0,1e-6 \
        --workdir=runs/sweeps/dcn [--metric=auc] [--config.data.name=kuairand]

Every grid point is a run of `recsys_tf.training.loop.run` in its own folder under
--workdir, scored on the validation split only (a finished trial is not retrained:
its folder resumes). The best trial on --metric (default: the config's
eval.monitor; logloss is minimised, every other metric maximised) is then scored
on the test split, the only time the sweep reads it. Each trial keeps its best
epoch on config.eval.monitor (set --config.eval.monitor too to select epochs on
another --metric), so that another --metric re-selects without retraining. Writes
--workdir/sweep.json (every trial's overrides and validation metrics, the chosen overrides and the
chosen trial's test metrics) and prints the chosen values as config lines.

`--seeds=0,1,2` runs every grid point once per seed (folders <trial>/seed<k>) and
selects on the mean validation metric over the seeds, for a model whose outcome
depends on its start (a choice made on one seed cannot see that); the trial's
"validation" is then the per-metric mean, "seeds" holds each seed's metrics, and
the chosen point is scored on test for every seed (the mean in "test", each seed's
in "chosen.seeds").
"""

from __future__ import annotations

import ast
import itertools
import os
import re
import sys

from absl import app, flags, logging

from experiments import train
from experiments.configs import common
from recsys_tf.training import callbacks as cb
from recsys_tf.training import loop

SWEEP_FILE = "sweep.json"

# --config, --workdir (here the folder of the trials and sweep.json) and
# --strategy are the training entry point's flags.
_GRID = flags.DEFINE_multi_string(
    "grid", [], "key=value1,value2,... (a dotted config key); repeat for more keys."
)
_METRIC = flags.DEFINE_string(
    "metric", None, "Validation metric to select on (default: the config's monitor)."
)
_SEEDS = flags.DEFINE_list(
    "seeds",
    [],
    "Seeds to run every grid point with, selecting on the mean over them "
    "(default: the config's seed alone).",
)


def _split_values(text: str) -> list[str]:
    """Splits on the commas outside brackets: "(1, 2),(3,)" -> ["(1, 2)", "(3,)"]."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def _value(text: str):
    """A Python literal ("1e-3", "(16, 16)", "True"), else the string itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_grid(specs, config) -> list[tuple[str, list]]:
    """`["train.learning_rate=1e-3,3e-3", ...]` -> `[(key, [values]), ...]`.

    Each value is checked against `config` (the key exists, the type fits), so a
    bad grid fails before any trial trains.
    """
    grid = []
    for spec in specs:
        key, sep, text = spec.partition("=")
        key = key.strip()
        values = [_value(v.strip()) for v in _split_values(text)] if sep else []
        if not key or not text.strip() or any(v == "" for v in values):
            raise ValueError(
                f"--grid={spec!r}: expected key=value1,value2,... "
                "(e.g. train.learning_rate=1e-3,3e-3)"
            )
        if key in (k for k, _ in grid):
            raise ValueError(f"--grid={spec!r}: key {key!r} is given twice")
        for value in values:
            try:
                common.override(config.copy_and_resolve_references(), key, value)
            except (KeyError, TypeError, ValueError) as error:
                reason = error.args[0] if isinstance(error, KeyError) else error
                raise ValueError(f"--grid={spec!r}: {reason}") from error
        grid.append((key, values))
    if not grid:
        raise ValueError("no --grid given: nothing to sweep")
    return grid


def _lookup(config, key: str):
    for part in key.split("."):
        config = config[part]
    return config


def trial_name(overrides: dict) -> str:
    """A folder name for a grid point as typed: "learning_rate=0.001,l2=0"."""
    name = ",".join(f"{k.split('.')[-1]}={v}" for k, v in overrides.items())
    return re.sub(r"[^A-Za-z0-9_.,=+-]", "_", name)


def parse_seeds(values) -> list[int]:
    """`["0", "1"]` (or ints) -> `[0, 1]`: distinct non-negative integers."""
    seeds = []
    for value in values:
        try:
            seed = int(str(value).strip())
        except ValueError:
            seed = -1
        if seed < 0 or str(value).strip() != str(seed):
            raise ValueError(
                f"--seeds: expected non-negative integers (e.g. 0,1,2). "
                f"Received: {value!r}"
            )
        if seed in seeds:
            raise ValueError(f"--seeds: seed {seed} is given twice")
        seeds.append(seed)
    return seeds


def _check_metric(metric: str, validation: dict) -> None:
    if metric not in validation:
        raise ValueError(
            f"--metric={metric!r} is not a validation metric of this task; "
            f"they are {sorted(validation)}"
        )


def _mean_metrics(per_seed: list[dict]) -> dict:
    """The per-metric mean of several metric dicts (the keys all of them have)."""
    keys = [k for k in per_seed[0] if all(k in m for m in per_seed)]
    return {k: sum(m[k] for m in per_seed) / len(per_seed) for k in keys}


def _std(values: list[float]) -> float:
    """Sample standard deviation (n - 1), 0 for one value, as summarize's."""
    n = len(values)
    mean = sum(values) / n
    return (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5 if n > 1 else 0.0


def _run_seeds(trial, folder, seeds, strategy, evaluate_test):
    """`loop.run` of `trial` at each seed in folder/seed<k>; [(seed, results)]."""
    out = []
    for seed in seeds:
        seeded = trial.copy_and_resolve_references()
        seeded.seed = seed
        out.append(
            (
                seed,
                loop.run(
                    seeded,
                    os.path.join(folder, f"seed{seed}"),
                    strategy,
                    evaluate_test=evaluate_test,
                ),
            )
        )
    return out


def run_sweep(
    config, grid, workdir: str, metric=None, strategy="default", seeds=None
) -> dict:
    """Runs every grid point, selects on validation, scores the winner on test.

    `seeds` (a list of ints): run each point at every seed and select on the mean.
    """
    metric = metric or loop.monitor_metric(config)
    mode = loop.metric_mode(metric)
    seeds = parse_seeds(seeds or [])
    if seeds:
        return _run_seeded_sweep(config, grid, workdir, metric, mode, strategy, seeds)
    trials, configs = [], []
    # Overrides as the config holds them (a grid "0" for a float key is 0.0).
    for name, overrides, trial in _grid_points(config, grid):
        results = loop.run(
            trial, os.path.join(workdir, name), strategy, evaluate_test=False
        )
        _check_metric(metric, results["validation"])
        trials.append(
            {
                "name": name,
                "overrides": overrides,
                "validation": results["validation"],
                "score": results["validation"][metric],
                "best_epoch": results["best_epoch"],
            }
        )
        configs.append(trial)
    scores = [t["score"] for t in trials]
    best = scores.index(min(scores) if mode == "min" else max(scores))
    chosen = trials[best]
    # The chosen trial resumes (nothing to train) and is scored on test.
    final = loop.run(
        configs[best],
        os.path.join(workdir, chosen["name"]),
        strategy,
        evaluate_test=True,
    )
    outcome = {"validation": final["validation"], "test": final["test"]}
    return _save(workdir, config, metric, mode, grid, trials, chosen, outcome)


def _save(workdir, config, metric, mode, grid, trials, chosen, outcome, **extra):
    """Writes and returns sweep.json's content: `chosen` is the selected trial,
    `outcome` its final scores; `extra` goes before the trials."""
    sweep = {
        "config": config.name,
        "metric": metric,
        "mode": mode,
        "grid": {key: values for key, values in grid},
        **extra,
        "trials": trials,
        "chosen": {"name": chosen["name"], "overrides": chosen["overrides"], **outcome},
    }
    os.makedirs(workdir, exist_ok=True)
    cb.write_json_atomic(os.path.join(workdir, SWEEP_FILE), sweep)
    return sweep


def _grid_points(config, grid):
    """(name, overrides, trial config) for every grid point, in grid order."""
    keys = [key for key, _ in grid]
    names = []
    for point in itertools.product(*(values for _, values in grid)):
        trial = config.copy_and_resolve_references()
        for key, value in zip(keys, point):
            common.override(trial, key, value)
        name = trial_name(dict(zip(keys, point)))  # the values as typed
        if name in names:
            raise ValueError(f"two grid points share the folder name {name!r}")
        names.append(name)
        yield name, {key: _lookup(trial, key) for key in keys}, trial


def _run_seeded_sweep(config, grid, workdir, metric, mode, strategy, seeds):
    """run_sweep over `seeds`: each point's score is its mean over the seeds."""
    trials, configs = [], []
    for name, overrides, trial in _grid_points(config, grid):
        runs = _run_seeds(trial, os.path.join(workdir, name), seeds, strategy, False)
        for _, results in runs:
            _check_metric(metric, results["validation"])
        scores = [results["validation"][metric] for _, results in runs]
        trials.append(
            {
                "name": name,
                "overrides": overrides,
                "validation": _mean_metrics([r["validation"] for _, r in runs]),
                "score": sum(scores) / len(scores),
                "score_std": _std(scores),
                "seeds": [
                    {
                        "seed": seed,
                        "validation": results["validation"],
                        "best_epoch": results["best_epoch"],
                    }
                    for seed, results in runs
                ],
            }
        )
        configs.append(trial)
    means = [t["score"] for t in trials]
    best = means.index(min(means) if mode == "min" else max(means))
    chosen = trials[best]
    # The chosen point's runs resume (nothing to train) and are scored on test.
    final = _run_seeds(
        configs[best], os.path.join(workdir, chosen["name"]), seeds, strategy, True
    )
    outcome = {
        "validation": _mean_metrics([r["validation"] for _, r in final]),
        "test": _mean_metrics([r["test"] for _, r in final]),
        "seeds": [
            {"seed": seed, "validation": r["validation"], "test": r["test"]}
            for seed, r in final
        ],
    }
    return _save(
        workdir, config, metric, mode, grid, trials, chosen, outcome, seeds=seeds
    )


def config_lines(overrides: dict) -> list[str]:
    """The chosen values as lines to paste into a config's get_config."""
    return [f"config.{key} = {value!r}" for key, value in overrides.items()]


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    config = train._CONFIG.value
    try:
        grid = parse_grid(_GRID.value, config)
        sweep = run_sweep(
            config,
            grid,
            train._WORKDIR.value,
            _METRIC.value,
            train._STRATEGY.value,
            seeds=_SEEDS.value,
        )
    except (ValueError, *train.USER_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    chosen = sweep["chosen"]
    over = f" (mean over seeds {sweep['seeds']})" if sweep.get("seeds") else ""
    print(
        f"[sweep] {len(sweep['trials'])} trials; best validation {sweep['metric']}{over} "
        f"= {chosen['validation'][sweep['metric']]:.4f} ({chosen['name']}); "
        f"test {sweep['metric']} = {chosen['test'].get(sweep['metric'])}"
    )
    print("[sweep] chosen values (paste into the config):")
    for line in config_lines(chosen["overrides"]):
        print("    " + line)


if __name__ == "__main__":
    app.run(main, flags_parser=train.parse_flags)
