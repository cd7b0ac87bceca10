"""Your own event table (CSV / TSV / Parquet with a header) -> the canonical schema.

For a log of your own or a third party's processed file: one event (or a few)
per row, the columns named on the command line.

Input: ``--input`` one file with a header line naming its columns (found by
name, in any order; columns not named are ignored):

- ``.parquet`` / ``.pq``: read in row batches; every column used is read as
  text (integers ``7``, integral floats ``1.0`` -> ``1``, timestamps as
  ``2019-11-15 08:55:22``, nulls as empty values), so the rules below are the
  same as for text; in error messages ``line n`` is the n-th row;
- anything else is text, ``.gz`` decompressed on the fly, UTF-8: separated by
  ``--sep`` (any string; ``\\t`` or ``tab`` for a tab), by default ``\\t`` for
  ``.tsv`` / ``.tab`` files and ``,`` otherwise. With ``,`` fields may be
  ``"``-quoted (commas inside, not line breaks); other separators take every
  value literally. Every line must have the header's number of fields.

Columns (flags of ``python -m data_prep.table``, arguments of `convert`):

- ``user``, ``item`` (required): ids, any non-empty text; remapped to
  contiguous codes (sorted as integers when every id is a plain integer, else
  as text), the mappings saved as ``user_ids.parquet`` / ``item_ids.parquet``;
- ``time`` with ``time_unit`` (default ``s``): ``s`` or ``ms`` (numbers
  since the epoch, a fraction floored), ``iso`` (ISO 8601 date-times such as
  ``2019-11-15T08:55:22``, ``2019-11-15 08:55:22+01:00`` or ``2019-11-15``;
  naive times are taken as UTC) or ``order`` (non-negative integers of which
  only the order within a user means something: ``meta.timestamps`` =
  ``"order"``). An ``s`` / ``ms`` / ``iso`` time must fall in
  1990-01-01 .. 2100-01-01 (`PLAUSIBLE_SECONDS`): anything else is a unit
  error (seconds read as milliseconds land in 1970) and stops the conversion
  naming the line and the unit expected. Without ``time``, every event gets
  its row's position among its user's rows in file order (``"order"``);
- the event type, exactly one of: ``event_type`` (every row is one event of
  that type); ``event`` + ``event_map`` (``value:type`` pairs separated by
  commas; a type may be several joined by ``+``, e.g.
  ``1:impression+click,0:impression`` for a click log whose ``is_click`` = 0
  rows are shown-not-clicked, as ``data_prep.kuairand`` maps its exposures; a
  value not in the map stops the conversion naming the line and the map); or
  neither, with ``rating`` given: every row is a ``rating`` event;
- ``rating`` (optional): a finite number, the ``value`` of ``rating`` events
  (other events have ``value`` 1.0); required when a type is ``rating``, and
  refused when no type is;
- ``request`` (optional): any non-empty text grouping the rows of one page,
  remapped into ``request_id`` (mapping in ``request_ids.parquet``). Without
  it, when a row gives several events (impression + click), each row is its
  own request, numbered in time order, so the CTR builder matches a click to
  exactly its own impression;
- ``user_features`` / ``item_features`` (optional lists): columns of values of
  the user / item, coded 0 = missing (an empty value), 1.. = the distinct
  values in sorted order (numeric order when all are integers); the values
  are listed in ``meta.json`` ``feature_values``. An item feature named
  ``category`` or ``brand`` is the schema's column of that name (0 otherwise).
  A feature is a property of the user or item: two rows of one user (item)
  with different values stop the conversion, naming both lines. A feature
  may not be named ``user_id``, ``item_id`` or ``truth_*`` (schema columns).

Rules (each counted in ``meta.json``):

- exact duplicate rows (the same user, item, time, event value, rating and
  request) are kept once, the first in file order;
- events are sorted by time (stable: equal times keep file order); rows
  earlier than the previous row of their user in the file are counted;
- every value used is checked: an empty id, a number that does not parse, an
  implausible time or an unmapped event value stops the conversion with the
  file, the line, the field, what was expected and what was found.

Commands:
  python -m data_prep.table --input likes.csv --user=uid --item=vid \\
      --time=ts --time_unit=s --event=liked --event_map=1:like,0:dislike \\
      --output data/my_likes
  python -m data_prep.table --input clicks.parquet --user=user_id \\
      --item=item_id --time=time_ms --time_unit=ms --event=is_click \\
      --event_map=1:impression+click,0:impression --item_features=category \\
      --output data/my_clicks
"""

from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from data_prep import common
from data_prep.recbole import token_values
from recsys_tf.data import schema

TIME_UNITS = {
    "s": "seconds since the epoch",
    "ms": "milliseconds since the epoch",
    "iso": "an ISO 8601 date-time such as 2019-11-15T08:55:22",
    "order": "a non-negative integer (an order)",
}
"""``time_unit`` values and what a time in that unit is."""

PLAUSIBLE_SECONDS = (631_152_000, schema.MAX_TIMESTAMP)
"""Times (``s`` / ``ms`` / ``iso``) must fall in [1990-01-01, 2100-01-01)."""

PARQUET_SUFFIXES = (".parquet", ".pq")
TAB_SUFFIXES = (".tsv", ".tab")
BYTES_PER_PARQUET_ROW = 64
"""Parquet batches hold `block_bytes` / this many rows."""


# --------------------------------------------------------------------------
# Options.
# --------------------------------------------------------------------------


def parse_event_map(text: str) -> dict[str, tuple[str, ...]]:
    """``'1:impression+click,0:impression'`` -> {value: event types}.

    Raises:
        ValueError: a pair that is not ``value:type[+type...]``, an unknown
            type, a type twice in one pair or a value twice.
    """
    out = {}
    for pair in text.split(","):
        key, colon, types = pair.rpartition(":")
        key = key.strip()
        names = tuple(t.strip() for t in types.split("+"))
        if not colon or not key or not all(names):
            raise ValueError(
                "`event_map` must be value:type pairs separated by commas (a type "
                f"may be several joined by '+'). Received: {pair!r} in {text!r}"
            )
        for name in names:
            common.check_choice("event_map type", name, schema.EVENT_TYPES)
        if len(set(names)) < len(names):
            raise ValueError(f"`event_map` lists a type twice for {key!r}: {text!r}")
        if key in out:
            raise ValueError(f"`event_map` maps the value {key!r} twice: {text!r}")
        out[key] = names
    return out


def _names(value) -> tuple[str, ...]:
    """A list of names, or a comma-separated string of them, -> a tuple."""
    if not value:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(name.strip() for name in value if name.strip())


@dataclasses.dataclass
class TableSpec:
    """What each column of the table is; validated on creation.

    Attributes: as the arguments of `convert` (``event_map`` parsed into
    {value: event types}; the feature lists as tuples).

    Raises:
        ValueError: an unknown ``time_unit`` or event type, none or both of
            ``event_type`` / ``event``, ``event`` without ``event_map`` (or the
            reverse), ``rating`` missing for or unused by the event types, or a
            column given two roles.
    """

    user: str
    item: str
    time: str | None = None
    time_unit: str | None = None
    event: str | None = None
    event_map: str | dict | None = None
    event_type: str | None = None
    rating: str | None = None
    request: str | None = None
    user_features: tuple[str, ...] | str = ()
    item_features: tuple[str, ...] | str = ()

    def __post_init__(self):
        if self.time is None and self.time_unit is not None:
            raise ValueError(
                f"`time_unit`={self.time_unit!r} needs `time` (the time column); "
                "without it the events keep their file order."
            )
        if self.time is not None:
            self.time_unit = self.time_unit or "s"
            common.check_choice("time_unit", self.time_unit, TIME_UNITS)
        self.user_features = _names(self.user_features)
        self.item_features = _names(self.item_features)
        for name in (*self.user_features, *self.item_features):
            if name in ("user_id", "item_id") or name.startswith("truth_"):
                raise ValueError(
                    f"A feature column may not be named {name!r} (the schema's own "
                    "column names); rename it in the file."
                )
        if self.event is not None and self.event_type is not None:
            raise ValueError(
                "Give `event_type` (one type for every row) or `event` with "
                f"`event_map`, not both. Received: event={self.event!r}, "
                f"event_type={self.event_type!r}"
            )
        if (self.event is None) != (self.event_map is None):
            raise ValueError(
                "`event` (a column) and `event_map` (its values -> event types) go "
                f"together. Received: event={self.event!r}, "
                f"event_map={self.event_map!r}"
            )
        if isinstance(self.event_map, str):
            self.event_map = parse_event_map(self.event_map)
        if self.event is None and self.event_type is None:
            if self.rating is None:
                raise ValueError(
                    "Give the event type: `event_type` (e.g. click), `event` with "
                    "`event_map` (e.g. 1:like,0:dislike), or `rating` for a rating "
                    "table."
                )
            self.event_type = "rating"
        if self.event_type is not None:
            common.check_choice("event_type", self.event_type, schema.EVENT_TYPES)
        rated = "rating" in {t for types in self.type_lists() for t in types}
        if rated and self.rating is None:
            raise ValueError("A `rating` event needs the `rating` column; none given.")
        if self.rating is not None and not rated:
            raise ValueError(
                f"`rating`={self.rating!r} is the value of rating events, but no "
                "event type is 'rating'; map a value to rating or leave it out."
            )
        roles = [c for c in self.roles().values() if c is not None]
        twice = sorted({c for c in roles if roles.count(c) > 1})
        if twice:
            raise ValueError(f"Column(s) {twice} given two roles: {self.roles()}")

    def keys(self) -> list[str]:
        """The values of the event column, in map order ([""] for `event_type`)."""
        return list(self.event_map) if self.event is not None else [""]

    def type_lists(self) -> list[tuple[str, ...]]:
        """The event types of each of `keys`."""
        if self.event is not None:
            return list(self.event_map.values())
        return [(self.event_type,)]

    def roles(self) -> dict[str, str | None]:
        """Role -> column (None when not given); features as ``<kind>:<name>``."""
        return {
            "user": self.user,
            "item": self.item,
            "time": self.time,
            "event": self.event,
            "rating": self.rating,
            "request": self.request,
            **{f"user_feature:{n}": n for n in self.user_features},
            **{f"item_feature:{n}": n for n in self.item_features},
        }

    def columns(self) -> list[str]:
        """Every column read, without repeats."""
        return [c for c in self.roles().values() if c is not None]

    def map_text(self) -> str:
        return ",".join(f"{k}:{'+'.join(t)}" for k, t in self.event_map.items())


# --------------------------------------------------------------------------
# Reading.
# --------------------------------------------------------------------------


def separator(path: str, sep: str | None) -> str | None:
    """The field separator of `path`; None for Parquet.

    Args:
        path: the input file.
        sep: the ``--sep`` given (``\\t`` / ``tab`` mean a tab), or None.

    Returns:
        `sep`, else ``\\t`` for ``.tsv`` / ``.tab`` (also gzipped) and ``,``
        for other text files; None for ``.parquet`` / ``.pq``.
    """
    name = path.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return None
    if sep:
        return "\t" if sep in ("\\t", "tab") else sep
    name = name.removesuffix(".gz")
    return "\t" if name.endswith(TAB_SUFFIXES) else ","


def read_header(path: str, sep: str) -> tuple[str, ...]:
    """The column names on the first line of a text table.

    Raises:
        FormatError: an empty file, a header that is not UTF-8, or a name given
            twice.
    """
    if sep == ",":
        return common.read_csv_header(path)
    try:
        text = common.first_line(path).decode("utf-8")
    except UnicodeDecodeError as error:
        raise common.FormatError(
            path, f"header is not UTF-8 ({error.reason})", 1
        ) from None
    text = text.lstrip("\ufeff").rstrip("\r\n")
    if not text.strip():
        raise common.FormatError(path, "empty file: expected a header line", 1)
    names = tuple(name.strip() for name in text.split(sep))
    for index, name in enumerate(names):
        if name in names[:index]:
            raise common.FormatError(
                path, f"column {name!r} twice in the header", 1, name
            )
    return names


def _require(path, header, required, line):
    for name in required:
        if name not in header:
            raise common.FormatError(
                path,
                f"missing column {name!r}; the header has {', '.join(header)}",
                line,
                name,
            )


def _text_blocks(path, sep, columns, block_bytes):
    header = read_header(path, sep)
    _require(path, header, columns, 1)
    for block in common.iter_blocks(path, block_bytes, skip_lines=1):
        if sep == ",":
            raw = common.split_quoted(block, path, header)
        else:
            raw = common.split_fields(block, path, header, sep)
        yield common.block_lines(block), {name: raw[name] for name in columns}


def _as_text(column: pa.Array, path: str, name: str) -> pa.Array:
    """A Parquet column -> strings (nulls empty)."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    try:
        text = pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise common.FormatError(
            path,
            f"expected a column of single values, got type {column.type}",
            None,
            name,
        ) from None
    return pc.fill_null(text, "")


def _parquet_blocks(path, columns, block_bytes):
    try:
        file = pq.ParquetFile(path)
        names = file.schema_arrow.names
    except (OSError, pa.ArrowException) as error:
        raise common.FormatError(
            path, f"not a readable Parquet file ({error})"
        ) from None
    _require(path, tuple(names), columns, None)
    first = 1
    rows = max(1, block_bytes // BYTES_PER_PARQUET_ROW)
    for batch in file.iter_batches(batch_size=rows, columns=columns):
        lines = np.arange(first, first + batch.num_rows, dtype=np.int64)
        first += batch.num_rows
        yield lines, {n: _as_text(batch.column(n), path, n) for n in columns}


def iter_table(path: str, sep: str | None, columns, block_bytes: int):
    """Streams the `columns` of a table: yields (line numbers, {column: strings})."""
    common.require_file(path)
    if sep is None:
        return _parquet_blocks(path, list(columns), block_bytes)
    return _text_blocks(path, sep, tuple(columns), block_bytes)


# --------------------------------------------------------------------------
# Parsing.
# --------------------------------------------------------------------------


def _bad(path, field, line, expected, got):
    got_text = "an empty value" if got == "" else repr(got)
    raise common.FormatError(
        path, f"expected {expected}, got {got_text}", int(line), field
    )


def _first_bad(values, bad, path, field, lines, expected):
    row = int(np.flatnonzero(bad)[0])
    _bad(path, field, lines[row], expected, values[row].as_py())


def parse_time(
    values: pa.Array, path: str, field: str, lines: np.ndarray, unit: str
) -> np.ndarray:
    """Times in `unit` -> int64 seconds since the epoch (``order``: as given).

    Raises:
        FormatError: a value that is not a time in `unit`, or outside
            `PLAUSIBLE_SECONDS` (for ``s``, ``ms`` and ``iso``), naming its line
            and the unit expected.
    """
    trimmed = pc.utf8_trim_whitespace(values)
    flag = f" (--time_unit={unit})"
    if unit == "order":
        return common.parse_int(
            trimmed,
            path,
            field,
            0,
            line_numbers=lines,
            minimum=0,
            maximum=schema.MAX_TIMESTAMP,
        )
    if unit == "iso":
        parsed = pd.to_datetime(
            pd.Series(trimmed.to_numpy(zero_copy_only=False)),
            format="ISO8601",
            utc=True,
            errors="coerce",
        )
        missing = parsed.isna().to_numpy()
        if missing.any():
            _first_bad(values, missing, path, field, lines, TIME_UNITS[unit] + flag)
        seconds = (
            parsed.dt.tz_localize(None).to_numpy().astype("datetime64[s]")
        ).astype(np.int64)
    else:
        try:
            numbers = pc.cast(trimmed, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            numbers = pd.to_numeric(
                pd.Series(trimmed.to_numpy(zero_copy_only=False)), errors="coerce"
            ).to_numpy(np.float64)
        bad = ~np.isfinite(numbers)
        if bad.any():
            _first_bad(values, bad, path, field, lines, TIME_UNITS[unit] + flag)
        if unit == "ms":
            numbers = numbers / 1000
        low, high = PLAUSIBLE_SECONDS
        numbers = np.clip(np.floor(numbers), low - 1, high)
        seconds = numbers.astype(np.int64)
    low, high = PLAUSIBLE_SECONDS
    bad = (seconds < low) | (seconds >= high)
    if bad.any():
        _first_bad(
            values,
            bad,
            path,
            field,
            lines,
            f"{TIME_UNITS[unit]}{flag} between 1990-01-01 and 2100-01-01",
        )
    return seconds


def parse_event(
    values: pa.Array, path: str, field: str, lines: np.ndarray, spec: TableSpec
) -> np.ndarray:
    """Event column values -> int16 indices into ``spec.keys()``.

    Raises:
        FormatError: a value not in the map, naming its line and the map.
    """
    index = pc.index_in(
        pc.utf8_trim_whitespace(values), value_set=pa.array(spec.keys())
    )
    found = index.is_valid().to_numpy(zero_copy_only=False)
    if not found.all():
        _first_bad(
            values,
            ~found,
            path,
            field,
            lines,
            f"a value of --event_map={spec.map_text()}",
        )
    return index.to_numpy(zero_copy_only=False).astype(np.int16)


def _ids(values, path, field, lines):
    trimmed = pc.utf8_trim_whitespace(values)
    empty = pc.equal(pc.utf8_length(trimmed), 0).to_numpy(zero_copy_only=False)
    if empty.any():
        _first_bad(values, empty, path, field, lines, "a non-empty id")
    return trimmed


def read_table(path: str, sep: str | None, spec: TableSpec, block_bytes: int) -> dict:
    """Reads and checks every row: {role: values} with ``lines`` (file lines).

    Ids, requests and features come back as numpy arrays of their values
    (`token_values`: integers when every value is one), times as int64 seconds
    (or positions for ``order`` and when there is no time column), the event
    column as indices into ``spec.keys()`` and ratings as float64.
    """
    roles = spec.roles()
    numbers = common.Columns()
    tokens = {role: [] for role in ("user", "item", "request") if roles[role]}
    features = {role: [] for role in roles if ":" in role}
    for lines, raw in iter_table(path, sep, spec.columns(), block_bytes):
        if not len(lines):
            continue
        parsed = {"lines": lines}
        for role, parts in tokens.items():
            parts.append(_ids(raw[roles[role]], path, roles[role], lines))
        for role, parts in features.items():
            parts.append(pc.utf8_trim_whitespace(raw[roles[role]]))
        if spec.time is not None:
            parsed["time"] = parse_time(
                raw[spec.time], path, spec.time, lines, spec.time_unit
            )
        if spec.event is not None:
            parsed["event"] = parse_event(
                raw[spec.event], path, spec.event, lines, spec
            )
        if spec.rating is not None:
            parsed["rating"] = common.parse_float(
                raw[spec.rating], path, spec.rating, 0, line_numbers=lines
            )
        numbers.add(**parsed)
    if not len(numbers):
        raise common.FormatError(path, "no rows after the header")
    used = [name for name in ("time", "event", "rating") if roles[name] is not None]
    out = {name: numbers.pop(name) for name in ("lines", *used)}
    for role, parts in tokens.items():
        out[role] = token_values(parts)
    for role, parts in features.items():
        out[role] = pa.chunked_array(parts, pa.string()).to_numpy()
    return out


# --------------------------------------------------------------------------
# Conversion.
# --------------------------------------------------------------------------


def feature_codes(
    ids: np.ndarray,
    count: int,
    values: np.ndarray,
    lines: np.ndarray,
    path: str,
    field: str,
    originals: np.ndarray,
    what: str,
) -> tuple[np.ndarray, list]:
    """A feature column of the rows -> (one code per id 0..count-1, vocabulary).

    Args:
        ids: the id code of every row.
        count: the number of ids.
        values: the trimmed feature text of every row ("" = missing).
        lines: the line of every row.
        path, field: for error messages.
        originals: original ids by code, for error messages.
        what: ``user`` or ``item``.

    Raises:
        FormatError: an id whose rows hold two values, naming both lines.
    """
    first = pd.DataFrame({"id": ids, "value": values}).drop_duplicates()
    again = first["id"].duplicated().to_numpy()
    if again.any():
        second = int(first.index[np.flatnonzero(again)[0]])
        code = ids[second]
        one = int(first.index[np.flatnonzero(first["id"].to_numpy() == code)[0]])
        raise common.FormatError(
            path,
            f"{what} {originals[code]!r} has {values[one]!r} on line {lines[one]} "
            f"and {values[second]!r} here; a {what} feature must be the same on "
            f"every row of the {what}",
            int(lines[second]),
            field,
        )
    per_id = np.empty(count, object)
    per_id[first["id"].to_numpy()] = first["value"].to_numpy()
    missing = per_id == ""
    typed = per_id
    if (~missing).any():
        present = token_values([pa.array(list(per_id[~missing]), pa.string())])
        typed = np.zeros(count, present.dtype)
        typed[~missing] = present
    return common.feature_codes(typed, missing)


def _events(data, keep, user_code, item_code, stamps, request_code, spec):
    """Kept rows (in time order) -> the events table, a row's events adjacent."""
    type_codes = [[common.EVENT_CODES[t] for t in types] for types in spec.type_lists()]
    key = data["event"][keep] if "event" in data else np.zeros(len(keep), np.int16)
    positions, kinds = [], []
    for index, codes in enumerate(type_codes):
        chosen = np.flatnonzero(key == index)
        for code in codes:
            positions.append(chosen)
            kinds.append(np.full(len(chosen), code, np.int8))
    positions = np.concatenate(positions)
    kinds = np.concatenate(kinds)
    sort = np.lexsort((kinds, positions))
    positions, kinds = positions[sort], kinds[sort]
    rows = keep[positions]
    rated = kinds == common.EVENT_CODES["rating"]
    events = {
        "user_id": user_code[rows],
        "item_id": item_code[rows],
        "timestamp": stamps[rows].astype(np.int64),
        "event": common.event_column(kinds),
        "value": np.where(rated, data["rating"][rows], 1.0) if rated.any() else 1.0,
    }
    if request_code is not None:
        events["request_id"] = request_code[rows]
    elif any(len(codes) > 1 for codes in type_codes):
        events["request_id"] = positions.astype(np.int64)
    return pd.DataFrame(events)


def convert_spec(
    input: str,
    output: str,
    spec: TableSpec,
    sep: str | None = None,
    name: str | None = None,
    block_bytes: int = common.BLOCK_BYTES,
    overwrite: bool = False,
) -> schema.EventLog:
    """`convert` with the columns as a `TableSpec`."""
    common.check_output(output, overwrite)
    progress = common.Progress("table")
    report = common.Report()
    path = common.require_file(input)
    sep = separator(path, sep)
    data = read_table(path, sep, spec, block_bytes)
    lines = data["lines"]
    report.count("lines_read", len(lines))
    progress("read table", f"{path}: {len(lines):,} rows")
    user_code, user_originals = common.remap(data["user"])
    item_code, item_originals = common.remap(data["item"])
    mappings = {"user": user_originals, "item": item_originals}
    request_code = None
    if spec.request is not None:
        request_code, mappings["request"] = common.remap(data["request"])
    if spec.time is None:
        stamps = common.positions_in_file_order(user_code)
    else:
        stamps = data["time"]
        report.count(
            "out_of_order",
            common.count_out_of_order(user_code, stamps),
            "events are sorted by time (stable in file order); this many rows came "
            "earlier than the previous row of their user in the file",
        )

    tables, vocab = {}, {}
    for kind, codes, originals, names in (
        ("user", user_code, user_originals, spec.user_features),
        ("item", item_code, item_originals, spec.item_features),
    ):
        table = {f"{kind}_id": np.arange(len(originals), dtype=np.int64)}
        for feature in names:
            table[feature], vocab[feature] = feature_codes(
                codes,
                len(originals),
                data[f"{kind}_feature:{feature}"],
                lines,
                path,
                feature,
                originals,
                kind,
            )
            missing = int((table[feature] == 0).sum())
            if missing:
                report.count(
                    f"missing_{feature}",
                    missing,
                    f"a {kind} whose {feature} is empty gets code 0",
                )
        tables[kind] = pd.DataFrame(table)
    for column in ("category", "brand"):
        if column not in tables["item"]:
            tables["item"][column] = 0

    order = common.time_order(user_code, stamps)
    others = [data[k] for k in ("event", "rating") if k in data]
    if request_code is not None:
        others.append(request_code)
    dup = common.duplicate_rows(order, user_code, stamps, item_code, *others)
    report.count(
        "duplicate_rows_dropped",
        int(dup.sum()),
        "exact duplicate rows (same user, item, time, event value, rating and "
        "request) are kept once",
    )
    events = _events(
        data, order[~dup], user_code, item_code, stamps, request_code, spec
    )
    for event in schema.EVENT_TYPES:
        written = int((events["event"] == event).sum())
        if written:
            report.count(f"{event}_events", written)
    meta = {
        "name": name or os.path.basename(path).split(".")[0],
        "source": "a user's event table, data_prep.table",
        "source_files": common.source_files(path),
        "timestamps": "seconds"
        if spec.time is not None and spec.time_unit != "order"
        else "order",
        "columns": {k: v for k, v in spec.roles().items() if v is not None},
        "time_unit": spec.time_unit,
        "events": spec.map_text() if spec.event is not None else spec.event_type,
        "feature_values": vocab,
    }
    return common.write_dataset(
        output,
        tables["user"],
        tables["item"],
        events,
        meta,
        mappings,
        report,
        progress,
        overwrite=overwrite,
    )


def convert(
    input: str,
    output: str,
    *,
    user: str,
    item: str,
    time: str | None = None,
    time_unit: str | None = None,
    event: str | None = None,
    event_map: str | dict | None = None,
    event_type: str | None = None,
    rating: str | None = None,
    request: str | None = None,
    user_features=(),
    item_features=(),
    sep: str | None = None,
    name: str | None = None,
    block_bytes: int = common.BLOCK_BYTES,
    overwrite: bool = False,
) -> schema.EventLog:
    """Converts the table file `input` into the dataset folder `output`.

    Args:
        input: the table (``.csv``, ``.tsv``, ``.parquet``, any text with
            `sep`; ``.gz`` for text).
        output: the dataset folder to write.
        user, item: the id columns.
        time: the time column (None: positions in file order).
        time_unit: ``s`` (the default with `time`), ``ms``, ``iso`` or
            ``order``; only with `time`.
        event: the event column, with `event_map` (``'1:like,0:dislike'`` or
            {value: types}).
        event_type: the one type of every row (instead of `event`).
        rating: the rating column (the value of rating events).
        request: the request (page, session) column.
        user_features, item_features: feature columns (lists, or
            comma-separated names).
        sep: the separator of a text table (default by extension).
        name: the dataset name in ``meta.json`` (default: the file's name).
        block_bytes: bytes (text) read at a time.
        overwrite: whether to replace an `output` that holds more than a
            dataset (`common.check_output`).

    Returns:
        The written `EventLog`.

    Raises:
        ValueError: inconsistent column options (see `TableSpec`).
        FormatError: a missing column or a bad value, naming the file, line
            and field.
    """
    common.check_output(output, overwrite)  # before the options, as every converter
    spec = TableSpec(
        user,
        item,
        time,
        time_unit,
        event,
        event_map,
        event_type,
        rating,
        request,
        user_features,
        item_features,
    )
    return convert_spec(input, output, spec, sep, name, block_bytes, overwrite)


def main(argv):
    values = common.command_flags(argv)
    try:
        spec = TableSpec(
            values.user,
            values.item,
            values.time,
            values.time_unit,
            values.event,
            values.event_map,
            values.event_type,
            values.rating,
            values.request,
            values.user_features or (),
            values.item_features or (),
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
    common.run(
        convert_spec,
        values.input,
        values.output,
        spec,
        values.sep,
        values.name,
        overwrite=values.overwrite,
    )


if __name__ == "__main__":
    from absl import app, flags

    common.define_io_flags(
        "The table file (.csv, .tsv, .parquet; text may be gzipped).", "data/table"
    )
    flags.DEFINE_string("user", None, "The user id column.", required=True)
    flags.DEFINE_string("item", None, "The item id column.", required=True)
    flags.DEFINE_string("time", None, "The time column (default: file order).")
    flags.DEFINE_enum(
        "time_unit", None, list(TIME_UNITS), "The unit of --time (default s)."
    )
    flags.DEFINE_string("event", None, "The event column (with --event_map).")
    flags.DEFINE_string(
        "event_map",
        None,
        "value:type pairs of --event, e.g. 1:like,0:dislike or "
        "1:impression+click,0:impression.",
    )
    flags.DEFINE_string(
        "event_type", None, "The event type of every row (instead of --event)."
    )
    flags.DEFINE_string("rating", None, "The rating column (value of rating events).")
    flags.DEFINE_string("request", None, "The request / session column.")
    flags.DEFINE_list("user_features", None, "User feature columns.")
    flags.DEFINE_list("item_features", None, "Item feature columns.")
    flags.DEFINE_string(
        "sep", None, "Field separator of a text table (default: tab for .tsv, else ,)."
    )
    flags.DEFINE_string("name", None, "Dataset name in meta.json (default: file name).")
    app.run(main)
