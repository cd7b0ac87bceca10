"""The one experiment entry point.

    python -m experiments.train --config=experiments/configs/wide_deep.py \
        --workdir=runs/wide_deep_synthetic/seed0 [--config.seed=1] [--strategy=mirrored]
    python -m experiments.train --config=experiments/configs/wide_deep.py \
        --config.data.name=ml1m --workdir=runs/wide_deep_ml1m/seed0

Writes config.json, TensorBoard logs, per-epoch checkpoints (a restarted run on the
same workdir resumes) and results.json into --workdir; results.json names the run
`<config.name>_<dataset>`. A user error (a config value, data the config cannot use,
a workdir in use or not writable, a full disk) is one line on stderr and exit code 2;
a traceback means a bug.
"""

from __future__ import annotations

import importlib.util
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from recsys_tf.training import loop
from recsys_tf.training.strategy import STRATEGIES

_CONFIG = config_flags.DEFINE_config_file(
    "config",
    None,
    "Path to an experiments/configs/<model>.py file (the dataset: --config.data.name).",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Run folder (checkpoints, logs, results)."
)
_STRATEGY = flags.DEFINE_enum(
    "strategy", "default", list(STRATEGIES), "tf.distribute strategy."
)
_CPU_DEVICES = flags.DEFINE_integer(
    "cpu_devices",
    0,
    "Split the CPU into this many logical devices (0 = leave as is), to run the "
    "multi-replica code paths of --strategy=mirrored on a machine without GPUs.",
)
flags.mark_flags_as_required(["config", "workdir"])


def _known_keys(config, prefix=""):
    keys = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if hasattr(value, "items"):
            keys.extend(_known_keys(value, name + "."))
        else:
            keys.append(name)
    return keys


def parse_flags(argv):
    """Parses flags; an unknown or ill-typed config key is a one-line error, not a traceback."""
    try:
        return flags.FLAGS(argv)
    except (AttributeError, KeyError, TypeError, ValueError, flags.Error) as error:
        overrides = [
            a.split("=")[0][len("--config.") :]
            for a in argv
            if a.startswith("--config.")
        ]
        message = f"error: bad config override ({error}); overrides given: {overrides}"
        try:
            config_file = next(
                a.split("=", 1)[1] for a in argv if a.startswith("--config=")
            )
            config_file, _, preset = config_file.partition(":")
            spec = importlib.util.spec_from_file_location("_config", config_file)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            config = module.get_config(preset) if preset else module.get_config()
            known = _known_keys(config)
            unknown = [o for o in overrides if o not in known]
            if unknown:
                message = (
                    f"error: unknown config key(s) {unknown} in {config_file}; "
                    f"valid keys: {', '.join(known)}"
                )
        except Exception:  # noqa: BLE001 - the original message is still printed.
            pass
        print(message, file=sys.stderr)
        sys.exit(2)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    if _CPU_DEVICES.value:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * _CPU_DEVICES.value
        )
    run_or_exit(_CONFIG.value, _WORKDIR.value, _STRATEGY.value)


# What a user must fix (not a bug): one line on stderr and exit code 2.
USER_ERRORS = loop.USER_ERRORS


def run_or_exit(config, workdir, strategy="default"):
    """`loop.run`; a user error is printed in one line and exits with code 2."""
    try:
        return loop.run(config, workdir, strategy)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
