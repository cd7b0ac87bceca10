"""Taobao display-ad click data (Alibaba Tianchi dataset 56) -> the canonical schema.

This is the DUMN paper's "Alibaba" set (also DIN's and DSIN's). Input: the
folder of four comma-separated files with a header line (each plain or
``.gz``); columns are found by their header names (surrounding spaces ignored,
so the original ``new_user_class_level `` matches), extra columns are ignored:

- ``raw_sample.csv``: ``user,time_stamp,adgroup_id,pid,nonclk,clk``: one ad
  display per line (26 M in the original), ``pid`` a placement string such as
  ``430548_1007``, ``clk`` 1 when clicked and ``nonclk`` = 1 - ``clk``;
- ``ad_feature.csv``: ``adgroup_id,cate_id,campaign_id,customer,brand,price``;
  ``brand`` may be ``NULL``;
- ``user_profile.csv``: ``userid,cms_segid,cms_group_id,final_gender_code,
  age_level,pvalue_level,shopping_level,occupation,new_user_class_level``;
  ``pvalue_level`` and ``new_user_class_level`` may be empty;
- ``behavior_log.csv`` (optional): ``user,time_stamp,btag,cate,brand``, ``btag``
  in ``pv``/``cart``/``fav``/``buy``; it names categories and brands, not ad
  groups (723 M lines in the original: streamed).

Output:
- events, ``value`` 1.0: each ``raw_sample`` line is an ``impression`` with
  ``request_id`` = its 0-based data-line index, and when ``clk`` = 1 also a
  ``click`` with the same timestamp and ``request_id``; the extra int event
  column ``pid`` is the placement's code (mapping ``pid_ids.parquet``, codes in
  the order of the placement strings); each behaviour is an event on its
  behaviour target (below): ``pv`` -> ``click``, ``cart`` -> ``cart``, ``fav`` ->
  ``fav``, ``buy`` -> ``buy``, with ``request_id`` and ``pid`` -1 (none);
- items: first the ad groups shown in ``raw_sample`` (``kind`` 0, ordered by
  ``adgroup_id``), then one behaviour target per (cate, brand) pair of the
  behaviour log (``kind`` 1, ordered by category then brand), since the log has
  no item ids. ``category`` and ``brand`` are codes of ONE remapping over both
  files, so a target ad's category can be matched with the history: categories
  ``0..`` in ``cate_id`` order, brands with 0 = no brand (``NULL``; original -1
  in ``brand_ids.parquet``) and ``1..`` in brand-id order. Ad groups also have
  ``campaign`` and ``customer`` codes (0 = none, for targets; originals in
  ``campaign_ids`` / ``customer_ids.parquet``) and ``price_bucket`` = 1 +
  floor(log2(1 + price)) (0 for targets: they have no price; a choice, the
  papers do not bucket prices). ``item_ids.parquet`` holds the ``adgroup_id`` of
  ad groups and -1 for behaviour targets (identified by their codes);
- users: everyone in ``raw_sample`` or the behaviour log, with the eight
  profile columns as codes: code = value + 1, 0 = missing (an empty or
  ``NULL`` field, counted per column); a user without a profile row gets 0 in
  every column (counted); profile rows of users with no event are left out
  (counted).

Rules (each counted in ``meta.json``):
- ``raw_sample`` lines repeating (user, time_stamp, adgroup_id, pid) are one
  display: the first is kept, clicked when any copy is (merges and copies
  disagreeing on ``clk`` are counted);
- behaviour lines repeating all five fields are kept once;
- events are sorted by time (stable; at equal time and user: impressions, then
  clicks, then behaviours, each in file order); lines earlier than the previous
  line of their user in their file are counted per file;
- an ad group shown in ``raw_sample`` but absent from ``ad_feature`` is an error,
  as is a repeated ``adgroup_id`` / ``userid`` in those tables, ``nonclk`` != 1 -
  ``clk``, a negative id or price, an unknown ``btag``, a bad timestamp, a
  file whose times mostly fall outside 2017-04..05 (naming the unit they look
  like; fewer such lines are counted) or a missing file or column; ad groups
  never shown are left out (counted);
- ``convert(..., behavior_log=False)`` (``--behavior_log=false``) ignores the
  behaviour log; a missing ``behavior_log.csv`` is not an error either: both
  give the ad events only, and ``meta.behavior_log`` says ``"off"`` or
  ``"absent"``.

Memory: reading keeps about 17 bytes a line, but the canonical events table
takes about 57 bytes an event (user, item, time, value, request_id, pid), so
the full 723 M-line behaviour log does not fit a 24 GB machine. Two filters,
applied while streaming, bound it: ``--behaviors=cart,fav,buy`` keeps only the
btags named (DUMN's "like" sequence is cart / fav / buy; ``pv`` is about 90% of
the log), and ``--sample_users=f --seed=s`` keeps the lines of a seeded sample
of about a fraction f of the users in every file (`common.sample_mask`; DSIN's
preprocessing samples a quarter of the users). Lines left out are counted.
``request_id`` stays the 0-based data line of the display.

Command:
  python -m data_prep.taobao_ad --input <folder of the four files> \\
      --output data/taobao_ad [--behavior_log=false] \
      [--behaviors=cart,fav,buy] [--sample_users=0.25 --seed=0]
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_prep import common

SEP = ","
RAW_SAMPLE = "raw_sample.csv"
AD_FEATURE = "ad_feature.csv"
USER_PROFILE = "user_profile.csv"
BEHAVIOR_LOG = "behavior_log.csv"
RAW_SAMPLE_COLUMNS = ("user", "time_stamp", "adgroup_id", "pid", "nonclk", "clk")
AD_FEATURE_COLUMNS = (
    "adgroup_id",
    "cate_id",
    "campaign_id",
    "customer",
    "brand",
    "price",
)
PROFILE_FEATURES = (
    "cms_segid",
    "cms_group_id",
    "final_gender_code",
    "age_level",
    "pvalue_level",
    "shopping_level",
    "occupation",
    "new_user_class_level",
)
USER_PROFILE_COLUMNS = ("userid", *PROFILE_FEATURES)
BEHAVIOR_LOG_COLUMNS = ("user", "time_stamp", "btag", "cate", "brand")
BTAGS = {
    "pv": common.EVENT_CODES["click"],
    "cart": common.EVENT_CODES["cart"],
    "fav": common.EVENT_CODES["fav"],
    "buy": common.EVENT_CODES["buy"],
}
MISSING = ("", "NULL")
"""Spellings of a missing value in optional fields (brand, profile columns)."""
NO_BRAND = -1
"""The original id standing for ``NULL`` in ``brand_ids.parquet`` (code 0)."""
AD_GROUP, BEHAVIOR_TARGET = 0, 1


# --------------------------------------------------------------------------
# Reading files with a header.
# --------------------------------------------------------------------------


def read_header(path: str, required: tuple[str, ...]) -> tuple[str, ...]:
    """The column names of `path`'s first line, checked to hold `required`.

    Raises:
        FormatError: an empty file, a required column missing or repeated
            (``field`` names it).
    """
    first = common.first_line(path)
    if not first.strip():
        raise common.FormatError(
            path, f"expected a header line ({SEP.join(required)}), got an empty line", 1
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise common.FormatError(
            path, f"not valid UTF-8 text ({error.reason})", 1
        ) from None
    names = tuple(name.strip() for name in text.rstrip("\r\n").split(SEP))
    for name in required:
        if name not in names:
            hint = ""
            if not set(names) & set(required):
                hint = " (none of the expected names: is the header line missing?)"
            raise common.FormatError(
                path,
                f"missing column {name!r}: the header has {', '.join(names)}; "
                f"expected {', '.join(required)}{hint}",
                1,
                name,
            )
    seen = set()
    unique = []
    for i, name in enumerate(names):
        if name in seen and name in required:
            raise common.FormatError(
                path, f"column {name!r} appears twice in the header", 1, name
            )
        # Extra columns are ignored, whatever (or however repeated) their name.
        unique.append(name if name and name not in seen else f"_extra_{i}")
        seen.add(name)
    return tuple(unique)


def iter_rows(path: str, names: tuple[str, ...], block_bytes: int):
    """Yields (fields by name, first line number) for each block after the header."""
    for block in common.iter_blocks(path, block_bytes, skip_lines=1):
        yield common.split_fields(block, path, names, SEP), block.first_line


def parse_optional_int(
    values: pa.Array, path: str, field: str, first_line: int
) -> tuple[np.ndarray, np.ndarray]:
    """A field that may be missing (empty or ``NULL``) -> (int64 values, -1 where
    missing; the missing mask). Present values must be integers >= 0."""
    trimmed = pc.utf8_trim_whitespace(values)
    missing = pc.is_in(trimmed, value_set=pa.array(MISSING)).to_numpy(
        zero_copy_only=False
    )
    out = np.full(len(values), -1, np.int64)
    if not missing.all():
        present = ~missing
        lines = first_line + np.flatnonzero(present)
        out[present] = common.parse_int(
            values.filter(pa.array(present)),
            path,
            field,
            first_line,
            line_numbers=lines,
            minimum=0,
        )
    return out, missing


class StringCodes:
    """Strings -> provisional int codes, block by block (no Python object per
    row); `finish` turns them into codes in the strings' sorted order."""

    def __init__(self):
        self._codes: dict[str, int] = {}

    def encode(
        self, values: pa.Array, path: str, field: str, first_line: int
    ) -> np.ndarray:
        trimmed = common.require_non_empty(values, path, field, first_line)
        encoded = pc.dictionary_encode(trimmed)
        lookup = np.array(
            [
                self._codes.setdefault(s, len(self._codes))
                for s in encoded.dictionary.to_pylist()
            ],
            dtype=np.int32,
        )
        return lookup[encoded.indices.to_numpy(zero_copy_only=False)]

    def finish(self, provisional: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(final int64 codes, the strings in code order)."""
        strings = np.array(sorted(self._codes), dtype=object)
        rank = np.empty(len(strings), np.int64)
        for final, s in enumerate(strings):
            rank[self._codes[s]] = final
        return rank[provisional], strings


def _unique_ids(ids: np.ndarray, path: str, field: str) -> None:
    """A `FormatError` at the second line of the first repeated id (data line
    ``i`` is file line ``i + 2``: empty lines are errors, so none is skipped)."""
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero(ids == ids[row])[0])
        raise common.FormatError(
            path, f"repeated id {ids[row]} (first on line {first + 2})", row + 2, field
        )


def _add_kept(columns, values, keep) -> int:
    """Adds the rows of `values` where `keep`; returns the number left out."""
    if not keep.all():
        values = {name: v[keep] for name, v in values.items()}
    columns.add(**values)
    return int((~keep).sum())


TIME_WINDOW = common.TimeWindow(
    "2017-04-01",
    "2017-05-31",
    "the ad displays span 2017-05-06..05-13, the behaviour log 2017-04-22..05-13",
)
"""The plausible span of ``time_stamp`` in both files (`common.WindowCheck`)."""


def read_raw_sample(
    path: str, block_bytes: int, sample_users: float = 1.0, seed: int = 0
) -> tuple[common.Columns, StringCodes, int, int]:
    """Streams ``raw_sample`` into compact columns (user, time, ad group, pid,
    clk, row: the 0-based data line) of the users in the seeded sample
    (`common.sample_mask`); also returns the number of lines left out and of
    lines dated outside `TIME_WINDOW` (most of them outside is an error)."""
    names = read_header(path, RAW_SAMPLE_COLUMNS)
    columns = common.Columns()
    pids = StringCodes()
    left_out = 0
    window = common.WindowCheck(TIME_WINDOW, path, "time_stamp", "seconds")
    for raw, line in iter_rows(path, names, block_bytes):
        stamps = common.parse_int(raw["time_stamp"], path, "time_stamp", line)
        common.check_timestamps(stamps, path, "time_stamp", line)
        window.add(stamps, line)
        clk = common.parse_int(raw["clk"], path, "clk", line, minimum=0, maximum=1)
        nonclk = common.parse_int(
            raw["nonclk"], path, "nonclk", line, minimum=0, maximum=1
        )
        bad = nonclk != 1 - clk
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise common.FormatError(
                path,
                f"expected nonclk = 1 - clk = {1 - clk[row]}, got {nonclk[row]}",
                line + row,
                "nonclk",
            )
        values = dict(
            user=common.compact(
                common.parse_int(raw["user"], path, "user", line, minimum=0)
            ),
            timestamp=common.compact(stamps),
            ad=common.compact(
                common.parse_int(raw["adgroup_id"], path, "adgroup_id", line, minimum=0)
            ),
            pid=pids.encode(raw["pid"], path, "pid", line),
            clk=clk.astype(np.int8),
        )
        values["row"] = common.compact(
            line - 2 + np.arange(len(values["user"]), dtype=np.int64)
        )
        keep = common.sample_mask(values["user"], sample_users, seed)
        left_out += _add_kept(columns, values, keep)
    if len(columns) == 0:
        raise common.FormatError(
            path,
            "no rows after the header" + (" in the user sample" if left_out else ""),
        )
    return columns, pids, left_out, window.finish()


def read_ad_feature(path: str, block_bytes: int) -> pd.DataFrame:
    """``ad_feature`` -> one row per ad group (brand -1 for ``NULL``)."""
    names = read_header(path, AD_FEATURE_COLUMNS)
    parts = []
    for raw, line in iter_rows(path, names, block_bytes):
        brand, _ = parse_optional_int(raw["brand"], path, "brand", line)
        parts.append(
            pd.DataFrame(
                {
                    field: common.parse_int(raw[field], path, field, line, minimum=0)
                    for field in ("adgroup_id", "cate_id", "campaign_id", "customer")
                }
                | {
                    "brand": brand,
                    "price": common.parse_float(
                        raw["price"], path, "price", line, minimum=0
                    ),
                }
            )
        )
    if not parts:
        raise common.FormatError(path, "no rows after the header")
    table = pd.concat(parts, ignore_index=True)
    _unique_ids(table["adgroup_id"].to_numpy(), path, "adgroup_id")
    return table


def read_user_profile(
    path: str, block_bytes: int
) -> tuple[pd.DataFrame, dict[str, int]]:
    """``user_profile`` -> (userid and feature codes: value + 1, 0 = missing;
    missing values per column)."""
    names = read_header(path, USER_PROFILE_COLUMNS)
    parts = []
    missing = dict.fromkeys(PROFILE_FEATURES, 0)
    for raw, line in iter_rows(path, names, block_bytes):
        part = {
            "userid": common.parse_int(raw["userid"], path, "userid", line, minimum=0)
        }
        for field in PROFILE_FEATURES:
            values, absent = parse_optional_int(raw[field], path, field, line)
            part[field] = values + 1
            missing[field] += int(absent.sum())
        parts.append(pd.DataFrame(part))
    if not parts:
        table = pd.DataFrame({c: np.zeros(0, np.int64) for c in USER_PROFILE_COLUMNS})
    else:
        table = pd.concat(parts, ignore_index=True)
    _unique_ids(table["userid"].to_numpy(), path, "userid")
    return table, missing


def read_behavior_log(
    path: str,
    block_bytes: int,
    sample_users: float = 1.0,
    seed: int = 0,
    behaviors: tuple[str, ...] = tuple(BTAGS),
) -> tuple[common.Columns, int, int, int]:
    """Streams the behaviour log into compact columns (user, time, btag event
    code, cate, brand -1 for ``NULL``), keeping the `behaviors` of the users in
    the seeded sample; also returns the number of NULL brands kept, of lines
    left out and of lines dated outside `TIME_WINDOW` (most of them outside is
    an error)."""
    names = read_header(path, BEHAVIOR_LOG_COLUMNS)
    columns = common.Columns()
    null_brands = left_out = 0
    wanted = np.array([BTAGS[b] for b in behaviors], np.int8)
    window = common.WindowCheck(TIME_WINDOW, path, "time_stamp", "seconds")
    for raw, line in iter_rows(path, names, block_bytes):
        stamps = common.parse_int(raw["time_stamp"], path, "time_stamp", line)
        common.check_timestamps(stamps, path, "time_stamp", line)
        window.add(stamps, line)
        brand, absent = parse_optional_int(raw["brand"], path, "brand", line)
        values = dict(
            user=common.compact(
                common.parse_int(raw["user"], path, "user", line, minimum=0)
            ),
            timestamp=common.compact(stamps),
            event=common.parse_choice(raw["btag"], path, "btag", line, BTAGS),
            cate=common.compact(
                common.parse_int(raw["cate"], path, "cate", line, minimum=0)
            ),
            brand=common.compact(brand),
        )
        keep = np.isin(values["event"], wanted) & common.sample_mask(
            values["user"], sample_users, seed
        )
        null_brands += int(absent[keep].sum())
        left_out += _add_kept(columns, values, keep)
    return columns, null_brands, left_out, window.finish()


# --------------------------------------------------------------------------
# Rules.
# --------------------------------------------------------------------------


def merge_repeated_displays(user, stamps, ad, pid, clk):
    """Keeps the first of the raw_sample lines repeating (user, time, ad group,
    pid), clicked when any copy is.

    Returns:
        (kept line indices in time order, their clk, merged lines, groups whose
        copies disagree on clk).
    """
    order = common.time_order(user, stamps)
    tied = common.tied_positions(order, user, stamps)
    clk_sorted = clk[order]
    dup = np.zeros(len(order), bool)
    conflicts = 0
    if len(tied):
        rows = order[tied]
        frame = pd.DataFrame(
            {
                "u": user[rows],
                "t": stamps[rows],
                "a": ad[rows],
                "p": pid[rows],
                "c": clk[rows],
            }
        )
        keys = ["u", "t", "a", "p"]
        dup[tied] = frame.duplicated(keys).to_numpy()
        grouped = frame.groupby(keys, sort=False)["c"]
        clk_sorted[tied] = grouped.transform("max").to_numpy()
        conflicts = int((grouped.nunique() > 1).sum())
    return order[~dup], clk_sorted[~dup], int(dup.sum()), conflicts


def _price_bucket(price: np.ndarray) -> np.ndarray:
    return 1 + np.floor(np.log2(1.0 + price)).astype(np.int64)


# --------------------------------------------------------------------------
# Conversion.
# --------------------------------------------------------------------------


def convert(
    input: str,
    output: str,
    behavior_log: bool = True,
    block_bytes: int = common.BLOCK_BYTES,
    sample_users: float = 1.0,
    seed: int = 0,
    behaviors: tuple[str, ...] = tuple(BTAGS),
    overwrite: bool = False,
):
    """Converts the folder `input` of the four Taobao ad files into `output`.

    Args:
        input: the folder holding raw_sample.csv, ad_feature.csv,
            user_profile.csv and (optionally) behavior_log.csv, each plain or
            ``.gz``.
        output: the dataset folder to write.
        behavior_log: read the behaviour log when present; False converts the
            ad events only.
        block_bytes: bytes read at a time.
        sample_users: keep the lines of a seeded sample of about this fraction of
            the users, in every file (1 = all users).
        seed: the seed of that sample.
        behaviors: the btags of the behaviour log to keep (default all four).
        overwrite: whether to replace an `output` that holds more than a
            dataset (`common.check_output`); a dataset folder is always replaced
            whole.

    Returns:
        The written `EventLog`.
    """
    common.check_output(output, overwrite)
    progress = common.Progress("taobao_ad")
    report = common.Report()
    common.require_folder(input)
    raw_path = common.find_file(input, RAW_SAMPLE)
    ad_path = common.find_file(input, AD_FEATURE)
    profile_path = common.find_file(input, USER_PROFILE)
    source = [raw_path, ad_path, profile_path]

    if not 0 < sample_users <= 1:
        raise ValueError(
            f"`sample_users` must be in (0, 1]. Received: sample_users={sample_users}"
        )
    unknown = sorted(set(behaviors) - set(BTAGS))
    if unknown or not behaviors:
        raise ValueError(
            f"`behaviors` must be a non-empty subset of {list(BTAGS)}. Received: "
            f"behaviors={list(behaviors)}"
        )

    # Ad displays.
    columns, pids, left_out, outside = read_raw_sample(
        raw_path, block_bytes, sample_users, seed
    )
    report.count("raw_sample_rows", len(columns) + left_out)
    common.count_outside_window(report, outside, TIME_WINDOW)
    if sample_users < 1:
        report.count(
            "raw_sample_rows_outside_user_sample",
            left_out,
            f"--sample_users={sample_users} --seed={seed}: only the lines of a seeded "
            "sample of the users are kept, in every file",
        )
    progress("read raw_sample", f"{raw_path}: {len(columns):,} displays")
    a_user = columns.pop("user")
    a_time = columns.pop("timestamp")
    a_ad = columns.pop("ad")
    a_pid = columns.pop("pid")
    clk = columns.pop("clk")
    a_row = columns.pop("row")
    report.count(
        "raw_sample_out_of_order",
        common.count_out_of_order(a_user, a_time),
        "events are sorted by time; this many raw_sample lines came earlier than "
        "the previous line of their user",
    )
    shown, clk, merged, conflicts = merge_repeated_displays(
        a_user, a_time, a_ad, a_pid, clk
    )
    report.count(
        "repeated_displays_merged",
        merged,
        "raw_sample lines repeating (user, time_stamp, adgroup_id, pid) are one "
        "display: the first is kept, clicked when any copy is",
    )
    report.count(
        "repeated_displays_with_different_clk",
        conflicts,
        "repeated displays whose copies disagree on clk (kept as clicked)",
    )
    a_user, a_time, a_ad, a_pid = (
        a_user[shown],
        a_time[shown],
        a_ad[shown],
        a_pid[shown],
    )
    pid_code, pid_strings = pids.finish(a_pid)
    del a_pid

    # Ad groups.
    ads = read_ad_feature(ad_path, block_bytes)
    report.count("ad_feature_rows", len(ads))
    report.count(
        "ad_feature_null_brand",
        int((ads["brand"] == NO_BRAND).sum()),
        "ad groups with brand NULL get brand code 0",
    )
    progress("read ad_feature", f"{ad_path}: {len(ads):,} ad groups")
    ad_code, ad_originals = common.remap(a_ad)
    index = pd.Index(ads["adgroup_id"]).get_indexer(ad_originals)
    if (index < 0).any():
        unknown = ad_originals[np.flatnonzero(index < 0)[0]]
        first = int(a_row[shown[a_ad == unknown]].min())
        raise common.FormatError(
            raw_path,
            f"adgroup_id {unknown} is not listed in {os.path.basename(ad_path)}",
            first + 2,
            "adgroup_id",
        )
    report.count(
        "ad_groups_without_displays_dropped",
        len(ads) - len(ad_originals),
        "ad_feature ad groups never shown in raw_sample are left out",
    )
    ads = ads.iloc[index].reset_index(drop=True)
    del a_ad

    # Behaviours.
    if not behavior_log:
        behavior_state = "off"
        progress("behaviour log", "off (--behavior_log=false): ad events only")
    else:
        behavior_path = common.optional_file(input, BEHAVIOR_LOG)
        behavior_state = "used" if behavior_path else "absent"
        if behavior_path is None:
            progress("behaviour log", f"absent from {input}: ad events only")
    if behavior_state == "used":
        source.append(behavior_path)
        columns, null_brands, left_out, outside = read_behavior_log(
            behavior_path, block_bytes, sample_users, seed, tuple(behaviors)
        )
        report.count("behavior_log_rows", len(columns) + left_out)
        common.count_outside_window(report, outside, TIME_WINDOW)
        if left_out:
            report.count(
                "behavior_log_rows_left_out",
                left_out,
                "behaviour lines of users outside the user sample or of btags not in "
                f"--behaviors={','.join(behaviors)}",
            )
        report.count(
            "behavior_log_null_brand",
            null_brands,
            "behaviours on brand NULL (or empty) go to brand code 0",
        )
        progress("read behavior_log", f"{behavior_path}: {len(columns):,} behaviours")
        b_user, b_time, b_event, b_cate, b_brand = (
            columns.pop(name) if len(columns) else np.zeros(0, np.int32)
            for name in ("user", "timestamp", "event", "cate", "brand")
        )
        report.count(
            "behavior_log_out_of_order",
            common.count_out_of_order(b_user, b_time),
            "events are sorted by time; this many behaviour lines came earlier than "
            "the previous line of their user",
        )
        order = common.time_order(b_user, b_time)
        dup = common.duplicate_rows(order, b_user, b_time, b_event, b_cate, b_brand)
        report.count(
            "behavior_log_duplicates_dropped",
            int(dup.sum()),
            "behaviour lines repeating all five fields are kept once",
        )
        keep = order[~dup]
        del order, dup
        b_user, b_time, b_event = b_user[keep], b_time[keep], b_event[keep]
        b_cate, b_brand = b_cate[keep], b_brand[keep]
        del keep
    else:
        b_user = b_time = b_cate = b_brand = np.zeros(0, np.int32)
        b_event = np.zeros(0, np.int8)

    # One category and one brand remapping over both files.
    a_cate = ads["cate_id"].to_numpy()
    category_code, category_originals = common.remap(np.concatenate([a_cate, b_cate]))
    brand_code, brand_originals = common.remap(
        np.concatenate([[NO_BRAND], ads["brand"].to_numpy(), b_brand])
    )
    num_ads = len(ads)
    num_b = len(b_cate)
    ad_category, b_category = category_code[:num_ads], category_code[num_ads:]
    ad_brand, b_brand_code = brand_code[1 : num_ads + 1], brand_code[num_ads + 1 :]
    del category_code, brand_code, b_cate, b_brand
    pair = b_category * len(brand_originals) + b_brand_code
    target_pairs, b_target = np.unique(pair, return_inverse=True)
    del pair, b_category, b_brand_code
    num_targets = len(target_pairs)
    campaign_code, campaign_originals = common.remap(
        np.concatenate([[-1], ads["campaign_id"].to_numpy()])
    )
    customer_code, customer_originals = common.remap(
        np.concatenate([[-1], ads["customer"].to_numpy()])
    )
    items = pd.DataFrame(
        {
            "item_id": np.arange(num_ads + num_targets, dtype=np.int64),
            "category": np.concatenate(
                [ad_category, target_pairs // len(brand_originals)]
            ),
            "brand": np.concatenate([ad_brand, target_pairs % len(brand_originals)]),
            "kind": np.repeat(
                np.array([AD_GROUP, BEHAVIOR_TARGET], np.int64), [num_ads, num_targets]
            ),
            "campaign": np.concatenate(
                [campaign_code[1:], np.zeros(num_targets, np.int64)]
            ),
            "customer": np.concatenate(
                [customer_code[1:], np.zeros(num_targets, np.int64)]
            ),
            "price_bucket": np.concatenate(
                [
                    _price_bucket(ads["price"].to_numpy()),
                    np.zeros(num_targets, np.int64),
                ]
            ),
        }
    )
    item_originals = np.concatenate([ad_originals, np.full(num_targets, -1)]).astype(
        np.int64
    )
    progress(
        "items",
        f"{num_ads:,} ad groups, {num_targets:,} behaviour targets, "
        f"{len(category_originals):,} categories, {len(brand_originals) - 1:,} brands",
    )

    # Users.
    user_code, user_originals = common.remap(np.concatenate([a_user, b_user]))
    profiles, missing = read_user_profile(profile_path, block_bytes)
    report.count("user_profile_rows", len(profiles))
    for field in PROFILE_FEATURES:
        report.count(
            f"profile_missing_{field}",
            missing[field],
            f"an empty or NULL {field} gets code 0 (codes are value + 1)",
        )
    position = pd.Index(profiles["userid"]).get_indexer(user_originals)
    has_profile = position >= 0
    report.count(
        "users_without_profile",
        int((~has_profile).sum()),
        "users with events but no user_profile row get code 0 (missing) in every "
        "profile column",
    )
    report.count(
        "profiles_without_events_dropped",
        len(profiles) - int(has_profile.sum()),
        "user_profile rows of users with no event are left out",
    )
    users = pd.DataFrame({"user_id": np.arange(len(user_originals), dtype=np.int64)})
    for field in PROFILE_FEATURES:
        values = np.zeros(len(user_originals), np.int64)
        values[has_profile] = profiles[field].to_numpy()[position[has_profile]]
        users[field] = values
    del profiles
    progress("users", f"{len(user_originals):,} users")

    # Events: impressions, clicks, behaviours; then a stable sort by time.
    num_shown = len(shown)
    clicked = np.flatnonzero(clk == 1)
    report.count("clicks", len(clicked))
    ad_user, b_user_code = user_code[:num_shown], user_code[num_shown:]
    del user_code
    impression = np.full(num_shown, common.EVENT_CODES["impression"], np.int8)
    click = np.full(len(clicked), common.EVENT_CODES["click"], np.int8)
    none = np.full(num_b, -1, np.int64)
    user_id = np.concatenate([ad_user, ad_user[clicked], b_user_code])
    timestamp = np.concatenate([a_time, a_time[clicked], b_time]).astype(np.int64)
    del ad_user, b_user_code, a_time, b_time
    order = common.time_order(user_id, timestamp)
    events = pd.DataFrame(
        {
            "user_id": user_id[order],
            "item_id": np.concatenate([ad_code, ad_code[clicked], num_ads + b_target])[
                order
            ],
            "timestamp": timestamp[order],
            "event": common.event_column(
                np.concatenate([impression, click, b_event])[order]
            ),
            "value": np.ones(len(order)),
            "request_id": np.concatenate([a_row[shown], a_row[shown][clicked], none])[
                order
            ],
            "pid": np.concatenate([pid_code, pid_code[clicked], none])[order],
        }
    )
    del user_id, timestamp, ad_code, b_target, b_event, impression, click, none
    del order
    progress("events", f"{len(events):,} events sorted by time")
    meta = {
        "name": "taobao_ad",
        "source": "Taobao display-ad click data (Alibaba Tianchi dataset 56), "
        "data_prep.taobao_ad",
        "source_files": common.source_files(*source),
        "timestamps": "seconds",
        "behavior_log": behavior_state,
        "sample_users": sample_users,
        "seed": seed,
        "behaviors": list(behaviors),
        "item_kinds": {
            str(AD_GROUP): "ad group",
            str(BEHAVIOR_TARGET): "behaviour target (cate, brand)",
        },
        "btag_mapping": {"pv": "click", "cart": "cart", "fav": "fav", "buy": "buy"},
        "user_feature_codes": "original value + 1; 0 = missing",
        "brand_codes": "0 = NULL (no brand), 1.. = brand ids in ascending order",
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
            "brand": brand_originals,
            "campaign": campaign_originals,
            "customer": customer_originals,
            "pid": pid_strings,
        },
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
        values.behavior_log,
        sample_users=values.sample_users,
        seed=values.seed,
        behaviors=tuple(values.behaviors),
        overwrite=values.overwrite,
    )


if __name__ == "__main__":
    from absl import app, flags

    common.define_io_flags(
        "The folder of raw_sample.csv, ad_feature.csv, user_profile.csv and "
        "(optional) behavior_log.csv, each plain or .gz.",
        "data/taobao_ad",
    )
    flags.DEFINE_boolean(
        "behavior_log",
        True,
        "Read behavior_log.csv when present (false: ad events only).",
    )
    flags.DEFINE_float(
        "sample_users",
        1.0,
        "Keep a seeded sample of about this fraction of the users (DSIN's "
        "preprocessing keeps 0.25).",
    )
    flags.DEFINE_integer("seed", 0, "Seed of the user sample.")
    flags.DEFINE_list(
        "behaviors",
        list(BTAGS),
        "Behaviour log btags to keep (DUMN's like sequence needs only cart,fav,buy).",
    )
    app.run(main)
