"""Taobao UserBehavior (Alibaba Tianchi dataset 649) -> the canonical schema.

Input: ``UserBehavior.csv`` (or ``.gz``): no header, comma-separated
``user_id,item_id,category_id,behavior_type,timestamp``, one behaviour per line;
``behavior_type`` is one of ``pv``, ``cart``, ``fav``, ``buy`` and ``timestamp``
is in seconds since the epoch. ``--input`` is the folder holding it, or the file
itself (e.g. a synthetic file of another name). The full file is 100,150,807
rows (3.5 GB): it is streamed in blocks and only compact numeric columns are
kept (about 17 bytes a row while reading, int8 behaviour codes); a synthetic
file of that size (`write_synthetic_file`) converts in about 2 minutes with an
8.3 GB peak resident memory.

Output:
- one event per kept row, ``value`` 1.0: ``pv`` -> ``click`` (a page view of an
  item is this dataset's click: there are no impressions, hence no unclicked
  items and no dislikes), ``cart`` -> ``cart``, ``fav`` -> ``fav``, ``buy`` ->
  ``buy``; ``meta.timestamps`` is ``"seconds"``;
- users: ``user_id`` only (the dataset has no user features);
- items: ``category`` = the remapped ``category_id`` (mapping saved as
  ``category_ids.parquet``, covering every category of the kept rows), ``brand``
  0 (the dataset has none).

Rules (each counted in ``meta.json``):
- an item listed with several categories gets the one it has on most of its kept
  rows, ties going to the smallest ``category_id``; the items and the rows whose
  category is overridden are counted;
- exact duplicate rows (same user, item, behaviour and timestamp) are kept once;
- events are sorted by time (stable: equal times keep file order); the rows
  earlier than the previous row of their user in the file are counted;
- the documented window is 2017-11-25 00:00:00 .. 2017-12-03 23:59:59 (UTC+8),
  i.e. seconds 1511539200..1512316799, but the real file has a few rows outside
  it (35 in the held head, the earliest in 2017-09). ``--window=keep`` (the
  default) keeps them and counts them; ``--window=drop`` drops them, counted.
  A file whose times mostly fall outside 2017-11-18..12-10 is an error naming
  the unit they look like; either way a timestamp outside the schema's range
  (before 1970 or after 2100, e.g. milliseconds) is an error;
- a malformed line, a non-numeric or negative id, an unknown behaviour type or a
  bad timestamp stops the conversion with the file, line and field.

`write_synthetic_file` writes a seeded file of the same shape at any size, so
the conversion's memory can be measured on full-scale files.

Command:
  python -m data_prep.taobao_userbehavior \\
      --input ../shared/datasets/taobao-userbehavior --output data/taobao_userbehavior
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from data_prep import common

FILE = "UserBehavior.csv"
SEP = ","
FIELDS = ("user_id", "item_id", "category_id", "behavior_type", "timestamp")
BEHAVIORS = {
    "pv": common.EVENT_CODES["click"],
    "cart": common.EVENT_CODES["cart"],
    "fav": common.EVENT_CODES["fav"],
    "buy": common.EVENT_CODES["buy"],
}
WINDOW_START = 1_511_539_200  # 2017-11-25 00:00:00 UTC+8
WINDOW_END = 1_512_316_799  # 2017-12-03 23:59:59 UTC+8
WINDOW_RULES = ("keep", "drop")
TIME_WINDOW = common.TimeWindow(
    "2017-11-18", "2017-12-10", "UserBehavior spans 2017-11-25..2017-12-03"
)
"""The plausible span of ``timestamp``: a file mostly outside it is an error."""


# --------------------------------------------------------------------------
# Reading.
# --------------------------------------------------------------------------


def input_file(input: str) -> str:
    """`input` itself when it is a file, else ``UserBehavior.csv[.gz]`` in it."""
    if os.path.isfile(input):
        return input
    if not os.path.isdir(input):
        raise common.FormatError(input, "input folder or file not found")
    return common.find_file(input, FILE)


def read_behaviors(path: str, block_bytes: int = common.BLOCK_BYTES) -> common.Columns:
    """Streams the file into compact columns: user, item, category (int32 while
    the ids fit), behaviour (int8 event codes) and timestamp.

    Raises:
        FormatError: a bad line, or timestamps mostly outside `TIME_WINDOW` (the
            message names the unit they look like).
    """
    columns = common.Columns()
    window = common.WindowCheck(TIME_WINDOW, path, "timestamp", "seconds")
    for block in common.iter_blocks(path, block_bytes):
        raw = common.split_fields(block, path, FIELDS, SEP)
        line = block.first_line

        def ids(field, raw=raw, line=line):
            return common.compact(
                common.parse_int(raw[field], path, field, line, minimum=0)
            )

        # Fields in file order, so a line's first bad field is the one named.
        user, item, category = ids("user_id"), ids("item_id"), ids("category_id")
        behavior = common.parse_choice(
            raw["behavior_type"], path, "behavior_type", line, BEHAVIORS
        )
        stamps = common.parse_int(raw["timestamp"], path, "timestamp", line)
        common.check_timestamps(stamps, path, "timestamp", line)
        window.add(stamps, line)
        columns.add(
            user=user,
            item=item,
            category=category,
            behavior=behavior,
            timestamp=common.compact(stamps),
        )
    if len(columns) == 0:
        raise common.FormatError(path, "no rows (empty file)")
    window.finish()  # the rows outside the documented window are counted later
    return columns


def item_categories(
    item_code: np.ndarray, category_code: np.ndarray, num_items: int
) -> tuple[np.ndarray, int, int]:
    """One category per item: its most frequent, ties -> the smallest code.

    Returns:
        (category code per item, items with several categories, rows whose
        category differs from their item's).
    """
    low = np.full(num_items, np.iinfo(np.int64).max)
    np.minimum.at(low, item_code, category_code)
    high = np.full(num_items, -1, np.int64)
    np.maximum.at(high, item_code, category_code)
    several = np.flatnonzero(low != high)
    if len(several) == 0:
        return low, 0, 0
    rows = np.isin(item_code, several)
    pairs = (
        pd.DataFrame({"item": item_code[rows], "category": category_code[rows]})
        .value_counts()
        .rename("rows")
        .reset_index()
        .sort_values(["item", "rows", "category"], ascending=[True, False, True])
    )
    chosen = pairs.drop_duplicates("item")
    low[chosen["item"].to_numpy()] = chosen["category"].to_numpy()
    overridden = int(np.count_nonzero(low[item_code[rows]] != category_code[rows]))
    return low, len(several), overridden


# --------------------------------------------------------------------------
# Conversion.
# --------------------------------------------------------------------------


def convert(
    input: str,
    output: str,
    window: str = "keep",
    block_bytes: int = common.BLOCK_BYTES,
    overwrite: bool = False,
):
    """Converts ``UserBehavior.csv`` into the dataset folder `output`.

    Args:
        input: the folder holding ``UserBehavior.csv`` (plain or ``.gz``), or the
            file itself.
        output: the dataset folder to write.
        window: ``"keep"`` the rows outside the documented 2017-11-25..12-03
            window (counted) or ``"drop"`` them (counted).
        block_bytes: bytes read at a time.
        overwrite: whether to replace an `output` that holds more than a
            dataset (`common.check_output`); a dataset folder is always replaced
            whole.

    Returns:
        The written `EventLog`.
    """
    common.check_output(output, overwrite)
    if window not in WINDOW_RULES:
        raise ValueError(f"window must be one of {WINDOW_RULES}, got {window!r}")
    progress = common.Progress("taobao_userbehavior")
    report = common.Report()
    path = input_file(input)
    columns = read_behaviors(path, block_bytes)
    report.count("lines_read", len(columns))
    progress("read behaviours", f"{path}: {len(columns):,} rows")
    user = columns.pop("user")
    item = columns.pop("item")
    category = columns.pop("category")
    behavior = columns.pop("behavior")
    stamps = columns.pop("timestamp")

    outside = (stamps < WINDOW_START) | (stamps > WINDOW_END)
    if window == "drop":
        report.count(
            "outside_window_dropped",
            int(outside.sum()),
            "--window=drop: rows outside the documented 2017-11-25..12-03 (UTC+8) "
            "window are dropped",
        )
        if outside.all():
            raise common.FormatError(path, "no row inside the documented window")
        inside = ~outside
        user, item, category = user[inside], item[inside], category[inside]
        behavior, stamps = behavior[inside], stamps[inside]
        del inside
    else:
        report.count(
            "outside_window_kept",
            int(outside.sum()),
            "--window=keep: rows outside the documented 2017-11-25..12-03 (UTC+8) "
            "window are kept",
        )
    del outside

    report.count(
        "out_of_order",
        common.count_out_of_order(user, stamps),
        "events are sorted by time (stable in file order); this many came earlier "
        "than the previous row of their user in the file",
    )
    order = common.time_order(user, stamps)
    dup = common.duplicate_rows(order, user, stamps, item, behavior)
    report.count(
        "duplicate_rows_dropped",
        int(dup.sum()),
        "exact duplicate rows (same user, item, behaviour and timestamp) are kept once",
    )
    keep = order[~dup]
    del order, dup
    progress("sorted", f"{len(keep):,} events by time")

    user_code, user_originals = common.remap(user[keep])
    del user
    item_code, item_originals = common.remap(item[keep])
    del item
    category_code, category_originals = common.remap(category[keep])
    del category
    per_item, several, overridden = item_categories(
        item_code, category_code, len(item_originals)
    )
    del category_code
    report.count(
        "items_with_several_categories",
        several,
        "an item listed with several categories takes its most frequent one "
        "(ties: the smallest category_id)",
    )
    report.count(
        "rows_with_overridden_category",
        overridden,
        "rows whose category_id is not the one chosen for their item",
    )
    progress(
        "remapped",
        f"{len(user_originals):,} users, {len(item_originals):,} items, "
        f"{len(category_originals):,} categories",
    )
    users = pd.DataFrame({"user_id": np.arange(len(user_originals), dtype=np.int64)})
    items = pd.DataFrame(
        {
            "item_id": np.arange(len(item_originals), dtype=np.int64),
            "category": per_item,
            "brand": np.zeros(len(item_originals), np.int64),
        }
    )
    events = pd.DataFrame(
        {
            "user_id": user_code,
            "item_id": item_code,
            "timestamp": stamps[keep].astype(np.int64),
            "event": common.event_column(behavior[keep]),
            "value": np.ones(len(keep)),
        }
    )
    del user_code, item_code, stamps, behavior, keep
    meta = {
        "name": "taobao_userbehavior",
        "source": "Taobao UserBehavior (Alibaba Tianchi dataset 649), "
        "data_prep.taobao_userbehavior",
        "source_files": common.source_files(path),
        "timestamps": "seconds",
        "window": window,
        "behavior_mapping": {"pv": "click", "cart": "cart", "fav": "fav", "buy": "buy"},
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
            "category": category_originals,
        },
        report,
        progress,
        overwrite=overwrite,
    )


# --------------------------------------------------------------------------
# A synthetic file of the same shape, for memory benchmarks.
# --------------------------------------------------------------------------

FULL_ROWS = 100_150_807
FULL_USERS = 987_994
FULL_ITEMS = 4_162_024
FULL_CATEGORIES = 9_439
MAX_USER_ID = 1_018_011
MAX_ITEM_ID = 5_163_070
MAX_CATEGORY_ID = 5_162_429
BEHAVIOR_SHARES = {"pv": 0.895, "cart": 0.055, "fav": 0.029, "buy": 0.021}
_OTHER_CATEGORY_RATE = 2e-5  # rows listing another category than their item's


def synthetic_sizes(rows: int) -> dict[str, int]:
    """Users, items and categories of `write_synthetic_file` for `rows` rows: the
    full file's counts scaled by ``rows / 100,150,807`` (at least 1 each)."""
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    scale = rows / FULL_ROWS
    users = max(1, min(rows, round(FULL_USERS * scale)))
    items = max(1, min(rows, round(FULL_ITEMS * scale)))
    categories = max(1, min(items, round(FULL_CATEGORIES * scale)))
    return {"rows": rows, "users": users, "items": items, "categories": categories}


def write_synthetic_file(
    path: str, rows: int, seed: int, block_rows: int = 1 << 20
) -> dict[str, int]:
    """Writes a seeded file in the exact ``UserBehavior.csv`` format.

    Shape of the real file, scaled to `rows` (`synthetic_sizes`): every user,
    item and category of the sizes appears; ids are random distinct values up to
    the real maxima (users ~1.0e6, items and categories ~5.2e6); rows are grouped
    by user (ascending ids) and sorted by time within a user, all inside the
    documented window; a user's row count is heavy-tailed, item popularity is
    skewed; behaviours are about 89.5 % pv, 5.5 % cart, 2.9 % fav, 2.1 % buy.
    Each item has one category except a few rows (2e-5) listing another. Written
    block by block, so memory stays bounded for any size.

    Args:
        path: the file to write (``.gz`` is not supported: write plain text).
        rows: the number of lines.
        seed: the random seed; the same (rows, seed) writes the same bytes.
        block_rows: about how many lines are generated at a time.

    Returns:
        `synthetic_sizes(rows)`.
    """
    sizes = synthetic_sizes(rows)
    num_users, num_items = sizes["users"], sizes["items"]
    num_categories = sizes["categories"]
    rng = np.random.default_rng(seed)
    user_ids = np.sort(rng.choice(MAX_USER_ID, num_users, replace=False) + 1)
    item_ids = rng.choice(MAX_ITEM_ID, num_items, replace=False) + 1
    category_ids = rng.choice(MAX_CATEGORY_ID, num_categories, replace=False) + 1
    item_category = rng.integers(0, num_categories, num_items)
    item_category[:num_categories] = rng.permutation(num_categories)
    # Heavy-tailed rows per user, each user at least one row.
    weights = rng.lognormal(0.0, 1.0, num_users)
    per_user = 1 + rng.multinomial(rows - num_users, weights / weights.sum())
    ends = np.cumsum(per_user)
    # Every `stride`-th row shows the next item of a permutation, so that all
    # items appear; the other rows draw skewed popularity.
    stride = max(1, rows // num_items)
    cover = rng.permutation(num_items)
    names = pa.array(list(BEHAVIOR_SHARES))
    shares = np.array(list(BEHAVIOR_SHARES.values()))
    shares = shares / shares.sum()
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    first_user = 0
    with open(path, "wb") as f:
        while first_user < num_users:
            start = int(ends[first_user - 1]) if first_user else 0
            last_user = int(np.searchsorted(ends, start + block_rows, side="left")) + 1
            last_user = min(max(last_user, first_user + 1), num_users)
            stop = int(ends[last_user - 1])
            n = stop - start
            user = np.repeat(
                user_ids[first_user:last_user], per_user[first_user:last_user]
            )
            position = np.arange(start, stop)
            item = (num_items * rng.random(n) ** 3).astype(np.int64)
            covering = (position % stride == 0) & (position // stride < num_items)
            item[covering] = cover[position[covering] // stride]
            category = item_category[item]
            other = rng.random(n) < _OTHER_CATEGORY_RATE
            category[other] = rng.integers(0, num_categories, int(other.sum()))
            behavior = rng.choice(len(shares), n, p=shares)
            stamps = rng.integers(WINDOW_START, WINDOW_END + 1, n)
            stamps = stamps[np.lexsort((stamps, user))]  # user runs are contiguous
            table = pa.table(
                {
                    "user_id": user,
                    "item_id": item_ids[item],
                    "category_id": category_ids[category],
                    "behavior_type": pc.take(names, pa.array(behavior)),
                    "timestamp": stamps,
                }
            )
            pa_csv.write_csv(table, f, options)
            first_user = last_user
    return sizes


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------


def main(argv):
    values = common.command_flags(argv)
    common.run(
        convert,
        values.input,
        values.output,
        values.window,
        overwrite=values.overwrite,
    )


if __name__ == "__main__":
    from absl import app, flags

    common.define_io_flags(
        "The folder holding UserBehavior.csv[.gz], or the file itself.",
        "data/taobao_userbehavior",
    )
    flags.DEFINE_enum(
        "window",
        "keep",
        list(WINDOW_RULES),
        "Rows outside the documented 2017-11-25..12-03 (UTC+8) window: keep them "
        "(counted) or drop them (counted).",
    )
    app.run(main)
