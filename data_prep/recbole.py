"""RecBole atomic files <-> the canonical schema.

Format (RecBole "Atomic Files"): UTF-8 text, fields separated by tabs, a first
line naming every field as ``name:type`` with type ``token`` (a discrete value),
``token_seq`` (discrete values separated by spaces), ``float`` or ``float_seq``.
A dataset ``<name>`` is a folder with ``<name>.inter`` (interactions; required),
``<name>.user`` and ``<name>.item`` (features; optional); each may be gzipped.
Fields are named as RecBole's defaults: ``user_id``, ``item_id`` (both
``token``), ``rating``, ``timestamp``, ``label`` (``float``). Every line must
have exactly the header's number of fields; values are taken literally (no
quoting).

Import (``python -m data_prep.recbole --input folder --dataset name --output
out``), ``.inter``:
- ``user_id`` and ``item_id`` are required and must not be empty; ids are
  remapped (sorted as integers when every id of a kind is a plain integer, else
  as text) and the mappings saved;
- event types: an ``event:token`` field (written by our export; values
  ``impression`` .. ``rating``) gives each row's type; else with
  ``rating:float`` every row is a ``rating`` event with that value; else with
  ``label:float`` (RecBole's 0/1 label) a 1 is an event of ``--event`` type and
  a 0 an ``impression`` (shown, not taken; any other label is an error); else
  every row is a ``--event`` event (default ``click``). ``value`` = the rating
  for ``rating`` events, else 1.0; ``label`` is ignored beside ``event`` or
  ``rating``;
- ``timestamp:float`` -> seconds since the epoch (floor), ``meta.timestamps`` =
  ``"seconds"``; without it the timestamp is the row's position among its
  user's rows in file order (0, 1, ...) and ``meta.timestamps`` = ``"order"``;
- empty, NaN or non-numeric ``rating`` / ``timestamp`` / ``label`` values, and
  timestamps outside 1970-2100, are errors, as is a file whose timestamps mostly
  fall outside 1990-2039 (named with the unit they look like: milliseconds, or
  positions that are no times at all; fewer such rows are counted); other fields are not kept (listed
  in ``meta.skipped_fields``).

``.user`` / ``.item`` (``user_id`` / ``item_id`` required, one line per id):
``token`` features become codes 1..K (sorted as for ids), 0 for an empty value;
``token_seq`` keeps its first token the same way (0 when empty); ``float``
features become their decile among the file's values (``pandas.qcut``:
codes 1..10 in value order, fewer when values repeat; 0 when empty); ``float_seq`` features are
skipped. An ``.item`` feature named ``category`` / ``brand`` is the schema's
``category`` / ``brand`` (else 0).

Rules (counted in ``meta.json``):
- rows repeating an earlier row's user, item, event type and timestamp keep the
  last one;
- events are sorted by time, stably (out-of-order rows counted);
- ids of ``.user`` / ``.item`` without an interaction are left out; users and
  items of ``.inter`` missing from those files get feature codes 0; an id listed
  twice in a feature file is an error.

Export (``python -m data_prep.recbole --export --input <dataset folder> --output
folder --dataset name [--events=click,buy]``) writes ``<output>/<name>.inter``
with ``user_id:token``, ``item_id:token``, ``event:token`` (when more than one
type is written), ``rating:float`` (when ``rating`` events are written; 1.0 on
other rows) and ``timestamp:float`` (when ``meta.timestamps`` is ``"seconds"``;
for ``"order"`` and ``"absent"`` it is left out and the rows are written in each
user's order, which an import turns back into positions). Rows are grouped by
user in time order. Ids are the original ids when the dataset has
``<kind>_ids.parquet`` mappings, else the codes. ``<name>.user`` (when users
have features) and ``<name>.item`` hold the users / items of the written events
with every integer feature column as a ``token``. Default events: all types.
A single written type other than ``rating`` is not recorded in the files: import
them with ``--event`` of that type. ``request_id`` and ``truth_*`` columns are
not exported.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_prep import common
from recsys_tf.data import schema

TYPES = ("token", "token_seq", "float", "float_seq")
SEP = "\t"
SEQ_SEP = " "
USER = "user_id"
ITEM = "item_id"
FLOAT_BUCKETS = 10
IMPORT_EVENTS = tuple(e for e in schema.EVENT_TYPES if e != "rating")


# --------------------------------------------------------------------------
# Reading.
# --------------------------------------------------------------------------


def read_header(path: str) -> list[tuple[str, str]]:
    """The ``(name, type)`` fields of an atomic file's first line."""
    raw = common.first_line(path)
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise common.FormatError(
            path, f"not valid UTF-8 text ({error.reason})", 1
        ) from None
    if not line:
        raise common.FormatError(
            path,
            "expected a header line of tab-separated name:type fields, got nothing",
            1,
        )
    fields = []
    for text in line.split(SEP):
        parts = text.split(":")
        if len(parts) != 2 or not parts[0].strip():
            raise common.FormatError(
                path,
                f"expected a header field 'name:type' with type one of {', '.join(TYPES)}, "
                f"got {text!r}",
                1,
                text,
            )
        name, kind = parts[0].strip(), parts[1].strip()
        if kind not in TYPES:
            raise common.FormatError(
                path,
                f"unknown field type {kind!r}; expected one of {', '.join(TYPES)}",
                1,
                name,
            )
        if any(name == other for other, _ in fields):
            raise common.FormatError(path, "field named twice in the header", 1, name)
        fields.append((name, kind))
    return fields


def _require(fields, path, name, kind="token"):
    found = dict(fields).get(name)
    if found is None:
        raise common.FormatError(
            path,
            f"missing field {name}:{kind}; the header has "
            f"{', '.join(f'{n}:{k}' for n, k in fields)}",
            1,
            name,
        )
    if found != kind:
        raise common.FormatError(path, f"expected type {kind}, got {found}", 1, name)


def _tokens(values: pa.Array, path: str, field: str, first_line: int) -> pa.Array:
    """Trimmed token strings; an empty one is an error."""
    return common.require_non_empty(values, path, field, first_line, "token")


def token_values(parts: list[pa.Array]) -> np.ndarray:
    """Token strings -> int64 when each is a plain integer (``'7'``, not
    ``'007'``), else the strings (numpy object array)."""
    values = (
        pa.chunked_array(parts, pa.string()).combine_chunks()
        if parts
        else pa.array([], pa.string())
    )
    try:
        ints = pc.cast(values, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return values.to_numpy(zero_copy_only=False)
    if pc.all(pc.equal(pc.cast(ints, pa.string()), values)).as_py() in (True, None):
        return ints.to_numpy()
    return values.to_numpy(zero_copy_only=False)


def _float(values, path, field, first_line, **bounds):
    return common.parse_float(values, path, field, first_line, **bounds)


TIME_WINDOW = common.TimeWindow(
    "1990-01-01",
    "2039-12-31",
    "atomic files hold any dataset; public interaction logs start in the 1990s",
)
"""The plausible span of ``timestamp:float`` (`common.WindowCheck`)."""


def read_inter(path: str, block_bytes: int) -> tuple[dict, list, int, int]:
    """Streams ``.inter``: (columns, fields not kept, lines read, rows dated
    outside `TIME_WINDOW`: most of them outside is an error)."""
    fields = read_header(path)
    _require(fields, path, USER)
    _require(fields, path, ITEM)
    kinds = dict(fields)
    names = tuple(name for name, _ in fields)
    used = {"rating": "float", "timestamp": "float", "label": "float", "event": "token"}
    present = {n for n, k in used.items() if kinds.get(n) == k}
    users, items = [], []
    columns = common.Columns()
    lines = 0
    window = common.WindowCheck(TIME_WINDOW, path, "timestamp", "seconds")
    for block in common.iter_blocks(path, block_bytes, skip_lines=1):
        raw = common.split_fields(block, path, names, SEP)
        line = block.first_line
        lines += block.num_lines
        users.append(_tokens(raw[USER], path, USER, line))
        items.append(_tokens(raw[ITEM], path, ITEM, line))
        parsed = {}
        if "rating" in present:
            parsed["rating"] = _float(raw["rating"], path, "rating", line)
        if "timestamp" in present:
            seconds = _float(
                raw["timestamp"],
                path,
                "timestamp",
                line,
                minimum=schema.MIN_TIMESTAMP,
                maximum=schema.MAX_TIMESTAMP,
            )
            parsed["timestamp"] = np.floor(seconds).astype(np.int64)
            window.add(seconds, line)
        if "label" in present:
            label = _float(raw["label"], path, "label", line)
            bad = (label != 0) & (label != 1)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise common.FormatError(
                    path,
                    f"expected a label 0 or 1, got {label[row]!r}",
                    line + row,
                    "label",
                )
            parsed["label"] = label.astype(np.int8)
        if "event" in present:
            parsed["event"] = common.parse_choice(
                raw["event"], path, "event", line, common.EVENT_CODES
            )
        if parsed:
            columns.add(**parsed)
        if "event" in present and "rating" not in present:
            rated = parsed["event"] == common.EVENT_CODES["rating"]
            if rated.any():
                raise common.FormatError(
                    path,
                    "a 'rating' event needs a rating:float field",
                    line + int(np.flatnonzero(rated)[0]),
                    "event",
                )
    if lines == 0:
        raise common.FormatError(path, "no interactions (only a header line)")
    out = {"user": token_values(users), "item": token_values(items)}
    for name in present:
        out[name] = columns.pop(name)
    skipped = [
        f"{n}:{k}" for n, k in fields if n not in (USER, ITEM) and n not in present
    ]
    return out, skipped, lines, window.finish()


def _codes_of_tokens(parts: list[pa.Array]) -> np.ndarray:
    """Codes 1..K of the non-empty tokens (sorted as `token_values`), 0 if empty."""
    values = pa.chunked_array(parts, pa.string()).combine_chunks()
    empty = pc.equal(pc.utf8_length(values), 0).to_numpy(zero_copy_only=False)
    codes = np.zeros(len(values), np.int64)
    if (~empty).any():
        full = pc.filter(values, pa.array(~empty))
        codes[~empty] = common.remap(token_values([full]))[0] + 1
    return codes


def float_buckets(values: np.ndarray) -> np.ndarray:
    """Codes 1..B (B <= `FLOAT_BUCKETS`) of the equal-frequency buckets of
    `values`, in value order; a constant column is all 1."""
    if len(values) == 0 or values.min() == values.max():
        return np.ones(len(values), np.int64)
    buckets = pd.qcut(values, FLOAT_BUCKETS, labels=False, duplicates="drop")
    return common.remap(np.asarray(buckets, np.int64))[0] + 1


def read_features(path: str, id_field: str, block_bytes: int):
    """A ``.user`` / ``.item`` file -> (id tokens as text, {feature: codes},
    skipped fields, lines read)."""
    fields = read_header(path)
    _require(fields, path, id_field)
    names = tuple(name for name, _ in fields)
    kinds = dict(fields)
    ids, lines = [], 0
    used = [n for n, k in fields if n != id_field and k != "float_seq"]
    tokens: dict[str, list] = {n: [] for n in used if kinds[n] != "float"}
    floats = common.Columns()
    for block in common.iter_blocks(path, block_bytes, skip_lines=1):
        raw = common.split_fields(block, path, names, SEP)
        line = block.first_line
        lines += block.num_lines
        ids.append(_tokens(raw[id_field], path, id_field, line))
        for name in used:
            values = pc.utf8_trim_whitespace(raw[name])
            if kinds[name] == "token_seq":
                first = pc.list_element(
                    pc.split_pattern(values, SEQ_SEP, max_splits=1), 0
                )
                tokens[name].append(pc.utf8_trim_whitespace(first))
            elif kinds[name] == "token":
                tokens[name].append(values)
            else:
                empty = pc.equal(pc.utf8_length(values), 0).to_numpy(
                    zero_copy_only=False
                )
                out = np.full(len(values), np.nan)
                if (~empty).any():
                    full = np.flatnonzero(~empty)
                    out[full] = common.parse_float(
                        pc.take(values, pa.array(full)),
                        path,
                        name,
                        0,
                        line_numbers=line + full,
                    )
                floats.add(**{name: out})
    text = pd.Series(token_values(ids)).astype(str)
    dup = text.duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise common.FormatError(
            path, f"id {text.iloc[row]!r} listed twice", row + 2, id_field
        )
    features = {}
    for name in used:
        if kinds[name] != "float":
            features[name] = (
                _codes_of_tokens(tokens[name]) if lines else np.zeros(0, np.int64)
            )
            continue
        values = floats.pop(name) if lines else np.zeros(0)
        missing = np.isnan(values)
        codes = np.zeros(len(values), np.int64)
        codes[~missing] = float_buckets(values[~missing])
        features[name] = codes
    skipped = [f"{n}:float_seq" for n, k in fields if k == "float_seq"]
    return text.to_numpy(), features, skipped, lines


def _feature_table(kind, path, id_field, originals, block_bytes, report, progress):
    """Feature codes for every id in `originals` (rows without a line: 0)."""
    ids, table, skipped, lines = read_features(path, id_field, block_bytes)
    report.count(f"{kind}_lines_read", lines)
    index = pd.Index(ids).get_indexer(pd.Series(originals).astype(str))
    report.count(
        f"{kind}s_without_interactions_dropped",
        len(ids) - int((index >= 0).sum()),
        f"{kind}s of {os.path.basename(path)} with no interaction are left out",
    )
    report.count(
        f"{kind}s_without_features",
        int((index < 0).sum()),
        f"{kind}s of the interactions missing from {os.path.basename(path)} get "
        "feature codes 0",
    )
    features = {}
    for name, codes in table.items():
        features[name] = (
            np.where(index >= 0, codes[np.maximum(index, 0)], 0)
            if len(codes)
            else np.zeros(len(index), np.int64)
        )
    progress(f"read {kind}s", f"{path}: {len(ids):,} {kind}s")
    return features, skipped


def convert(
    input: str,
    output: str,
    dataset: str,
    event: str = "click",
    block_bytes: int = common.BLOCK_BYTES,
    overwrite: bool = False,
):
    """Imports the atomic files ``<input>/<dataset>.*`` into the folder `output`.

    Args:
        input: the folder holding ``<dataset>.inter`` (and ``.user``, ``.item``).
        output: the dataset folder to write.
        dataset: the atomic files' name.
        event: the event type of rows without ``event`` or ``rating`` fields.
        block_bytes: bytes read at a time.
        overwrite: whether to replace an `output` that holds more than a
            dataset (`common.check_output`); a dataset folder is always replaced
            whole.

    Returns:
        The written `EventLog`.
    """
    common.check_output(output, overwrite)
    common.check_choice("event", event, IMPORT_EVENTS)
    progress = common.Progress("recbole")
    report = common.Report()
    common.require_folder(input)
    inter_path = common.find_file(input, f"{dataset}.inter")
    columns, skipped, lines, outside = read_inter(inter_path, block_bytes)
    report.count("lines_read", lines)
    if "timestamp" in columns:
        common.count_outside_window(report, outside, TIME_WINDOW)
    user, item = columns["user"], columns["item"]
    n = len(user)
    progress("read interactions", f"{inter_path}: {n:,} rows")

    if "event" in columns:
        codes = columns["event"]
        if "label" in columns:
            skipped.append("label:float")
    elif "rating" in columns:
        codes = np.full(n, common.EVENT_CODES["rating"], np.int8)
        if "label" in columns:
            skipped.append("label:float")
    elif "label" in columns:
        codes = np.where(
            columns["label"] == 1,
            common.EVENT_CODES[event],
            common.EVENT_CODES["impression"],
        ).astype(np.int8)
    else:
        codes = np.full(n, common.EVENT_CODES[event], np.int8)
    rated = codes == common.EVENT_CODES["rating"]
    value = np.where(rated, columns["rating"], 1.0) if rated.any() else np.ones(n)

    user_code, user_originals = common.remap(user)
    item_code, item_originals = common.remap(item)
    if "timestamp" in columns:
        stamps = columns["timestamp"]
        kind = "seconds"
        report.count(
            "out_of_order",
            common.count_out_of_order(user_code, stamps),
            "events are sorted by time (stable in file order); this many came earlier "
            "than the previous row of their user in the file",
        )
    else:
        stamps = common.positions_in_file_order(user_code)
        kind = "order"
    dup = common.duplicate_mask(user_code, item_code, codes, stamps, keep="last")
    report.count(
        "duplicate_events_dropped",
        int(dup.sum()),
        "rows repeating a user, item, event type and timestamp keep the last one",
    )
    keep = ~dup

    source = [inter_path]
    users = pd.DataFrame({"user_id": np.arange(len(user_originals), dtype=np.int64)})
    items = pd.DataFrame({"item_id": np.arange(len(item_originals), dtype=np.int64)})
    for kind_name, table, id_field, originals in (
        ("user", users, USER, user_originals),
        ("item", items, ITEM, item_originals),
    ):
        path = common.optional_file(input, f"{dataset}.{kind_name}")
        if path is None:
            continue
        features, more = _feature_table(
            kind_name, path, id_field, originals, block_bytes, report, progress
        )
        for name, codes_ in features.items():
            table[name] = codes_
        skipped += [f"{os.path.basename(path)}: {f}" for f in more]
        source.append(path)
    for column in ("category", "brand"):
        if column not in items:
            items[column] = 0
    events = pd.DataFrame(
        {
            "user_id": user_code[keep],
            "item_id": item_code[keep],
            "timestamp": stamps[keep].astype(np.int64),
            "event": common.event_column(codes[keep]),
            "value": value[keep].astype(np.float64),
        }
    )
    meta = {
        "name": dataset,
        "source": "RecBole atomic files, data_prep.recbole",
        "source_files": common.source_files(*source),
        "timestamps": kind,
        "skipped_fields": skipped,
        "event": event,
    }
    return common.write_dataset(
        output,
        users,
        items,
        events,
        meta,
        {"user": user_originals, "item": item_originals},
        report,
        progress,
        overwrite=overwrite,
    )


# --------------------------------------------------------------------------
# Export.
# --------------------------------------------------------------------------


def _originals(folder: str, kind: str, count: int) -> np.ndarray:
    """Original ids of codes 0..count-1 as text (the codes without a mapping)."""
    values = common.read_mapping(folder, kind, count)
    if values is None:
        return np.arange(count).astype(str)
    text = pd.Series(values).astype(str).to_numpy()
    bad = pd.Series(text).str.contains(r"[\t\r\n]|^\s*$", regex=True).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise common.FormatError(
            common.mapping_file(folder, kind),
            f"original id {text[row]!r} is empty or holds a tab or newline: it cannot "
            "be written as a token",
            None,
            "original",
        )
    return text


def _write(path: str, frame: pd.DataFrame, header: list[str]) -> None:
    frame.to_csv(
        path,
        sep=SEP,
        header=header,
        index=False,
        quoting=csv.QUOTE_NONE,
        lineterminator="\n",
    )


def _feature_columns(table: pd.DataFrame, id_column: str) -> list[str]:
    return [
        c
        for c in table.columns
        if c != id_column
        and not str(c).startswith("truth_")
        and pd.api.types.is_integer_dtype(table[c])
    ]


def export(
    input: str,
    output: str,
    dataset: str,
    events: list[str] | None = None,
) -> dict[str, int]:
    """Writes the dataset folder `input` as RecBole atomic files.

    Args:
        input: a dataset folder in the canonical schema.
        output: the folder to write ``<dataset>.inter`` (``.user``, ``.item``) in.
        dataset: the atomic files' name.
        events: the event types to write (None: every type present).

    Returns:
        Counts: ``events_written``, ``users_written``, ``items_written``.
    """
    progress = common.Progress("recbole")
    log = schema.read_event_log(input)
    chosen, types = common.select_events(log, events)
    user = chosen["user_id"].to_numpy()
    item = chosen["item_id"].to_numpy()
    stamp = chosen["timestamp"].to_numpy()
    event = chosen["event"].astype(str).to_numpy()
    value = chosen["value"].to_numpy()
    user_text = _originals(input, "user", log.num_users)
    item_text = _originals(input, "item", log.num_items)

    inter = {"user_id": user_text[user], "item_id": item_text[item]}
    header = ["user_id:token", "item_id:token"]
    if len(types) > 1:
        inter["event"] = event
        header.append("event:token")
    if "rating" in types:
        inter["rating"] = np.where(event == "rating", value, 1.0)
        header.append("rating:float")
    if log.meta.get("timestamps") == "seconds":
        inter["timestamp"] = stamp
        header.append("timestamp:float")
    os.makedirs(output, exist_ok=True)
    _write(os.path.join(output, f"{dataset}.inter"), pd.DataFrame(inter), header)

    written_users = np.unique(user)
    written_items = np.unique(item)
    counts = {
        "events_written": len(user),
        "users_written": len(written_users),
        "items_written": len(written_items),
    }
    for kind, table, ids, text in (
        ("user", log.users, written_users, user_text),
        ("item", log.items, written_items, item_text),
    ):
        id_column = f"{kind}_id"
        features = _feature_columns(table, id_column)
        if not features:
            continue
        frame = pd.DataFrame({id_column: text[ids]})
        rows = table.set_index(id_column).loc[ids]
        for name in features:
            frame[name] = rows[name].to_numpy()
        _write(
            os.path.join(output, f"{dataset}.{kind}"),
            frame,
            [f"{id_column}:token"] + [f"{name}:token" for name in features],
        )
    progress(
        "written",
        f"{output}/{dataset}.* (events {','.join(types)}): {counts['users_written']:,} "
        f"users, {counts['items_written']:,} items, {counts['events_written']:,} events",
    )
    return counts


def main(argv):
    values = common.command_flags(argv)
    if values.export:
        common.run(export, values.input, values.output, values.dataset, values.events)
    else:
        common.run(
            convert,
            values.input,
            values.output,
            values.dataset,
            values.event,
            overwrite=values.overwrite,
        )


if __name__ == "__main__":
    from absl import app, flags

    common.define_io_flags(
        "Import: the folder of the atomic files. Export: the dataset folder.",
        "data/recbole",
    )
    flags.DEFINE_string(
        "dataset", None, "The atomic files' name (<name>.inter).", required=True
    )
    flags.DEFINE_bool("export", False, "Write atomic files from a dataset folder.")
    flags.DEFINE_enum(
        "event",
        "click",
        list(IMPORT_EVENTS),
        "Import: the type of rows without a rating.",
    )
    flags.DEFINE_list("events", None, "Export: event types to write (default: all).")
    app.run(main)
