"""Tests of the table importer (data_prep/table.py)."""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep import common, table
from recsys_tf.data import ctr, schema
from tests.data_prep.shared import (
    assert_one_line_error,
    assert_same_logs,
    run_module,
    write_lines,
)

LIKES = [
    "uid,vid,ts,liked,age,category",
    "u1,v1,978300760,1,25,drama",
    "u1,v2,978300700,0,25,comedy",  # earlier than u1's previous row: out of order
    "u2,v1,978300800,1,,drama",  # age missing
    "u2,v1,978300800,1,,drama",  # exact duplicate of line 4
    'u10,v3,978300900,0,9,"war, history"',  # quoted comma
]
LIKE_OPTIONS = dict(
    user="uid",
    item="vid",
    time="ts",
    event="liked",
    event_map="1:like,0:dislike",
    user_features="age",
    item_features=["category"],
)


def _write(tmp_path, lines, name="log.csv"):
    path = tmp_path / name
    write_lines(path, lines)
    return str(path)


def _originals(out, log, kind):
    return list(common.to_original(out, kind, log.events[f"{kind}_id"]))


def test_like_dislike_table(tmp_path):
    out = str(tmp_path / "out")
    log = table.convert(_write(tmp_path, LIKES), out, **LIKE_OPTIONS)
    events = log.events
    assert _originals(out, log, "user") == ["u1", "u1", "u2", "u10"]
    assert _originals(out, log, "item") == ["v2", "v1", "v1", "v3"]
    assert events["timestamp"].tolist() == [978300700, 978300760, 978300800, 978300900]
    assert events["event"].tolist() == ["dislike", "like", "like", "dislike"]
    assert (events["value"] == 1.0).all() and "request_id" not in events
    users = log.users.set_index(common.to_original(out, "user", log.users["user_id"]))
    # Codes: 0 = missing, then the values in numeric order (9 < 25).
    assert users["age"].to_dict() == {"u1": 2, "u10": 1, "u2": 0}
    assert log.meta["feature_values"]["age"] == [9, 25]
    items = log.items.set_index(common.to_original(out, "item", log.items["item_id"]))
    assert log.meta["feature_values"]["category"] == ["comedy", "drama", "war, history"]
    assert items["category"].to_dict() == {"v1": 2, "v2": 1, "v3": 3}
    assert (items["brand"] == 0).all()
    assert log.meta["conversion"]["counts"] == {
        "lines_read": 5,
        "out_of_order": 1,
        "missing_age": 1,
        "duplicate_rows_dropped": 1,
        "like_events": 2,
        "dislike_events": 2,
        "events_written": 4,
    }
    assert log.meta["timestamps"] == "seconds" and log.meta["name"] == "log"
    assert log.meta["events"] == "1:like,0:dislike"
    pd.testing.assert_frame_equal(schema.read_event_log(out).events, events)


CLICKS = pd.DataFrame(
    {
        "user_id": [7, 7, 7, 3, 3],
        "item_id": [100, 101, 100, 100, 102],
        "time_ms": [
            1_650_000_000_500,
            1_650_000_000_900,
            1_650_000_000_700,
            1_650_000_000_000,
            1_650_000_000_000,
        ],
        "is_click": [1, 0, 0, 1, 0],
    }
)
CLICK_OPTIONS = dict(
    user="user_id",
    item="item_id",
    time="time_ms",
    time_unit="ms",
    event="is_click",
    event_map="1:impression+click,0:impression",
)


def test_click_log_with_is_click_column(tmp_path):
    path = str(tmp_path / "clicks.csv")
    CLICKS.to_csv(path, index=False)
    out = str(tmp_path / "out")
    log = table.convert(path, out, **CLICK_OPTIONS)
    events = log.events
    # Each row is an impression, plus a click when is_click = 1, with its own
    # request (numbered in time order) shared by both events.
    assert events["event"].tolist() == [
        "impression",
        "click",
        "impression",
        "impression",
        "click",
        "impression",
        "impression",
    ]
    assert _originals(out, log, "user") == [3, 3, 3, 7, 7, 7, 7]
    assert _originals(out, log, "item") == [100, 100, 102, 100, 100, 101, 100]
    assert events["request_id"].tolist() == [0, 0, 1, 2, 2, 3, 4]
    assert events["timestamp"].tolist() == [1_650_000_000] * 7
    counts = log.meta["conversion"]["counts"]
    assert (counts["impression_events"], counts["click_events"]) == (5, 2)
    # The CTR instances are labelled by exactly their own row's is_click, though
    # user 7 saw item 100 twice in the same second (once clicked).
    frame = ctr._instances(log, "click", 4.0)
    assert frame["label"].tolist() == [1, 0, 1, 0, 0]


def test_parquet_input_gives_the_same_dataset(tmp_path):
    csv_path = str(tmp_path / "clicks.csv")
    parquet_path = str(tmp_path / "clicks.parquet")
    CLICKS.to_csv(csv_path, index=False)
    frame = CLICKS.assign(is_click=CLICKS["is_click"].astype(float))  # 1.0 reads as 1
    frame.to_parquet(parquet_path, index=False, row_group_size=2)
    one = table.convert(csv_path, str(tmp_path / "a"), **CLICK_OPTIONS)
    two = table.convert(parquet_path, str(tmp_path / "b"), **CLICK_OPTIONS)
    three = table.convert(
        parquet_path, str(tmp_path / "c"), block_bytes=1, **CLICK_OPTIONS
    )
    assert_same_logs(one, two)
    assert_same_logs(one, three)


def test_parquet_errors_name_the_row(tmp_path):
    path = str(tmp_path / "clicks.parquet")
    CLICKS.assign(is_click=[1, 0, 2, 1, 0]).to_parquet(path, index=False)
    with pytest.raises(common.FormatError, match="got '2'") as info:
        table.convert(path, str(tmp_path / "out"), **CLICK_OPTIONS)
    assert (info.value.line, info.value.field) == (3, "is_click")
    with pytest.raises(common.FormatError, match="missing column 'user'") as info:
        table.convert(path, str(tmp_path / "out"), **{**CLICK_OPTIONS, "user": "user"})
    assert info.value.line is None
    write_lines(tmp_path / "junk.parquet", ["not parquet"])
    with pytest.raises(common.FormatError, match="not a readable Parquet file"):
        table.convert(
            str(tmp_path / "junk.parquet"), str(tmp_path / "o"), **CLICK_OPTIONS
        )


RATINGS = [
    "user\titem\tstars\twhen\tsession",
    "a\tm1\t4.5\t2019-11-15T08:55:22\ts1",
    "a\tm2\t2\t2019-11-15 09:55:22+01:00\ts1",  # = 08:55:22 UTC
    "b\tm1\t5\t2019-11-16\ts2",
]


def test_rating_table_tsv_with_iso_times_and_requests(tmp_path):
    path = _write(tmp_path, RATINGS, "ratings.tsv")
    out = str(tmp_path / "out")
    log = table.convert(
        path,
        out,
        user="user",
        item="item",
        rating="stars",
        time="when",
        time_unit="iso",
        request="session",
    )
    events = log.events
    assert (events["event"] == "rating").all()
    assert events["value"].tolist() == [4.5, 2.0, 5.0]
    t = int(pd.Timestamp("2019-11-15T08:55:22Z").timestamp())
    assert events["timestamp"].tolist() == [t, t, t + 54_278]
    assert common.to_original(out, "request", events["request_id"]).tolist() == [
        "s1",
        "s1",
        "s2",
    ]


def test_parquet_date_time_column(tmp_path):
    path = str(tmp_path / "dated.parquet")
    frame = pd.DataFrame(
        {
            "u": ["a", "b"],
            "i": ["x", "x"],
            "when": pd.to_datetime(["2019-11-15 08:55:22", "2019-11-16 00:00:00"]),
            "zoned": pd.to_datetime(["2019-11-15 09:55:22+01:00"] * 2),
        }
    )
    frame.to_parquet(path, index=False)
    for column in ("when", "zoned"):
        log = table.convert(
            path,
            str(tmp_path / column),
            user="u",
            item="i",
            event_type="click",
            time=column,
            time_unit="iso",
        )
        assert (
            log.events["timestamp"].iloc[0]
            == pd.Timestamp("2019-11-15T08:55:22Z").timestamp()
        )
    with pytest.raises(common.FormatError, match="--time_unit=s") as info:
        table.convert(
            path,
            str(tmp_path / "s"),
            user="u",
            item="i",
            event_type="click",
            time="when",
        )
    assert info.value.line == 1


def test_other_separators_and_no_time(tmp_path):
    lines = ["u::i::r", "1::5::3", "1::4::5", "2::5::1"]
    log = table.convert(
        _write(tmp_path, lines, "r.dat"),
        str(tmp_path / "out"),
        user="u",
        item="i",
        rating="r",
        sep="::",
    )
    assert log.meta["timestamps"] == "order"
    # Positions in file order within each user.
    assert sorted(zip(log.events["user_id"], log.events["timestamp"])) == [
        (0, 0),
        (0, 1),
        (1, 0),
    ]
    assert "out_of_order" not in log.meta["conversion"]["counts"]
    semi = table.convert(
        _write(tmp_path, ["u;i", "1;2"], "s.txt"),
        str(tmp_path / "semi"),
        user="u",
        item="i",
        event_type="click",
        sep=";",
    )
    assert semi.events["event"].tolist() == ["click"]


def test_tiny_blocks_give_identical_output(tmp_path):
    path = _write(tmp_path, LIKES)
    one = table.convert(path, str(tmp_path / "a"), **LIKE_OPTIONS)
    two = table.convert(path, str(tmp_path / "b"), block_bytes=8, **LIKE_OPTIONS)
    assert_same_logs(one, two)


def _error(tmp_path, line, **options):
    lines = list(LIKES)
    lines.insert(3, line)
    path = _write(tmp_path, lines)
    with pytest.raises(common.FormatError) as info:
        table.convert(path, str(tmp_path / "out"), **{**LIKE_OPTIONS, **options})
    assert info.value.file == path
    return info.value


def test_missing_column_names_it_and_lists_the_header(tmp_path):
    path = _write(tmp_path, LIKES)
    with pytest.raises(common.FormatError) as info:
        table.convert(path, str(tmp_path / "out"), **{**LIKE_OPTIONS, "time": "time"})
    assert str(info.value) == (
        f"{path}, line 1, field 'time': missing column 'time'; the header has "
        "uid, vid, ts, liked, age, category"
    )


@pytest.mark.parametrize(
    "value, unit, line, expected",
    [
        ("978300760000", "s", 4, "seconds since the epoch (--time_unit=s) between"),
        (
            "yesterday",
            "s",
            4,
            "seconds since the epoch (--time_unit=s), got 'yesterday'",
        ),
        ("", "s", 4, "got an empty value"),
        ("-1", "order", 4, "an integer in [0, "),
        # Seconds read as milliseconds (1970) or as ISO: the first line is wrong.
        ("978300760", "ms", 2, "milliseconds since the epoch (--time_unit=ms) between"),
        ("2019-11-15", "iso", 2, "an ISO 8601 date-time such as 2019-11-15T08:55:22"),
    ],
)
def test_bad_timestamp_names_the_line_and_the_unit(
    tmp_path, value, unit, line, expected
):
    error = _error(tmp_path, f"u3,v1,{value},1,3,drama", time_unit=unit)
    assert (error.line, error.field) == (line, "ts")
    assert expected in str(error)


def test_unmapped_event_value_names_the_line_and_the_map(tmp_path):
    error = _error(tmp_path, "u3,v1,978300760,yes,3,drama")
    assert (error.line, error.field) == (4, "liked")
    assert "expected a value of --event_map=1:like,0:dislike, got 'yes'" in str(error)


def test_other_bad_values(tmp_path):
    error = _error(tmp_path, ",v1,978300760,1,3,drama")
    assert (error.line, error.field) == (4, "uid")
    assert "expected a non-empty id" in str(error)
    error = _error(tmp_path, "u1,v1,978300760,1,31,drama")
    assert (error.line, error.field) == (4, "age")
    assert "user 'u1' has '25' on line 2 and '31' here" in str(error)
    error = _error(tmp_path, "u1,v1,978300760,1")
    assert error.line == 4 and "expected 6 fields" in str(error)
    error = _error(
        tmp_path,
        "u3,v1,978300760,1,3,drama,nan",
        event=None,
        event_map=None,
        rating="stars",
    )
    assert "missing column 'stars'" in str(error)


def test_rating_must_parse(tmp_path):
    path = _write(tmp_path, ["u,i,r", "1,2,4", "1,3,good"])
    with pytest.raises(common.FormatError, match="expected a finite number") as info:
        table.convert(path, str(tmp_path / "out"), user="u", item="i", rating="r")
    assert (info.value.line, info.value.field) == (3, "r")


def test_header_and_input_errors(tmp_path):
    with pytest.raises(common.FormatError, match="file not found"):
        table.convert(str(tmp_path / "none.csv"), str(tmp_path / "o"), **LIKE_OPTIONS)
    with pytest.raises(common.FormatError, match="no rows after the header"):
        table.convert(_write(tmp_path, LIKES[:1]), str(tmp_path / "o"), **LIKE_OPTIONS)
    with pytest.raises(common.FormatError, match="column 'a' twice"):
        table.convert(
            _write(tmp_path, ["a\tb\ta", "1\t2\t3"], "t.tsv"),
            str(tmp_path / "o"),
            user="a",
            item="b",
            event_type="click",
        )


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(event_type="click", event="liked"), "not both"),
        (dict(event="liked"), "go together"),
        (dict(event_map="1:like"), "go together"),
        (dict(), "Give the event type"),
        (dict(event_type="clic"), "`event_type` must be one of"),
        (dict(event="x", event_map="1:like,0"), "value:type pairs"),
        (dict(event="x", event_map="1:like,1:dislike"), "maps the value '1' twice"),
        (dict(event="x", event_map="1:lik"), "`event_map type` must be one of"),
        (dict(event="x", event_map="1:like", rating="r"), "no event type is 'rating'"),
        (dict(event="x", event_map="1:rating"), "needs the `rating` column"),
        (dict(event_type="click", time="t", time_unit="us"), "`time_unit` must be"),
        (dict(event_type="click", time_unit="ms"), "`time_unit`='ms' needs `time`"),
        (dict(event_type="click", item_features="item_id"), "may not be named"),
        (dict(event_type="click", user_features="a,truth_x"), "'truth_x'"),
        (dict(event_type="click", time="u"), "two roles"),
    ],
)
def test_inconsistent_options(options, message):
    with pytest.raises(ValueError, match=message):
        table.TableSpec("u", "i", **options)


def test_command_line(tmp_path):
    path = _write(tmp_path, LIKES)
    out = str(tmp_path / "cli")
    flags = [
        "--user=uid",
        "--item=vid",
        "--time=ts",
        "--event=liked",
        "--event_map=1:like,0:dislike",
        "--user_features=age",
    ]
    done = run_module("table", f"--input={path}", f"--output={out}", *flags)
    assert done.returncode == 0, done.stderr
    assert "[table] written" in done.stdout
    assert len(schema.read_event_log(out).events) == 4

    done = run_module(
        "table", f"--input={path}", f"--output={out}2", *flags, "--time_unit=ms"
    )
    assert_one_line_error(done, "line 2, field 'ts'", "--time_unit=ms")
    done = run_module(
        "table", f"--input={path}", f"--output={out}3", *flags, "--event_type=like"
    )
    assert done.returncode == 2 and done.stderr.startswith("error: ")
    assert "not both" in done.stderr and len(done.stderr.splitlines()) == 1


_COLUMNS = ("uid", "vid", "ts", "liked")
_JUNK = st.sampled_from(["", "x", "-1", "1.5", "nan", "7", "99999999999", "0", '"q"'])


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(row=st.integers(1, len(LIKES) - 1), column=st.sampled_from(_COLUMNS), junk=_JUNK)
def test_fuzz_corrupted_field_converts_or_names_its_line(
    tmp_path_factory, row, column, junk
):
    tmp = tmp_path_factory.mktemp("fuzz")
    lines = list(LIKES)
    parts = lines[row].split(",", 5)
    parts[_COLUMNS.index(column)] = junk
    lines[row] = ",".join(parts)
    path = _write(tmp, lines)
    try:
        log = table.convert(path, str(tmp / "out"), **LIKE_OPTIONS)
    except common.FormatError as error:
        assert (error.file, error.line, error.field) == (path, row + 1, column)
    else:
        assert log.meta["conversion"]["counts"]["lines_read"] == len(LIKES) - 1
