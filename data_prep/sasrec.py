"""Plain sequence files of public sequential-recommendation code <-> the schema.

Two layouts, both text with ids separated by single spaces (blanks at the ends
of a line are ignored, an empty line is an error):

- ``user-lines``: one line per user, ``user item item ...``, the items in time
  order (the ``data/<name>.txt`` files of S3-Rec, CL4SRec, ICLRec and other
  SASRec-derived code);
- ``pairs``: one ``user item`` pair per line, each user's lines in time order
  (the ``data/<name>.txt`` files of kang205/SASRec). A user's lines need not be
  adjacent: the order within a user is the file order.

Ids are positive integers (0 is the padding id of SASRec and its successors).

Import (``python -m data_prep.sasrec --input f.txt --output folder
[--layout=pairs] --event=click``; without ``--layout`` the layout is read from
the file, `detect_layout`): one event of the ``--event`` type (default
``click``, ``value`` 1.0) per listed item; ``timestamp`` = the position of the
event in its user's sequence (0, 1, 2, ...) and ``meta.timestamps`` =
``"order"``. Items have ``category`` 0 and ``brand`` 0, users no features; ids
are remapped (sorted by their integer value) and the mappings saved.
Rules (counted in ``meta.json``):
- an item repeated in a user's sequence is kept (repeat consumption is part of
  a sequence), counted;
- in ``user-lines``, a user on two lines is an error naming the second;
- ``rating`` is not an import type: these files have no ratings.

Export (``python -m data_prep.sasrec --export --input <dataset folder> --output
f.txt --layout=... --events=click,buy``): each user's events of the chosen types
(default: every type present), in time order (stable: equal times keep the
stored order). SASRec reserves 0 for padding, so the written item id is the
canonical item code + 1 (stable across choices of event types). Users without a
chosen event are skipped (counted); the written user ids are 1..U over the users
written, in code order (= code + 1 when none is skipped), because SASRec's
sampler and evaluation visit every user id from 1 to the largest and fail on a
gap. Beside the output, ``<output>.user_ids.tsv`` and ``<output>.item_ids.tsv``
map each written id to the original id (from the dataset's
``<kind>_ids.parquet`` when present, else the canonical code): a header line
``sasrec_id<TAB>original``, then one line per id.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_prep import common
from recsys_tf.data import schema

LAYOUTS = ("user-lines", "pairs")
IMPORT_EVENTS = tuple(e for e in schema.EVENT_TYPES if e != "rating")
_EXPORT_CHUNK = 1 << 20  # events formatted at a time


def parse_block(block: common.Block, path: str, layout: str) -> dict[str, np.ndarray]:
    """Parses one block of a sequence file.

    Args:
        block: whole lines of the file.
        path: the file, for error messages.
        layout: ``user-lines`` or ``pairs``.

    Returns:
        ``user`` and ``item`` per listed item; for ``user-lines`` also the
        item's ``position`` within its line, and per line ``line_user`` and
        ``line_number``.
    """
    expected = (
        "'user item' (2 ids separated by ' ')"
        if layout == "pairs"
        else "'user item item ...' (a user id and at least one item id, "
        "separated by ' ')"
    )
    lines = common.split_lines(block, path, expected)
    numbers = common.block_lines(block)
    tokens = pc.split_pattern(lines, " ")
    counts = pc.list_value_length(tokens).to_numpy(zero_copy_only=False)
    bad = counts != 2 if layout == "pairs" else counts < 2
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise common.FormatError(
            path,
            f"expected {expected}, got {counts[row]} field(s): "
            f"{lines[row].as_py()[:200]!r}",
            int(numbers[row]),
        )
    flat = pc.list_flatten(tokens)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    is_user = np.zeros(len(flat), bool)
    is_user[starts] = True
    token_line = np.repeat(numbers, counts)
    line_user = common.parse_int(
        pc.take(flat, pa.array(starts)),
        path,
        "user",
        0,
        line_numbers=numbers,
        minimum=1,
    )
    item_rows = np.flatnonzero(~is_user)
    item_line = token_line[item_rows]
    item = common.parse_int(
        pc.take(flat, pa.array(item_rows)),
        path,
        "item",
        0,
        line_numbers=item_line,
        minimum=1,
    )
    per_line = counts - 1
    out = {"user": np.repeat(line_user, per_line), "item": item}
    if layout == "user-lines":
        before = starts - np.arange(len(starts))  # items on earlier lines
        out["position"] = np.arange(len(item_rows)) - np.repeat(before, per_line)
        out["line_user"] = line_user
        out["line_number"] = numbers
    return out


def detect_layout(path: str, block_bytes: int = common.BLOCK_BYTES) -> str:
    """The layout of a sequence file, read from its lines.

    A line of other than two ids is ``user-lines``; a user id starting two lines
    is ``pairs`` (``user-lines`` has one line per user). A file of two-id lines
    with distinct users reads the same either way (one event per user); it is
    called ``pairs``. Reading stops at the first line that decides.

    Args:
        path: the ``.txt`` file.
        block_bytes: bytes read at a time.

    Returns:
        ``user-lines`` or ``pairs``.

    Raises:
        FormatError: a missing file or an empty line (before the layout is known).
    """
    users = []
    for block in common.iter_blocks(common.require_file(path), block_bytes):
        lines = common.split_lines(block, path, "ids separated by ' '")
        tokens = pc.split_pattern(lines, " ")
        if pc.any(pc.not_equal(pc.list_value_length(tokens), 2)).as_py():
            return "user-lines"
        users.append(pc.list_element(tokens, 0).to_numpy(zero_copy_only=False))
        if pd.Index(np.concatenate(users)).has_duplicates:
            return "pairs"
    return "pairs"


def convert(
    input: str,
    output: str,
    layout: str | None = None,
    event: str = "click",
    block_bytes: int = common.BLOCK_BYTES,
    overwrite: bool = False,
):
    """Imports the sequence file `input` into the dataset folder `output`.

    Args:
        input: the ``.txt`` file.
        output: the dataset folder to write.
        layout: ``user-lines`` or ``pairs`` (see the module docstring); None:
            read from the file (`detect_layout`).
        event: the event type of every listed item.
        block_bytes: bytes read at a time.
        overwrite: whether to replace an `output` that holds more than a
            dataset (`common.check_output`); a dataset folder is always replaced
            whole.

    Returns:
        The written `EventLog`.
    """
    common.check_output(output, overwrite)
    if layout is not None:
        common.check_choice("layout", layout, LAYOUTS)
    common.check_choice("event", event, IMPORT_EVENTS)
    progress = common.Progress("sasrec")
    report = common.Report()
    common.require_file(input)
    if layout is None:
        layout = detect_layout(input, block_bytes)
        progress("layout", f"{layout} (read from the file; set --layout to choose)")
    columns = common.Columns()
    line_columns = common.Columns()
    lines = 0
    for block in common.iter_blocks(input, block_bytes):
        parsed = parse_block(block, input, layout)
        lines += block.num_lines
        if layout == "user-lines":
            line_columns.add(
                user=parsed.pop("line_user"), line=parsed.pop("line_number")
            )
        columns.add(**parsed)
    if lines == 0:
        raise common.FormatError(input, "no sequences (empty file)")
    report.count("lines_read", lines)
    user = columns.pop("user")
    item = columns.pop("item")
    if layout == "user-lines":
        line_user = line_columns.pop("user")
        line_number = line_columns.pop("line")
        again = common.duplicate_mask(line_user)
        if again.any():
            row = int(np.flatnonzero(again)[0])
            first = int(line_number[np.flatnonzero(line_user == line_user[row])[0]])
            raise common.FormatError(
                input,
                f"user {line_user[row]} already has a line (line {first}); the "
                "user-lines layout has one line per user",
                int(line_number[row]),
                "user",
            )
        position = columns.pop("position")
    else:
        position = common.positions_in_file_order(user)
    progress("read", f"{input}: {len(user):,} events")
    report.count(
        "repeated_items_kept",
        int(common.duplicate_mask(user, item).sum()),
        "an item repeated in a user's sequence is kept (repeat consumption)",
    )
    user_code, user_originals = common.remap(user)
    item_code, item_originals = common.remap(item)
    events = pd.DataFrame(
        {
            "user_id": user_code,
            "item_id": item_code,
            "timestamp": position.astype(np.int64),
            "event": common.event_column(np.full(len(user), common.EVENT_CODES[event])),
            "value": np.ones(len(user)),
        }
    )
    meta = {
        "name": os.path.splitext(os.path.basename(input))[0],
        "source": f"sequence file ({layout}), data_prep.sasrec",
        "source_files": common.source_files(input),
        "layout": layout,
        "event": event,
        "timestamps": "order",
    }
    return common.write_dataset(
        output,
        pd.DataFrame({"user_id": np.arange(len(user_originals), dtype=np.int64)}),
        pd.DataFrame(
            {
                "item_id": np.arange(len(item_originals), dtype=np.int64),
                "category": 0,
                "brand": 0,
            }
        ),
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


def originals(folder: str, kind: str, count: int) -> np.ndarray:
    """Original ids of codes 0..count-1 (the codes themselves without a mapping)."""
    values = common.read_mapping(folder, kind, count)
    return np.arange(count, dtype=np.int64) if values is None else values


def write_ids(path: str, exported: np.ndarray, original: np.ndarray) -> None:
    """A ``sasrec_id<TAB>original`` table with a header line."""
    text = pd.Series(original).astype(str)
    bad = text.str.contains(r"[\t\r\n]", regex=True).to_numpy()
    if bad.any():
        raise ValueError(
            f"{path}: original id {text.iloc[int(np.flatnonzero(bad)[0])]!r} holds a "
            "tab or newline and cannot be written as TSV"
        )
    with open(path, "w") as f:
        f.write("sasrec_id\toriginal\n")
        for start in range(0, len(text), _EXPORT_CHUNK):
            ids = exported[start : start + _EXPORT_CHUNK].astype(str)
            chunk = text.iloc[start : start + _EXPORT_CHUNK].to_numpy(str)
            f.write(
                "".join(np.char.add(np.char.add(np.char.add(ids, "\t"), chunk), "\n"))
            )


def export(
    input: str,
    output: str,
    layout: str,
    events: list[str] | None = None,
) -> dict[str, int]:
    """Writes the chosen events of the dataset folder `input` as a sequence file.

    Args:
        input: a dataset folder in the canonical schema.
        output: the ``.txt`` file to write; the id tables go beside it.
        layout: ``user-lines`` or ``pairs``.
        events: the event types to write (None: every type present).

    Returns:
        Counts: ``users_written``, ``users_skipped``, ``events_written``.
    """
    common.check_choice("layout", layout, LAYOUTS)
    progress = common.Progress("sasrec")
    log = schema.read_event_log(input)
    chosen, types = common.select_events(log, events)
    user = chosen["user_id"].to_numpy()
    item = chosen["item_id"].to_numpy() + 1
    written_users, user_id = np.unique(user, return_inverse=True)
    user_id = user_id + 1
    counts = {
        "users_written": len(written_users),
        "users_skipped": log.num_users - len(written_users),
        "events_written": len(chosen),
    }
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w") as f:
        if layout == "pairs":
            for start in range(0, len(item), _EXPORT_CHUNK):
                stop = start + _EXPORT_CHUNK
                text = np.char.add(
                    np.char.add(user_id[start:stop].astype(str), " "),
                    item[start:stop].astype(str),
                )
                f.write("\n".join(text) + "\n" if len(text) else "")
        else:
            first = np.ones(len(user), bool)
            first[1:] = user[1:] != user[:-1]
            starts = np.flatnonzero(first)
            ends = np.append(starts[1:], len(user))
            cuts = np.searchsorted(starts, np.arange(0, len(user), _EXPORT_CHUNK))
            cuts = np.unique(np.append(cuts, len(starts)))
            for lo, hi in zip(cuts[:-1], cuts[1:]):
                a, b = starts[lo], ends[hi - 1]
                tokens = item[a:b].astype(str)
                last = np.zeros(b - a, bool)
                last[ends[lo:hi] - 1 - a] = True
                head = np.where(
                    first[a:b], np.char.add(user_id[a:b].astype(str), " "), ""
                )
                sep = np.where(last, "\n", " ")
                f.write("".join(np.char.add(np.char.add(head, tokens), sep)))
    write_ids(
        output + ".user_ids.tsv",
        np.arange(1, len(written_users) + 1),
        originals(input, "user", log.num_users)[written_users],
    )
    write_ids(
        output + ".item_ids.tsv",
        np.arange(1, log.num_items + 1),
        originals(input, "item", log.num_items),
    )
    progress(
        "written",
        f"{output} ({layout}, events {','.join(types)}): "
        f"{counts['users_written']:,} users, {counts['events_written']:,} events",
    )
    progress(
        "count",
        f"users_skipped = {counts['users_skipped']:,} (users without a chosen event)",
    )
    return counts


def main(argv):
    from absl import app

    values = common.command_flags(argv)
    if values.export:
        if values.layout is None:
            raise app.UsageError("--export needs --layout (user-lines or pairs)")
        common.run(export, values.input, values.output, values.layout, values.events)
    else:
        common.run(
            convert,
            values.input,
            values.output,
            values.layout,
            values.event,
            overwrite=values.overwrite,
        )


if __name__ == "__main__":
    from absl import app, flags

    common.define_io_flags(
        "Import: the sequence .txt file. Export: the dataset folder.", "data/sasrec"
    )
    flags.DEFINE_enum(
        "layout",
        None,
        list(LAYOUTS),
        "File layout (export: required; import: read from the file when not given).",
    )
    flags.DEFINE_bool("export", False, "Write a sequence file from a dataset folder.")
    flags.DEFINE_enum("event", "click", list(IMPORT_EVENTS), "Import: the event type.")
    flags.DEFINE_list("events", None, "Export: event types to write (default: all).")
    app.run(main)
