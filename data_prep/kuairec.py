"""KuaiRec (Gao et al., CIKM 2022) -> the canonical schema.

Input: the KuaiRec ``data`` folder (release 2.0):

- ``small_matrix.csv`` (``--matrix=small``, the default; AutoDenoise's
  "KuaiRec-Small": 1,411 users x 3,327 videos, 4,676,570 rows) or
  ``big_matrix.csv`` (``--matrix=big``), plain or ``.gz``, comma-separated with
  the header ``user_id,video_id,play_duration,video_duration,time,date,
  timestamp,watch_ratio`` (columns found by name; ``time`` and ``date`` only
  render ``timestamp`` and are not read). ``play_duration`` and
  ``video_duration`` are integer milliseconds, ``timestamp`` Unix seconds with
  a fraction (``1593898068.378``) and ``watch_ratio`` = play / video duration
  (``0.7221031811438932``). Rows of the small matrix may have empty ``time``,
  ``date`` and ``timestamp``. Streamed block by block.
- ``item_categories.csv`` (optional): ``video_id,feat`` with ``feat`` a list of
  tag ids, ``[8]`` or ``"[27, 9]"`` (quoted when it holds a comma).
- ``user_features.csv`` (optional): the KuaiRand user feature columns
  (``user_active_degree``, ``*_range``, ``onehot_feat0..17`` ...), coded as in
  `data_prep.kuairand` (0 = missing, 1.. = sorted distinct values, listed in
  ``meta.json`` ``feature_values``).

Output, per matrix row: an ``impression`` event (value 1.0) and a ``rating``
event whose ``value`` is ``watch_ratio``, sharing ``timestamp`` = floor of
``timestamp`` (seconds), one ``request_id`` per row, and the integer event
columns ``play_duration`` and ``video_duration``. Events are ordered by the
millisecond time before the schema's stable sort by seconds. Items:
``category`` = the first tag of ``feat`` (0 = none or no ``item_categories.csv``,
1.. = the distinct first tags in sorted order, mapped back by
``category_ids.parquet``, original -1 for 0); ``brand`` 0 (KuaiRec has no
author in these files).

AutoDenoise labels: the authors' public code
(github.com/Applied-Machine-Learning-Lab/AutoDenoise,
``torchfm/dataset/kuaiRec.py``, commit b985a18) reads ``small_matrix.csv``,
uses ``user_id`` and ``video_id`` as the only fields, and sets the label to 1
when ``watch_ratio > 1`` and 0 otherwise (the paper itself gives no threshold).
`recsys_tf.data.ctr.build_ctr_task` with ``label="rating"``,
``rating_threshold=AUTODENOISE_THRESHOLD`` (the float just above 1.0, as the
builder tests ``value >= threshold``), ``user_features=()`` and
``item_features=()`` gives exactly those instances and labels. That code keeps
every row, also those without a timestamp, and its split is random (paper
l.295), so the paper's 99.62% density counts all 4,676,570 rows: converting
with ``--missing_timestamps=drop`` (or dropping duplicates, below) leaves out
rows the paper used; the counts in ``meta.json`` say how many.

Rules (each counted in ``meta.json``):

- ``user_id``/``video_id``/durations are non-negative integers, ``watch_ratio``
  a finite number >= 0 (NaN, inf, negative or empty is an error), a present
  ``timestamp`` a finite number of seconds before 2100 (a file whose times
  mostly fall outside 2020-06..09 is an error naming the unit they look like;
  fewer such rows are counted);
- a row with an empty ``timestamp`` is an error by default; with
  ``--missing_timestamps=drop`` it is left out, counted; with
  ``--missing_timestamps=ignore`` every row is kept and every time discarded
  (``meta.json`` timestamps ``"absent"``, so only the random split applies): the
  rows and split of the AutoDenoise code;
- an exact duplicate row (user, video, both durations, timestamp and
  watch_ratio equal) is kept once; a (user, video) pair seen again with other
  values is kept (each row is a viewing), counted;
- rows are ordered by time; rows earlier than the previous row of their user
  in the file are counted;
- a matrix user or video missing from ``user_features.csv`` /
  ``item_categories.csv`` (when present) is an error; their rows without a
  matrix row are left out, counted; an empty ``feat`` list gives category 0,
  counted.

Command:
  python -m data_prep.kuairec --input "KuaiRec 2.0/data" --output data/kuairec \\
      --matrix=small --missing_timestamps=drop
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_prep import common, kuairand
from recsys_tf.data import schema

MATRICES = {"small": "small_matrix.csv", "big": "big_matrix.csv"}
MISSING_TIMESTAMPS = ("error", "drop", "ignore")
MATRIX_COLUMNS = (
    "user_id",
    "video_id",
    "play_duration",
    "video_duration",
    "timestamp",
    "watch_ratio",
)
EVENT_EXTRAS = ("play_duration", "video_duration")
AUTODENOISE_THRESHOLD = float(np.nextafter(1.0, 2.0))
"""``rating_threshold`` giving AutoDenoise's labels (``watch_ratio > 1``) with the
CTR builder's ``value >= rating_threshold``."""


TIME_WINDOW = common.TimeWindow(
    "2020-06-01", "2020-09-30", "KuaiRec's interactions span 2020-07-05..2020-09-05"
)
"""The plausible span of ``timestamp`` (`common.WindowCheck`)."""


def read_matrix(
    path: str,
    missing_timestamps: str,
    report: common.Report,
    block_bytes: int = common.BLOCK_BYTES,
) -> dict[str, np.ndarray]:
    """Streams a matrix file -> arrays of ids, durations, watch ratio and times.

    Times: ``stamp`` (the float seconds), ``seconds`` (its floor) and ``ms``
    (rounded milliseconds, for ordering within a second).
    """
    columns = common.Columns()
    dropped = kept_without_time = 0
    window = common.WindowCheck(TIME_WINDOW, path, "timestamp", "seconds")
    for block, raw in common.iter_csv(path, MATRIX_COLUMNS, block_bytes):
        line = block.first_line
        lines = common.block_lines(block)
        stamp = pc.utf8_trim_whitespace(raw["timestamp"])
        missing = pc.equal(pc.utf8_length(stamp), 0).to_numpy(zero_copy_only=False)
        if missing.any() and missing_timestamps == "error":
            raise common.FormatError(
                path,
                "missing timestamp (KuaiRec's small matrix has rows without time, date "
                "and timestamp); convert with --missing_timestamps=drop to leave such "
                "rows out (counted)",
                int(lines[np.flatnonzero(missing)[0]]),
                "timestamp",
            )
        values = {
            "user": common.parse_int(raw["user_id"], path, "user_id", line, minimum=0),
            "video": common.parse_int(
                raw["video_id"], path, "video_id", line, minimum=0
            ),
            "play_duration": common.parse_int(
                raw["play_duration"], path, "play_duration", line, minimum=0
            ),
            "video_duration": common.parse_int(
                raw["video_duration"], path, "video_duration", line, minimum=0
            ),
            "ratio": common.parse_float(
                raw["watch_ratio"], path, "watch_ratio", line, minimum=0
            ),
        }
        if missing_timestamps == "ignore":
            # Every row is kept; the times are discarded below.
            kept_without_time += int(missing.sum())
            stamp = pc.if_else(pa.array(missing), "0", stamp)
            missing = np.zeros_like(missing)
        keep = ~missing
        dropped += int(missing.sum())
        if missing.any():
            values = {name: v[keep] for name, v in values.items()}
            stamp = stamp.filter(pa.array(keep))
        seconds = common.parse_float(
            stamp,
            path,
            "timestamp",
            line,
            line_numbers=lines[keep],
            minimum=0,
            maximum=float(schema.MAX_TIMESTAMP),
        )
        values["stamp"] = seconds
        if missing_timestamps == "ignore":
            seconds = np.zeros_like(seconds)
        else:
            window.add(seconds, lines[keep])
        values["seconds"] = np.floor(seconds).astype(np.int64)
        values["ms"] = np.round(seconds * 1000).astype(np.int64)
        columns.add(**values)
    report.count("lines_read", len(columns) + dropped)
    if missing_timestamps == "ignore":
        report.count(
            "missing_timestamp_rows_kept",
            kept_without_time,
            "--missing_timestamps=ignore keeps every row and discards all times "
            "(meta timestamps 'absent': random split only)",
        )
    else:
        report.count(
            "missing_timestamp_rows_dropped",
            dropped,
            "rows with an empty timestamp are left out (--missing_timestamps=drop)",
        )
    if not len(columns):
        raise common.FormatError(
            path, "no rows with a timestamp" if dropped else "no rows"
        )
    if missing_timestamps != "ignore":
        common.count_outside_window(report, window.finish(), TIME_WINDOW)
    return {
        name: columns.pop(name)
        for name in (
            "user",
            "video",
            "play_duration",
            "video_duration",
            "ratio",
            "stamp",
            "seconds",
            "ms",
        )
    }


def _apply_rules(data, report):
    out_of_order = common.count_out_of_order(data["user"], data["ms"])
    report.count(
        "out_of_order",
        out_of_order,
        "rows are ordered by time; this many came earlier than the previous row of "
        "their user in the file",
    )
    key = ("user", "video", "play_duration", "video_duration", "stamp", "ratio")
    dup = common.duplicate_mask(*(data[name] for name in key))
    report.count(
        "duplicate_rows_dropped",
        int(dup.sum()),
        "an exact duplicate row (user, video, durations, timestamp, watch_ratio) is "
        "kept once",
    )
    if dup.any():
        data = {name: values[~dup] for name, values in data.items()}
    repeated = common.duplicate_mask(data["user"], data["video"])
    report.count(
        "repeated_user_video_rows_kept",
        int(repeated.sum()),
        "a (user, video) pair seen again with other values is kept (one viewing per row)",
    )
    positives = int(np.count_nonzero(data["ratio"] > 1.0))
    report.count("rows_with_watch_ratio_above_1", positives)
    return data


def _events(data, user_code, item_code):
    n = len(user_code)
    order = np.lexsort((np.arange(n), user_code, data["ms"]))
    request = np.empty(n, np.int64)
    request[order] = np.arange(n, dtype=np.int64)
    rows = np.concatenate([order, order])
    kinds = np.repeat(
        np.array(
            [common.EVENT_CODES["impression"], common.EVENT_CODES["rating"]], np.int8
        ),
        n,
    )
    sort = np.lexsort((kinds, request[rows]))
    rows, kinds = rows[sort], kinds[sort]
    ratio = data["ratio"][rows]
    return pd.DataFrame(
        {
            "user_id": user_code[rows],
            "item_id": item_code[rows],
            "timestamp": data["seconds"][rows],
            "event": common.event_column(kinds),
            "value": np.where(kinds == common.EVENT_CODES["rating"], ratio, 1.0),
            "request_id": request[rows],
            **{name: data[name][rows].astype(np.int64) for name in EVENT_EXTRAS},
        }
    )


def _first_feat(values, path, field, lines):
    return kuairand.parse_first_tag(values, path, field, lines, bracketed=True)


def read_item_categories(path, videos, report, block_bytes=common.BLOCK_BYTES):
    """``item_categories.csv`` -> (category codes, category originals)."""
    table = common.read_features(
        path, "video_id", {"feat": _first_feat}, videos, block_bytes
    )
    report.count(
        "videos_without_rows_dropped",
        table.rows_read - len(table.ids),
        "item_categories.csv videos with no matrix row are left out",
    )
    table = table.align(videos, "video")
    first, missing = table.columns["feat"]
    report.count(
        "videos_without_tags",
        int(missing.sum()),
        "a video whose feat list is empty gets category 0",
    )
    codes, vocab = common.feature_codes(first, missing)
    return codes, np.asarray([-1, *vocab], np.int64)


def convert(
    input: str,
    output: str,
    matrix: str = "small",
    missing_timestamps: str = "error",
    block_bytes: int = common.BLOCK_BYTES,
    overwrite: bool = False,
):
    """Converts the KuaiRec data folder `input` into the dataset folder `output`.

    Args:
        input: the folder of the original files.
        output: the dataset folder to write.
        matrix: ``small`` (small_matrix.csv) or ``big`` (big_matrix.csv).
        missing_timestamps: what a row with an empty timestamp does: ``error``
            (default), ``drop`` (left out, counted) or ``ignore`` (every row kept,
            all times discarded: the AutoDenoise data, random split only).
        block_bytes: bytes read at a time.
        overwrite: whether to replace an `output` that holds more than a
            dataset (`common.check_output`); a dataset folder is always replaced
            whole.

    Returns:
        The written `EventLog`.
    """
    common.check_output(output, overwrite)
    common.check_choice("matrix", matrix, MATRICES)
    common.check_choice("missing_timestamps", missing_timestamps, MISSING_TIMESTAMPS)
    progress = common.Progress("kuairec")
    report = common.Report()
    common.require_folder(input)
    matrix_path = common.find_file(input, MATRICES[matrix])
    data = read_matrix(matrix_path, missing_timestamps, report, block_bytes)
    progress("read matrix", f"{matrix_path}: {len(data['user']):,} rows kept")
    data = _apply_rules(data, report)
    user_code, user_originals = common.remap(data["user"])
    item_code, item_originals = common.remap(data["video"])
    source = [matrix_path]

    users = pd.DataFrame({"user_id": np.arange(len(user_originals), dtype=np.int64)})
    vocab = {}
    users_path = common.optional_file(input, "user_features.csv")
    if users_path:
        coded, vocab = kuairand.read_user_features(
            users_path, user_originals, report, block_bytes
        )
        users = users.assign(**coded)
        source.append(users_path)
        progress("read users", f"{users_path}: {len(users):,} users kept")

    items = pd.DataFrame(
        {
            "item_id": np.arange(len(item_originals), dtype=np.int64),
            "category": 0,
            "brand": 0,
        }
    )
    mappings = {"user": user_originals, "item": item_originals}
    categories_path = common.optional_file(input, "item_categories.csv")
    if categories_path:
        codes, originals = read_item_categories(
            categories_path, item_originals, report, block_bytes
        )
        items["category"] = codes
        mappings["category"] = originals
        source.append(categories_path)
        progress("read categories", f"{categories_path}: {len(items):,} videos kept")

    events = _events(data, user_code, item_code)
    meta = {
        "name": f"kuairec_{matrix}",
        "source": "KuaiRec (Gao et al., CIKM 2022), data_prep.kuairec",
        "source_files": common.source_files(*source),
        "timestamps": "absent" if missing_timestamps == "ignore" else "seconds",
        "matrix": matrix,
        "missing_timestamps": missing_timestamps,
        "event_columns": list(EVENT_EXTRAS),
        "feature_values": vocab,
        "autodenoise_label": {
            "rule": "watch_ratio > 1 (label='rating', rating_threshold below)",
            "rating_threshold": AUTODENOISE_THRESHOLD,
            "source": "github.com/Applied-Machine-Learning-Lab/AutoDenoise "
            "torchfm/dataset/kuaiRec.py",
        },
    }
    return common.write_dataset(
        output,
        users,
        items,
        events,
        meta,
        mappings,
        report,
        progress,
        overwrite=overwrite,
    )


def main(argv):
    values = common.command_flags(argv)
    common.run(
        convert,
        values.input,
        values.output,
        matrix=values.matrix,
        missing_timestamps=values.missing_timestamps,
        overwrite=values.overwrite,
    )


if __name__ == "__main__":
    from absl import app, flags

    common.define_io_flags(
        "The KuaiRec data folder (small_matrix.csv or big_matrix.csv, optional "
        "item_categories.csv and user_features.csv).",
        "data/kuairec",
    )
    flags.DEFINE_enum(
        "matrix", "small", list(MATRICES), "Which interaction matrix to convert."
    )
    flags.DEFINE_enum(
        "missing_timestamps",
        "error",
        list(MISSING_TIMESTAMPS),
        "What a row with an empty timestamp does: error, drop (counted), or ignore "
        "(keep every row, discard all times: random split only).",
    )
    app.run(main)
