"""MovieLens-1M (GroupLens) -> the canonical schema.

Input: the ``ml-1m`` folder with ``::``-separated files:

- ``ratings.dat`` (or ``.gz``, or the file named by ``--ratings``):
  ``UserID::MovieID::Rating::Timestamp``, or ``UserID::MovieID::Rating`` for a
  copy without timestamps (all lines of a file have the same number of fields);
- ``users.dat`` (optional): ``UserID::Gender::Age::Occupation::Zip-code``;
- ``movies.dat`` (optional, ISO-8859-1): ``MovieID::Title::Genres``, genres
  ``|``-separated.

Output: one ``rating`` event per rating (``value`` = the stars). User features
``gender``, ``age`` (the 7 age groups), ``occupation`` (0-20) and ``zip_region``
(the first digit of the zip code, 10 for anything else); item features
``category`` (the first listed genre), ``genres`` (the code of the full genre
set), ``year`` (release year - 1900, 0 when the title has none) and ``brand`` (0:
movies have none).

Rules (each counted in ``meta.json``):
- a (user, movie) pair rated more than once keeps its latest rating (file order
  among equal times);
- users and movies without a rating are not in the tables (the papers' 3,706
  items are the rated ones);
- a rated movie or a rating user missing from ``movies.dat`` / ``users.dat`` is
  an error, as is a rating outside 1-5;
- timestamps are seconds since 1970: a file whose times mostly fall outside
  2000-2003 (the ratings span 2000-04..2003-02) is an error naming the unit they
  look like; fewer such ratings are kept, counted;
- without timestamps every event has timestamp 0 and ``meta.timestamps`` is
  ``"absent"``: only the random split applies.

Command:
  python -m data_prep.ml1m --input ../shared/datasets/ml-1m --output data/ml1m \\
      --ratings ratings_users1-2999.dat.gz
"""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd

from data_prep import common

SEP = "::"
GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
AGES = (1, 18, 25, 35, 45, 50, 56)
GENDERS = {"F": 0, "M": 1}
_YEAR = re.compile(r"\((\d{4})\)\s*$")


TIME_WINDOW = common.TimeWindow(
    "2000-01-01", "2003-12-31", "MovieLens-1M's ratings span 2000-04-25..2003-02-28"
)
"""The plausible span of ``Timestamp`` (`common.WindowCheck`)."""


def read_ratings(path: str, block_bytes: int = common.BLOCK_BYTES):
    """Streams the ratings file.

    Returns:
        (columns, has_timestamps, ratings dated outside `TIME_WINDOW`).

    Raises:
        FormatError: a bad line, or timestamps mostly outside `TIME_WINDOW`.
    """
    columns = common.Columns()
    has_time = None
    window = common.WindowCheck(TIME_WINDOW, path, "Timestamp", "seconds")
    for block in common.iter_blocks(path, block_bytes):
        if has_time is None:
            first = block.data[: block.data.find(b"\n")].decode()
            fields = first.count(SEP) + 1
            if fields not in (3, 4):
                raise common.FormatError(
                    path,
                    "expected UserID::MovieID::Rating[::Timestamp] (3 or 4 fields "
                    f"separated by '::'), got {fields}: {first[:200]!r}",
                    block.first_line,
                )
            has_time = fields == 4
        names = ("user", "movie", "rating") + (("timestamp",) if has_time else ())
        raw = common.split_fields(block, path, names, SEP)
        line = block.first_line
        columns.add(
            user=common.parse_int(raw["user"], path, "UserID", line, minimum=1),
            movie=common.parse_int(raw["movie"], path, "MovieID", line, minimum=1),
            rating=common.parse_float(
                raw["rating"], path, "Rating", line, minimum=1, maximum=5
            ),
        )
        if has_time:
            stamps = common.parse_int(raw["timestamp"], path, "Timestamp", line)
            columns.add(
                timestamp=common.check_timestamps(stamps, path, "Timestamp", line)
            )
            window.add(stamps, line)
    if has_time is None:
        raise common.FormatError(path, "no ratings (empty file)")
    return columns, has_time, window.finish()


def read_users(path: str) -> pd.DataFrame:
    """``users.dat`` -> original user id and feature codes."""
    names = ("user", "gender", "age", "occupation", "zip")
    parts = []
    for block in common.iter_blocks(path):
        raw = common.split_fields(block, path, names, SEP)
        line = block.first_line
        age = common.parse_int(raw["age"], path, "Age", line)
        bad = ~np.isin(age, AGES)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise common.FormatError(
                path, f"expected one of {AGES}, got {age[row]}", line + row, "Age"
            )
        zips = common.parse_string(raw["zip"], path, "Zip-code", line)
        first = np.array([z[0] for z in zips])
        region = np.where(np.char.isdigit(first), first, "10")
        parts.append(
            pd.DataFrame(
                {
                    "original": common.parse_int(raw["user"], path, "UserID", line),
                    "gender": common.parse_choice(
                        raw["gender"], path, "Gender", line, GENDERS
                    ),
                    "age": np.searchsorted(AGES, age),
                    "occupation": common.parse_int(
                        raw["occupation"],
                        path,
                        "Occupation",
                        line,
                        minimum=0,
                        maximum=20,
                    ),
                    "zip_region": region.astype(np.int64),
                }
            )
        )
    users = pd.concat(parts, ignore_index=True)
    _no_duplicate_ids(users, path, "UserID")
    return users


def read_movies(path: str) -> pd.DataFrame:
    """``movies.dat`` -> original movie id, first genre, genre set and year."""
    names = ("movie", "title", "genres")
    parts = []
    for block in common.iter_blocks(path, encoding="latin-1"):
        raw = common.split_fields(block, path, names, SEP)
        line = block.first_line
        genres = common.parse_string(raw["genres"], path, "Genres", line)
        first = []
        for offset, value in enumerate(genres):
            listed = value.split("|")
            unknown = [g for g in listed if g not in GENRES]
            if unknown:
                raise common.FormatError(
                    path,
                    f"unknown genre {unknown[0]!r}; expected '|'-separated genres "
                    f"from {', '.join(GENRES)}",
                    line + offset,
                    "Genres",
                )
            first.append(GENRES.index(listed[0]))
        titles = common.parse_string(raw["title"], path, "Title", line)
        years = [_YEAR.search(t) for t in titles]
        parts.append(
            pd.DataFrame(
                {
                    "original": common.parse_int(raw["movie"], path, "MovieID", line),
                    "category": np.array(first, dtype=np.int64),
                    "genre_set": genres,
                    "year": [int(m.group(1)) - 1900 if m else 0 for m in years],
                }
            )
        )
    movies = pd.concat(parts, ignore_index=True)
    _no_duplicate_ids(movies, path, "MovieID")
    return movies


def _no_duplicate_ids(frame, path, field):
    dup = frame["original"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise common.FormatError(
            path, f"duplicate id {frame['original'].iloc[row]}", row + 1, field
        )


def convert(
    input: str,
    output: str,
    ratings: str | None = None,
    block_bytes: int = common.BLOCK_BYTES,
    overwrite: bool = False,
):
    """Converts the ``ml-1m`` folder `input` into the dataset folder `output`.

    Args:
        input: the folder of the original files.
        output: the dataset folder to write.
        ratings: the ratings file name inside `input` (default ``ratings.dat``,
            plain or ``.gz``).
        block_bytes: bytes read at a time.
        overwrite: whether to replace an `output` that holds more than a
            dataset (`common.check_output`); a dataset folder is always replaced
            whole.

    Returns:
        The written `EventLog`.
    """
    common.check_output(output, overwrite)
    progress = common.Progress("ml1m")
    report = common.Report()
    common.require_folder(input)
    ratings_path = (
        common.require_file(os.path.join(input, ratings))
        if ratings
        else common.find_file(input, "ratings.dat")
    )
    columns, has_time, outside = read_ratings(ratings_path, block_bytes)
    report.count("lines_read", len(columns))
    if has_time:
        common.count_outside_window(report, outside, TIME_WINDOW)
    progress("read ratings", f"{ratings_path}: {len(columns):,} ratings")
    user = columns.pop("user")
    movie = columns.pop("movie")
    rating = columns.pop("rating")
    stamps = columns.pop("timestamp") if has_time else np.zeros(len(user), np.int64)
    if has_time:
        report.count(
            "out_of_order",
            common.count_out_of_order(user, stamps),
            "ratings are sorted by time (stable in file order); this many came "
            "earlier than the previous rating of their user in the file",
        )
    keep, dropped = common.keep_latest(stamps, user, movie)
    report.count(
        "duplicate_ratings_dropped",
        dropped,
        "a (user, movie) pair rated more than once keeps its latest rating",
    )
    user, movie, rating, stamps = user[keep], movie[keep], rating[keep], stamps[keep]

    user_code, user_originals = common.remap(user)
    item_code, item_originals = common.remap(movie)
    source = [ratings_path]
    users = pd.DataFrame({"user_id": np.arange(len(user_originals), dtype=np.int64)})
    users_path = os.path.join(input, "users.dat")
    if os.path.exists(users_path):
        table = read_users(users_path)
        report.count(
            "users_without_ratings_dropped",
            len(table) - len(user_originals),
            "users.dat users with no rating are left out",
        )
        features = common.side_rows(table, user_originals, users_path, "UserID", "user")
        users = pd.concat([users, features.drop(columns="original")], axis=1)
        source.append(users_path)
        progress("read users", f"{users_path}: {len(table):,} users")
    items = pd.DataFrame(
        {"item_id": np.arange(len(item_originals), dtype=np.int64), "category": 0}
    )
    movies_path = os.path.join(input, "movies.dat")
    if os.path.exists(movies_path):
        table = read_movies(movies_path)
        report.count(
            "movies_without_ratings_dropped",
            len(table) - len(item_originals),
            "movies.dat movies with no rating are left out",
        )
        features = common.side_rows(
            table, item_originals, movies_path, "MovieID", "movie"
        )
        items["category"] = features["category"].to_numpy(np.int64)
        items["genres"] = common.remap(features["genre_set"].to_numpy())[0]
        items["year"] = features["year"].to_numpy(np.int64)
        source.append(movies_path)
        progress("read movies", f"{movies_path}: {len(table):,} movies")
    items["brand"] = 0
    events = pd.DataFrame(
        {
            "user_id": user_code,
            "item_id": item_code,
            "timestamp": stamps,
            "event": common.event_column(
                np.full(len(user_code), common.EVENT_CODES["rating"])
            ),
            "value": rating,
        }
    )
    meta = {
        "name": "ml1m",
        "source": "MovieLens-1M (GroupLens), data_prep.ml1m",
        "source_files": common.source_files(*source),
        "timestamps": "seconds" if has_time else "absent",
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


def main(argv):
    values = common.command_flags(argv)
    common.run(
        convert,
        values.input,
        values.output,
        values.ratings,
        overwrite=values.overwrite,
    )


if __name__ == "__main__":
    from absl import app, flags

    common.define_io_flags(
        "The ml-1m folder (ratings.dat, users.dat, movies.dat).", "data/ml1m"
    )
    flags.DEFINE_string(
        "ratings", None, "Ratings file name in --input (default ratings.dat[.gz])."
    )
    app.run(main)
