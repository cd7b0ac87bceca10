"""Tests of the Taobao UserBehavior converter and its synthetic file writer."""

import os

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep import common
from data_prep import taobao_userbehavior as ub
from recsys_tf.data import schema
from tests.data_prep.shared import (
    assert_one_line_error,
    assert_same_parquet,
    run_module,
    shared_dataset,
    write_lines,
)

ROWS = [
    "1,100,10,pv,1511544070",
    "1,101,10,pv,1511544000",  # earlier than the previous row of user 1
    "1,100,10,buy,1511600000",
    "1,100,10,buy,1511600000",  # exact duplicate
    "2,102,11,cart,1511700000",
    "2,101,12,fav,1511800000",  # item 101: categories 10 and 12 once each -> 10
    "2,103,11,pv,1505117799",  # before the window; earlier than user 2's previous
    "100,102,13,pv,1512400000",  # after the window; item 102: 11 / 13 -> 11
    "100,100,9,pv,1511900000",  # item 100: 10 twice, 9 once -> 10; out of order
]


def _folder(tmp_path, rows=ROWS, gz=False, name=ub.FILE):
    folder = tmp_path / "taobao"
    folder.mkdir(exist_ok=True)
    write_lines(folder / (name + ".gz" if gz else name), rows)
    return str(folder)


def _convert(tmp_path, rows=ROWS, **kwargs):
    return ub.convert(_folder(tmp_path, rows), str(tmp_path / "out"), **kwargs)


def _originals(out, log, kind, column, frame=None):
    frame = log.events if frame is None else frame
    return common.to_original(out, kind, frame[column]).tolist()


def test_converts_to_exact_tables(tmp_path):
    log = _convert(tmp_path)
    out = str(tmp_path / "out")
    assert (log.num_users, log.num_items, len(log.events)) == (3, 4, 8)
    events = log.events
    assert events["timestamp"].tolist() == [
        1505117799,
        1511544000,
        1511544070,
        1511600000,
        1511700000,
        1511800000,
        1511900000,
        1512400000,
    ]
    assert _originals(out, log, "user", "user_id") == [2, 1, 1, 1, 2, 2, 100, 100]
    assert _originals(out, log, "item", "item_id") == [
        103,
        101,
        100,
        100,
        102,
        101,
        100,
        102,
    ]
    assert events["event"].astype(str).tolist() == [
        "click",
        "click",
        "click",
        "buy",
        "cart",
        "fav",
        "click",
        "click",
    ]
    assert (events["value"] == 1.0).all()
    assert list(log.users.columns) == ["user_id"]
    assert list(log.items.columns) == ["item_id", "category", "brand"]
    items = log.items.set_index(common.to_original(out, "item", log.items["item_id"]))
    categories = common.to_original(out, "category", items["category"])
    assert dict(zip(items.index, categories)) == {100: 10, 101: 10, 102: 11, 103: 11}
    assert (log.items["brand"] == 0).all()
    assert pd.read_parquet(os.path.join(out, "category_ids.parquet"))[
        "original"
    ].tolist() == [9, 10, 11, 12, 13]
    assert log.meta["conversion"]["counts"] == {
        "lines_read": 9,
        "outside_window_kept": 2,
        "out_of_order": 3,
        "duplicate_rows_dropped": 1,
        "items_with_several_categories": 3,
        "rows_with_overridden_category": 3,
        "events_written": 8,
    }
    assert log.meta["timestamps"] == "seconds" and log.meta["window"] == "keep"
    assert log.meta["behavior_mapping"]["pv"] == "click"
    reread = schema.read_event_log(out)
    pd.testing.assert_frame_equal(reread.events, log.events)
    pd.testing.assert_frame_equal(reread.items, log.items)


def test_window_drop(tmp_path):
    log = _convert(tmp_path, window="drop")
    out = str(tmp_path / "out")
    assert len(log.events) == 6
    stamps = log.events["timestamp"]
    assert stamps.min() >= ub.WINDOW_START and stamps.max() <= ub.WINDOW_END
    assert sorted(set(_originals(out, log, "item", "item_id"))) == [100, 101, 102]
    counts = log.meta["conversion"]["counts"]
    assert counts["outside_window_dropped"] == 2
    assert "outside_window_kept" not in counts
    assert counts["out_of_order"] == 1
    assert counts["items_with_several_categories"] == 2
    assert log.meta["window"] == "drop"
    with pytest.raises(common.FormatError, match="no row inside"):
        # 2017-11-20: before the documented window, inside its margin.
        _convert(tmp_path, rows=["1,1,1,pv,1511150000"], window="drop")
    with pytest.raises(ValueError, match="window must be one of"):
        _convert(tmp_path, window="clip")


def test_duplicates_and_ties_keep_file_order(tmp_path):
    rows = [
        "5,300,1,pv,1511544100",
        "5,200,1,pv,1511544100",  # same second: stays after item 300
        "5,300,1,pv,1511544100",  # duplicate of the first row
        "5,300,1,cart,1511544100",  # another behaviour: not a duplicate
        "6,300,1,pv,1511544100",  # another user: not a duplicate
        "5,300,1,pv,1511544101",  # another second: not a duplicate
    ]
    log = _convert(tmp_path, rows=rows)
    out = str(tmp_path / "out")
    assert log.meta["conversion"]["counts"]["duplicate_rows_dropped"] == 1
    assert _originals(out, log, "user", "user_id") == [5, 5, 5, 6, 5]
    assert _originals(out, log, "item", "item_id") == [300, 200, 300, 300, 300]
    assert log.events["event"].astype(str).tolist() == [
        "click",
        "click",
        "cart",
        "click",
        "click",
    ]


def test_gzip_file_and_file_input(tmp_path):
    folder = _folder(tmp_path, gz=True)
    one = ub.convert(folder, str(tmp_path / "a"))
    other = tmp_path / "other"
    other.mkdir()
    path = other / "sample.csv"
    path.write_text("\n".join(ROWS) + "\n")
    two = ub.convert(str(path), str(tmp_path / "b"))
    pd.testing.assert_frame_equal(one.events, two.events)
    assert two.meta["source_files"][0]["file"] == str(path)


def test_tiny_blocks_give_identical_output(tmp_path):
    folder = _folder(tmp_path)
    one = ub.convert(folder, str(tmp_path / "a"))
    for size in (16, 64):
        two = ub.convert(folder, str(tmp_path / f"b{size}"), block_bytes=size)
        pd.testing.assert_frame_equal(one.events, two.events)
        pd.testing.assert_frame_equal(one.items, two.items)
        assert one.meta["conversion"] == two.meta["conversion"]
        assert_same_parquet(
            tmp_path / "a",
            tmp_path / f"b{size}",
            "user_ids",
            "item_ids",
            "category_ids",
        )


@pytest.mark.parametrize(
    "line, field, message",
    [
        ("1,100,10,pv", None, "expected 5 fields"),  # malformed
        ("1\t100\t10\tpv\t1511544070", None, "expected 5 fields"),  # separator
        ("1;100;10;pv;1511544070", None, "expected 5 fields"),
        ("1,abc,10,pv,1511544070", "item_id", "expected an integer, got 'abc'"),
        ("u1,100,10,pv,1511544070", "user_id", "expected an integer, got 'u1'"),
        ("1,100,nan,pv,1511544070", "category_id", "expected an integer, got 'nan'"),
        ("1,,10,pv,1511544070", "item_id", "got an empty value"),
        ("-1,100,10,pv,1511544070", "user_id", r"in \[0, inf\], got -1"),
        ("1,100,10,click,1511544070", "behavior_type", "one of 'pv', 'cart'"),
        ("1,100,10,PV,1511544070", "behavior_type", "got 'PV'"),
        ("1,100,10,pv,1511544070000", "timestamp", "seconds since the epoch"),
        ("1,100,10,pv,-5", "timestamp", "seconds since the epoch"),
        ("1,100,10,pv,1511544070.5", "timestamp", "expected an integer"),
        ("1,100,10,pv,NaN", "timestamp", "expected an integer, got 'NaN'"),
    ],
)
def test_bad_lines_name_file_line_field(tmp_path, line, field, message):
    rows = list(ROWS)
    rows.insert(2, line)
    folder = _folder(tmp_path, rows)
    with pytest.raises(common.FormatError, match=message) as info:
        ub.convert(folder, str(tmp_path / "out"))
    assert info.value.file == os.path.join(folder, ub.FILE)
    assert info.value.line == 3 and info.value.field == field


def test_missing_and_empty_input(tmp_path):
    with pytest.raises(common.FormatError, match="input folder or file not found"):
        ub.convert(str(tmp_path / "nope"), str(tmp_path / "out"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(common.FormatError, match="looked for UserBehavior.csv") as info:
        ub.convert(str(tmp_path / "empty"), str(tmp_path / "out"))
    assert info.value.file.endswith(ub.FILE)
    (tmp_path / "empty" / ub.FILE).write_bytes(b"")
    with pytest.raises(common.FormatError, match="no rows"):
        ub.convert(str(tmp_path / "empty"), str(tmp_path / "out"))


def test_header_line_is_an_error(tmp_path):
    rows = ["user_id,item_id,category_id,behavior_type,timestamp", *ROWS]
    with pytest.raises(common.FormatError, match="got 'user_id'") as info:
        _convert(tmp_path, rows=rows)
    assert (info.value.line, info.value.field) == (1, "user_id")


_FIELDS = st.sampled_from(range(len(ub.FIELDS)))
_JUNK = st.sampled_from(
    ["", "x", "-1", "1.5", "nan", "7", "0", " 3", "pv", "buy", "99999999999999999999"]
)


@settings(
    max_examples=35,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(row=st.integers(0, len(ROWS) - 1), field=_FIELDS, junk=_JUNK)
def test_fuzz_corrupted_field_converts_or_names_its_line(
    tmp_path_factory, row, field, junk
):
    tmp = tmp_path_factory.mktemp("fuzz")
    rows = list(ROWS)
    parts = rows[row].split(",")
    parts[field] = junk
    rows[row] = ",".join(parts)
    folder = _folder(tmp, rows)
    try:
        log = ub.convert(folder, str(tmp / "out"))
    except common.FormatError as error:
        assert error.line == row + 1
        assert error.file == os.path.join(folder, ub.FILE)
        assert error.field == ub.FIELDS[field]
    else:
        counts = log.meta["conversion"]["counts"]
        assert counts["lines_read"] == len(ROWS)
        assert len(log.events) == len(ROWS) - counts["duplicate_rows_dropped"]


# --- The synthetic file -------------------------------------------------------


def test_synthetic_file_has_the_shape_and_converts(tmp_path):
    path = str(tmp_path / "synthetic.csv")
    sizes = ub.write_synthetic_file(path, 30_000, seed=3, block_rows=4_000)
    assert sizes == ub.synthetic_sizes(30_000)
    assert sizes == {"rows": 30_000, "users": 296, "items": 1_247, "categories": 3}
    raw = pd.read_csv(path, header=None, names=list(ub.FIELDS))
    assert len(raw) == 30_000
    assert raw["user_id"].is_monotonic_increasing  # grouped by user
    assert raw["user_id"].max() <= ub.MAX_USER_ID
    assert raw["item_id"].max() <= ub.MAX_ITEM_ID
    assert raw["category_id"].max() <= ub.MAX_CATEGORY_ID
    assert raw["timestamp"].between(ub.WINDOW_START, ub.WINDOW_END).all()
    shares = raw["behavior_type"].value_counts(normalize=True)
    for name, share in ub.BEHAVIOR_SHARES.items():
        assert abs(shares[name] - share) < 0.01, (name, shares[name])
    log = ub.convert(path, str(tmp_path / "out"))
    assert (log.num_users, log.num_items) == (sizes["users"], sizes["items"])
    categories = pd.read_parquet(common.mapping_file(str(tmp_path / "out"), "category"))
    assert len(categories) == sizes["categories"]
    counts = log.meta["conversion"]["counts"]
    assert counts["out_of_order"] == 0 and counts["outside_window_kept"] == 0
    assert len(log.events) == 30_000 - counts["duplicate_rows_dropped"]


def test_synthetic_file_is_seeded(tmp_path):
    paths = [str(tmp_path / f"{i}.csv") for i in range(3)]
    ub.write_synthetic_file(paths[0], 5_000, seed=1)
    ub.write_synthetic_file(paths[1], 5_000, seed=1, block_rows=700)
    ub.write_synthetic_file(paths[2], 5_000, seed=2)
    data = [open(p, "rb").read() for p in paths]
    assert data[0] != data[2]
    first = pd.read_csv(paths[0], header=None)
    assert len(first) == 5_000
    # The block size changes the random stream, never the sizes.
    second = pd.read_csv(paths[1], header=None)
    assert (
        first[0].nunique() == second[0].nunique() == ub.synthetic_sizes(5_000)["users"]
    )
    ub.write_synthetic_file(paths[2], 5_000, seed=1)
    assert open(paths[2], "rb").read() == data[0]
    small = ub.synthetic_sizes(3)
    assert small == {"rows": 3, "users": 1, "items": 1, "categories": 1}
    with pytest.raises(ValueError, match="rows must be"):
        ub.synthetic_sizes(0)


# --- Real data ----------------------------------------------------------------


@pytest.mark.real_data
def test_real_head_of_userbehavior(tmp_path):
    folder = shared_dataset("taobao-userbehavior", ub.FILE)
    out = str(tmp_path / "keep")
    log = ub.convert(folder, out)
    assert (log.num_users, log.num_items, len(log.events)) == (814, 55_233, 84_287)
    categories = pd.read_parquet(common.mapping_file(out, "category"))
    assert len(categories) == 2_911
    assert log.events["event"].value_counts().to_dict() == {
        "click": 75_693,
        "cart": 4_494,
        "fav": 2_351,
        "buy": 1_749,
        "impression": 0,
        "like": 0,
        "dislike": 0,
        "rating": 0,
    }
    counts = log.meta["conversion"]["counts"]
    assert counts["lines_read"] == 84_287
    assert counts["outside_window_kept"] == 35
    assert counts["duplicate_rows_dropped"] == 0  # the head has no exact duplicate
    assert counts["out_of_order"] == 0  # rows are in time order within a user
    assert counts["items_with_several_categories"] == 1
    assert counts["rows_with_overridden_category"] == 1
    assert log.events["timestamp"].min() == 1_505_117_799
    first = log.events[log.events["timestamp"] == 1511544070]
    assert 1 in common.to_original(out, "user", first["user_id"])
    dropped = ub.convert(folder, str(tmp_path / "drop"), window="drop")
    assert len(dropped.events) == 84_287 - 35
    assert dropped.meta["conversion"]["counts"]["outside_window_dropped"] == 35


# --- Command line -------------------------------------------------------------


def test_cli(tmp_path):
    folder = _folder(tmp_path)
    result = run_module(
        "taobao_userbehavior",
        "--input",
        folder,
        "--output",
        str(tmp_path / "out"),
        "--window=drop",
    )
    assert result.returncode == 0, result.stderr
    assert "[taobao_userbehavior] written" in result.stdout
    assert "outside_window_dropped = 2" in result.stdout
    log = schema.read_event_log(str(tmp_path / "out"))
    assert len(log.events) == 6 and log.meta["window"] == "drop"
    (tmp_path / "bad").mkdir()
    bad = _folder(tmp_path / "bad", rows=["1,100,10,view,1511544070"])
    result = run_module(
        "taobao_userbehavior", "--input", bad, "--output", str(tmp_path / "out2")
    )
    assert_one_line_error(result, "line 1, field 'behavior_type'")


def test_times_in_another_unit_are_named(tmp_path):
    # Valid seconds before 2100 but not 2017-11/12: the unit they look like is
    # named (issue 17, case 4).
    rows = [f"1,100,10,pv,{151154407 + i}" for i in range(5)]  # tenths of kiloseconds
    rows.append("1,100,10,pv,1511544070")
    with pytest.raises(common.FormatError) as info:
        _convert(tmp_path, rows)
    assert (info.value.line, info.value.field) == (1, "timestamp")
    assert "expected seconds since 1970 in 2017-11-18..2017-12-10" in str(info.value)
    assert "5 of 6 values are outside" in str(info.value)
    days = [f"1,100,10,pv,{17495 + i}" for i in range(3)]  # days since 1970
    with pytest.raises(common.FormatError, match="the values look like days"):
        _convert(tmp_path, days)
