"""MIND, the Microsoft News dataset (Wu et al., ACL 2020) -> the canonical schema.

Input: ``--input`` one or more MIND folders (comma-separated on the command
line), e.g. ``MINDsmall_train`` and ``MINDsmall_dev``, converted together into
one dataset with one id mapping; a folder without ``behaviors.tsv`` stands for
its sub-folders that have one (in name order). Each folder holds two
tab-separated files without a header line (also gzipped):

- ``behaviors.tsv``: ``impression_id``, ``user_id`` (``U13740``), ``time``
  (``11/15/2019 8:55:22 AM``: month/day/year, 12-hour clock; MIND does not say
  the time zone, so it is taken as UTC), ``history`` (the news the user
  clicked before, space-separated, oldest first; may be empty) and
  ``impressions`` (the news shown, space-separated, each with its label:
  ``N55689-1`` clicked, ``N35729-0`` not clicked);
- ``news.tsv``: ``news_id``, ``category``, ``subcategory``, ``title``,
  ``abstract``, ``url``, ``title_entities``, ``abstract_entities`` (only the
  first three are used; every line must have the eight fields).

The MINDlarge test set has no labels (``N55689`` alone): it is refused, with a
message saying so, since its impressions would read as not clicked.

Output:

- every behaviors line is one request (``request_id`` numbered in time order,
  ties by user then input order): an ``impression`` per shown news, plus a
  ``click`` when its label is 1, all at the line's time;
- the history column gives ``click`` events without a request
  (``request_id`` -1). It has no times: a user's history is taken from their
  earliest behaviors line (ties: input order), and its H news, oldest first,
  get the times t0 - H, t0 - H + 1, ..., t0 - 1 seconds, t0 being the time of
  that line. They keep their order and precede every impression of the user.
  The integer event column ``history`` is 1 on these clicks, 0 on the others;
- users: ``user_id`` only (MIND has no user features);
- items: the news with an event; ``category`` and ``subcategory`` coded 0 =
  missing (empty), 1.. = the distinct values in sorted order (listed in
  ``meta.json`` ``feature_values``); ``brand`` 0. ``item_ids.parquet`` /
  ``user_ids.parquet`` map the codes back to ``N..`` / ``U..`` ids.

Rules (each counted in ``meta.json``):

- a line repeating an earlier line's user, time and impressions (e.g. a folder
  given twice) is kept once;
- a news listed twice in one line's impressions is kept once, clicked when
  either is;
- a user's later lines whose history differs from that of their earliest line
  (MIND fixes a user's history; not expected) are counted, their history
  unused;
- lines earlier than the previous line of their user in the same file are
  counted (events are sorted by time);
- a news id listed again in ``news.tsv`` (the train and dev folders share
  news) is read once; listed again with another category or subcategory is an
  error, naming both places; news without an event are left out;
- a news of ``behaviors.tsv`` missing from every ``news.tsv`` read, an empty
  user id, an unreadable time or a malformed impression stops the conversion
  with the file, line and field.

Commands (the second reads the sub-folders of ``mind-small``; both convert
the train and dev folders together):
  python -m data_prep.mind --input MINDsmall_train,MINDsmall_dev \\
      --output data/mind_small
  python -m data_prep.mind --input ../shared/datasets/mind-small \\
      --output data/mind_small
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_prep import common

BEHAVIORS = "behaviors.tsv"
NEWS = "news.tsv"
SEP = "\t"
BEHAVIOR_FIELDS = ("impression_id", "user_id", "time", "history", "impressions")
NEWS_FIELDS = (
    "news_id",
    "category",
    "subcategory",
    "title",
    "abstract",
    "url",
    "title_entities",
    "abstract_entities",
)
TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
_LABELLED = r"^\S+-[01](\s+\S+-[01])*$"
_UNLABELLED = r"^[^\s-]+(\s+[^\s-]+)*$"


def input_folders(inputs) -> list[str]:
    """The folders holding ``behaviors.tsv`` among `inputs` and their sub-folders.

    Args:
        inputs: a folder, a comma-separated string of folders, or a list.

    Raises:
        FormatError: a missing folder, or one without ``behaviors.tsv`` in it
            or in any sub-folder.
    """
    if isinstance(inputs, str):
        inputs = [p.strip() for p in inputs.split(",") if p.strip()]
    folders = []
    for folder in inputs:
        common.require_folder(folder)
        if common.optional_file(folder, BEHAVIORS):
            folders.append(folder)
            continue
        subs = [
            os.path.join(folder, name)
            for name in sorted(os.listdir(folder))
            if os.path.isdir(os.path.join(folder, name))
            and common.optional_file(os.path.join(folder, name), BEHAVIORS)
        ]
        if not subs:
            raise common.FormatError(
                os.path.join(folder, BEHAVIORS),
                "file not found (looked for behaviors.tsv, also gzipped, here and in "
                "the sub-folders)",
            )
        folders += subs
    return folders


# --------------------------------------------------------------------------
# news.tsv
# --------------------------------------------------------------------------


def read_news(paths: list[str], report: common.Report) -> pd.DataFrame:
    """All ``news.tsv`` files -> one row per news id (sorted): ``news_id``,
    ``category``, ``subcategory`` (trimmed text, "" = missing), ``where`` (the
    file and line that listed it first)."""
    parts = []
    for path in paths:
        for block in common.iter_blocks(path):
            raw = common.split_fields(block, path, NEWS_FIELDS, SEP)
            ids = common.require_non_empty(
                raw["news_id"], path, "news_id", block.first_line, "news id"
            )
            parts.append(
                pd.DataFrame(
                    {
                        "news_id": ids.to_numpy(zero_copy_only=False),
                        "category": pc.utf8_trim_whitespace(raw["category"]).to_numpy(
                            zero_copy_only=False
                        ),
                        "subcategory": pc.utf8_trim_whitespace(
                            raw["subcategory"]
                        ).to_numpy(zero_copy_only=False),
                        "where": [
                            f"{path}, line {line}" for line in common.block_lines(block)
                        ],
                    }
                )
            )
    if not parts:
        raise common.FormatError(paths[0], "no news (empty file)")
    news = pd.concat(parts, ignore_index=True)
    same = news.duplicated(["news_id", "category", "subcategory"]).to_numpy()
    report.count(
        "news_listed_again",
        int(same.sum()),
        "a news id listed again in news.tsv with the same category and subcategory "
        "is read once",
    )
    news = news[~same]
    clash = news["news_id"].duplicated().to_numpy()
    if clash.any():
        again = news.iloc[int(np.flatnonzero(clash)[0])]
        first = news[news["news_id"] == again["news_id"]].iloc[0]
        file, line = again["where"].rsplit(", line ", 1)
        raise common.FormatError(
            file,
            f"news {again['news_id']} has category / subcategory "
            f"{again['category']} / {again['subcategory']}, but "
            f"{first['category']} / {first['subcategory']} at {first['where']}",
            int(line),
            "category",
        )
    return news.sort_values("news_id", ignore_index=True)


# --------------------------------------------------------------------------
# behaviors.tsv
# --------------------------------------------------------------------------


def _news_codes(tokens, news_ids, path, field, lines):
    """News id strings -> their row in `news_ids`; an unlisted one is an error."""
    codes = pc.index_in(tokens, value_set=news_ids)
    found = codes.is_valid().to_numpy(zero_copy_only=False)
    if not found.all():
        row = int(np.flatnonzero(~found)[0])
        raise common.FormatError(
            path,
            f"news {tokens[row].as_py()} is not listed in news.tsv",
            int(lines[row]),
            field,
        )
    return codes.to_numpy(zero_copy_only=False).astype(np.int32)


def _tokens(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Space-separated lists -> (the non-empty tokens, the row of each)."""
    lists = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(values))
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    tokens = pc.list_flatten(lists)
    rows = np.repeat(np.arange(len(values)), lengths)
    keep = pc.greater(pc.utf8_length(tokens), 0)
    return tokens.filter(keep), rows[keep.to_numpy(zero_copy_only=False)]


def parse_time(values, path, first_line) -> np.ndarray:
    """``11/15/2019 8:55:22 AM`` -> int64 seconds (taken as UTC)."""
    text = pc.utf8_trim_whitespace(values).to_numpy(zero_copy_only=False)
    parsed = pd.to_datetime(pd.Series(text), format=TIME_FORMAT, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        got = "an empty value" if text[row] == "" else repr(text[row])
        raise common.FormatError(
            path,
            f"expected a time such as 11/15/2019 8:55:22 AM, got {got}",
            first_line + row,
            "time",
        )
    return parsed.to_numpy().astype("datetime64[s]").astype(np.int64)


def _check_impressions(values, path, first_line):
    ok = pc.match_substring_regex(values, _LABELLED).to_numpy(zero_copy_only=False)
    if ok.all():
        return
    row = int(np.flatnonzero(~ok)[0])
    got = values[row].as_py()
    message = f"expected news-label pairs such as N55689-1 N35729-0, got {got[:200]!r}"
    if pc.match_substring_regex(pa.array([got]), _UNLABELLED)[0].as_py():
        message += (
            "; these impressions have no labels (the MINDlarge test set): they "
            "cannot be converted, leave that folder out"
        )
    if got == "":
        message = "expected news-label pairs such as N55689-1 N35729-0, got nothing"
    raise common.FormatError(path, message, first_line + row, "impressions")


def read_behaviors(paths, news_ids: pa.Array, report, progress, block_bytes):
    """Every ``behaviors.tsv`` -> (lines, shown news, each user's earliest line).

    The line table has ``user`` (text), ``time``, ``file`` (index into
    `paths`), ``line``, ``impressions`` and ``history`` (hashes of those
    fields); the shown table ``row`` (into the line table), ``news`` (row of
    `news_ids`) and ``label`` (clicked); the earliest lines ``user``, ``time``,
    ``row`` and ``text`` (the history field), one per user (earliest time,
    then input order), kept block by block so the history text of other lines
    is never held.
    """
    lines, shown = [], []
    first = None  # the earliest line of each user so far
    offset = 0
    for index, path in enumerate(paths):
        before = offset
        for block in common.iter_blocks(path, block_bytes):
            raw = common.split_fields(block, path, BEHAVIOR_FIELDS, SEP)
            at = block.first_line
            numbers = common.block_lines(block)
            common.parse_int(raw["impression_id"], path, "impression_id", at, minimum=0)
            users = common.require_non_empty(
                raw["user_id"], path, "user_id", at, "user id"
            )
            users = users.to_numpy(zero_copy_only=False)
            times = parse_time(raw["time"], path, at)
            impressions = pc.utf8_trim_whitespace(raw["impressions"])
            _check_impressions(impressions, path, at)
            history = pc.utf8_trim_whitespace(raw["history"]).to_numpy(
                zero_copy_only=False
            )
            tokens, rows = _tokens(impressions)
            labels = pc.utf8_slice_codeunits(tokens, -1)
            news = _news_codes(
                pc.utf8_slice_codeunits(tokens, 0, -2),
                news_ids,
                path,
                "impressions",
                numbers[rows],
            )
            row_ids = offset + np.arange(block.num_lines)
            shown.append(
                pd.DataFrame(
                    {
                        "row": row_ids[rows],
                        "news": news,
                        "label": pc.equal(labels, "1").to_numpy(zero_copy_only=False),
                    }
                )
            )
            lines.append(
                pd.DataFrame(
                    {
                        "user": users,
                        "time": times,
                        "file": np.full(block.num_lines, index, np.int16),
                        "line": numbers,
                        "impressions": pd.util.hash_array(
                            impressions.to_numpy(zero_copy_only=False)
                        ),
                        "history": pd.util.hash_array(history),
                    }
                )
            )
            block_first = pd.DataFrame(
                {"user": users, "time": times, "row": row_ids, "text": history}
            )
            if first is not None:
                block_first = pd.concat([first, block_first], ignore_index=True)
            first = block_first.sort_values(
                ["user", "time", "row"], kind="stable"
            ).drop_duplicates("user")
            offset += block.num_lines
        report.count(
            f"lines_{os.path.basename(os.path.dirname(path)) or path}", offset - before
        )
        progress("read behaviors", f"{path}: {offset - before:,} lines")
    if not offset:
        raise common.FormatError(paths[0], "no impressions (empty file)")
    return (
        pd.concat(lines, ignore_index=True),
        pd.concat(shown, ignore_index=True),
        first.reset_index(drop=True),
    )


# --------------------------------------------------------------------------
# Conversion.
# --------------------------------------------------------------------------


def _history_events(first, lines, news_ids, paths):
    """The history clicks of each user's earliest line, timed before it."""
    tokens, rows = _tokens(pa.array(first["text"].to_numpy(), pa.string()))
    line_rows = first["row"].to_numpy()[rows]
    where = lines.iloc[line_rows]
    news = np.zeros(len(rows), np.int32)
    for index, path in enumerate(paths):
        mine = np.flatnonzero(where["file"].to_numpy() == index)
        if len(mine):
            news[mine] = _news_codes(
                tokens.take(pa.array(mine)),
                news_ids,
                path,
                "history",
                where["line"].to_numpy()[mine],
            )
    counts = np.bincount(rows, minlength=len(first))
    # Position from the end: H, H-1, ..., 1 for the H news of a history.
    starts = np.cumsum(counts) - counts
    back = counts[rows] - (np.arange(len(rows)) - starts[rows])
    return pd.DataFrame(
        {
            "user": first["user"].to_numpy()[rows],
            "news": news,
            "time": first["time"].to_numpy()[rows] - back,
        }
    )


def _once_per_request(shown: pd.DataFrame, request: np.ndarray, num_news: int):
    """The shown news once per request (clicked when any listing is), in request
    order and, within one, in the order listed; ``count`` = listings merged."""
    key = request * num_news + shown["news"].to_numpy()
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    first = order[starts]  # the first listing of each (request, news)
    label = np.maximum.reduceat(shown["label"].to_numpy()[order], starts)
    count = np.diff(np.r_[starts, len(key)])
    along = np.lexsort((first, request[first]))
    first = first[along]
    return pd.DataFrame(
        {
            "row": shown["row"].to_numpy()[first],
            "news": shown["news"].to_numpy()[first],
            "label": label[along],
            "count": count[along],
            "request": request[first],
        }
    )


def convert(
    input,
    output: str,
    block_bytes: int = common.BLOCK_BYTES,
    overwrite: bool = False,
):
    """Converts MIND folders `input` into the dataset folder `output`.

    Args:
        input: one folder, a comma-separated string of folders or a list
            (see `input_folders`).
        output: the dataset folder to write.
        block_bytes: bytes read at a time.
        overwrite: whether to replace an `output` that holds more than a
            dataset (`common.check_output`).

    Returns:
        The written `EventLog`.
    """
    common.check_output(output, overwrite)
    progress = common.Progress("mind")
    report = common.Report()
    folders = input_folders(input)
    behavior_paths = [common.find_file(f, BEHAVIORS) for f in folders]
    news_paths = [common.find_file(f, NEWS) for f in folders]
    news = read_news(news_paths, report)
    progress("read news", f"{len(news):,} news in {len(news_paths)} file(s)")
    news_ids = pa.array(news["news_id"].to_numpy(), pa.string())
    lines, shown, first = read_behaviors(
        behavior_paths, news_ids, report, progress, block_bytes
    )
    report.count("lines_read", len(lines))

    user_code, user_originals = common.remap(lines["user"].to_numpy())
    times = lines["time"].to_numpy()
    out_of_order = sum(
        common.count_out_of_order(user_code[mask], times[mask])
        for mask in (lines["file"].to_numpy() == i for i in range(len(folders)))
    )
    report.count(
        "out_of_order",
        out_of_order,
        "events are sorted by time; this many lines came earlier than the previous "
        "line of their user in the same file",
    )
    first_of_user = pd.Series(first["row"].to_numpy(), index=first["user"].to_numpy())
    own = first_of_user.loc[lines["user"].to_numpy()].to_numpy()
    history_hash = lines["history"].to_numpy()
    report.count(
        "lines_with_another_history",
        int(np.count_nonzero(history_hash != history_hash[own])),
        "a user's history clicks come from their earliest line; later lines with "
        "another history are counted and their history unused",
    )
    dup = common.duplicate_mask(user_code, times, lines["impressions"].to_numpy())
    report.count(
        "duplicate_lines_dropped",
        int(dup.sum()),
        "a line repeating an earlier line's user, time and impressions is kept once",
    )
    kept = ~dup
    # Requests numbered in time order (ties: user, then input order).
    order = np.lexsort((np.arange(len(lines)), user_code, times))
    order = order[kept[order]]
    request = np.full(len(lines), -1, np.int64)
    request[order] = np.arange(len(order))

    shown = shown[kept[shown["row"].to_numpy()]]
    shown = _once_per_request(shown, request[shown["row"].to_numpy()], len(news))
    report.count(
        "news_repeated_in_a_line",
        int((shown["count"] - 1).sum()),
        "a news listed twice in one line's impressions is kept once, clicked when "
        "either is",
    )
    history = _history_events(first, lines, news_ids, behavior_paths)

    item_code, item_news = common.remap(
        np.concatenate([shown["news"].to_numpy(), history["news"].to_numpy()])
    )
    report.count(
        "news_without_events_dropped",
        len(news) - len(item_news),
        "news of news.tsv with no impression or history click are left out",
    )
    n_shown = len(shown)
    rows = shown["row"].to_numpy()
    clicked = np.flatnonzero(shown["label"].to_numpy())
    history_users = pd.Index(user_originals).get_indexer(history["user"].to_numpy())
    pick = np.concatenate([np.arange(n_shown), clicked])
    kinds = np.concatenate(
        [
            np.full(n_shown, common.EVENT_CODES["impression"], np.int8),
            np.full(len(clicked), common.EVENT_CODES["click"], np.int8),
        ]
    )
    sort = np.lexsort((kinds, pick))
    pick, kinds = pick[sort], kinds[sort]
    events = pd.DataFrame(
        {
            "user_id": np.concatenate([history_users, user_code[rows][pick]]),
            "item_id": np.concatenate([item_code[n_shown:], item_code[:n_shown][pick]]),
            "timestamp": np.concatenate(
                [history["time"].to_numpy(), times[rows][pick]]
            ),
            "event": common.event_column(
                np.concatenate(
                    [np.full(len(history), common.EVENT_CODES["click"], np.int8), kinds]
                )
            ),
            "value": 1.0,
            "request_id": np.concatenate(
                [np.full(len(history), -1), shown["request"].to_numpy()[pick]]
            ),
            "history": np.concatenate(
                [np.ones(len(history), np.int64), np.zeros(len(pick), np.int64)]
            ),
        }
    )
    report.count("impression_events", n_shown)
    report.count("click_events", len(clicked))
    report.count("history_click_events", len(history))

    items = {"item_id": np.arange(len(item_news), dtype=np.int64)}
    vocab = {}
    for name in ("category", "subcategory"):
        values = news[name].to_numpy()[item_news]
        missing = values == ""
        items[name], vocab[name] = common.feature_codes(values, missing)
        if missing.any():
            report.count(
                f"missing_{name}",
                int(missing.sum()),
                f"a news with an empty {name} gets code 0",
            )
    items["brand"] = np.zeros(len(item_news), np.int64)
    meta = {
        "name": "mind",
        "source": "MIND (Wu et al., ACL 2020), data_prep.mind",
        "source_files": common.source_files(*behavior_paths, *news_paths),
        "timestamps": "seconds",
        "event_columns": ["history"],
        "feature_values": vocab,
    }
    return common.write_dataset(
        output,
        pd.DataFrame({"user_id": np.arange(len(user_originals), dtype=np.int64)}),
        pd.DataFrame(items),
        events,
        meta,
        {"user": user_originals, "item": news["news_id"].to_numpy()[item_news]},
        report,
        progress,
        overwrite=overwrite,
    )


def main(argv):
    values = common.command_flags(argv)
    common.run(convert, values.input, values.output, overwrite=values.overwrite)


if __name__ == "__main__":
    from absl import app

    common.define_io_flags(
        "MIND folders (behaviors.tsv, news.tsv), comma-separated, e.g. "
        "MINDsmall_train,MINDsmall_dev; a folder of such folders stands for them.",
        "data/mind",
    )
    app.run(main)
