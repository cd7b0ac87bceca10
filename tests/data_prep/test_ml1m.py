"""Tests of the MovieLens-1M converter."""

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep import common, ml1m
from recsys_tf.data import schema
from tests.data_prep.shared import (
    assert_one_line_error,
    run_module,
    shared_dataset,
    write_lines,
)

RATINGS = [
    "1::1193::5::978300760",
    "1::661::3::978302109",
    "2::1193::4::978299000",
    "2::3408::2::978298000",
    "10::661::1::978301000",
    "1::3408::4::978300000",  # users 1 and 2 each go back in time once
]
USERS = [
    "1::F::1::10::48067",
    "2::M::56::16::70072",
    "3::M::25::15::55117",  # no rating: dropped
    "10::F::35::1::K1A0B",  # a Canadian postcode: region 10
]
MOVIES = [
    "661::James and the Giant Peach (1996)::Animation|Children's|Musical",
    "1193::One Flew Over the Cuckoo's Nest (1975)::Drama",
    "3408::Erin Brockovich (2000)::Drama",
    "9999::Am\xe9lie::Comedy|Romance",  # latin-1, no year, no rating: dropped
]


def _folder(tmp_path, ratings=RATINGS, users=USERS, movies=MOVIES, gz=False):
    folder = tmp_path / "ml-1m"
    folder.mkdir(exist_ok=True)
    write_lines(folder / ("ratings.dat.gz" if gz else "ratings.dat"), ratings)
    if users is not None:
        write_lines(folder / "users.dat", users)
    if movies is not None:
        write_lines(folder / "movies.dat", movies, "latin-1")
    return str(folder)


def _convert(tmp_path, **files):
    return ml1m.convert(_folder(tmp_path, **files), str(tmp_path / "out"))


def test_converts_to_exact_tables(tmp_path):
    log = _convert(tmp_path)
    out = str(tmp_path / "out")
    assert (log.num_users, log.num_items, len(log.events)) == (3, 3, 6)
    events = log.events
    np.testing.assert_array_equal(
        common.to_original(out, "user", events["user_id"]), [2, 2, 1, 1, 10, 1]
    )
    np.testing.assert_array_equal(
        common.to_original(out, "item", events["item_id"]),
        [3408, 1193, 3408, 1193, 661, 661],
    )
    np.testing.assert_array_equal(
        events["timestamp"], sorted(int(r.split("::")[3]) for r in RATINGS)
    )
    np.testing.assert_array_equal(events["value"], [2, 4, 4, 5, 1, 3])
    assert set(events["event"]) == {"rating"}
    users = log.users.set_index(common.to_original(out, "user", log.users["user_id"]))
    assert users.loc[1, ["gender", "age", "occupation", "zip_region"]].tolist() == [
        0,
        0,
        10,
        4,
    ]
    assert users.loc[2, ["gender", "age", "occupation", "zip_region"]].tolist() == [
        1,
        6,
        16,
        7,
    ]
    assert users.loc[10, ["gender", "age", "zip_region"]].tolist() == [0, 3, 10]
    items = log.items.set_index(common.to_original(out, "item", log.items["item_id"]))
    animation, drama = ml1m.GENRES.index("Animation"), ml1m.GENRES.index("Drama")
    assert items.loc[661, ["category", "year", "brand"]].tolist() == [animation, 96, 0]
    assert items.loc[1193, ["category", "year"]].tolist() == [drama, 75]
    # Same genre set, same code; a different set, another code.
    assert (
        items.loc[1193, "genres"]
        == items.loc[3408, "genres"]
        != items.loc[661, "genres"]
    )
    counts = log.meta["conversion"]["counts"]
    assert counts == {
        "lines_read": 6,
        "outside_time_window": 0,
        "out_of_order": 2,
        "duplicate_ratings_dropped": 0,
        "users_without_ratings_dropped": 1,
        "movies_without_ratings_dropped": 1,
        "events_written": 6,
    }
    assert log.meta["timestamps"] == "seconds"
    reread = schema.read_event_log(out)
    pd.testing.assert_frame_equal(reread.events, log.events)


def test_without_timestamps_and_side_files(tmp_path):
    ratings = ["::".join(r.split("::")[:3]) for r in RATINGS]
    log = _convert(tmp_path, ratings=ratings, users=None, movies=None, gz=True)
    assert log.meta["timestamps"] == "absent"
    assert (log.events["timestamp"] == 0).all()
    assert list(log.users.columns) == ["user_id"]
    assert (log.items["category"] == 0).all()
    assert "out_of_order" not in log.meta["conversion"]["counts"]


def test_duplicate_rating_keeps_latest(tmp_path):
    ratings = RATINGS + ["1::661::5::978400000", "1::661::2::978200000"]
    log = _convert(tmp_path, ratings=ratings)
    out = str(tmp_path / "out")
    assert log.meta["conversion"]["counts"]["duplicate_ratings_dropped"] == 2
    users = common.to_original(out, "user", log.events["user_id"])
    items = common.to_original(out, "item", log.events["item_id"])
    kept = log.events[(users == 1) & (items == 661)]
    assert kept["value"].tolist() == [5.0] and kept["timestamp"].tolist() == [978400000]


def test_tiny_blocks_give_identical_output(tmp_path):
    folder = _folder(tmp_path)
    one = ml1m.convert(folder, str(tmp_path / "a"))
    two = ml1m.convert(folder, str(tmp_path / "b"), block_bytes=16)
    pd.testing.assert_frame_equal(one.events, two.events)
    pd.testing.assert_frame_equal(one.users, two.users)


@pytest.mark.parametrize(
    "file, line, field, message",
    [
        ("ratings", "1::x::5::978300760", "MovieID", "expected an integer, got 'x'"),
        ("ratings", "1::661::6::978300760", "Rating", r"in \[1, 5\], got '6'"),
        ("ratings", "1::661::nan::978300760", "Rating", "finite number"),
        ("ratings", "1::661::5::978300760000", "Timestamp", "seconds since the epoch"),
        ("ratings", "1,661,5,978300760", None, "expected 4 fields"),
        ("ratings", "1::661::5", None, "expected 4 fields"),
        ("users", "4::X::1::10::48067", "Gender", "one of 'F', 'M'"),
        ("users", "4::F::2::10::48067", "Age", "one of"),
        ("movies", "5::Title (1990)::Cartoon", "Genres", "unknown genre 'Cartoon'"),
    ],
)
def test_bad_lines_name_file_line_field(tmp_path, file, line, field, message):
    lists = {"ratings": list(RATINGS), "users": list(USERS), "movies": list(MOVIES)}
    lists[file].insert(2, line)
    folder = _folder(tmp_path, **lists)
    with pytest.raises(common.FormatError, match=message) as info:
        ml1m.convert(folder, str(tmp_path / "out"))
    assert info.value.file == os.path.join(folder, f"{file}.dat")
    assert info.value.line == 3 and info.value.field == field


def test_wrong_separator_on_first_line(tmp_path):
    folder = _folder(tmp_path, ratings=["1,661,5,978300760"])
    with pytest.raises(
        common.FormatError, match="3 or 4 fields separated by '::'"
    ) as info:
        ml1m.convert(folder, str(tmp_path / "out"))
    assert info.value.line == 1


def test_unknown_movie_and_user(tmp_path):
    folder = _folder(tmp_path, movies=MOVIES[1:])
    with pytest.raises(
        common.FormatError, match="name movie 661, which this file does not list"
    ):
        ml1m.convert(folder, str(tmp_path / "out"))
    folder = _folder(tmp_path, users=USERS[:2])
    with pytest.raises(common.FormatError, match="user 10"):
        ml1m.convert(folder, str(tmp_path / "out"))


def test_missing_input(tmp_path):
    with pytest.raises(common.FormatError, match="input folder not found"):
        ml1m.convert(str(tmp_path / "nope"), str(tmp_path / "out"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(common.FormatError, match="looked for ratings.dat"):
        ml1m.convert(str(tmp_path / "empty"), str(tmp_path / "out"))


_FIELD = st.sampled_from(["user", "movie", "rating", "timestamp"])
_JUNK = st.sampled_from(["", "x", "-1", "1.5", "nan", "7", "99999999999", "0", " 3"])


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(row=st.integers(0, len(RATINGS) - 1), field=_FIELD, junk=_JUNK)
def test_fuzz_corrupted_field_converts_or_names_its_line(
    tmp_path_factory, row, field, junk
):
    tmp = tmp_path_factory.mktemp("fuzz")
    ratings = list(RATINGS)
    parts = ratings[row].split("::")
    parts[["user", "movie", "rating", "timestamp"].index(field)] = junk
    ratings[row] = "::".join(parts)
    folder = _folder(tmp, ratings=ratings, users=None, movies=None)
    try:
        log = ml1m.convert(folder, str(tmp / "out"))
    except common.FormatError as error:
        assert error.line == row + 1
        assert error.file.endswith("ratings.dat")
    else:
        assert len(log.events) == len(RATINGS)


@pytest.mark.real_data
def test_real_ml1m_users_1_to_2999():
    folder = shared_dataset("ml-1m", "ratings_users1-2999.dat.gz")
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        log = ml1m.convert(folder, out, ratings="ratings_users1-2999.dat.gz")
        assert (log.num_users, log.num_items, len(log.events)) == (2999, 3615, 487650)
        assert log.meta["conversion"]["counts"]["duplicate_ratings_dropped"] == 0
        assert set(common.to_original(out, "user", log.users["user_id"])) == set(
            range(1, 3000)
        )


@pytest.mark.real_data
def test_real_ml1m_all_ratings_match_the_papers(tmp_path):
    folder = shared_dataset("ml-1m", "ratings_no_timestamp.dat.gz")
    log = ml1m.convert(folder, str(tmp_path), ratings="ratings_no_timestamp.dat.gz")
    # The papers' ML-1M: 6,040 users, 3,706 rated movies, 1,000,209 ratings.
    assert (log.num_users, log.num_items, len(log.events)) == (6040, 3706, 1000209)
    histogram = log.events["value"].value_counts().sort_index().tolist()
    assert histogram == [56174, 107557, 261197, 348971, 226310]
    assert log.meta["timestamps"] == "absent"


def test_cli(tmp_path):
    folder = _folder(tmp_path)
    result = run_module("ml1m", "--input", folder, "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "[ml1m] written" in result.stdout
    assert schema.read_event_log(str(tmp_path / "out")).num_users == 3
    (tmp_path / "bad").mkdir()
    bad = _folder(tmp_path / "bad", ratings=["1::a::5::1"])
    result = run_module("ml1m", "--input", bad, "--output", str(tmp_path / "out2"))
    assert_one_line_error(result, "line 1, field 'MovieID'")


def test_truncated_gzip_ratings_are_one_line_errors(tmp_path):
    # Was a raw EOFError / BadGzipFile traceback (issue 17, case 5).
    folder = _folder(tmp_path, ratings=RATINGS * 200, gz=True)
    path = os.path.join(folder, "ratings.dat.gz")
    with open(path, "rb") as f:
        whole = f.read()
    with open(path, "wb") as f:
        f.write(whole[: len(whole) // 2])
    result = run_module("ml1m", "--input", folder, "--output", str(tmp_path / "out"))
    assert_one_line_error(result, f"{path}, line ", "truncated gzip file")
    with open(path, "wb") as f:
        f.write(b"1::1193::5::978300760\n")
    result = run_module("ml1m", "--input", folder, "--output", str(tmp_path / "out"))
    assert_one_line_error(result, f"{path}, line 1: not a valid gzip file")


def test_timestamps_in_another_unit_are_named(tmp_path):
    # Each timestamp is a valid second before 2100, but in 1970: milliseconds
    # divided by 1000 twice, or a file of another dataset (issue 17, case 4).
    ratings = [r.rsplit("::", 1)[0] + "::978300" for r in RATINGS]
    with pytest.raises(common.FormatError) as info:
        _convert(tmp_path, ratings=ratings)
    assert (info.value.line, info.value.field) == (1, "Timestamp")
    message = str(info.value)
    assert "expected seconds since 1970 in 2000-01-01..2003-12-31" in message
    assert "got 978300 (1970-01-12 07:45:00 UTC); 6 of 6 values" in message
    assert "look like days" not in message
    # A few ratings outside the window are kept and counted.
    ratings = list(RATINGS)
    ratings[1] = "1::661::3::1234567890"  # 2009
    log = _convert(tmp_path, ratings=ratings)
    assert log.meta["conversion"]["counts"]["outside_time_window"] == 1
    assert len(log.events) == 6
