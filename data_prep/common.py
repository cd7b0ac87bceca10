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

Also here, for every converter that needs them: headed comma-separated files
with optional ``"`` quoting (`iter_csv`) and feature files keyed by id
(`read_features`); the rules on time order and repeated rows (`time_order`,
`duplicate_rows`, `keep_latest`, `positions_in_file_order`); the export side
(`read_mapping`, `select_events`); and the command line (`define_io_flags`,
`command_flags`, `run`).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import gzip
import io
import os
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from recsys_tf.data import hashing, schema

BLOCK_BYTES = 64 << 20
"""Bytes of whole lines parsed at a time; bounds the memory of a read."""

TIMESTAMP_KINDS = ("seconds", "order", "absent")

_INT_PATTERN = r"^\s*[+-]?[0-9]+\s*$"
_FIELD_SEP = b"\x1f"  # stands in for multi-character separators such as '::'


class OutputError(ValueError):
    """The dataset folder cannot be written where asked.

    Attributes:
        path: the folder (or its parent) at fault.
    """

    def __init__(self, path, message):
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


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


def require_folder(path: str) -> str:
    """`path`, or a `FormatError` saying the input folder is missing.

    Args:
        path: the folder a converter reads.

    Returns:
        `path` itself.

    Raises:
        FormatError: `path` is not an existing folder.
    """
    if not os.path.isdir(path):
        raise FormatError(path, "input folder not found")
    return path


def optional_file(folder: str, *names: str) -> str | None:
    """The first of `names` (each also tried with ``.gz``) that exists in `folder`.

    Args:
        folder: the folder to look in.
        *names: file names in order of preference; for each the plain file is
            tried before its ``.gz``.

    Returns:
        The path of the first file found, or None when there is none.
    """
    for name in names:
        for candidate in (name, name + ".gz"):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                return path
    return None


def find_file(folder: str, *names: str) -> str:
    """The first of `names` (each also tried with ``.gz``) that exists in `folder`."""
    path = optional_file(folder, *names)
    if path is None:
        raise FormatError(
            os.path.join(folder, names[0]),
            f"file not found (looked for {', '.join(names)}, also gzipped)",
        )
    return path


def _open_binary(path: str):
    require_file(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _gzip_error(path: str, error: Exception, line: int) -> FormatError:
    """A truncated or corrupt ``.gz`` file as a `FormatError` at the line reached."""
    if isinstance(error, EOFError):
        what = "truncated gzip file (it ends before its end-of-stream marker)"
    else:
        what = f"not a valid gzip file ({error})"
    return FormatError(path, f"{what}; read up to line {line}", line)


def first_line(path: str) -> bytes:
    """The raw first line of `path` (a header), with its line break.

    Args:
        path: the file; ``.gz`` is decompressed on the fly.

    Returns:
        The bytes of the first line, empty for an empty file.

    Raises:
        FormatError: `path` does not exist, or is a ``.gz`` file that is not
            valid gzip or ends inside its first line.
    """
    with _open_binary(path) as f:
        try:
            return f.readline()
        except _GZIP_ERRORS as error:
            raise _gzip_error(path, error, 1) from None


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


PROGRESS_BYTES = 256 << 20
"""Files at least this large (on disk) print a progress line per block read."""


def iter_blocks(
    path: str,
    block_bytes: int = BLOCK_BYTES,
    encoding: str = "utf-8",
    skip_lines: int = 0,
    progress_bytes: int = PROGRESS_BYTES,
) -> Iterator[Block]:
    """Yields `path` as blocks of whole lines, transcoded to UTF-8.

    Args:
        path: the file; ``.gz`` is decompressed on the fly.
        block_bytes: the approximate size of a block.
        encoding: the file's encoding (e.g. ``latin-1`` for MovieLens titles).
        skip_lines: leading lines (a header) to skip; still counted in line numbers.
        progress_bytes: a file at least this large on disk prints
            ``[<file>] read: <lines> lines, <share> of <size>`` after each block.

    Raises:
        FormatError: a missing file, text that is not valid in `encoding`, or a
            ``.gz`` file that is truncated or not gzip (naming the line reached).
    """
    size = os.path.getsize(require_file(path))
    report = Progress(os.path.basename(path)) if size >= progress_bytes else None
    for block, position in _blocks_with_position(
        path, block_bytes, encoding, skip_lines
    ):
        yield block
        if report is not None:
            report(
                "read",
                f"{block.first_line + block.num_lines - 1:,} lines, "
                f"{position / size:.0%} of {size / 1e9:.2f} GB",
            )


def _blocks_with_position(path, block_bytes, encoding, skip_lines):
    """(block, bytes of the file on disk consumed so far) pairs of `iter_blocks`."""
    with _open_binary(path) as f:
        raw = getattr(f, "fileobj", f)  # the compressed stream of a .gz file
        line = 1

        def read(size=-1, readline=False):
            try:
                return f.readline() if readline else f.read(size)
            except _GZIP_ERRORS as error:
                raise _gzip_error(path, error, line + rest.count(b"\n")) from None

        rest = b""
        for _ in range(skip_lines):
            if not read(readline=True):
                return
            line += 1
        while True:
            chunk = read(block_bytes)
            if not chunk:
                break
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                rest = chunk
                continue
            rest = chunk[cut:]
            data = chunk[:cut]
            yield _block(path, data, line, encoding), raw.tell()
            line += data.count(b"\n")
        if rest:
            yield _block(path, rest + b"\n", line, encoding), raw.tell()


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


def block_lines(block: Block) -> np.ndarray:
    """The file line numbers of a block's lines.

    Args:
        block: whole lines of a file.

    Returns:
        The 1-based line number (int64) of every line of `block`, in order.
    """
    return np.arange(
        block.first_line, block.first_line + block.num_lines, dtype=np.int64
    )


def _read_strings(
    data: bytes, names: tuple[str, ...], delimiter: str, quote_char, invalid: list
) -> pa.Table:
    """Parses whole lines into a table of string columns `names`.

    Args:
        data: the lines (UTF-8, each ending with a newline).
        names: the column names, in file order.
        delimiter: the one-character field separator.
        quote_char: ``'"'`` when fields may be quoted, else False.
        invalid: receives the rows with another number of fields (pyarrow's
            invalid-row records), which make the read raise `pa.ArrowInvalid`.

    Returns:
        The table; empty lines are rows (of one field), never skipped.
    """

    def handler(row):
        invalid.append(row)
        return "error"

    return pa_csv.read_csv(
        io.BytesIO(data),
        read_options=pa_csv.ReadOptions(
            column_names=list(names), use_threads=False, block_size=len(data) + 1
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter=delimiter,
            quote_char=quote_char,
            double_quote=True,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
            invalid_row_handler=handler,
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


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

    def line_of(index):
        if line_numbers is not None:
            return int(line_numbers[index])
        return block.first_line + index

    try:
        table = _read_strings(data, names, delimiter, False, invalid)
    except pa.ArrowInvalid as error:
        if not invalid:
            raise FormatError(
                path, f"unreadable block ({error})", block.first_line
            ) from None
        row = invalid[0]
        index = (row.number or 1) - 1
        text = row.text.replace(delimiter, sep)  # the line as the file holds it
        raise FormatError(
            path,
            f"expected {len(names)} fields ({', '.join(names)}) separated by "
            f"{sep!r}, got {row.actual_columns}: {text[:200]!r}",
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


def split_lines(
    block: Block, path: str, expected: str = "a non-empty line"
) -> pa.Array:
    """The lines of `block` as one string array, blanks at both ends trimmed.

    Args:
        block: whole lines.
        path: the file name for error messages.
        expected: what a line holds, for the message on an empty line.

    Returns:
        One trimmed string per line.

    Raises:
        FormatError: an empty (or blank) line, naming its line.
    """
    text = pa.array([block.data[:-1]], pa.string())  # the last newline dropped
    lines = pc.utf8_trim_whitespace(pc.list_flatten(pc.split_pattern(text, "\n")))
    empty = pc.equal(pc.utf8_length(lines), 0).to_numpy(zero_copy_only=False)
    if empty.any():
        line = block.first_line + int(np.flatnonzero(empty)[0])
        raise FormatError(path, f"empty line: expected {expected}", line)
    return lines


# --------------------------------------------------------------------------
# Comma-separated files with a header line.
# --------------------------------------------------------------------------


def read_csv_header(path: str) -> tuple[str, ...]:
    """The column names on the first line of a comma-separated file.

    Args:
        path: the file; ``.gz`` is decompressed on the fly. A UTF-8 byte-order
            mark is ignored, names may be ``"``-quoted and are stripped of blanks.

    Returns:
        The names in file order.

    Raises:
        FormatError: a missing or empty file, a header that is not UTF-8, or a
            name given twice (``field`` names it).
    """
    first = first_line(path)
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FormatError(path, f"header is not UTF-8 ({error.reason})", 1) from None
    text = text.lstrip("\ufeff").rstrip("\r\n")
    if not text.strip():
        raise FormatError(path, "empty file: expected a header line", 1)
    names = tuple(name.strip() for name in next(csv.reader([text])))
    seen = set()
    for name in names:
        if name in seen:
            raise FormatError(path, f"column {name!r} twice in the header", 1, name)
        seen.add(name)
    return names


def require_columns(path: str, header: tuple[str, ...], required) -> None:
    """Checks that a header names every required column.

    Args:
        path: the file, for error messages.
        header: the column names of its header (`read_csv_header`).
        required: the column names it must have.

    Raises:
        FormatError: the first of `required` missing from `header`, at line 1
            with ``field`` the column.
    """
    for name in required:
        if name not in header:
            raise FormatError(
                path,
                f"missing column {name!r}; the header has {', '.join(header)}",
                1,
                name,
            )


def _odd_quote_line(block: Block) -> int | None:
    """Index of the first line of `block` with an unbalanced double quote."""
    for index, line in enumerate(block.data.split(b"\n")[: block.num_lines]):
        if line.count(b'"') % 2:
            return index
    return None


def split_quoted(
    block: Block, path: str, names: tuple[str, ...]
) -> dict[str, pa.Array]:
    """`split_fields` for comma-separated files with ``"`` quoting.

    A quoted field may hold commas but not a line break (every line is a row).

    Args:
        block: whole lines.
        path: the file name for error messages.
        names: the field names, in file order; every line must have exactly these.

    Returns:
        One string array per field (quotes removed).

    Raises:
        FormatError: a line with another number of fields, an unbalanced quote
            or an empty line, naming its line.
    """
    invalid = []

    def fail(reason):
        odd = _odd_quote_line(block)
        count_line = None
        if invalid:
            row = invalid[0]
            count_line = block.first_line + (row.number or 1) - 1
        if odd is not None and (
            count_line is None or block.first_line + odd <= count_line
        ):
            text = block.data.split(b"\n")[odd].decode()[:200]
            raise FormatError(
                path, f"unbalanced double quote: {text!r}", block.first_line + odd
            )
        if count_line is not None:
            row = invalid[0]
            raise FormatError(
                path,
                f"expected {len(names)} fields ({', '.join(names)}) separated by ',', "
                f"got {row.actual_columns}: {row.text[:200]!r}",
                count_line,
            )
        raise FormatError(path, reason, block.first_line)

    try:
        table = _read_strings(block.data, names, ",", '"', invalid)
    except pa.ArrowInvalid as error:
        fail(f"unreadable block ({error})")
    if table.num_rows != block.num_lines:
        fail(f"parsed {table.num_rows} rows from {block.num_lines} lines")
    columns = {name: table.column(name).combine_chunks() for name in names}
    for values in columns.values():
        # A quote left open on the block's last line swallows its line break.
        if pc.any(pc.match_substring(values, "\n")).as_py():
            fail("a quoted field holds a line break")
    return columns


def iter_csv(
    path: str,
    required,
    block_bytes: int = BLOCK_BYTES,
    quoted: bool = False,
):
    """Streams a headed CSV file: yields ``(block, {column: string array})``.

    Args:
        path: the file (``.gz`` aware).
        required: the columns that must be in the header (only these are returned).
        block_bytes: bytes read at a time.
        quoted: whether fields may be ``"``-quoted (feature files).

    Yields:
        (the `Block`, for its line numbers; the string array of each `required`
        column).

    Raises:
        FormatError: a bad header (`read_csv_header`), a missing required column
            or a malformed line (`split_fields` / `split_quoted`).
    """
    header = read_csv_header(path)
    require_columns(path, header, required)
    for block in iter_blocks(path, block_bytes, skip_lines=1):
        if quoted:
            raw = split_quoted(block, path, header)
        else:
            raw = split_fields(block, path, header, ",")
        yield block, {name: raw[name] for name in required}


# --------------------------------------------------------------------------
# Parsing string fields.
# --------------------------------------------------------------------------


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


def _out_of_range(out: np.ndarray, minimum, maximum) -> np.ndarray:
    """True where `out` is below `minimum` or above `maximum` (None: no bound)."""
    bad = np.zeros(len(out), bool)
    if minimum is not None:
        bad |= out < minimum
    if maximum is not None:
        bad |= out > maximum
    return bad


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
        bad = _out_of_range(out, minimum, maximum)
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
        bad |= _out_of_range(out, minimum, maximum)
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


def require_non_empty(
    values: pa.Array, path: str, field: str, first_line: int, what: str = "value"
) -> pa.Array:
    """String field -> the trimmed strings, or a `FormatError` at the first empty one.

    Unlike `parse_string`, the values stay an Arrow array and a blank value is
    reported as empty whatever its blanks.

    Args:
        values: the field of a block.
        path: the file name for error messages.
        field: the field name for error messages.
        first_line: the file line number of the block's first value.
        what: the noun of the message, ``expected a non-empty <what>``.

    Returns:
        The values with blanks at both ends removed.

    Raises:
        FormatError: an empty (or blank) value, naming its line and field.
    """
    trimmed = pc.utf8_trim_whitespace(values)
    empty = pc.equal(pc.utf8_length(trimmed), 0).to_numpy(zero_copy_only=False)
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise FormatError(
            path,
            f"expected a non-empty {what}, got an empty value",
            first_line + row,
            field,
        )
    return trimmed


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


@dataclasses.dataclass(frozen=True)
class TimeWindow:
    """The plausible span of a dataset's times: the documented span with a margin.

    Attributes:
        first: the first plausible day, ``YYYY-MM-DD`` (UTC).
        last: the last plausible day (inclusive).
        documented: the span the dataset's documentation gives, for messages
            (e.g. ``"the ratings span 2000-04..2003-02"``).
    """

    first: str
    last: str
    documented: str

    def seconds(self) -> tuple[int, int]:
        """[start, end) of the window in seconds since the epoch."""
        start = np.datetime64(self.first, "s").astype(np.int64)
        end = (np.datetime64(self.last, "D") + 1).astype("datetime64[s]")
        return int(start), int(end.astype(np.int64))


TIME_UNITS = {
    "seconds": 1.0,
    "milliseconds": 1e-3,
    "microseconds": 1e-6,
    "days": 86400.0,
}
"""Seconds per unit of the time units a file may hold, as `check_window` names them."""


def _date(seconds: float) -> str:
    if not -1e11 < seconds < 1e11:
        return "out of any calendar"
    return str(np.datetime64(int(seconds), "s")).replace("T", " ") + " UTC"


class WindowCheck:
    """Checks, block by block, that a time field falls in its dataset's window.

    A file whose times are mostly outside the dataset's plausible window holds
    another unit than expected (seconds for milliseconds, ...) or another
    dataset: `finish` then raises a `FormatError` naming the first line outside,
    the field, the unit expected and the unit the values look like. A few rows
    outside are only counted.

    Args:
        window: the dataset's `TimeWindow`.
        path: the file, for messages.
        field: the time field, for messages.
        unit: the unit of the numbers `add` receives, a key of `TIME_UNITS`.
        expected: what the field holds, for messages (default ``<unit> since
            1970``).
    """

    def __init__(
        self,
        window: TimeWindow,
        path: str,
        field: str,
        unit: str,
        expected: str | None = None,
    ):
        check_choice("unit", unit, TIME_UNITS)
        self.window, self.path, self.field, self.unit = window, path, field, unit
        self.expected = expected or f"{unit} since 1970"
        self.start, self.end = window.seconds()
        self.rows = self.outside = 0
        self.first_outside: tuple[int, float] | None = None  # (line, raw value)
        self._inside = dict.fromkeys(TIME_UNITS, 0)

    def _in(self, raw: np.ndarray, unit: str) -> np.ndarray:
        seconds = raw.astype(np.float64) * TIME_UNITS[unit]
        return (seconds >= self.start) & (seconds < self.end)

    def add(self, raw: np.ndarray, lines) -> None:
        """Checks one block.

        Args:
            raw: the field's numbers, in the file's unit.
            lines: their line numbers, or the first one's when consecutive.
        """
        for unit in TIME_UNITS:
            inside = self._in(raw, unit)
            self._inside[unit] += int(np.count_nonzero(inside))
            if unit == self.unit:
                outside = np.flatnonzero(~inside)
        self.rows += len(raw)
        self.outside += len(outside)
        if len(outside) and self.first_outside is None:
            row = int(outside[0])
            line = lines + row if isinstance(lines, int) else int(lines[row])
            self.first_outside = (line, raw[row].item())

    def finish(self) -> int:
        """The number of rows outside the window.

        Raises:
            FormatError: more than half the rows are outside the window.
        """
        if self.outside * 2 <= self.rows:
            return self.outside
        line, value = self.first_outside
        seconds = value * TIME_UNITS[self.unit]
        looks = max(TIME_UNITS, key=self._inside.get)
        if self._inside[looks] * 2 > self.rows:
            found = f"the values look like {looks}"
        else:
            found = "the values fit no time unit in that window"
        raise FormatError(
            self.path,
            f"expected {self.expected} in {self.window.first}..{self.window.last} "
            f"({self.window.documented}, with a margin), got {value} "
            f"({_date(seconds)}); {self.outside:,} of {self.rows:,} values are "
            f"outside: {found}",
            line,
            self.field,
        )


def count_outside_window(report, count: int, window: TimeWindow) -> None:
    """Records the rows outside `window` that `WindowCheck.finish` let through."""
    report.count(
        "outside_time_window",
        count,
        f"rows dated outside {window.first}..{window.last} ({window.documented}, "
        "with a margin) are kept; most rows outside would be an error",
    )


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


_INT32 = np.iinfo(np.int32)


def compact(values: np.ndarray) -> np.ndarray:
    """Integer values in the narrowest of int32 and their own dtype.

    Halves the memory of id and time columns; blocks of both widths
    concatenate to int64.

    Args:
        values: integers (int64 as parsed).

    Returns:
        `values` as int32 when every value fits (or there are none), else
        `values` unchanged.
    """
    if len(values) == 0 or (values.min() >= _INT32.min and values.max() <= _INT32.max):
        return values.astype(np.int32)
    return values


def sample_mask(ids: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """True for the ids in a seeded sample of about `fraction` of all ids.

    Each id is kept when a 64-bit hash of (id, seed) falls below `fraction` of the
    hash range, so the choice is the same in every block of a streamed file and in
    every file of a dataset, without a first pass to list the ids.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"`fraction` must be in (0, 1]. Received: {fraction}")
    if fraction == 1:
        return np.ones(len(ids), bool)
    x = hashing.splitmix64(ids, seed)
    return (x >> np.uint64(11)).astype(np.float64) < fraction * float(1 << 53)


def mapping_file(output: str, kind: str) -> str:
    return os.path.join(output, f"{kind}_ids.parquet")


def write_mapping(output: str, kind: str, originals: np.ndarray) -> None:
    """Saves code -> original id for one id space beside the dataset."""
    frame = pd.DataFrame(
        {f"{kind}_id": np.arange(len(originals), dtype=np.int64), "original": originals}
    )
    frame.to_parquet(mapping_file(output, kind), index=False)


def read_mapping(folder: str, kind: str, count: int) -> np.ndarray | None:
    """The saved original ids of codes ``0..count-1`` of one id space.

    Args:
        folder: a dataset folder in the canonical schema.
        kind: ``user``, ``item`` (or another saved id space).
        count: the number of codes of that space in the dataset.

    Returns:
        ``originals[code]`` for every code, in the dtype they were saved with, or
        None when the folder has no ``<kind>_ids.parquet``.

    Raises:
        FormatError: the mapping does not hold exactly one row per code.
    """
    file = mapping_file(folder, kind)
    if not os.path.exists(file):
        return None
    frame = pd.read_parquet(file)
    codes = frame[f"{kind}_id"].to_numpy()
    if len(frame) != count or not np.array_equal(np.sort(codes), np.arange(count)):
        raise FormatError(
            file,
            f"expected one row per {kind} code 0..{count - 1}, got {len(frame)} rows",
        )
    values = frame["original"].to_numpy()
    out = np.empty(count, dtype=values.dtype)
    out[codes] = values
    return out


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


def time_order(users: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    """The stable order of rows by (timestamp, user): equal pairs keep file order.

    Sorting by user id sorts by user code too, since `remap` keeps the order of
    the original ids.

    Args:
        users: the user (id or code) of every row.
        stamps: the timestamp of every row.

    Returns:
        Row indices (int64) in that order.
    """
    if len(users) == 0:
        return np.zeros(0, np.int64)
    t = stamps.astype(np.int64)
    u = users.astype(np.int64)
    t_min = int(t.min())
    span = int(t.max()) - t_min + 1
    u_min = int(u.min())
    width = int(u.max()) - u_min + 1
    if span * width < 2**62:
        key = (t - t_min) * width + (u - u_min)
        del t, u
        return np.argsort(key, kind="stable")
    return np.lexsort((u, t))


def tied_positions(
    order: np.ndarray, users: np.ndarray, stamps: np.ndarray
) -> np.ndarray:
    """Positions in `order` of the rows that share their (timestamp, user) with
    another row; only those can be duplicates of each other.

    Args:
        order: the rows in `time_order`.
        users: the user of every row (file order).
        stamps: the timestamp of every row (file order).

    Returns:
        Ascending positions into `order`.
    """
    u = users[order]
    t = stamps[order]
    tie = (u[1:] == u[:-1]) & (t[1:] == t[:-1])
    del u, t
    grouped = np.zeros(len(order), bool)
    grouped[1:] |= tie
    grouped[:-1] |= tie
    return np.flatnonzero(grouped)


def duplicate_rows(
    order: np.ndarray, users: np.ndarray, stamps: np.ndarray, *columns: np.ndarray
) -> np.ndarray:
    """True (aligned with `order`, from `time_order`) for every row repeating an
    earlier row (file order) in user, timestamp and all `columns`.

    Only the rows tied in (timestamp, user) are hashed, so the cost on a file of
    mostly distinct times stays far below a hash of every row.

    Args:
        order: the rows in `time_order`.
        users: the user of every row (file order).
        stamps: the timestamp of every row (file order).
        *columns: the other values a duplicate repeats (file order).

    Returns:
        A boolean mask over the positions of `order`.
    """
    dup = np.zeros(len(order), bool)
    tied = tied_positions(order, users, stamps)
    if len(tied):
        rows = order[tied]
        dup[tied] = duplicate_mask(
            users[rows], stamps[rows], *(c[rows] for c in columns)
        )
    return dup


def keep_latest(stamps: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, int]:
    """The rows kept when rows repeating all `columns` keep only the latest.

    The latest is the one with the largest timestamp; among equal timestamps,
    the last in file order.

    Args:
        stamps: the timestamp of every row (file order).
        *columns: the values that make rows repeats of each other (e.g. user and
            item).

    Returns:
        (the kept row indices in ascending file order, the number dropped).
    """
    order = np.argsort(stamps, kind="stable")
    dup = duplicate_mask(*(c[order] for c in columns), keep="last")
    return np.sort(order[~dup]), int(dup.sum())


def positions_in_file_order(users: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each user, in the order of `users`.

    Args:
        users: the user of every row, in file order (a user's rows need not be
            adjacent).

    Returns:
        The int64 position of every row among its user's rows.
    """
    order = np.argsort(users, kind="stable")
    sorted_users = users[order]
    first = np.ones(len(users), bool)
    first[1:] = sorted_users[1:] != sorted_users[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(users)), 0))
    positions = np.empty(len(users), np.int64)
    positions[order] = np.arange(len(users)) - group_start
    return positions


EVENT_CODES = {name: code for code, name in enumerate(schema.EVENT_TYPES)}


def event_column(codes: np.ndarray) -> pd.Categorical:
    """Event type codes (`EVENT_CODES`) -> the schema's categorical column."""
    return pd.Categorical.from_codes(
        np.asarray(codes, dtype=np.int8), categories=list(schema.EVENT_TYPES)
    )


# --------------------------------------------------------------------------
# Feature files.
# --------------------------------------------------------------------------


def feature_codes(values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, list]:
    """Feature values -> codes: 0 = missing, 1.. = the distinct values in sorted order.

    Args:
        values: the value of every row (numbers or strings).
        missing: True for the rows whose value is missing (their value ignored).

    Returns:
        (int64 codes, the vocabulary): code ``i >= 1`` stands for
        ``vocabulary[i - 1]``; values are plain Python values (numpy scalars
        unwrapped), so the vocabulary can go into ``meta.json``.
    """
    codes = np.zeros(len(values), np.int64)
    present = ~missing
    if not present.any():
        return codes, []
    uniques, inverse = np.unique(values[present], return_inverse=True)
    codes[present] = inverse + 1
    return codes, [v.item() if hasattr(v, "item") else v for v in uniques]


@dataclasses.dataclass
class FeatureTable:
    """The kept rows of a feature file.

    Attributes:
        path: the file.
        id_field: its id column.
        ids: original ids of the kept rows (file order).
        lines: their line numbers.
        columns: column -> (values, missing mask) of the kept rows.
        rows_read: all data rows of the file.
    """

    path: str
    id_field: str
    ids: np.ndarray
    lines: np.ndarray
    columns: dict[str, tuple[np.ndarray, np.ndarray]]
    rows_read: int

    def align(self, wanted: np.ndarray, what: str) -> FeatureTable:
        """The rows of `wanted` ids in that order.

        Args:
            wanted: original ids, each of which must have a row.
            what: what the ids are (``user``, ``video``), for error messages.

        Returns:
            A `FeatureTable` with one row per id of `wanted`.

        Raises:
            FormatError: ids of `wanted` without a row (counted, the first named).
        """
        index = pd.Index(self.ids).get_indexer(wanted)
        if (index < 0).any():
            absent = wanted[index < 0]
            raise FormatError(
                self.path,
                f"lists no row for {len(absent):,} {what}(s) that have events "
                f"(first: {absent[0]})",
                None,
                self.id_field,
            )
        return FeatureTable(
            self.path,
            self.id_field,
            self.ids[index],
            self.lines[index],
            {k: (v[index], m[index]) for k, (v, m) in self.columns.items()},
            self.rows_read,
        )


def read_features(
    path: str,
    id_field: str,
    parsers: dict,
    keep: np.ndarray,
    block_bytes: int = BLOCK_BYTES,
) -> FeatureTable:
    """Streams a feature file, checking every row and keeping those of `keep` ids.

    The file is comma-separated with a header line and ``"`` quoting
    (`iter_csv`); only the id column and the columns of `parsers` are read.

    Args:
        path: the file.
        id_field: the id column (a non-negative integer).
        parsers: column -> ``f(values, path, field, lines) -> (values, missing)``.
        keep: the original ids to keep (sorted).
        block_bytes: bytes read at a time.

    Returns:
        The kept rows in file order, with the number of data rows read.

    Raises:
        FormatError: a bad value, an empty file, or an id twice among the kept
            rows.
    """
    ids, lines, rows = [], [], 0
    parts = {name: ([], []) for name in parsers}
    for block, raw in iter_csv(path, (id_field, *parsers), block_bytes, quoted=True):
        numbers = block_lines(block)
        found = parse_int(raw[id_field], path, id_field, block.first_line, minimum=0)
        mask = np.isin(found, keep)
        rows += len(found)
        ids.append(found[mask])
        lines.append(numbers[mask])
        for name, parser in parsers.items():
            values, missing = parser(raw[name], path, name, numbers)
            parts[name][0].append(values[mask])
            parts[name][1].append(missing[mask])
    if not rows:
        raise FormatError(path, "no rows after the header")
    ids = np.concatenate(ids)
    lines = np.concatenate(lines)
    dup = pd.Index(ids).duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise FormatError(
            path, f"id {ids[row]} listed twice", int(lines[row]), id_field
        )
    columns = {
        name: (np.concatenate(values), np.concatenate(missing))
        for name, (values, missing) in parts.items()
    }
    return FeatureTable(path, id_field, ids, lines, columns, rows)


def side_rows(
    table: pd.DataFrame, ids: np.ndarray, path: str, field: str, kind: str
) -> pd.DataFrame:
    """Rows of a side file's `table` for every id the ratings name.

    Args:
        table: the side file's rows, original ids in column ``original``.
        ids: the original ids of the rated users or items, in code order.
        path: the side file, for error messages.
        field: its id field, for error messages.
        kind: what the ids are (``user``, ``movie``), for error messages.

    Returns:
        One row of `table` per id of `ids`, in that order (index reset).

    Raises:
        FormatError: an id of `ids` that `table` does not list.
    """
    index = pd.Index(table["original"]).get_indexer(ids)
    if (index < 0).any():
        missing = ids[index < 0][0]
        raise FormatError(
            path,
            f"the ratings name {kind} {missing}, which this file does not list",
            None,
            field,
        )
    return table.iloc[index].reset_index(drop=True)


_ID_MAP_SUFFIX = "_ids.parquet"
_DATASET_FILES = (
    schema.USERS_FILE,
    schema.ITEMS_FILE,
    schema.EVENTS_FILE,
    schema.META_FILE,
    schema.TRUTH_FILE,
    schema.STATS_FILE,
)
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def _refuse_foreign(output: str, overwrite: bool) -> None:
    if overwrite or not os.path.lexists(output):
        return
    if not os.path.isdir(output) or os.path.islink(output):
        raise OutputError(
            output,
            "exists and is not a dataset folder; pass --overwrite to replace it",
        )
    foreign = [
        name
        for name in sorted(os.listdir(output))
        if not (
            os.path.isfile(os.path.join(output, name))
            and (name in _DATASET_FILES or name.endswith(_ID_MAP_SUFFIX))
        )
    ]
    if foreign:
        raise OutputError(
            output,
            f"holds {len(foreign)} entr{'y' if len(foreign) == 1 else 'ies'} that "
            f"no dataset folder holds ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); pass --overwrite to replace the "
            "whole folder",
        )


def check_output(output: str, overwrite: bool = False) -> None:
    """Checks, before any input is read, that `output` can take a dataset.

    A dataset is written into a sibling folder and renamed into place at the end
    (`dataset_folder`), so the parent of `output` must be writable; `output`
    itself may be absent, empty or a dataset folder (only the files of the
    schema and ``<kind>_ids.parquet``), anything else needs `overwrite`.

    Args:
        output: the dataset folder to write.
        overwrite: whether to replace whatever `output` holds.

    Raises:
        OutputError: the parent cannot be created or written (naming it), or
            `output` holds something other than a dataset and not `overwrite`.
    """
    _refuse_foreign(output, overwrite)
    parent = os.path.dirname(os.path.abspath(output))
    try:
        os.makedirs(parent, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".write-test-", dir=parent))
    except OSError as error:
        raise OutputError(
            parent, f"cannot write the output folder here ({error.strerror})"
        ) from None


@contextlib.contextmanager
def dataset_folder(output: str, overwrite: bool = False) -> Iterator[str]:
    """Yields a new folder beside `output` to write a dataset into; on success it
    replaces `output` as a whole.

    The folder, ``<output>.partial-<random>``, is renamed to `output` when the
    block ends; the previous `output` is moved aside first and removed after, so
    none of its files survive. An error in the block (a kill, a bad table, a
    full disk) removes the new folder and leaves `output` as it was: a reader
    finds the old dataset or none, never a mix. Only a ``kill -9`` leaves the
    ``.partial-*`` folder behind (never `output`).

    Args:
        output: the dataset folder to write.
        overwrite: whether to replace an `output` that holds more than a dataset
            (`check_output`).

    Yields:
        The path of the new folder.

    Raises:
        OutputError: see `check_output`; or the disk filled up while writing.
    """
    check_output(output, overwrite)
    output = output.rstrip("/") or output
    parent = os.path.dirname(os.path.abspath(output))
    name = os.path.basename(output)
    partial = tempfile.mkdtemp(prefix=f"{name}.partial-", dir=parent)
    try:
        yield partial
        _refuse_foreign(output, overwrite)
        if os.path.lexists(output):
            old = tempfile.mkdtemp(prefix=f"{name}.old-", dir=parent)
            os.rename(output, os.path.join(old, name))
            try:
                os.rename(partial, output)
            except BaseException:
                os.rename(os.path.join(old, name), output)
                os.rmdir(old)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(partial, output)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        if error.errno in _NO_SPACE:
            raise OutputError(
                output,
                "no space left on the device while writing the dataset; nothing "
                "was written (a previous dataset there is unchanged)",
            ) from None
        raise
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def write_dataset(
    output: str,
    users: pd.DataFrame,
    items: pd.DataFrame,
    events: pd.DataFrame,
    meta: dict,
    mappings: dict[str, np.ndarray],
    report: Report,
    progress: Progress,
    overwrite: bool = False,
) -> schema.EventLog:
    """Validates and writes the converted dataset, its id mappings and report.

    Everything is written into a new folder that then replaces `output` whole
    (`dataset_folder`): a failed or killed write leaves the previous `output`
    untouched.

    `meta` must say ``name``, ``source`` and ``timestamps`` (one of
    `TIMESTAMP_KINDS`).

    Raises:
        OutputError: `output` holds more than a dataset and not `overwrite`, or
            cannot be written (`check_output`, `dataset_folder`).
    """
    for key in ("name", "source", "timestamps"):
        if key not in meta:
            raise ValueError(f"meta needs {key!r}")
    if meta["timestamps"] not in TIMESTAMP_KINDS:
        raise ValueError(f"meta['timestamps'] must be one of {TIMESTAMP_KINDS}")
    meta = {**meta, "conversion": report.as_dict()}
    meta["conversion"]["counts"]["events_written"] = len(events)
    with dataset_folder(output, overwrite) as folder:
        log = schema.write_event_log(
            schema.EventLog(users, items, events, meta), folder
        )
        for kind, originals in mappings.items():
            write_mapping(folder, kind, originals)
    log.path = output
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


def select_events(
    log: schema.EventLog, events: list[str] | None
) -> tuple[pd.DataFrame, list]:
    """The events of `log` an export writes, grouped by user in time order.

    Args:
        log: a dataset in the canonical schema.
        events: the event types to write; None or empty: every type present.

    Returns:
        (the chosen events sorted by (user, timestamp), stably: equal times keep
        the stored order; the chosen types).

    Raises:
        ValueError: an unknown event type.
    """
    present = [e for e in schema.EVENT_TYPES if (log.events["event"] == e).any()]
    types = list(events) if events else present
    unknown = sorted(set(types) - set(schema.EVENT_TYPES))
    if unknown:
        raise ValueError(
            f"Unknown event type(s) {unknown}; expected any of {schema.EVENT_TYPES}."
        )
    chosen = log.events_of(*types)
    user = chosen["user_id"].to_numpy()
    stamp = chosen["timestamp"].to_numpy()
    order = np.lexsort((np.arange(len(chosen)), stamp, user))
    return chosen.iloc[order].reset_index(drop=True), types


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------


def define_io_flags(input_help: str, default_output: str) -> None:
    """``--input``, ``--output`` and ``--overwrite`` of a converter's absl command
    line."""
    from absl import flags

    flags.DEFINE_string("input", None, input_help, required=True)
    flags.DEFINE_string("output", default_output, "Dataset folder to write.")
    define_overwrite_flag()


def define_overwrite_flag() -> None:
    """``--overwrite``: replace an ``--output`` that holds more than a dataset."""
    from absl import flags

    flags.DEFINE_bool(
        "overwrite",
        False,
        "Replace the whole --output folder even when it holds files other than a "
        "dataset's (a dataset folder is always replaced whole).",
    )


def command_flags(argv: list[str]):
    """The parsed absl flags of a converter's ``main``, once `argv` is checked.

    Args:
        argv: what `absl.app.run` passes to ``main``: the program name, then the
            arguments that are not flags.

    Returns:
        `absl.flags.FLAGS`.

    Raises:
        absl.app.UsageError: `argv` holds arguments other than flags.
    """
    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    return flags.FLAGS


def check_choice(name: str, value, choices) -> None:
    """A `ValueError` unless the argument `name` = `value` is one of `choices`.

    Args:
        name: the argument's name, for the message.
        value: its value.
        choices: the allowed values (a tuple, or a dict of them as keys).

    Raises:
        ValueError: ``"`<name>` must be one of (...). Received: <name>=<value>"``.
    """
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {tuple(choices)}. Received: {name}={value!r}"
        )


def run(convert, *args, **kwargs):
    """Calls `convert`, turning input and output errors into one line on stderr
    and exit 1."""
    try:
        return convert(*args, **kwargs)
    except (FormatError, OutputError, schema.SchemaError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
