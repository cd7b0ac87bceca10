"""The one experiment entry point.

    python -m experiments.train --config=experiments/configs/wide_deep_synthetic.py \
        --workdir=runs/wide_deep_synthetic/seed0 [--config.seed=1] [--strategy=mirrored]

Writes config.json, TensorBoard logs, per-epoch checkpoints (a restarted run on the
same workdir resumes) and results.json into --workdir.
"""

from __future__ import annotations

import sys

from absl import app, flags
from ml_collections import config_flags

from recsys_tf.data.schema import SchemaError
from recsys_tf.training import loop
from recsys_tf.training.strategy import STRATEGIES

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Path to an experiments/configs/<model>_<dataset>.py file.",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run folder (checkpoints, logs, results).")
_STRATEGY = flags.DEFINE_enum(
    "strategy", "default", list(STRATEGIES), "tf.distribute strategy."
)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        loop.run(_CONFIG.value, _WORKDIR.value, _STRATEGY.value)
    except (loop.ConfigError, SchemaError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
