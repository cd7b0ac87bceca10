"""The canonical event-log schema shared by every dataset of the suite.

A dataset is a folder with three Parquet tables and a JSON sidecar:

- ``users.parquet``: ``user_id`` (int64, contiguous ``0..num_users-1``) plus any
  number of integer feature columns (categorical codes) and ``truth_*`` columns.
- ``items.parquet``: ``item_id`` (int64, contiguous ``0..num_items-1``),
  ``category`` and ``brand`` (int64 codes, ``>= 0``), plus optional integer
  feature columns and ``truth_*`` columns.
- ``events.parquet``: one row per event with ``user_id``, ``item_id``,
  ``timestamp`` (int64 seconds since the Unix epoch), ``event`` (one of
  `EVENT_TYPES`) and ``value`` (float64: the rating for ``rating`` events, 1.0
  otherwise). Optional columns: ``request_id`` (int64, groups the impressions of
  one page and the feedback given on them), ``truth_pref`` (float64, the planted
  true preference), ``truth_accidental`` (bool: a click the user did not mean)
  and ``truth_missed`` (bool: an impression the user wanted but did not click).
- ``meta.json``: name, source and the generator or converter settings.

A simulator may also leave ``truth.npz`` (planted latent factors) beside them.

Every table is validated on load; a violation raises `SchemaError` naming the
file, the column, the first offending row (0-based, in file order) and what was
expected, so bad input never turns into a silently wrong result.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np
import pandas as pd

EVENT_TYPES = (
    "impression",
    "click",
    "like",
    "dislike",
    "cart",
    "fav",
    "buy",
    "rating",
)
"""Event types of the canonical schema, in a fixed order (their integer codes)."""

USERS_FILE = "users.parquet"
ITEMS_FILE = "items.parquet"
EVENTS_FILE = "events.parquet"
META_FILE = "meta.json"
TRUTH_FILE = "truth.npz"
# Statistics that `data_prep.describe` writes beside a dataset: not data.
STATS_FILE = "stats.json"

# Timestamps are seconds since the epoch; anything outside this window is a unit
# error (milliseconds) or garbage. 4102444800 is 2100-01-01.
MIN_TIMESTAMP = 0
MAX_TIMESTAMP = 4_102_444_800

_INT = "integer"
_FLOAT = "float"
_BOOL = "bool"
_EVENT = "event"

USER_COLUMNS = {"user_id": _INT}
ITEM_COLUMNS = {"item_id": _INT, "category": _INT, "brand": _INT}
EVENT_COLUMNS = {
    "user_id": _INT,
    "item_id": _INT,
    "timestamp": _INT,
    "event": _EVENT,
    "value": _FLOAT,
}
OPTIONAL_EVENT_COLUMNS = {
    "request_id": _INT,
    "truth_pref": _FLOAT,
    "truth_accidental": _BOOL,
    "truth_missed": _BOOL,
}

_EXPECTED = {
    _INT: "an integer (int64, no missing values)",
    _FLOAT: "a finite float",
    _BOOL: "a boolean (no missing values)",
    _EVENT: f"one of {', '.join(EVENT_TYPES)}",
}


class SchemaError(ValueError):
    """A table does not follow the canonical schema.

    Attributes:
        file: the file (or table name) at fault.
        column: the offending column, or None for table-level errors.
        row: the first offending row (0-based), or None.
    """

    def __init__(self, file, message, column=None, row=None):
        self.file = str(file)
        self.column = column
        self.row = row
        where = [self.file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}")


@dataclasses.dataclass
class EventLog:
    """A dataset in the canonical schema.

    Attributes:
        users: the users table.
        items: the items table.
        events: the events table, sorted by (timestamp, user_id) once validated.
        meta: free-form metadata (name, source, generator settings).
        path: the folder it was read from, if any.
    """

    users: pd.DataFrame
    items: pd.DataFrame
    events: pd.DataFrame
    meta: dict = dataclasses.field(default_factory=dict)
    path: str | None = None

    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def num_items(self) -> int:
        return len(self.items)

    def events_of(self, *types: str) -> pd.DataFrame:
        """The events whose type is one of `types`."""
        unknown = sorted(set(types) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(
                f"Unknown event type(s) {unknown}; expected any of {EVENT_TYPES}."
            )
        return self.events[self.events["event"].isin(types)]

    def truth(self) -> dict[str, np.ndarray]:
        """The planted latent factors left by the simulator (``truth.npz``)."""
        if self.path is None:
            raise FileNotFoundError("This event log was not read from a folder.")
        file = os.path.join(self.path, TRUTH_FILE)
        if not os.path.exists(file):
            raise FileNotFoundError(
                f"{file}: no planted truth here; only simulated datasets have it."
            )
        with np.load(file) as data:
            return {key: data[key] for key in data.files}


def _first_bad_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(
        value, (bool, np.bool_)
    )


def _check_column(frame: pd.DataFrame, file: str, column: str, kind: str) -> None:
    series = frame[column]
    expected = _EXPECTED[kind]

    def fail(mask, got=None):
        row = _first_bad_row(mask)
        shown = repr(series.iloc[row]) if got is None else got
        raise SchemaError(file, f"expected {expected}, got {shown}", column, row)

    if kind == _EVENT:
        if isinstance(series.dtype, pd.CategoricalDtype):
            # Check the few categories, then the rows only through their codes.
            allowed = np.array([str(c) in EVENT_TYPES for c in series.cat.categories])
            codes = series.cat.codes.to_numpy()
            bad = (codes < 0) | ~np.append(allowed, False)[codes]
        else:
            bad = ~series.astype("string").isin(EVENT_TYPES).fillna(False).to_numpy(
                bool
            )
        if bad.any():
            fail(bad)
        return
    missing = series.isna().to_numpy()
    if kind == _BOOL:
        if missing.any():
            fail(missing, "a missing value (NaN/None)")
        if not pd.api.types.is_bool_dtype(series):
            bad = ~series.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(bool)
            fail(bad if bad.any() else np.ones(len(series), bool))
        return
    if pd.api.types.is_bool_dtype(series):
        fail(np.ones(len(series), bool), f"booleans (dtype {series.dtype})")
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        not_number = ~series.map(_is_number).to_numpy(bool) & ~missing
        if not_number.any():
            fail(not_number)
        values = pd.to_numeric(series, errors="coerce").to_numpy(np.float64)
    if missing.any():
        fail(missing, "a missing value (NaN/None)")
    if kind == _INT:
        bad = ~np.isfinite(values) | (values != np.round(values))
    else:
        bad = ~np.isfinite(values)
    if bad.any():
        fail(bad)


def _check_columns(frame, file, required, optional=None):
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(file, f"expected a table, got {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        expected = ", ".join(f"{c} ({_EXPECTED[k]})" for c, k in required.items())
        raise SchemaError(
            file,
            f"missing column(s) {missing}; the table needs {expected}",
        )
    for column, kind in required.items():
        _check_column(frame, file, column, kind)
    for column, kind in (optional or {}).items():
        if column in frame.columns:
            _check_column(frame, file, column, kind)
    for column in frame.columns:
        if column in required or column in (optional or {}):
            continue
        if str(column).startswith("truth_"):
            kind = _BOOL if pd.api.types.is_bool_dtype(frame[column]) else _FLOAT
            _check_column(frame, file, column, kind)
        else:
            _check_column(frame, file, column, _INT)


def _check_ids(frame, file, column):
    ids = frame[column].to_numpy().astype(np.int64)
    n = len(ids)
    bad = (ids < 0) | (ids >= n)
    if bad.any():
        row = _first_bad_row(bad)
        raise SchemaError(
            file,
            f"ids must be contiguous integers in [0, {n}) (one row per id), "
            f"got {ids[row]}",
            column,
            row,
        )
    order = np.argsort(ids, kind="stable")
    dup = np.zeros(n, dtype=bool)
    sorted_ids = ids[order]
    dup[order[1:]] = sorted_ids[1:] == sorted_ids[:-1]
    if dup.any():
        row = _first_bad_row(dup)
        raise SchemaError(file, f"duplicate id {ids[row]}", column, row)


def _check_non_negative(frame, file, column):
    values = frame[column].to_numpy()
    bad = values < 0
    if bad.any():
        row = _first_bad_row(bad)
        raise SchemaError(
            file, f"expected a non-negative code, got {values[row]}", column, row
        )


_EVENT_DTYPE = pd.CategoricalDtype(list(EVENT_TYPES))
_DTYPES = {
    _INT: np.dtype(np.int64),
    _FLOAT: np.dtype(np.float64),
    _BOOL: np.dtype(bool),
}


def _normalise(frame: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Canonical dtypes, converting only the columns that differ (no full copy:
    pandas' copy-on-write keeps the caller's frame unchanged)."""
    frame = frame.reset_index(drop=True)
    for column in frame.columns:
        kind = spec.get(column)
        if kind is None:
            if str(column).startswith("truth_"):
                continue
            kind = _INT
        series = frame[column]
        if kind == _EVENT:
            if isinstance(series.dtype, pd.CategoricalDtype):
                if list(series.cat.categories) != list(EVENT_TYPES):
                    frame[column] = series.astype(str).astype(_EVENT_DTYPE)
            else:
                frame[column] = series.astype(str).astype(_EVENT_DTYPE)
        elif series.dtype != _DTYPES[kind]:
            frame[column] = series.astype(_DTYPES[kind])
    return frame


def _sorted_by(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Stable sort by `keys`, skipped when the rows are already in that order."""
    first = frame[keys[0]].to_numpy()
    second = frame[keys[1]].to_numpy()
    ordered = bool(
        np.all(
            (first[1:] > first[:-1])
            | ((first[1:] == first[:-1]) & (second[1:] >= second[:-1]))
        )
    )
    if ordered:
        return frame
    return frame.sort_values(keys, kind="stable", ignore_index=True)


def validate_users(users: pd.DataFrame, file: str = USERS_FILE) -> pd.DataFrame:
    """Checks a users table and returns it with canonical dtypes."""
    _check_columns(users, file, USER_COLUMNS)
    _check_ids(users, file, "user_id")
    return _normalise(users, USER_COLUMNS).sort_values("user_id", ignore_index=True)


def validate_items(items: pd.DataFrame, file: str = ITEMS_FILE) -> pd.DataFrame:
    """Checks an items table and returns it with canonical dtypes."""
    _check_columns(items, file, ITEM_COLUMNS)
    _check_ids(items, file, "item_id")
    _check_non_negative(items, file, "category")
    _check_non_negative(items, file, "brand")
    return _normalise(items, ITEM_COLUMNS).sort_values("item_id", ignore_index=True)


def validate_events(
    events: pd.DataFrame,
    num_users: int,
    num_items: int,
    file: str = EVENTS_FILE,
) -> pd.DataFrame:
    """Checks an events table against the users and items it refers to.

    Returns the table with canonical dtypes, stably sorted by (timestamp, user_id).
    """
    _check_columns(events, file, EVENT_COLUMNS, OPTIONAL_EVENT_COLUMNS)
    if len(events) == 0:
        raise SchemaError(file, "the events table is empty")
    for column, bound, table in (
        ("user_id", num_users, USERS_FILE),
        ("item_id", num_items, ITEMS_FILE),
    ):
        ids = events[column].to_numpy()
        bad = (ids < 0) | (ids >= bound)
        if bad.any():
            row = _first_bad_row(bad)
            raise SchemaError(
                file,
                f"unknown id {ids[row]}: {table} has ids 0..{bound - 1}",
                column,
                row,
            )
    stamps = events["timestamp"].to_numpy()
    bad = (stamps < MIN_TIMESTAMP) | (stamps > MAX_TIMESTAMP)
    if bad.any():
        row = _first_bad_row(bad)
        raise SchemaError(
            file,
            f"timestamp {stamps[row]} out of range: expected seconds since the "
            f"epoch in [{MIN_TIMESTAMP}, {MAX_TIMESTAMP}] (milliseconds?)",
            "timestamp",
            row,
        )
    frame = _normalise(events, {**EVENT_COLUMNS, **OPTIONAL_EVENT_COLUMNS})
    return _sorted_by(frame, ["timestamp", "user_id"])


def validate(log: EventLog) -> EventLog:
    """Validates all three tables of `log` and returns a normalised copy."""
    base = log.path or ""
    users = validate_users(log.users, os.path.join(base, USERS_FILE))
    items = validate_items(log.items, os.path.join(base, ITEMS_FILE))
    events = validate_events(
        log.events, len(users), len(items), os.path.join(base, EVENTS_FILE)
    )
    return EventLog(users, items, events, dict(log.meta), log.path)


def _read_table(path: str) -> pd.DataFrame:
    if not os.path.exists(path):
        raise SchemaError(path, "file not found")
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types.
        raise SchemaError(path, f"not a readable Parquet file ({error})") from error


def read_event_log(path: str) -> EventLog:
    """Reads and validates a dataset folder written by `write_event_log`.

    Args:
        path: the dataset folder.

    Returns:
        The validated `EventLog`.

    Raises:
        SchemaError: a file is missing or a table breaks the schema; the message
            names the file, column and row.
    """
    if not os.path.isdir(path):
        raise SchemaError(path, "dataset folder not found")
    meta_file = os.path.join(path, META_FILE)
    meta: dict[str, Any] = {}
    if os.path.exists(meta_file):
        with open(meta_file) as f:
            try:
                meta = json.load(f)
            except json.JSONDecodeError as error:
                raise SchemaError(meta_file, f"invalid JSON ({error})") from error
    log = EventLog(
        users=_read_table(os.path.join(path, USERS_FILE)),
        items=_read_table(os.path.join(path, ITEMS_FILE)),
        events=_read_table(os.path.join(path, EVENTS_FILE)),
        meta=meta,
        path=path,
    )
    return validate(log)


def write_event_log(log: EventLog, path: str) -> EventLog:
    """Validates `log` and writes it to the folder `path` (created if needed).

    Returns:
        The validated log, with `path` set.
    """
    log = validate(EventLog(log.users, log.items, log.events, log.meta, None))
    os.makedirs(path, exist_ok=True)
    log.users.to_parquet(os.path.join(path, USERS_FILE), index=False)
    log.items.to_parquet(os.path.join(path, ITEMS_FILE), index=False)
    log.events.to_parquet(os.path.join(path, EVENTS_FILE), index=False)
    with open(os.path.join(path, META_FILE), "w") as f:
        json.dump(log.meta, f, indent=2, sort_keys=True, default=str)
    log.path = path
    return log
