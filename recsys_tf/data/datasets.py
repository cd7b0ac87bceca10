"""Dataset registry: a config's `data` block -> a validated `EventLog`.

`data.name` is "synthetic" (the simulator, generated on first use) or one of
`REAL`: a real dataset converted from its original files by its
`data_prep.<converter>` on first use and read from ``data.root/<name>``
afterwards. `data.path` (any folder in the canonical schema) wins over both.
"""

from __future__ import annotations

import dataclasses
import importlib
import os

from recsys_tf.data import sources
from recsys_tf.data.schema import EVENTS_FILE, EventLog, read_event_log

SYNTHETIC = "synthetic"


@dataclasses.dataclass(frozen=True)
class RealDataset:
    """A real dataset the trainer can name.

    Attributes:
        converter: the `data_prep` module that converts it.
        folder: its sub-folder of the original files under the datasets root.
        description: one line for the README and errors.
        options: keyword arguments of the converter's `convert`; a tuple value
            lists file names in `folder` and the first one present is used (the
            original file first, then the copy held on this machine).
        file: a file of `folder` that the converter reads instead of the folder
            (its first argument), for converters of one file (`data_prep.sasrec`).
    """

    converter: str
    folder: str
    description: str
    options: dict = dataclasses.field(default_factory=dict)
    file: str = ""


REAL = {
    "ml1m": RealDataset(
        "ml1m",
        "ml-1m",
        "MovieLens-1M with timestamps (here: the held ratings of users 1-2999)",
        {"ratings": ("ratings.dat", "ratings.dat.gz", "ratings_users1-2999.dat.gz")},
    ),
    "ml1m_all": RealDataset(
        "ml1m",
        "ml-1m",
        "MovieLens-1M, all 1,000,209 ratings (here without timestamps: random split only)",
        {"ratings": ("ratings.dat", "ratings.dat.gz", "ratings_no_timestamp.dat.gz")},
    ),
    "kuairand": RealDataset(
        "kuairand",
        "kuairand-pure",
        "KuaiRand-Pure standard log (here: 2022-04-25..05-08)",
    ),
    "taobao_userbehavior": RealDataset(
        "taobao_userbehavior",
        "taobao-userbehavior",
        "Taobao UserBehavior (here: the first 814 users)",
    ),
    # Formats the papers name that this machine does not hold: usable by name once
    # their original files are in <datasets root>/<folder>.
    "taobao_ad": RealDataset(
        "taobao_ad",
        "taobao-ad",
        "Taobao display-ad click data (DUMN's 'Alibaba'; DIN, DSIN)",
    ),
    "kuairec_small": RealDataset(
        "kuairec",
        "kuairec",
        "KuaiRec small matrix, every row as in the AutoDenoise code (random split only)",
        {"matrix": "small", "missing_timestamps": "ignore"},
    ),
    "amazon_beauty": RealDataset(
        "sasrec",
        "amazon-beauty-s3rec",
        "Amazon Beauty 5-core as preprocessed by S3-Rec (22,363 users, 12,101 items)",
        {"layout": "user-lines"},
        file="Beauty.txt.gz",
    ),
    "netflix": RealDataset("netflix", "netflix", "Netflix Prize, all ratings"),
    "mind_small": RealDataset(
        "mind",
        "mind-small",
        "MIND small (Microsoft News): its folders MINDsmall_train and MINDsmall_dev",
    ),
}
"""Real datasets by config name."""


def synthetic_path(root: str, size: str, seed: int, disable=()) -> str:
    """`root/synthetic_<size>[_seed<k>][_no_<switch>...]` (seed 0 has no suffix, so
    it is the folder `make data` writes)."""
    suffix = f"_seed{seed}" if seed else ""
    suffix += "".join(f"_no_{name}" for name in sorted(disable))
    return os.path.join(root, f"synthetic_{size}{suffix}")


def _resolve_options(spec: RealDataset, folder: str) -> dict:
    options = {}
    for key, value in spec.options.items():
        if isinstance(value, tuple):
            present = [v for v in value if os.path.exists(os.path.join(folder, v))]
            if not present:
                raise FileNotFoundError(
                    f"{folder}: none of {list(value)} found for the {key!r} file"
                )
            value = present[0]
        options[key] = value
    return options


def convert_real(name: str, output: str, source_root: str | None = None) -> EventLog:
    """Converts the registered real dataset `name` from its original files."""
    if name not in REAL:
        raise ValueError(f"Unknown real dataset {name!r}; known: {sorted(REAL)}")
    spec = REAL[name]
    folder = sources.source_folder(spec.folder, source_root or None)
    converter = importlib.import_module(f"data_prep.{spec.converter}")
    # Converters write aside and rename (data_prep.common.dataset_folder), so a
    # killed conversion never leaves a folder that looks complete.
    source = os.path.join(folder, spec.file) if spec.file else folder
    converter.convert(source, output, **_resolve_options(spec, folder))
    return read_event_log(output)


def load_event_log(data) -> EventLog:
    """Reads the dataset named by a config's `data` block.

    `data.path` (a folder in the canonical schema) wins when set. Otherwise
    `data.name == "synthetic"` generates the simulator dataset of `data.size`,
    `data.simulator_seed` and `data.disable` under `data.root` on first use and
    reads it afterwards; a name of `REAL` converts that dataset from
    `data.source_root` (default `sources.datasets_root()`) into
    ``data.root/<name>`` on first use.
    """
    if data.get("path"):
        return read_event_log(data.path)
    if data.name in REAL:
        path = os.path.join(data.root, data.name)
        if not os.path.exists(os.path.join(path, EVENTS_FILE)):
            return convert_real(data.name, path, data.get("source_root"))
        return read_event_log(path)
    if data.name != SYNTHETIC:
        raise ValueError(
            f"Unknown dataset {data.name!r}: data.name must be {SYNTHETIC!r} or one "
            f"of {sorted(REAL)}, or set --config.data.path to a folder in the "
            "canonical schema (written by a python -m data_prep.<converter>)."
        )
    disable = tuple(data.get("disable", ()))
    path = synthetic_path(data.root, data.size, data.simulator_seed, disable)
    if not os.path.exists(os.path.join(path, EVENTS_FILE)):
        from data_prep import synthetic

        overrides = {name: False for name in disable}
        synthetic.generate(data.size, data.simulator_seed, path, **overrides)
    return read_event_log(path)
