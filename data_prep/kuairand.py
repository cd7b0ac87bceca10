"""KuaiRand (Gao et al., CIKM 2022) -> the canonical schema.

Input: a KuaiRand ``data`` folder; the Pure, 1K and 27K variants share the format
and differ in file-name suffixes (``_pure``, ``_1k``, ``_27k_part1`` ...):

- the standard logs ``log_standard_*.csv`` (or ``.gz``; one or several files, e.g.
  ``4_08_to_4_21`` and ``4_22_to_5_08``) and, when present, the random-exposure
  log ``log_random_*.csv``; or the files named by ``--logs``. Comma-separated with
  a header naming the columns ``user_id, video_id, date, hourmin, time_ms,
  is_click, is_like, is_follow, is_comment, is_forward, is_hate, long_view,
  play_time_ms, duration_ms, profile_stay_time, comment_stay_time,
  is_profile_enter, is_rand, tab`` (found by name, in any order; other columns
  are ignored). Logs are streamed block by block (the 27K logs hold 322 M rows);
- ``user_features*.csv`` (or ``--user_features``): ``user_id``, the strings
  ``user_active_degree`` and ``*_range`` (``follow_user_num_range``,
  ``fans_user_num_range``, ``friend_user_num_range``, ``register_days_range``),
  the integers ``is_lowactive_period``, ``is_live_streamer``,
  ``is_video_author`` and ``onehot_feat0`` .. ``onehot_feat17`` (written ``1`` or
  ``1.0``; empty when missing);
- ``video_features_basic*.csv`` (or ``--video_features``): ``video_id``,
  ``author_id``, ``video_type``, ``upload_type``, ``video_duration`` (ms, float
  text), ``music_type`` (float text) and ``tag``, the video's tags as a quoted
  comma-separated list of integers (``39`` or ``"39,68"``; empty when none).

Feature files use CSV quoting and are streamed too (the 27K video file has 32 M
rows); every value is checked, and errors name the file, line and column.

Output, one exposure = one log row:

- an ``impression`` event per exposure, plus ``click`` when ``is_click`` = 1,
  ``like`` when ``is_like`` = 1 and ``dislike`` when ``is_hate`` = 1 (the DUMN
  mapping: is_hate is the explicit dislike; like and dislike are emitted whether
  or not the exposure was clicked). All events of an exposure share its
  ``timestamp`` = ``time_ms // 1000`` and one ``request_id`` (one per exposure,
  numbered in time order), so the CTR builder matches a click to exactly its own
  impression. Events are ordered by ``time_ms`` before the schema's stable sort by
  seconds, so sub-second order survives; ``value`` is 1.0.
- integer event columns carried by every event of an exposure: ``is_follow``,
  ``is_comment``, ``is_forward``, ``long_view``, ``is_profile_enter``,
  ``play_time_ms``, ``duration_ms``, ``is_rand`` and ``tab`` (the scenario code,
  kept as is). ``profile_stay_time``, ``comment_stay_time``, ``date`` and
  ``hourmin`` are checked but not kept (``date``/``hourmin`` repeat ``time_ms``
  in Beijing time, the hour rounded: a log whose ``time_ms`` mostly disagrees
  with them by more than a day, e.g. seconds instead of milliseconds, is an
  error naming the first such line; fewer are counted).
- users: ``user_active_degree``, ``is_lowactive_period``, ``is_live_streamer``,
  ``is_video_author``, the four ``*_range`` columns and ``onehot_feat0..17``. The
  raw counts (``follow_user_num``, ``fans_user_num``, ``friend_user_num``,
  ``register_days``) are left out: their ``*_range`` columns carry them as
  categories.
- items: ``category`` = the first tag of ``tag``; ``brand`` = ``author_id``
  (remapped); ``video_type``, ``upload_type``, ``music_type`` and
  ``duration_bucket`` (``video_duration`` in seconds cut at 7, 18, 30, 60, 120
  and 300: codes 1-7; 7 s and 18 s are KuaiRand's valid-play and long-view
  limits).
- every feature column (category and brand included) is coded the same way: 0
  = missing (empty), 1.. = the column's distinct values among the kept rows in
  sorted order (numeric order for numbers). The values are listed in
  ``meta.json`` ``feature_values``; ``category_ids.parquet`` and
  ``brand_ids.parquet`` map the codes back to the first tag and the author id
  (original -1 for code 0).

Rules (each counted in ``meta.json``):

- 0/1 columns (``is_click`` .. ``is_rand``) hold 0 or 1, the other numbers are
  non-negative integers and ``time_ms`` a millisecond time before 2100; anything
  else is an error; a log whose times mostly fall outside 2022-04..05 is an
  error naming the unit they look like, fewer such rows are counted;
- an exact duplicate log row (every one of the 19 columns equal, the logs taken
  together) is kept once; 5,460 on the held KuaiRand-Pure extract;
- exposures are ordered by ``time_ms``; rows earlier than the previous row of
  their user in the same file are counted;
- every row of a ``log_random_*`` file gets ``is_rand`` = 1 (rows whose column
  said 0 are counted);
- a log user or video missing from its feature file is an error (the KuaiRand
  feature files list every user and video of their variant, so a miss means
  files of different variants were mixed); feature rows of users and videos
  without an exposure are left out, counted; an id listed twice among the kept
  rows is an error;
- an empty feature value gets code 0 (counted per column).

Command:
  python -m data_prep.kuairand --input ../shared/datasets/kuairand-pure \\
      --output data/kuairand
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_prep import common
from recsys_tf.data import schema

BINARY_COLUMNS = (
    "is_click",
    "is_like",
    "is_follow",
    "is_comment",
    "is_forward",
    "is_hate",
    "long_view",
    "is_profile_enter",
    "is_rand",
)
COUNT_COLUMNS = (
    "play_time_ms",
    "duration_ms",
    "profile_stay_time",
    "comment_stay_time",
)
LOG_COLUMNS = (
    "user_id",
    "video_id",
    "date",
    "hourmin",
    "time_ms",
    *BINARY_COLUMNS[:7],
    "play_time_ms",
    "duration_ms",
    "profile_stay_time",
    "comment_stay_time",
    "is_profile_enter",
    "is_rand",
    "tab",
)
EVENT_EXTRAS = (
    "is_follow",
    "is_comment",
    "is_forward",
    "long_view",
    "is_profile_enter",
    "play_time_ms",
    "duration_ms",
    "is_rand",
    "tab",
)
"""Integer event columns kept from the log (every event of an exposure)."""

USER_FEATURES = {
    "user_active_degree": "string",
    "is_lowactive_period": "integer",
    "is_live_streamer": "integer",
    "is_video_author": "integer",
    "follow_user_num_range": "string",
    "fans_user_num_range": "string",
    "friend_user_num_range": "string",
    "register_days_range": "string",
    **{f"onehot_feat{i}": "integer" for i in range(18)},
}
"""User feature columns (shared with KuaiRec's user_features.csv) and their kind."""

DURATION_EDGES_SECONDS = (7, 18, 30, 60, 120, 300)
_BIT = {name: 1 << i for i, name in enumerate(BINARY_COLUMNS)}
_TAGS = r"^\s*[0-9]+(\s*,\s*[0-9]+)*\s*$"
_MISSING_RULE = (
    "an empty feature value gets code 0 (every feature column: 0 = missing, "
    "1.. = its distinct values in sorted order)"
)


# --------------------------------------------------------------------------
# Feature values: parsers and codes.
# --------------------------------------------------------------------------


def _bad(path, field, lines, index, expected, got):
    got_text = "an empty value" if got == "" else repr(got)
    raise common.FormatError(
        path, f"expected {expected}, got {got_text}", int(lines[index]), field
    )


def parse_feature(
    values: pa.Array, path: str, field: str, lines: np.ndarray, kind: str
):
    """A feature column -> (values, missing mask); an empty value is missing.

    Kinds: ``string`` (trimmed text), ``integer`` (an integral number, ``3`` or
    ``3.0``), ``duration`` (a finite number >= 0).
    """
    trimmed = pc.utf8_trim_whitespace(values)
    missing = pc.equal(pc.utf8_length(trimmed), 0).to_numpy(zero_copy_only=False)
    if kind == "string":
        return trimmed.to_numpy(zero_copy_only=False), missing
    present = np.flatnonzero(~missing)
    out = np.zeros(len(values), np.float64)
    if len(present):
        numbers = common.parse_float(
            trimmed.take(pa.array(present)),
            path,
            field,
            0,
            line_numbers=lines[present],
            minimum=0 if kind == "duration" else None,
        )
        out[present] = numbers
        if kind == "integer":
            bad = (numbers != np.floor(numbers)) | (np.abs(numbers) > 2**53)
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                _bad(
                    path,
                    field,
                    lines[present],
                    first,
                    "an integer",
                    trimmed[present[first]].as_py(),
                )
    if kind == "integer":
        return out.astype(np.int64), missing
    return out, missing


def parse_first_tag(
    values: pa.Array, path: str, field: str, lines: np.ndarray, bracketed: bool = False
):
    """A list of integer tags -> (the first tag, missing mask).

    ``"39,68"`` (KuaiRand ``tag``; empty = no tag) or, with `bracketed`,
    ``"[27, 9]"`` (KuaiRec ``feat``; ``[]`` = no tag). Anything else is an error.
    """
    trimmed = pc.utf8_trim_whitespace(values)
    if bracketed:
        pattern = r"^\[\s*([0-9]+(\s*,\s*[0-9]+)*)?\s*\]$"
        expected = "a list of integer tags such as [8] or [27, 9]"
    else:
        pattern = r"^$|" + _TAGS
        expected = "comma-separated integer tags such as 39 or 39,68 (or nothing)"
    ok = pc.match_substring_regex(trimmed, pattern).to_numpy(zero_copy_only=False)
    if not ok.all():
        first = int(np.flatnonzero(~ok)[0])
        _bad(path, field, lines, first, expected, values[first].as_py())
    inner = trimmed
    if bracketed:
        inner = pc.utf8_trim(pc.utf8_trim(trimmed, "[]"), " ")
    head = pc.utf8_trim_whitespace(
        pc.list_element(pc.split_pattern(inner, ",", max_splits=1), 0)
    )
    missing = pc.equal(pc.utf8_length(head), 0).to_numpy(zero_copy_only=False)
    filled = pc.if_else(pc.equal(pc.utf8_length(head), 0), "0", head)
    return common.parse_int(filled, path, field, 0, line_numbers=lines), missing


def _kind_parser(kind):
    def parser(values, path, field, lines):
        return parse_feature(values, path, field, lines, kind)

    return parser


def read_user_features(
    path: str,
    users: np.ndarray,
    report: common.Report,
    block_bytes: int = common.BLOCK_BYTES,
):
    """KuaiRand / KuaiRec ``user_features.csv`` -> (coded columns, vocabularies).

    Args:
        path: the file.
        users: the original ids of the log's users (sorted): the output rows.
        report: counts users left out and missing values.
        block_bytes: bytes read at a time.
    """
    parsers = {name: _kind_parser(kind) for name, kind in USER_FEATURES.items()}
    table = common.read_features(path, "user_id", parsers, users, block_bytes)
    report.count(
        "users_without_events_dropped",
        table.rows_read - len(table.ids),
        "feature-file users with no event are left out",
    )
    table = table.align(users, "user")
    return _encode_columns(table, USER_FEATURES, report)


def _encode_columns(table: common.FeatureTable, names, report):
    coded, vocab = {}, {}
    for name in names:
        values, missing = table.columns[name]
        coded[name], vocab[name] = common.feature_codes(values, missing)
        if missing.any():
            report.count(f"missing_{name}", int(missing.sum()), _MISSING_RULE)
    return coded, vocab


# --------------------------------------------------------------------------
# KuaiRand.
# --------------------------------------------------------------------------


def _glob_one_kind(folder: str, pattern: str) -> list[str]:
    paths = sorted(
        set(glob.glob(os.path.join(folder, pattern)))
        | set(glob.glob(os.path.join(folder, pattern + ".gz")))
    )
    for path in paths:
        if path.endswith(".gz") and path[:-3] in paths:
            raise common.FormatError(
                path,
                f"both {os.path.basename(path[:-3])} and its .gz are present; remove one "
                "or name the files with a flag",
            )
    return paths


def find_logs(folder: str, include_random: bool = True) -> list[str]:
    """The standard logs (sorted by name), then the random logs, of `folder`."""
    logs = _glob_one_kind(folder, "log_standard_*.csv")
    if include_random:
        logs += _glob_one_kind(folder, "log_random_*.csv")
    if not logs:
        raise common.FormatError(
            os.path.join(folder, "log_standard_*.csv"),
            "no log file found (looked for log_standard_*.csv and log_random_*.csv, "
            "also gzipped); name them with --logs",
        )
    return logs


def find_feature_file(folder: str, prefix: str, flag: str) -> str:
    """The one ``<prefix>*.csv[.gz]`` file of `folder`."""
    paths = _glob_one_kind(folder, prefix + "*.csv")
    if not paths:
        raise common.FormatError(
            os.path.join(folder, prefix + "*.csv"),
            f"file not found (looked for {prefix}*.csv, also gzipped); name it with --{flag}",
        )
    if len(paths) > 1:
        raise common.FormatError(
            os.path.join(folder, prefix + "*.csv"),
            f"{len(paths)} candidate files ({', '.join(os.path.basename(p) for p in paths)}); "
            f"name one with --{flag}",
        )
    return paths[0]


def is_random_log(path: str) -> bool:
    return os.path.basename(path).startswith("log_random")


LOG_FIELDS = (
    "user",
    "video",
    "date",
    "hourmin",
    "time_ms",
    "flags",
    "tab",
    *COUNT_COLUMNS,
)
"""The per-exposure arrays read from a log; together they hold all 19 columns."""


def read_log(path: str, block_bytes: int = common.BLOCK_BYTES) -> dict[str, np.ndarray]:
    """Streams one log file -> one array per `LOG_FIELDS` name (0/1 columns as bits)."""
    columns = common.Columns()
    for block, raw in common.iter_csv(path, LOG_COLUMNS, block_bytes):

        def number(name, raw=raw, line=block.first_line, **bounds):
            return common.parse_int(raw[name], path, name, line, **bounds)

        flags = np.zeros(block.num_lines, np.int16)
        for name in BINARY_COLUMNS:
            flags |= (number(name, minimum=0, maximum=1) * _BIT[name]).astype(np.int16)
        columns.add(
            user=number("user_id", minimum=0),
            video=number("video_id", minimum=0),
            date=number("date", minimum=0),
            hourmin=number("hourmin", minimum=0),
            time_ms=number("time_ms", minimum=0, maximum=schema.MAX_TIMESTAMP * 1000),
            flags=flags,
            tab=number("tab", minimum=0),
            **{name: number(name, minimum=0) for name in COUNT_COLUMNS},
        )
    if not len(columns):
        return {}
    return {name: columns.pop(name) for name in LOG_FIELDS}


TIME_WINDOW = common.TimeWindow(
    "2022-04-01", "2022-05-31", "KuaiRand's logs span 2022-04-08..2022-05-08"
)
"""The plausible span of ``time_ms`` (`common.WindowCheck`)."""

CLOCK_OFFSET_S = 8 * 3600
"""``date`` / ``hourmin`` are Beijing time (UTC+8)."""

CLOCK_TOLERANCE_S = 86400
"""Largest gap between ``time_ms`` and ``date`` + ``hourmin``: ``hourmin`` is
rounded to an hour (up to 2.5 h off on the held extract, a few rows dated the
next day near midnight); a wrong unit is off by decades."""


def check_clock(part: dict[str, np.ndarray], path: str) -> int:
    """Cross-checks ``time_ms`` against ``date`` and ``hourmin`` of one log.

    Args:
        part: the arrays `read_log` returned (rows in file order, line = row + 2).
        path: the log, for messages.

    Returns:
        The rows whose ``time_ms`` is more than `CLOCK_TOLERANCE_S` from their
        ``date`` + ``hourmin`` (kept, counted by the caller).

    Raises:
        FormatError: a ``date`` that is no calendar day, or most rows off, naming
            the first one's line, ``time_ms``, what it should hold and the unit
            its values look like.
    """
    date, hourmin, time_ms = part["date"], part["hourmin"], part["time_ms"]
    day = pd.to_datetime(
        pd.Series(date).astype(str), format="%Y%m%d", errors="coerce"
    ).to_numpy()
    bad = np.isnat(day) | (hourmin % 100 >= 60) | (hourmin >= 2400)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        field = "date" if np.isnat(day[row]) else "hourmin"
        value = date[row] if field == "date" else hourmin[row]
        expected = "a day YYYYMMDD" if field == "date" else "a time HHMM"
        raise common.FormatError(
            path, f"expected {expected}, got {value}", row + 2, field
        )
    clock = (
        day.astype("datetime64[s]").astype(np.int64)
        + (hourmin // 100) * 3600
        + (hourmin % 100) * 60
        - CLOCK_OFFSET_S
    )
    off = np.abs(time_ms / 1000 - clock) > CLOCK_TOLERANCE_S
    if off.sum() * 2 <= len(off):
        return int(off.sum())
    row = int(np.flatnonzero(off)[0])
    looks = [
        unit
        for unit, scale in common.TIME_UNITS.items()
        if abs(time_ms[row] * scale - clock[row]) <= CLOCK_TOLERANCE_S
    ]
    raise common.FormatError(
        path,
        f"expected milliseconds since 1970 matching date {date[row]} and hourmin "
        f"{hourmin[row]} (UTC+8), got {time_ms[row]}"
        + (f": the values look like {looks[0]}" if looks else "")
        + f" ({int(off.sum()):,} of {len(off):,} rows disagree)",
        row + 2,
        "time_ms",
    )


def read_logs(
    paths, report, progress, block_bytes=common.BLOCK_BYTES
) -> dict[str, np.ndarray]:
    """All logs -> one array per `LOG_FIELDS` name, exact duplicates removed (counted)."""
    parts = []
    out_of_order = random_unset = off_clock = outside = 0
    for path in paths:
        part = read_log(path, block_bytes)
        rows = len(part["user"]) if part else 0
        report.count(f"rows_{os.path.basename(path)}", rows)
        progress("read log", f"{path}: {rows:,} rows")
        if not rows:
            continue
        off_clock += check_clock(part, path)
        window = common.WindowCheck(TIME_WINDOW, path, "time_ms", "milliseconds")
        window.add(part["time_ms"], np.arange(rows) + 2)
        outside += window.finish()
        out_of_order += common.count_out_of_order(part["user"], part["time_ms"])
        if is_random_log(path):
            random_unset += int(
                np.count_nonzero((part["flags"] & _BIT["is_rand"]) == 0)
            )
            part["flags"] |= _BIT["is_rand"]
        parts.append(part)
    if not parts:
        raise common.FormatError(paths[0], "no exposures in the log file(s)")
    data = {name: np.concatenate([p[name] for p in parts]) for name in LOG_FIELDS}
    del parts
    report.count("lines_read", len(data["user"]))
    report.count(
        "out_of_order",
        out_of_order,
        "exposures are ordered by time_ms; this many came earlier than the previous "
        "row of their user in the same file",
    )
    report.count(
        "time_ms_off_date_hourmin",
        off_clock,
        f"rows whose time_ms is more than {CLOCK_TOLERANCE_S // 3600} h from their "
        "date + hourmin (UTC+8) are kept; most rows off would be an error",
    )
    common.count_outside_window(report, outside, TIME_WINDOW)
    report.count(
        "random_log_rows_set_is_rand",
        random_unset,
        "every row of a log_random_* file gets is_rand = 1; this many said 0",
    )
    for name in ("is_click", "is_like", "is_hate"):
        report.count(
            f"{name}_rows_read", int(np.count_nonzero(data["flags"] & _BIT[name]))
        )
    dup = common.duplicate_mask(*(data[name] for name in LOG_FIELDS))
    report.count(
        "duplicate_rows_dropped",
        int(dup.sum()),
        "an exact duplicate log row (all 19 columns equal, the logs taken together) "
        "is kept once",
    )
    if dup.any():
        data = {name: values[~dup] for name, values in data.items()}
    progress("deduplicated", f"{len(data['user']):,} exposures")
    return data


def _events(data, user_code, item_code):
    """Exposures -> the events table (impression, click, like, dislike)."""
    n = len(user_code)
    order = np.lexsort((np.arange(n), user_code, data["time_ms"]))
    request = np.empty(n, np.int64)
    request[order] = np.arange(n, dtype=np.int64)
    flags = data["flags"]
    rows = [np.arange(n)]
    kinds = [np.full(n, common.EVENT_CODES["impression"], np.int8)]
    for flag, event in (
        ("is_click", "click"),
        ("is_like", "like"),
        ("is_hate", "dislike"),
    ):
        chosen = np.flatnonzero(flags & _BIT[flag])
        rows.append(chosen)
        kinds.append(np.full(len(chosen), common.EVENT_CODES[event], np.int8))
    rows = np.concatenate(rows)
    kinds = np.concatenate(kinds)
    sort = np.lexsort((kinds, request[rows]))
    rows, kinds = rows[sort], kinds[sort]
    events = {
        "user_id": user_code[rows],
        "item_id": item_code[rows],
        "timestamp": data["time_ms"][rows] // 1000,
        "event": common.event_column(kinds),
        "value": np.ones(len(rows)),
        "request_id": request[rows],
    }
    for name in EVENT_EXTRAS:
        if name in BINARY_COLUMNS:
            events[name] = ((flags[rows] & _BIT[name]) != 0).astype(np.int64)
        else:
            events[name] = data[name][rows].astype(np.int64)
    return pd.DataFrame(events)


ITEM_FEATURES = {
    "video_type": "string",
    "upload_type": "string",
    "music_type": "integer",
}


def read_video_features(path, videos, report, block_bytes=common.BLOCK_BYTES):
    """``video_features_basic`` -> (items table, category originals, brand originals, vocabularies)."""
    parsers = {
        "author_id": _kind_parser("integer"),
        "tag": parse_first_tag,
        "video_duration": _kind_parser("duration"),
        **{name: _kind_parser(kind) for name, kind in ITEM_FEATURES.items()},
    }
    table = common.read_features(path, "video_id", parsers, videos, block_bytes)
    report.count(
        "videos_without_events_dropped",
        table.rows_read - len(table.ids),
        "feature-file videos with no event are left out",
    )
    table = table.align(videos, "video")
    coded, vocab = _encode_columns(table, ("tag", "author_id", *ITEM_FEATURES), report)
    duration, missing = table.columns["video_duration"]
    if missing.any():
        report.count("missing_video_duration", int(missing.sum()), _MISSING_RULE)
    edges = np.asarray(DURATION_EDGES_SECONDS, np.float64) * 1000
    bucket = np.where(missing, 0, 1 + np.searchsorted(edges, duration, side="right"))
    items = pd.DataFrame(
        {
            "item_id": np.arange(len(videos), dtype=np.int64),
            "category": coded["tag"],
            "brand": coded["author_id"],
            **{name: coded[name] for name in ITEM_FEATURES},
            "duration_bucket": bucket.astype(np.int64),
        }
    )
    category = np.asarray([-1, *vocab.pop("tag")], np.int64)
    brand = np.asarray([-1, *vocab.pop("author_id")], np.int64)
    vocab["duration_bucket"] = [
        f"[{lo}, {hi}) s"
        for lo, hi in zip(
            (0, *DURATION_EDGES_SECONDS), (*DURATION_EDGES_SECONDS, "inf")
        )
    ]
    return items, category, brand, vocab


def convert(
    input: str,
    output: str,
    logs: list[str] | None = None,
    user_features: str | None = None,
    video_features: str | None = None,
    include_random: bool = True,
    block_bytes: int = common.BLOCK_BYTES,
    overwrite: bool = False,
):
    """Converts the KuaiRand folder `input` into the dataset folder `output`.

    Args:
        input: the folder of the original files.
        output: the dataset folder to write.
        logs: log file names inside `input` (default: every
            ``log_standard_*.csv[.gz]``, then ``log_random_*.csv[.gz]``).
        user_features: the user feature file name (default: the one
            ``user_features*.csv[.gz]``).
        video_features: the video feature file name (default: the one
            ``video_features_basic*.csv[.gz]``).
        include_random: whether the default logs include ``log_random_*``.
        block_bytes: bytes read at a time.
        overwrite: whether to replace an `output` that holds more than a
            dataset (`common.check_output`); a dataset folder is always replaced
            whole.

    Returns:
        The written `EventLog`.
    """
    common.check_output(output, overwrite)
    progress = common.Progress("kuairand")
    report = common.Report()
    common.require_folder(input)
    if logs:
        log_paths = [common.require_file(os.path.join(input, name)) for name in logs]
    else:
        log_paths = find_logs(input, include_random)
    users_path = (
        common.require_file(os.path.join(input, user_features))
        if user_features
        else find_feature_file(input, "user_features", "user_features")
    )
    videos_path = (
        common.require_file(os.path.join(input, video_features))
        if video_features
        else find_feature_file(input, "video_features_basic", "video_features")
    )
    data = read_logs(log_paths, report, progress, block_bytes)
    user_code, user_originals = common.remap(data.pop("user"))
    item_code, item_originals = common.remap(data.pop("video"))

    coded, user_vocab = read_user_features(
        users_path, user_originals, report, block_bytes
    )
    users = pd.DataFrame(
        {"user_id": np.arange(len(user_originals), dtype=np.int64), **coded}
    )
    progress("read users", f"{users_path}: {len(users):,} users kept")
    items, category, brand, item_vocab = read_video_features(
        videos_path, item_originals, report, block_bytes
    )
    progress("read videos", f"{videos_path}: {len(items):,} videos kept")

    events = _events(data, user_code, item_code)
    for event in ("impression", "click", "like", "dislike"):
        report.count(f"{event}_events", int((events["event"] == event).sum()))
    meta = {
        "name": "kuairand",
        "source": "KuaiRand (Gao et al., CIKM 2022), data_prep.kuairand",
        "source_files": common.source_files(*log_paths, users_path, videos_path),
        "timestamps": "seconds",
        "event_columns": list(EVENT_EXTRAS),
        "feature_values": {**user_vocab, **item_vocab},
    }
    return common.write_dataset(
        output,
        users,
        items,
        events,
        meta,
        {
            "user": user_originals,
            "item": item_originals,
            "category": category,
            "brand": brand,
        },
        report,
        progress,
        overwrite=overwrite,
    )


def _names(value):
    return (
        [name.strip() for name in value.split(",") if name.strip()] if value else None
    )


def main(argv):
    values = common.command_flags(argv)
    common.run(
        convert,
        values.input,
        values.output,
        logs=_names(values.logs),
        user_features=values.user_features,
        video_features=values.video_features,
        include_random=values.include_random,
        overwrite=values.overwrite,
    )


if __name__ == "__main__":
    from absl import app, flags

    common.define_io_flags(
        "The KuaiRand data folder (log_standard_*.csv, log_random_*.csv, "
        "user_features*.csv, video_features_basic*.csv).",
        "data/kuairand",
    )
    flags.DEFINE_string(
        "logs", None, "Comma-separated log file names in --input (default: all logs)."
    )
    flags.DEFINE_string(
        "user_features",
        None,
        "User feature file name in --input (default: user_features*.csv).",
    )
    flags.DEFINE_string(
        "video_features",
        None,
        "Video feature file name in --input (default: video_features_basic*.csv).",
    )
    flags.DEFINE_boolean(
        "include_random", True, "Include log_random_*.csv when --logs is not given."
    )
    app.run(main)
