"""Shared machinery of the real-data converters (`python -m data_prep.<name>`).

Every converter reads a dataset in its original format and writes one folder in
the canonical schema (`recsys_tf.data.schema`), plus:

- ``<kind>_ids.parquet`` for every remapped id space (``user``, ``item``, and for
  some datasets ``category`` / ``brand``): columns ``<kind>_id`` (the contiguous
  code used in the tables) and ``original`` (the id in the source files), so
  predictions can be turned back into original ids with `to_original`;
- ``meta.json`` with the source files, the converter settings and a ``conversion``
  report: lines read, and what the duplicate / out-of-order / missing-value rules
  did, each counted.

Reading streams: files are read in blocks of whole lines (``.gz`` transparently),
each block parsed by pyarrow's CSV reader as strings and converted column by
column, so memory stays bounded by the block and the compact numeric columns
kept. A value that does not parse stops the conversion with a `FormatError`
naming the file, the 1-based line, the field, what was expected and what was
found.

Timestamps: the canonical ``timestamp`` is seconds since the epoch. ``meta.json``
``timestamps`` says what they mean: ``"seconds"`` (real times), ``"order"``
(positions in a sequence: only the order within a user is meaningful) or
``"absent"`` (all zero); the task builders refuse splits that need more than the
data has.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import sys
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from recsys_tf.data import schema

BLOCK_BYTES = 64 << 20
"""Bytes of whole lines parsed at a time; bounds the memory of a read."""

TIMESTAMP_KINDS = ("seconds", "order", "absent")

_INT_PATTERN = r"^\s*[+-]?[0-9]+\s*$"
_FIELD_SEP = b"\x1f"  # stands in for multi-character separators such as '::'


class FormatError(ValueError):
    """An input file does not follow its documented format.

    Attributes:
        file: the file at fault.
        line: the 1-based line number, or None for file-level errors.
        field: the offending field (column name), or None.
    """

    def __init__(self, file, message, line=None, field=None):
        self.file = str(file)
        self.line = line
        self.field = field
        where = [self.file]
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}")


# --------------------------------------------------------------------------
# Progress.
# --------------------------------------------------------------------------


class Progress:
    """Prints one line per stage, ``[name] stage: detail (seconds)``."""

    def __init__(self, name: str, stream=None):
        self.name = name
        self.stream = stream or sys.stdout
        self._start = time.perf_counter()

    def __call__(self, stage: str, detail: str = "") -> None:
        elapsed = time.perf_counter() - self._start
        text = f"[{self.name}] {stage}"
        if detail:
            text += f": {detail}"
        print(f"{text} ({elapsed:.1f} s)", file=self.stream, flush=True)


# --------------------------------------------------------------------------
# Reading blocks of lines.
# --------------------------------------------------------------------------


def require_file(path: str) -> str:
    """`path`, or a `FormatError` saying it is missing."""
    if not os.path.isfile(path):
        raise FormatError(path, "file not found")
    return path


def find_file(folder: str, *names: str) -> str:
    """The first of `names` (each also tried with ``.gz``) that exists in `folder`."""
    for name in names:
        for candidate in (name, name + ".gz"):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                return path
    raise FormatError(
        os.path.join(folder, names[0]),
        f"file not found (looked for {', '.join(names)}, also gzipped)",
    )


def _open_binary(path: str):
    require_file(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


@dataclasses.dataclass
class Block:
    """Whole lines of a file.

    Attributes:
        data: the bytes (UTF-8), ending with a newline.
        first_line: the 1-based number of its first line in the file.
        num_lines: how many lines it holds.
    """

    data: bytes
    first_line: int
    num_lines: int


def iter_blocks(
    path: str,
    block_bytes: int = BLOCK_BYTES,
    encoding: str = "utf-8",
    skip_lines: int = 0,
) -> Iterator[Block]:
    """Yields `path` as blocks of whole lines, transcoded to UTF-8.

    Args:
        path: the file; ``.gz`` is decompressed on the fly.
        block_bytes: the approximate size of a block.
        encoding: the file's encoding (e.g. ``latin-1`` for MovieLens titles).
        skip_lines: leading lines (a header) to skip; still counted in line numbers.
    """
    with _open_binary(path) as f:
        line = 1
        for _ in range(skip_lines):
            if not f.readline():
                return
            line += 1
        rest = b""
        while True:
            chunk = f.read(block_bytes)
            if not chunk:
                break
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                rest = chunk
                continue
            rest = chunk[cut:]
            data = chunk[:cut]
            yield _block(path, data, line, encoding)
            line += data.count(b"\n")
        if rest:
            yield _block(path, rest + b"\n", line, encoding)


def _block(path, data, line, encoding):
    if encoding.lower().replace("-", "") not in ("utf8", "ascii"):
        data = data.decode(encoding).encode("utf-8")
    else:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            bad = line + data[: error.start].count(b"\n")
            raise FormatError(
                path, f"not valid UTF-8 text ({error.reason})", bad
            ) from None
    if data.endswith(b"\r\n"):
        data = data.replace(b"\r\n", b"\n")
    return Block(data, line, data.count(b"\n"))


def split_fields(
    block: Block,
    path: str,
    names: tuple[str, ...],
    sep: str,
    line_numbers: np.ndarray | None = None,
) -> dict[str, pa.Array]:
    """Parses a block into one string array per field.

    Args:
        block: whole lines.
        path: the file name for error messages.
        names: the field names, in file order; every line must have exactly these.
        sep: the field separator (any length; ``'::'`` for MovieLens).
        line_numbers: the file line number of every line of the block, when the
            block is not a run of consecutive lines (e.g. header lines removed).

    Raises:
        FormatError: a line with another number of fields (a wrong separator
            shows as one field per line), or an empty line.
    """
    data = block.data
    empty = 0 if data.startswith(b"\n") else data.find(b"\n\n") + 1
    if data.startswith(b"\n") or empty > 0:
        index = data[:empty].count(b"\n")
        line = (
            int(line_numbers[index])
            if line_numbers is not None
            else block.first_line + index
        )
        raise FormatError(
            path,
            f"empty line: expected {len(names)} fields ({', '.join(names)}), got 1",
            line,
        )
    if len(sep) > 1:
        if _FIELD_SEP in data:
            offset = data[: data.index(_FIELD_SEP)].count(b"\n")
            raise FormatError(
                path, "unexpected control character \\x1f", block.first_line + offset
            )
        data = data.replace(sep.encode(), _FIELD_SEP)
        delimiter = _FIELD_SEP.decode()
    else:
        delimiter = sep
    invalid = []

    def handler(row):
        invalid.append(row)
        return "error"

    def line_of(index):
        if line_numbers is not None:
            return int(line_numbers[index])
        return block.first_line + index

    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(
                column_names=list(names), use_threads=False, block_size=len(data) + 1
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter,
                quote_char=False,
                ignore_empty_lines=False,
                invalid_row_handler=handler,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as error:
        if not invalid:
            raise FormatError(
                path, f"unreadable block ({error})", block.first_line
            ) from None
        row = invalid[0]
        index = (row.number or 1) - 1
        raise FormatError(
            path,
            f"expected {len(names)} fields ({', '.join(names)}) separated by "
            f"{sep!r}, got {row.actual_columns}: {row.text[:200]!r}",
            line_of(index),
        ) from None
    if table.num_rows != block.num_lines:
        raise FormatError(
            path,
            f"parsed {table.num_rows} rows from {block.num_lines} lines (a quote or "
            "an embedded newline?)",
            block.first_line,
        )
    return {name: table.column(name).combine_chunks() for name in names}


def _fail(path, values, bad, field, expected, first_line, line_numbers):
    index = int(np.flatnonzero(bad)[0])
    line = int(line_numbers[index]) if line_numbers is not None else first_line + index
    got = values[index]
    got = got.as_py() if hasattr(got, "as_py") else got
    got = got.item() if isinstance(got, np.generic) else got
    if got == "":
        got_text = "an empty value"
    else:
        got_text = repr(got)
    raise FormatError(path, f"expected {expected}, got {got_text}", line, field)


def parse_int(
    values: pa.Array,
    path: str,
    field: str,
    first_line: int,
    *,
    line_numbers: np.ndarray | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> np.ndarray:
    """String field -> int64 numpy array, or a `FormatError` at the first bad line."""
    try:
        out = pc.cast(pc.utf8_trim_whitespace(values), pa.int64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = pc.match_substring_regex(values, _INT_PATTERN).to_numpy(
            zero_copy_only=False
        )
        if ok.all():  # Digits only, but some beyond the int64 range.
            text = values.to_numpy(zero_copy_only=False)
            long = np.flatnonzero(pc.utf8_length(values).to_numpy() > 18)
            ok[[i for i in long if abs(int(text[i])) >= 2**63]] = False
        _fail(path, values, ~ok, field, "an integer", first_line, line_numbers)
    expected = "an integer"
    if minimum is not None or maximum is not None:
        lo = "-inf" if minimum is None else minimum
        hi = "inf" if maximum is None else maximum
        expected = f"an integer in [{lo}, {hi}]"
        bad = np.zeros(len(out), bool)
        if minimum is not None:
            bad |= out < minimum
        if maximum is not None:
            bad |= out > maximum
        if bad.any():
            _fail(path, out, bad, field, expected, first_line, line_numbers)
    return out


def parse_float(
    values: pa.Array,
    path: str,
    field: str,
    first_line: int,
    *,
    line_numbers: np.ndarray | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> np.ndarray:
    """String field -> finite float64 numpy array (NaN and inf are errors)."""
    trimmed = pc.utf8_trim_whitespace(values)
    try:
        out = pc.cast(trimmed, pa.float64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = None
    if out is None:
        parsed = pd.to_numeric(
            pd.Series(trimmed.to_numpy(zero_copy_only=False)), errors="coerce"
        )
        _fail(
            path,
            values,
            parsed.isna().to_numpy(),
            field,
            "a finite number",
            first_line,
            line_numbers,
        )
    bad = ~np.isfinite(out)
    expected = "a finite number"
    if minimum is not None or maximum is not None:
        expected = f"a finite number in [{minimum}, {maximum}]"
        if minimum is not None:
            bad |= out < minimum
        if maximum is not None:
            bad |= out > maximum
    if bad.any():
        _fail(path, values, bad, field, expected, first_line, line_numbers)
    return out


def parse_choice(
    values: pa.Array,
    path: str,
    field: str,
    first_line: int,
    choices: dict[str, int],
    *,
    line_numbers: np.ndarray | None = None,
) -> np.ndarray:
    """String field -> int8 codes of `choices`; any other value is an error."""
    keys = list(choices)
    index = pc.index_in(pc.utf8_trim_whitespace(values), value_set=pa.array(keys))
    found = index.is_valid().to_numpy(zero_copy_only=False)
    if not found.all():
        _fail(
            path,
            values,
            ~found,
            field,
            f"one of {', '.join(repr(k) for k in keys)}",
            first_line,
            line_numbers,
        )
    codes = np.array([choices[k] for k in keys], dtype=np.int8)
    return codes[index.to_numpy(zero_copy_only=False)]


def parse_string(
    values: pa.Array,
    path: str,
    field: str,
    first_line: int,
    *,
    line_numbers: np.ndarray | None = None,
) -> np.ndarray:
    """String field -> numpy object array; an empty value is an error."""
    trimmed = pc.utf8_trim_whitespace(values)
    empty = pc.equal(pc.utf8_length(trimmed), 0).to_numpy(zero_copy_only=False)
    if empty.any():
        _fail(path, values, empty, field, "a non-empty value", first_line, line_numbers)
    return trimmed.to_numpy(zero_copy_only=False)


def check_timestamps(
    seconds: np.ndarray, path: str, field: str, first_line: int, *, line_numbers=None
) -> np.ndarray:
    """Seconds since the epoch within the schema's range, else a `FormatError`."""
    bad = (seconds < schema.MIN_TIMESTAMP) | (seconds > schema.MAX_TIMESTAMP)
    if bad.any():
        _fail(
            path,
            seconds,
            bad,
            field,
            f"seconds since the epoch in [{schema.MIN_TIMESTAMP}, "
            f"{schema.MAX_TIMESTAMP}] (2100-01-01)",
            first_line,
            line_numbers,
        )
    return seconds


class Columns:
    """Numeric columns accumulated block by block, concatenated once at the end."""

    def __init__(self):
        self._parts: dict[str, list[np.ndarray]] = {}

    def add(self, **columns: np.ndarray) -> None:
        for name, values in columns.items():
            self._parts.setdefault(name, []).append(values)

    def __len__(self) -> int:
        parts = next(iter(self._parts.values()), [])
        return int(sum(len(p) for p in parts))

    def pop(self, name: str) -> np.ndarray:
        """The concatenated column, releasing the parts."""
        parts = self._parts.pop(name)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts)


# --------------------------------------------------------------------------
# Ids, rules and counts.
# --------------------------------------------------------------------------


def remap(values) -> tuple[np.ndarray, np.ndarray]:
    """Original ids -> (contiguous int64 codes, originals sorted ascending).

    ``originals[codes[i]] == values[i]``; codes follow the sorted original ids, so
    a re-run on the same data gives the same codes.
    """
    codes, originals = pd.factorize(np.asarray(values), sort=True)
    return codes.astype(np.int64, copy=False), np.asarray(originals)


def mapping_file(output: str, kind: str) -> str:
    return os.path.join(output, f"{kind}_ids.parquet")


def write_mapping(output: str, kind: str, originals: np.ndarray) -> None:
    """Saves code -> original id for one id space beside the dataset."""
    frame = pd.DataFrame(
        {f"{kind}_id": np.arange(len(originals), dtype=np.int64), "original": originals}
    )
    frame.to_parquet(mapping_file(output, kind), index=False)


def to_original(output: str, kind: str, codes) -> np.ndarray:
    """Turns codes of a converted dataset back into the source's ids.

    Args:
        output: the converted dataset folder.
        kind: ``user``, ``item`` (or another saved id space).
        codes: int codes as used in the canonical tables (and by the models).
    """
    file = mapping_file(output, kind)
    if not os.path.exists(file):
        raise FileNotFoundError(f"{file}: no saved {kind} id mapping")
    originals = pd.read_parquet(file)["original"].to_numpy()
    codes = np.asarray(codes)
    bad = (codes < 0) | (codes >= len(originals))
    if bad.any():
        raise ValueError(
            f"{file}: unknown {kind} code {codes[bad][0]}; codes are 0..{len(originals) - 1}"
        )
    return originals[codes]


@dataclasses.dataclass
class Report:
    """What a conversion read and what its rules did, as ordered counts."""

    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    rules: dict[str, str] = dataclasses.field(default_factory=dict)

    def count(self, name: str, value: int, rule: str | None = None) -> None:
        self.counts[name] = self.counts.get(name, 0) + int(value)
        if rule is not None:
            self.rules[name] = rule

    def as_dict(self) -> dict:
        return {"counts": dict(self.counts), "rules": dict(self.rules)}


def count_out_of_order(users: np.ndarray, timestamps: np.ndarray) -> int:
    """Rows whose timestamp is earlier than the previous row of the same user, in
    file order (the rows of a user need not be adjacent)."""
    order = np.argsort(users, kind="stable")
    u = users[order]
    t = timestamps[order]
    same = u[1:] == u[:-1]
    return int(np.count_nonzero(same & (t[1:] < t[:-1])))


def duplicate_mask(*columns: np.ndarray, keep: str = "first") -> np.ndarray:
    """True for every row that repeats the values of an earlier (or, with
    ``keep='last'``, a later) row in all `columns`."""
    frame = pd.DataFrame({str(i): c for i, c in enumerate(columns)}, copy=False)
    return frame.duplicated(keep=keep).to_numpy()


EVENT_CODES = {name: code for code, name in enumerate(schema.EVENT_TYPES)}


def event_column(codes: np.ndarray) -> pd.Categorical:
    """Event type codes (`EVENT_CODES`) -> the schema's categorical column."""
    return pd.Categorical.from_codes(
        np.asarray(codes, dtype=np.int8), categories=list(schema.EVENT_TYPES)
    )


def write_dataset(
    output: str,
    users: pd.DataFrame,
    items: pd.DataFrame,
    events: pd.DataFrame,
    meta: dict,
    mappings: dict[str, np.ndarray],
    report: Report,
    progress: Progress,
) -> schema.EventLog:
    """Validates and writes the converted dataset, its id mappings and report.

    `meta` must say ``name``, ``source`` and ``timestamps`` (one of
    `TIMESTAMP_KINDS`).
    """
    for key in ("name", "source", "timestamps"):
        if key not in meta:
            raise ValueError(f"meta needs {key!r}")
    if meta["timestamps"] not in TIMESTAMP_KINDS:
        raise ValueError(f"meta['timestamps'] must be one of {TIMESTAMP_KINDS}")
    meta = {**meta, "conversion": report.as_dict()}
    meta["conversion"]["counts"]["events_written"] = len(events)
    log = schema.write_event_log(schema.EventLog(users, items, events, meta), output)
    for kind, originals in mappings.items():
        write_mapping(output, kind, originals)
    progress(
        "written",
        f"{output}: {log.num_users:,} users, {log.num_items:,} items, "
        f"{len(log.events):,} events",
    )
    for name, value in report.counts.items():
        rule = report.rules.get(name)
        progress("count", f"{name} = {value:,}" + (f" ({rule})" if rule else ""))
    return log


def source_files(*paths: str) -> list[dict]:
    """Name and size of each source file, for ``meta.json``."""
    return [{"file": os.path.abspath(p), "bytes": os.path.getsize(p)} for p in paths]


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------


def define_io_flags(input_help: str, default_output: str) -> None:
    """``--input`` and ``--output`` of a converter's absl command line."""
    from absl import flags

    flags.DEFINE_string("input", None, input_help, required=True)
    flags.DEFINE_string("output", default_output, "Dataset folder to write.")


def run(convert, *args, **kwargs):
    """Calls `convert`, turning input errors into one line on stderr and exit 1."""
    try:
        return convert(*args, **kwargs)
    except (FormatError, schema.SchemaError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
