"""Statistics of a dataset in the canonical schema.

    python -m data_prep.describe ml1m            # a registered dataset (converted
                                                 # on first use), or
    python -m data_prep.describe data/my_folder  # any canonical folder

Prints the statistics and writes them beside the dataset, to
``<dataset folder>/stats.json``; with ``--output=<folder>`` also to
``<folder>/<name>.json`` (`make describe-data` passes the repository's
``experiments/results/datasets``, read by `experiments/summarize.py` for the README
table).

Definitions:
- ``density``: distinct (user, item) pairs with any event / (users x items), the
  papers' definition (ML-1M: 1,000,209 / (6,040 x 3,706) = 4.47%);
- ``sequence``: each user's events of the dataset's positive types (clicks when
  it has clicks, else ratings: the sequences the retrieval models read), with
  length quantiles over users;
- time span: first and last timestamps (UTC) when the timestamps are real.
"""

from __future__ import annotations

import datetime
import json
import os

import numpy as np

from recsys_tf.data import datasets, retrieval, schema

QUANTILES = (0.5, 0.9, 0.99)

# Statistics the papers report for the same data; `source` cites file and lines.
PAPER_STATS = {
    "amazon_beauty": {
        "users": 22363,
        "items": 12101,
        "events": 198502,
        "source": "S3-Rec's Beauty files (Zhou et al. CIKM 2020, Table 1), the "
        "calibration set of issue 20's sequential recommenders",
    },
    "ml1m": {
        "users": 6040,
        "items": 3952,
        "density": 0.0447,
        "source": "DMAN Table 2 (dman.txt l.147; items = the catalogue, 3,706 rated) "
        "and AutoDenoise l.295 (density)",
        "difference": "ratings with timestamps are held for users 1-2999 only",
    },
    "ml1m_all": {
        "users": 6040,
        "items": 3952,
        "events": 1000209,
        "density": 0.0447,
        "source": "DMAN Table 2 (dman.txt l.147) and AutoDenoise l.295",
        "difference": "same ratings; no timestamps held, so random split only; "
        "items counts rated movies (3,706), the paper the catalogue",
    },
    "taobao_userbehavior": {
        "users": 19576,
        "items": 629758,
        "events": 2003670,
        "source": "MF+M-MLP Table 1 (multi_feedback_mf_mlp.txt l.334-338), a 20 K "
        "user sample; DMAN Table 2 (l.148) uses all 987,994 users, 4,162,024 items",
        "difference": "the held file is the first 814 users of the 100 M-row "
        "original; its time span starts in September because of 35 rows before the "
        "documented 2017-11-25 start, kept and counted as in the original",
    },
    "kuairand": {
        "source": "no paper of the five uses KuaiRand; it stands in for DUMN's "
        "Alibaba set (1.14 M users, 0.8 M items, 26 M records, dumn.txt l.430-433)",
        "difference": "KuaiRand has click / unclick / like / dislike, as DUMN needs; "
        "the held log is 14 of its 31 days",
    },
}


def _date(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(int(seconds), datetime.UTC).strftime(
        "%Y-%m-%d"
    )


def describe(log: schema.EventLog, name: str | None = None) -> dict:
    """The statistics of `log` (see the module docstring for definitions)."""
    events = log.events
    users = events["user_id"].to_numpy(np.int64)
    items = events["item_id"].to_numpy(np.int64)
    pairs = len(np.unique(users * log.num_items + items))
    counts = events["event"].value_counts()
    per_type = {
        t: int(counts.get(t, 0)) for t in schema.EVENT_TYPES if counts.get(t, 0)
    }
    positive = retrieval.default_positive_events(log)
    lengths = np.bincount(
        log.events_of(*positive)["user_id"].to_numpy(np.int64), minlength=log.num_users
    )
    lengths = lengths[lengths > 0]
    stats = {
        "name": name or log.meta.get("name", os.path.basename(log.path or "")),
        "users": log.num_users,
        "items": log.num_items,
        "events": len(events),
        "events_per_type": per_type,
        "pairs": pairs,
        "density": pairs / (log.num_users * log.num_items),
        "sequence_events": list(positive),
        "sequence_users": len(lengths),
        "sequence_length_mean": float(lengths.mean()) if len(lengths) else 0.0,
        "sequence_length_min": int(lengths.min()) if len(lengths) else 0,
        "sequence_length_max": int(lengths.max()) if len(lengths) else 0,
        "timestamps": log.meta.get("timestamps", "seconds"),
    }
    for q in QUANTILES:
        value = float(np.quantile(lengths, q)) if len(lengths) else 0.0
        stats[f"sequence_length_p{round(q * 100)}"] = value
    if stats["timestamps"] == "seconds":
        stamps = events["timestamp"].to_numpy(np.int64)
        first, last = int(stamps.min()), int(stamps.max())
        stats.update(
            first=_date(first),
            last=_date(last),
            days=round((last - first) / 86400, 2),
        )
    if log.meta.get("conversion"):
        stats["conversion"] = log.meta["conversion"]["counts"]
    return stats


def format_stats(stats: dict) -> str:
    """A human-readable block of `stats`."""
    lines = [
        f"dataset {stats['name']}",
        f"  users {stats['users']:,}  items {stats['items']:,}  events {stats['events']:,}",
        "  per type: "
        + ", ".join(f"{k} {v:,}" for k, v in stats["events_per_type"].items()),
        f"  distinct pairs {stats['pairs']:,}  density {100 * stats['density']:.4f}%",
        f"  sequences of {'+'.join(stats['sequence_events'])}: "
        f"{stats['sequence_users']:,} users, length mean "
        f"{stats['sequence_length_mean']:.1f}, min {stats['sequence_length_min']}, "
        + ", ".join(
            f"p{round(q * 100)} {stats[f'sequence_length_p{round(q * 100)}']:g}"
            for q in QUANTILES
        )
        + f", max {stats['sequence_length_max']}",
    ]
    if "first" in stats:
        lines.append(
            f"  time span {stats['first']} .. {stats['last']} ({stats['days']} days)"
        )
    else:
        lines.append(f"  timestamps: {stats['timestamps']}")
    return "\n".join(lines)


def load(dataset: str, root: str = "data", source_root: str = "") -> tuple:
    """(log, name) for a registered dataset name or a canonical folder."""
    if os.path.isdir(dataset) and dataset not in datasets.REAL:
        log = schema.read_event_log(dataset)
        return log, log.meta.get("name") or os.path.basename(dataset.rstrip("/"))
    if dataset in datasets.REAL:
        import ml_collections

        data = ml_collections.ConfigDict(
            dict(name=dataset, path="", root=root, source_root=source_root)
        )
        return datasets.load_event_log(data), dataset
    raise ValueError(
        f"{dataset!r} is neither a dataset folder nor a registered dataset "
        f"({', '.join(sorted(datasets.REAL))})"
    )


def main(argv):
    from absl import app, flags

    if len(argv) != 2:
        raise app.UsageError("Usage: python -m data_prep.describe <dataset or folder>")
    values = flags.FLAGS
    try:
        log, name = load(argv[1], values.root, values.source_root)
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error)) from None
    stats = describe(log, name)
    print(format_stats(stats), flush=True)
    targets = [os.path.join(log.path, schema.STATS_FILE)]
    if values.output:
        os.makedirs(values.output, exist_ok=True)
        targets.append(os.path.join(values.output, f"{name}.json"))
    for target in targets:
        with open(target, "w") as f:
            json.dump(stats, f, indent=2, sort_keys=True)
        print(f"[describe] wrote {target}", flush=True)


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("root", "data", "Where registered datasets are converted.")
    flags.DEFINE_string(
        "source_root", "", "Folder of the original files (default ../shared/datasets)."
    )
    flags.DEFINE_string(
        "output",
        "",
        "Also write <name>.json into this folder (the README table reads "
        "experiments/results/datasets); '' = only stats.json beside the dataset.",
    )
    app.run(main)
