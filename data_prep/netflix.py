"""Netflix Prize ratings -> the canonical schema.

Input: a folder with the ratings in one of two layouts, checked in this order:

- ``combined_data_1.txt`` .. ``combined_data_4.txt`` (each plain or ``.gz``;
  whichever exist are read, in that order; ``--files`` names files explicitly):
  the Kaggle copy of the Prize data. Each file is a run of blocks, a line
  ``MovieID:`` followed by one line ``CustomerID,Rating,Date`` per rating;
- ``training_set/mv_0000001.txt`` .. (or the ``mv_*.txt`` files directly in the
  folder): the original Prize layout, one file per movie with the same
  ``MovieID:`` first line. The ``training_set.tar`` archive must be unpacked
  first.

Ratings are integers 1-5, dates ``YYYY-MM-DD``, ids positive integers. Leading
and trailing blanks of a line are ignored. ``qualifying.txt`` and ``probe.txt``
(the Prize's test queries) are not read.

Optional: ``movie_titles.csv`` (Kaggle) or ``movie_titles.txt`` (the Prize), in
ISO-8859-1, lines ``MovieID,YearOfRelease,Title`` without a header;
YearOfRelease is a year from 1890 on, or ``NULL``; titles may hold commas, so a
line is split on its first two commas only.

Output: one ``rating`` event per rating, ``value`` = the stars, ``timestamp`` =
midnight UTC of the rating's date. The data only has days, so the events of one
user on one day keep the order of the files (movie order); ``meta.timestamps`` is
``"seconds"``. Users have no features. Items: ``category`` = the release decade
(1 = 1890s, 2 = 1900s, ..., 12 = 2000s; 0 when the year is ``NULL`` or without a
titles file), ``year`` = YearOfRelease - 1889 (0 when unknown), ``brand`` = 0.

Rules (each counted in ``meta.json``):
- a (customer, movie) pair rated more than once keeps its latest rating (file
  order among equal dates);
- the files are grouped by movie, not time, so no out-of-order rule applies: the
  events are sorted by date (the schema's order), stably;
- a rating line before any ``MovieID:`` line of its file, a malformed line, a
  rating outside 1-5 and an invalid date (``2005-02-30``, or before 1970 or
  after 2100) are errors naming the line; so is a file whose dates mostly fall
  outside 1998-2006 (the ratings span 1998-11..2005-12), fewer are counted;
- ``--sample_users=N --seed=S`` keeps a seeded uniform sample of N customers
  (drawn from all customers that rated anything, before the duplicate rule) and
  all their ratings, counted: the AutoDenoise paper's Netflix set (density 0.02%)
  is an undescribed subsample of the full data (about 1.2%), which this does not
  claim to reproduce. All customers are kept when N is not below their number;
- with a titles file, a rated movie missing from it is an error; listed movies
  without a kept rating are left out (counted).

Memory: about 13-17 bytes per rating while reading, then the usual tables (the
full 100M ratings need several GB); ``--sample_users`` is applied after reading.

Command:
  python -m data_prep.netflix --input ../shared/datasets/netflix \\
      --output data/netflix --sample_users=20000 --seed=0
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

RATINGS_FILES = tuple(f"combined_data_{i}.txt" for i in range(1, 5))
TITLES_FILES = ("movie_titles.csv", "movie_titles.txt")
FIRST_YEAR = 1890
LAST_YEAR = 2099
DAY = 86_400

_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def parse_dates(values: pa.Array, path: str, line_numbers: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` strings -> int32 days since the epoch (1970-01-01 to
    2100-01-01)."""
    try:
        days = pc.cast(values, pa.date32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        days = None
    if days is None:  # The slow path only runs to find the bad line.
        good = pc.match_substring_regex(values, _DATE)
        stamps = pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True)
        # strptime rolls 2005-02-30 over to March: a real date prints back the same.
        same = pc.equal(pc.strftime(stamps, format="%Y-%m-%d"), values)
        ok = pc.and_(good, pc.fill_null(same, False)).to_numpy(zero_copy_only=False)
        row = int(np.flatnonzero(~ok)[0]) if not ok.all() else 0
        raise common.FormatError(
            path,
            f"expected a date YYYY-MM-DD, got {values[row].as_py()!r}",
            int(line_numbers[row]),
            "Date",
        )
    days = pc.cast(days, pa.int32()).to_numpy()
    seconds = days.astype(np.int64) * DAY
    bad = (seconds < schema.MIN_TIMESTAMP) | (seconds > schema.MAX_TIMESTAMP)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise common.FormatError(
            path,
            f"expected a date from 1970-01-01 to 2100-01-01, got {values[row].as_py()!r}",
            int(line_numbers[row]),
            "Date",
        )
    return days


TIME_WINDOW = common.TimeWindow(
    "1998-01-01", "2006-12-31", "the Netflix Prize ratings span 1998-11..2005-12"
)
"""The plausible span of the rating dates (`common.WindowCheck`)."""


def parse_block(
    block: common.Block,
    path: str,
    movie: int | None,
    window: common.WindowCheck | None = None,
):
    """Parses one block of a ratings file.

    Args:
        block: whole lines of the file.
        path: the file, for error messages.
        movie: the movie of the last ``MovieID:`` line before the block (a block
            may start in the middle of a movie), or None at the start of a file.
        window: receives the block's dates (days since the epoch).

    Returns:
        (columns, movie): a dict of numpy arrays ``customer``, ``movie``,
        ``rating`` (int8) and ``day`` (int32 days since the epoch), and the movie
        in effect at the end of the block.
    """
    lines = common.split_lines(block, path)
    n = len(lines)
    numbers = common.block_lines(block)
    header = pc.ends_with(lines, ":").to_numpy(zero_copy_only=False)
    heads = np.flatnonzero(header)
    movie_of_line = np.zeros(n, np.int64)
    if len(heads):
        ids = pc.utf8_slice_codeunits(pc.take(lines, heads), 0, -1)
        movie_of_line[heads] = common.parse_int(
            ids, path, "MovieID", 0, line_numbers=numbers[heads], minimum=1
        )
    last_head = np.maximum.accumulate(np.where(header, np.arange(n), -1))
    data = np.flatnonzero(~header)
    owner = last_head[data]
    orphan = owner < 0
    if orphan.any() and movie is None:
        line = int(numbers[data[np.flatnonzero(orphan)[0]]])
        raise common.FormatError(
            path,
            "a rating line before any 'MovieID:' line: each movie's ratings must "
            "follow its 'MovieID:' line",
            line,
        )
    movies = np.where(orphan, movie if movie is not None else 0, movie_of_line[owner])
    end_movie = int(movie_of_line[heads[-1]]) if len(heads) else movie

    line_numbers = numbers[data]
    customer, rating, date = _three_fields(
        pc.take(lines, data),
        line_numbers,
        path,
        "'MovieID:' or CustomerID,Rating,Date",
        show_count=True,
    )
    customer = common.parse_int(
        customer, path, "CustomerID", 0, line_numbers=line_numbers, minimum=1
    )
    rating = common.parse_int(
        rating, path, "Rating", 0, line_numbers=line_numbers, minimum=1, maximum=5
    )
    days = parse_dates(date, path, line_numbers)
    if window is not None:
        window.add(days, line_numbers)
    columns = {
        "customer": common.compact(customer),
        "movie": common.compact(movies.astype(np.int64)),
        "rating": rating.astype(np.int8),
        "day": days,
    }
    return columns, end_movie


def _three_fields(lines, numbers, path, expected, max_splits=None, show_count=False):
    """Splits lines on ',' into their three fields (`max_splits=2`: the third
    keeps any further commas); a line with another count is an error."""
    parts = pc.split_pattern(lines, ",", max_splits=max_splits)
    counts = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    bad = counts != 3
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        got = f"got {counts[row]} field(s): " if show_count else "got "
        raise common.FormatError(
            path,
            f"expected {expected} (3 fields separated by ','), "
            f"{got}{lines[row].as_py()[:200]!r}",
            int(numbers[row]),
        )
    flat = pc.list_flatten(parts)
    every_third = np.arange(0, 3 * len(lines), 3)
    return [pc.take(flat, pa.array(every_third + k)) for k in range(3)]


def read_ratings(
    path: str, columns: common.Columns, block_bytes: int
) -> tuple[int, int]:
    """Streams one ratings file into `columns`.

    Returns:
        (lines, ratings, ratings dated outside `TIME_WINDOW`) read.

    Raises:
        FormatError: a bad line, or dates mostly outside `TIME_WINDOW`.
    """
    movie = None
    lines = ratings = 0
    window = common.WindowCheck(TIME_WINDOW, path, "Date", "days", "a date")
    for block in common.iter_blocks(path, block_bytes):
        parsed, movie = parse_block(block, path, movie, window)
        columns.add(**parsed)
        lines += block.num_lines
        ratings += len(parsed["customer"])
    if lines == 0:
        raise common.FormatError(path, "no ratings (empty file)")
    return lines, ratings, window.finish()


def find_ratings(input: str, files: list[str] | None = None) -> list[str]:
    """The ratings files to read (see the module docstring for the order)."""
    if files:
        return [
            common.require_file(f if os.path.isabs(f) else os.path.join(input, f))
            for f in files
        ]
    found = [common.optional_file(input, name) for name in RATINGS_FILES]
    found = [path for path in found if path is not None]
    if found:
        return found
    for folder in (os.path.join(input, "training_set"), input):
        movies = sorted(
            glob.glob(os.path.join(folder, "mv_*.txt"))
            + glob.glob(os.path.join(folder, "mv_*.txt.gz")),
            key=lambda p: os.path.basename(p).removesuffix(".gz"),
        )
        if movies:
            return movies
    raise common.FormatError(
        os.path.join(input, RATINGS_FILES[0]),
        "file not found (looked for combined_data_1..4.txt, also gzipped, and "
        "training_set/mv_*.txt)",
    )


def read_titles(path: str) -> pd.DataFrame:
    """``movie_titles`` -> original movie id, decade code and year code."""
    parts_out = []
    for block in common.iter_blocks(path, encoding="latin-1"):
        lines = common.split_lines(block, path)
        numbers = common.block_lines(block)
        n = len(lines)
        movie, years, _ = _three_fields(
            lines, numbers, path, "MovieID,YearOfRelease,Title", max_splits=2
        )
        movie = common.parse_int(
            movie,
            path,
            "MovieID",
            0,
            line_numbers=numbers,
            minimum=1,
        )
        years = pc.utf8_trim_whitespace(years)
        null = pc.equal(years, "NULL").to_numpy(zero_copy_only=False)
        year = np.zeros(n, np.int64)
        if (~null).any():
            known = np.flatnonzero(~null)
            year[known] = common.parse_int(
                pc.take(years, pa.array(known)),
                path,
                "YearOfRelease",
                0,
                line_numbers=numbers[known],
                minimum=FIRST_YEAR,
                maximum=LAST_YEAR,
            )
        parts_out.append(
            pd.DataFrame(
                {
                    "original": movie,
                    "category": np.where(null, 0, year // 10 - FIRST_YEAR // 10 + 1),
                    "year": np.where(null, 0, year - FIRST_YEAR + 1),
                    "line": numbers,
                }
            )
        )
    if not parts_out:
        raise common.FormatError(path, "no movies (empty file)")
    movies = pd.concat(parts_out, ignore_index=True)
    dup = movies["original"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise common.FormatError(
            path,
            f"duplicate movie id {movies['original'].iloc[row]}",
            int(movies["line"].iloc[row]),
            "MovieID",
        )
    return movies.drop(columns="line")


def sample_users(customer: np.ndarray, count: int, seed: int) -> np.ndarray:
    """The sorted ids of a seeded uniform sample of `count` distinct customers."""
    everyone = np.unique(customer)
    if count >= len(everyone):
        return everyone
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(everyone, size=count, replace=False))


def convert(
    input: str,
    output: str,
    files: list[str] | None = None,
    sample: int | None = None,
    seed: int = 0,
    block_bytes: int = common.BLOCK_BYTES,
    overwrite: bool = False,
):
    """Converts the Netflix Prize folder `input` into the dataset folder `output`.

    Args:
        input: the folder of the original files.
        output: the dataset folder to write.
        files: ratings files to read (names inside `input`, or paths), instead of
            the ones found there.
        sample: keep a uniform sample of this many customers (None: all).
        seed: the seed of that sample.
        block_bytes: bytes read at a time.
        overwrite: whether to replace an `output` that holds more than a
            dataset (`common.check_output`); a dataset folder is always replaced
            whole.

    Returns:
        The written `EventLog`.
    """
    common.check_output(output, overwrite)
    progress = common.Progress("netflix")
    report = common.Report()
    common.require_folder(input)
    if sample is not None and sample < 1:
        raise ValueError(f"`sample` must be >= 1. Received: sample={sample}")
    paths = find_ratings(input, files)
    columns = common.Columns()
    per_movie_files = os.path.basename(paths[0]).startswith("mv_")
    outside = 0
    for path in paths:
        lines, ratings, off = read_ratings(path, columns, block_bytes)
        outside += off
        report.count("lines_read", lines)
        if not per_movie_files:
            progress("read ratings", f"{path}: {ratings:,} ratings")
    if per_movie_files:
        progress(
            "read ratings", f"{len(paths):,} files mv_*.txt: {len(columns):,} ratings"
        )
    if len(columns) == 0:
        raise common.FormatError(paths[0], "no ratings (only 'MovieID:' lines)")
    report.count("ratings_read", len(columns))
    common.count_outside_window(report, outside, TIME_WINDOW)
    customer = columns.pop("customer")
    movie = columns.pop("movie")
    rating = columns.pop("rating")
    day = columns.pop("day")

    if sample is not None:
        chosen = sample_users(customer, sample, seed)
        keep = np.isin(customer, chosen)
        everyone = len(np.unique(customer))
        report.count(
            "users_sampled_out",
            everyone - len(chosen),
            f"a seeded uniform sample of {sample:,} customers (seed {seed}) is kept",
        )
        report.count(
            "ratings_sampled_out",
            int((~keep).sum()),
            "ratings of the customers left out of the sample",
        )
        customer, movie, rating, day = (
            customer[keep],
            movie[keep],
            rating[keep],
            day[keep],
        )
        progress("sampled", f"{len(chosen):,} of {everyone:,} customers")

    key = customer.astype(np.int64) * (int(movie.max()) + 1) + movie
    keep, dropped = common.keep_latest(day, key)
    report.count(
        "duplicate_ratings_dropped",
        dropped,
        "a (customer, movie) pair rated more than once keeps its latest rating",
    )
    del key
    customer, movie, rating, day = customer[keep], movie[keep], rating[keep], day[keep]
    del keep

    user_code, user_originals = common.remap(customer)
    item_code, item_originals = common.remap(movie)
    user_originals = user_originals.astype(np.int64)
    item_originals = item_originals.astype(np.int64)
    del customer, movie
    source = list(paths)
    items = pd.DataFrame(
        {"item_id": np.arange(len(item_originals), dtype=np.int64), "category": 0}
    )
    titles_path = next(
        (
            os.path.join(input, name)
            for name in TITLES_FILES
            if os.path.isfile(os.path.join(input, name))
        ),
        None,
    )
    if titles_path is not None:
        table = read_titles(titles_path)
        features = common.side_rows(
            table, item_originals, titles_path, "MovieID", "movie"
        )
        report.count(
            "movies_without_ratings_dropped",
            len(table) - len(item_originals),
            "titles-file movies with no kept rating are left out",
        )
        items["category"] = features["category"].to_numpy(np.int64)
        items["year"] = features["year"].to_numpy(np.int64)
        source.append(titles_path)
        progress("read titles", f"{titles_path}: {len(table):,} movies")
    items["brand"] = 0
    events = pd.DataFrame(
        {
            "user_id": user_code,
            "item_id": item_code,
            "timestamp": day.astype(np.int64) * DAY,
            "event": common.event_column(
                np.full(len(user_code), common.EVENT_CODES["rating"])
            ),
            "value": rating.astype(np.float64),
        }
    )
    if per_movie_files:
        source_files = [
            {
                "folder": os.path.abspath(os.path.dirname(paths[0])),
                "files": len(paths),
                "bytes": int(sum(os.path.getsize(p) for p in paths)),
            }
        ]
        if titles_path is not None:
            source_files += common.source_files(titles_path)
    else:
        source_files = common.source_files(*source)
    meta = {
        "name": "netflix",
        "source": "Netflix Prize (Kaggle netflix-prize-data), data_prep.netflix",
        "source_files": source_files,
        "timestamps": "seconds",
        "timestamp_resolution": "day",
        "sample_users": sample,
        "seed": seed if sample is not None else None,
    }
    return common.write_dataset(
        output,
        pd.DataFrame({"user_id": np.arange(len(user_originals), dtype=np.int64)}),
        items,
        events,
        meta,
        {"user": user_originals, "item": item_originals},
        report,
        progress,
        overwrite=overwrite,
    )


def main(argv):
    from absl import app

    values = common.command_flags(argv)
    if values.sample_users is not None and values.sample_users < 1:
        raise app.UsageError("--sample_users must be >= 1")
    common.run(
        convert,
        values.input,
        values.output,
        files=values.files,
        sample=values.sample_users,
        seed=values.seed,
        overwrite=values.overwrite,
    )


if __name__ == "__main__":
    from absl import app, flags

    common.define_io_flags(
        "The Netflix Prize folder (combined_data_*.txt or training_set/, "
        "movie_titles.csv).",
        "data/netflix",
    )
    flags.DEFINE_list(
        "files", None, "Ratings files in --input to read (default: all found)."
    )
    flags.DEFINE_integer(
        "sample_users", None, "Keep a seeded uniform sample of this many customers."
    )
    flags.DEFINE_integer("seed", 0, "Seed of --sample_users.")
    app.run(main)
