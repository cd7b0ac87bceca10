"""Dataset registry: a config's `data` block -> a validated `EventLog`."""

from __future__ import annotations

import os

from recsys_tf.data.schema import EventLog, read_event_log

SYNTHETIC = "synthetic"


def synthetic_path(root: str, size: str, seed: int, disable=()) -> str:
    """`root/synthetic_<size>[_seed<k>][_no_<switch>...]` (seed 0 has no suffix, so
    it is the folder `make data` writes)."""
    suffix = f"_seed{seed}" if seed else ""
    suffix += "".join(f"_no_{name}" for name in sorted(disable))
    return os.path.join(root, f"synthetic_{size}{suffix}")


def load_event_log(data) -> EventLog:
    """Reads the dataset named by a config's `data` block.

    `data.path` (a folder in the canonical schema) wins when set. Otherwise
    `data.name == "synthetic"` generates the simulator dataset of `data.size`,
    `data.simulator_seed` and `data.disable` under `data.root` on first use and
    reads it afterwards; other datasets must be converted first with their
    `python -m data_prep.<name>` converter and named by path.
    """
    if data.get("path"):
        return read_event_log(data.path)
    if data.name != SYNTHETIC:
        raise ValueError(
            f"dataset {data.name!r}: set --config.data.path to its folder in the "
            "canonical schema (convert the original files with python -m "
            f"data_prep.<converter> first); only {SYNTHETIC!r} is generated on demand."
        )
    disable = tuple(data.get("disable", ()))
    path = synthetic_path(data.root, data.size, data.simulator_seed, disable)
    if not os.path.exists(os.path.join(path, "events.parquet")):
        from data_prep import synthetic

        overrides = {name: False for name in disable}
        synthetic.generate(data.size, data.simulator_seed, path, **overrides)
    return read_event_log(path)
