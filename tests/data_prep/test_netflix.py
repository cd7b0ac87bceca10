"""Tests of the Netflix Prize converter (data_prep/netflix.py).

We hold no Netflix file: every fixture is written here in the exact format of
the Prize / Kaggle copy (``MovieID:`` lines followed by ``CustomerID,Rating,Date``
lines; ``movie_titles.csv`` as ``MovieID,YearOfRelease,Title``).
"""

import calendar
import gzip

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep import common, netflix
from tests.data_prep.shared import (
    DATASET_TABLES,
    assert_one_line_error,
    assert_same_parquet,
    run_module,
)

COMBINED_1 = """1:
1488844,3,2005-09-06
822109,5,2005-05-13
885013,4,2005-10-19
2:
822109,2,2005-05-13
30878,4,2005-12-26
"""
# The second file continues movie 2 in a new block of its own and repeats the
# pair (822109, 1): the later date wins.
COMBINED_2 = """3:
1488844,1,2004-04-22
822109,4,2004-04-22
1:
822109,1,2005-12-31
"""
TITLES = (
    "1,2003,Dinosaur Planet\n"
    "2,NULL,Isle of Man, TT, 2004 Review\n"
    "3,1896,Character\n"
    "4,2004,Never Rated\n"
).encode("latin-1") + "5,1999,Am\xe9lie\n".encode("latin-1")


def _day(text):
    return calendar.timegm(pd.Timestamp(text).timetuple())


def _folder(tmp_path, files=None, titles=TITLES, gz=("combined_data_2.txt",)):
    folder = tmp_path / "netflix"
    folder.mkdir()
    files = (
        {"combined_data_1.txt": COMBINED_1, "combined_data_2.txt": COMBINED_2}
        if files is None
        else files
    )
    for name, text in files.items():
        if name in gz:
            with gzip.open(folder / (name + ".gz"), "wt") as f:
                f.write(text)
        else:
            (folder / name).write_text(text)
    if titles is not None:
        (folder / "movie_titles.csv").write_bytes(titles)
    return str(folder)


def _convert(folder, tmp_path, name="out", **kwargs):
    return netflix.convert(folder, str(tmp_path / name), **kwargs)


def _rows(log, out):
    """Events as (customer, movie, day text, stars) in table order."""
    users = common.to_original(out, "user", log.events["user_id"])
    items = common.to_original(out, "item", log.events["item_id"])
    days = pd.to_datetime(log.events["timestamp"], unit="s").dt.strftime("%Y-%m-%d")
    return list(zip(users.tolist(), items.tolist(), days, log.events["value"].tolist()))


def test_fixture_converts_to_expected_tables(tmp_path):
    folder = _folder(tmp_path)
    log = _convert(folder, tmp_path)
    out = str(tmp_path / "out")
    assert log.num_users == 4 and log.num_items == 3
    assert common.to_original(out, "user", np.arange(4)).tolist() == [
        30878,
        822109,
        885013,
        1488844,
    ]
    assert common.to_original(out, "item", np.arange(3)).tolist() == [1, 2, 3]
    assert _rows(log, out) == [
        (822109, 3, "2004-04-22", 4.0),
        (1488844, 3, "2004-04-22", 1.0),
        (822109, 2, "2005-05-13", 2.0),
        (1488844, 1, "2005-09-06", 3.0),
        (885013, 1, "2005-10-19", 4.0),
        (30878, 2, "2005-12-26", 4.0),
        (822109, 1, "2005-12-31", 1.0),
    ]
    assert set(log.events["event"].astype(str)) == {"rating"}
    assert log.events["timestamp"].iloc[0] == _day("2004-04-22")
    assert (log.events["timestamp"] % 86_400 == 0).all()
    items = log.items.set_index("item_id")
    # 2003 -> 2000s (12); NULL -> 0; 1896 -> 1890s (1).
    assert items["category"].tolist() == [12, 0, 1]
    assert items["year"].tolist() == [2003 - 1889, 0, 1896 - 1889]
    assert items["brand"].tolist() == [0, 0, 0]
    assert list(log.users.columns) == ["user_id"]
    counts = log.meta["conversion"]["counts"]
    assert counts == {
        "lines_read": 12,
        "ratings_read": 8,
        "outside_time_window": 0,
        "duplicate_ratings_dropped": 1,
        "movies_without_ratings_dropped": 2,
        "events_written": 7,
    }
    assert log.meta["timestamps"] == "seconds"
    assert len(log.meta["source_files"]) == 3


def test_same_day_events_of_a_user_keep_file_order(tmp_path):
    text = "9:\n5,1,2005-01-01\n7:\n5,2,2005-01-01\n8:\n5,3,2005-01-01\n"
    folder = _folder(tmp_path, {"combined_data_1.txt": text}, titles=None, gz=())
    log = _convert(folder, tmp_path)
    out = str(tmp_path / "out")
    assert [r[1] for r in _rows(log, out)] == [9, 7, 8]


def test_duplicate_pair_keeps_latest_and_file_order_breaks_ties(tmp_path):
    text = "1:\n5,1,2005-01-02\n5,2,2005-01-01\n5,3,2005-01-02\n2:\n6,4,2005-01-01\n"
    folder = _folder(tmp_path, {"combined_data_1.txt": text}, titles=None, gz=())
    log = _convert(folder, tmp_path)
    out = str(tmp_path / "out")
    assert _rows(log, out) == [(6, 2, "2005-01-01", 4.0), (5, 1, "2005-01-02", 3.0)]
    counts = log.meta["conversion"]
    assert counts["counts"]["duplicate_ratings_dropped"] == 2
    assert "latest" in counts["rules"]["duplicate_ratings_dropped"]


def test_without_titles_category_is_zero_and_no_year(tmp_path):
    log = _convert(_folder(tmp_path, titles=None), tmp_path)
    assert (log.items["category"] == 0).all()
    assert "year" not in log.items
    assert "movies_without_ratings_dropped" not in log.meta["conversion"]["counts"]


def test_movie_titles_txt_is_found_too(tmp_path):
    folder = _folder(tmp_path, titles=None)
    (tmp_path / "netflix" / "movie_titles.txt").write_bytes(TITLES)
    log = _convert(folder, tmp_path)
    assert log.items["category"].tolist() == [12, 0, 1]


def test_training_set_layout_gives_the_same_dataset(tmp_path):
    combined = _convert(_folder(tmp_path), tmp_path, "combined")
    folder = tmp_path / "prize"
    (folder / "training_set").mkdir(parents=True)
    (folder / "movie_titles.txt").write_bytes(TITLES)
    # The same ratings, one file per movie (customer 822109 rates movie 1 twice).
    (folder / "training_set" / "mv_0000001.txt").write_text(
        "1:\n1488844,3,2005-09-06\n822109,5,2005-05-13\n885013,4,2005-10-19\n"
        "822109,1,2005-12-31\n"
    )
    (folder / "training_set" / "mv_0000002.txt").write_text(
        "2:\n822109,2,2005-05-13\n30878,4,2005-12-26\n"
    )
    with gzip.open(folder / "training_set" / "mv_0000003.txt.gz", "wt") as f:
        f.write("3:\n1488844,1,2004-04-22\n822109,4,2004-04-22\n")
    log = netflix.convert(str(folder), str(tmp_path / "prize_out"))
    assert _rows(log, str(tmp_path / "prize_out")) == _rows(
        combined, str(tmp_path / "combined")
    )
    assert log.meta["source_files"][0]["files"] == 3


def test_files_flag_reads_only_the_named_files(tmp_path):
    folder = _folder(tmp_path, titles=None)
    log = _convert(folder, tmp_path, files=["combined_data_1.txt"])
    assert log.meta["conversion"]["counts"]["ratings_read"] == 5
    with pytest.raises(common.FormatError, match="file not found") as info:
        _convert(folder, tmp_path, "other", files=["combined_data_3.txt"])
    assert info.value.file.endswith("combined_data_3.txt")


def test_sample_users_is_seeded_uniform_and_counted(tmp_path):
    lines = ["1:"] + [f"{c},{1 + c % 5},2005-01-01" for c in range(1, 41)]
    lines += ["2:"] + [f"{c},3,2005-01-02" for c in range(1, 41, 2)]
    folder = _folder(
        tmp_path, {"combined_data_1.txt": "\n".join(lines) + "\n"}, None, ()
    )
    a = _convert(folder, tmp_path, "a", sample=10, seed=7)
    _convert(folder, tmp_path, "b", sample=10, seed=7)
    _convert(folder, tmp_path, "c", sample=10, seed=8)
    users_a = set(common.to_original(str(tmp_path / "a"), "user", np.arange(10)))
    users_b = set(common.to_original(str(tmp_path / "b"), "user", np.arange(10)))
    users_c = set(common.to_original(str(tmp_path / "c"), "user", np.arange(10)))
    assert a.num_users == 10 and users_a == users_b and users_a != users_c
    odd = sum(u % 2 for u in users_a)
    counts = a.meta["conversion"]["counts"]
    assert counts["users_sampled_out"] == 30
    assert counts["ratings_sampled_out"] == 60 - (10 + odd)
    assert len(a.events) == 10 + odd
    assert a.meta["sample_users"] == 10 and a.meta["seed"] == 7
    everyone = _convert(folder, tmp_path, "all", sample=100, seed=0)
    assert everyone.num_users == 40
    assert everyone.meta["conversion"]["counts"]["users_sampled_out"] == 0
    with pytest.raises(ValueError, match="sample"):
        _convert(folder, tmp_path, "bad", sample=0)


def test_tiny_blocks_give_the_same_dataset(tmp_path):
    folder = _folder(tmp_path)
    _convert(folder, tmp_path, "one")
    _convert(folder, tmp_path, "tiny", block_bytes=8)
    assert_same_parquet(tmp_path / "one", tmp_path / "tiny", *DATASET_TABLES)


# --------------------------------------------------------------------------
# Errors.
# --------------------------------------------------------------------------

_BAD_RATINGS = [
    # (text, line, field, message)
    ("5,3,2005-01-01\n1:\n", 1, None, "before any 'MovieID:' line"),
    ("1:\n5,3\n", 2, None, "3 fields separated by ','"),
    ("1:\n5;3;2005-01-01\n", 2, None, "got 1 field"),
    ("1:\n5,3,2005-01-01,x\n", 2, None, "got 4 field"),
    ("1:\n5,3,2005-01-01\nabc,3,2005-01-01\n", 3, "CustomerID", "expected an integer"),
    ("1:\n0,3,2005-01-01\n", 2, "CustomerID", r"in \[1, inf\]"),
    ("x:\n5,3,2005-01-01\n", 1, "MovieID", "expected an integer"),
    ("1:\n5,3,2005-01-01\n:\n", 3, "MovieID", "empty value"),
    ("1:\n5,6,2005-01-01\n", 2, "Rating", r"in \[1, 5\]"),
    ("1:\n5,3.5,2005-01-01\n", 2, "Rating", "expected an integer"),
    ("1:\n5,nan,2005-01-01\n", 2, "Rating", "expected an integer"),
    ("1:\n5,3,2005/01/01\n", 2, "Date", "YYYY-MM-DD"),
    ("1:\n5,3,2005-02-30\n", 2, "Date", "YYYY-MM-DD, got '2005-02-30'"),
    ("1:\n5,3,2005-1-1\n", 2, "Date", "YYYY-MM-DD"),
    ("1:\n5,3,1969-12-31\n", 2, "Date", "from 1970-01-01"),
    ("1:\n5,3,2100-01-02\n", 2, "Date", "from 1970-01-01"),
    ("1:\n5,3,2005-01-01\n\n6,3,2005-01-01\n", 3, None, "empty line"),
]


@pytest.mark.parametrize("text,line,field,message", _BAD_RATINGS)
def test_bad_ratings_line_is_named(tmp_path, text, line, field, message):
    folder = _folder(tmp_path, {"combined_data_1.txt": text}, titles=None, gz=())
    with pytest.raises(common.FormatError, match=message) as info:
        _convert(folder, tmp_path)
    assert info.value.file.endswith("combined_data_1.txt")
    assert info.value.line == line
    assert info.value.field == field


def test_the_movie_is_not_carried_from_one_file_to_the_next(tmp_path):
    files = {
        "combined_data_1.txt": "1:\n5,3,2005-01-01\n",
        "combined_data_2.txt": "6,3,2005-01-01\n",
    }
    folder = _folder(tmp_path, files, titles=None, gz=())
    with pytest.raises(common.FormatError, match="before any 'MovieID:'") as info:
        _convert(folder, tmp_path)
    assert info.value.file.endswith("combined_data_2.txt") and info.value.line == 1


def test_error_line_numbers_hold_across_blocks(tmp_path):
    text = (
        "1:\n"
        + "".join(f"{c},3,2005-01-01\n" for c in range(1, 50))
        + "9,3,2005-13-01\n"
    )
    folder = _folder(tmp_path, {"combined_data_1.txt": text}, titles=None, gz=())
    with pytest.raises(common.FormatError) as info:
        _convert(folder, tmp_path, block_bytes=64)
    assert (info.value.line, info.value.field) == (51, "Date")


_BAD_TITLES = [
    (b"1,2003,A\n2,B\n3,1999,C\n", 2, None, "MovieID,YearOfRelease,Title"),
    (b"1,2003,A\n2,19x5,B\n3,1999,C\n", 2, "YearOfRelease", "expected an integer"),
    (b"1,2003,A\n2,1880,B\n3,1999,C\n", 2, "YearOfRelease", r"in \[1890, 2099\]"),
    (b"1,2003,A\nm2,2001,B\n3,1999,C\n", 2, "MovieID", "expected an integer"),
    (b"1,2003,A\n2,2001,B\n1,1999,C\n3,1999,C\n", 3, "MovieID", "duplicate movie id 1"),
    (b"1,2003,A\n3,1999,C\n", None, "MovieID", "name movie 2"),
]


@pytest.mark.parametrize("titles,line,field,message", _BAD_TITLES)
def test_bad_titles_file_is_named(tmp_path, titles, line, field, message):
    folder = _folder(tmp_path, titles=titles)
    with pytest.raises(common.FormatError, match=message) as info:
        _convert(folder, tmp_path)
    assert info.value.file.endswith("movie_titles.csv")
    assert info.value.line == line
    assert info.value.field == field


def test_missing_input_and_empty_files(tmp_path):
    with pytest.raises(common.FormatError, match="input folder not found"):
        netflix.convert(str(tmp_path / "nothing"), str(tmp_path / "out"))
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(common.FormatError, match="combined_data_1..4") as info:
        netflix.convert(str(tmp_path / "empty_folder"), str(tmp_path / "out"))
    assert info.value.file.endswith("combined_data_1.txt")
    folder = _folder(tmp_path, {"combined_data_1.txt": ""}, titles=None, gz=())
    with pytest.raises(common.FormatError, match="empty file"):
        _convert(folder, tmp_path)
    (tmp_path / "netflix" / "combined_data_1.txt").write_text("1:\n2:\n")
    with pytest.raises(common.FormatError, match="no ratings"):
        _convert(folder, tmp_path)


# --------------------------------------------------------------------------
# Fuzz: one corrupted field of a valid file.
# --------------------------------------------------------------------------

_GARBAGE = [
    "",
    "x",
    "0",
    "-1",
    "6",
    "3.5",
    "nan",
    ",",
    ":",
    "1:",
    "2005-13-01",
    "2005-02-29",
    "1969-12-31",
    "20050101",
    "NULL",
    " 7 ",
    "99999999999999999999",
    "\u0663",
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data(), block_bytes=st.sampled_from([32, 1 << 20]))
def test_fuzz_one_corrupted_field_converts_or_names_its_line(
    tmp_path_factory, data, block_bytes
):
    lines = COMBINED_1.splitlines()
    row = data.draw(st.integers(0, len(lines) - 1))
    fields = lines[row].split(",")
    column = data.draw(st.integers(0, len(fields) - 1))
    fields[column] = data.draw(st.sampled_from(_GARBAGE))
    lines[row] = ",".join(fields)
    tmp = tmp_path_factory.mktemp("fuzz")
    folder = _folder(tmp, {"combined_data_1.txt": "\n".join(lines) + "\n"}, None, ())
    try:
        log = netflix.convert(folder, str(tmp / "out"), block_bytes=block_bytes)
    except common.FormatError as error:
        assert error.line == row + 1, (lines[row], str(error))
        assert error.file.endswith("combined_data_1.txt")
    else:
        assert len(log.events) >= 1


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------


def test_cli_writes_the_folder_and_reports_bad_input(tmp_path):
    folder = _folder(tmp_path)
    out = tmp_path / "cli"
    result = run_module(
        "netflix",
        "--input",
        folder,
        "--output",
        str(out),
        "--sample_users=2",
        "--seed=1",
    )
    assert result.returncode == 0, result.stderr
    assert (out / "events.parquet").exists() and (out / "user_ids.parquet").exists()
    assert "users_sampled_out = 2" in result.stdout
    (tmp_path / "netflix" / "combined_data_1.txt").write_text("1:\n5,3,05-01-01\n")
    result = run_module("netflix", "--input", folder, "--output", str(tmp_path / "bad"))
    assert_one_line_error(result, "line 2, field 'Date'")


def test_dates_outside_the_prize_years_are_named(tmp_path):
    # Valid dates, but not the Netflix Prize's: another dataset's file (issue 17,
    # case 4). One such date among others is counted.
    text = "1:\n5,3,2015-01-01\n6,3,2015-01-02\n7,4,2005-01-01\n"
    folder = _folder(tmp_path, files={"combined_data_1.txt": text}, titles=None)
    with pytest.raises(common.FormatError) as info:
        netflix.convert(folder, str(tmp_path / "out"))
    assert (info.value.line, info.value.field) == (2, "Date")
    message = str(info.value)
    assert "expected a date in 1998-01-01..2006-12-31" in message
    assert "(2015-01-01 00:00:00 UTC); 2 of 3 values are outside" in message
    text = "1:\n5,3,2015-01-01\n6,3,2005-01-02\n7,4,2005-01-01\n"
    (tmp_path / "b").mkdir()
    folder = _folder(tmp_path / "b", files={"combined_data_1.txt": text}, titles=None)
    log = netflix.convert(folder, str(tmp_path / "out"))
    assert log.meta["conversion"]["counts"]["outside_time_window"] == 1
