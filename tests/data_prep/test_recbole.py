"""Tests of the RecBole atomic-file importer / exporter (data_prep/recbole.py)."""

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep import common, recbole
from recsys_tf.data import schema
from tests.data_prep.shared import (
    DATASET_TABLES,
    assert_one_line_error,
    assert_same_parquet,
    run_module,
)

T = "\t"


def _tsv(*rows):
    return "".join(T.join(row) + "\n" for row in rows)


INTER = _tsv(
    [
        "user_id:token",
        "item_id:token",
        "rating:float",
        "timestamp:float",
        "review:token_seq",
    ],
    ["u1", "i1", "4", "978300760.7", "good movie"],
    ["u1", "i2", "3.5", "978300000", ""],
    ["u2", "i1", "5", "978300100", "bad"],
    ["u2", "i1", "2", "978300100", "again"],
)
USERS = _tsv(
    ["user_id:token", "age:token", "gender:token", "income:float", "emb:float_seq"],
    ["u2", "25", "M", "1000.5", "0.1 0.2"],
    ["u1", "3", "F", "", "0.3"],
    ["u3", "18", "F", "20", ""],
)
ITEMS = _tsv(
    ["item_id:token", "category:token_seq", "brand:token", "price:float"],
    ["i1", "Drama Comedy", "acme", "9.99"],
    ["i2", "", "zeta", "5"],
    ["i9", "Action", "acme", "1"],
)


def _folder(tmp_path, inter=INTER, users=USERS, items=ITEMS, name="test"):
    folder = tmp_path / "atomic"
    folder.mkdir(exist_ok=True)
    for suffix, text in (("inter", inter), ("user", users), ("item", items)):
        path = folder / f"{name}.{suffix}"
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)
    return str(folder)


def _events(log, folder):
    """Events as (user, item, timestamp, event, value) in original ids, sorted."""
    users = common.to_original(folder, "user", log.events["user_id"])
    items = common.to_original(folder, "item", log.events["item_id"])
    rows = zip(
        users.tolist(),
        items.tolist(),
        log.events["timestamp"].tolist(),
        log.events["event"].astype(str).tolist(),
        log.events["value"].tolist(),
    )
    return _sorted(rows)


def _sorted(rows):
    return sorted(rows, key=lambda r: tuple(str(x) for x in r))


def test_fixture_converts_to_expected_tables(tmp_path):
    out = str(tmp_path / "out")
    log = recbole.convert(_folder(tmp_path), out, "test")
    assert common.to_original(out, "user", [0, 1]).tolist() == ["u1", "u2"]
    assert common.to_original(out, "item", [0, 1]).tolist() == ["i1", "i2"]
    assert log.events[["user_id", "item_id", "timestamp", "value"]].values.tolist() == [
        [0, 1, 978300000, 3.5],
        [1, 0, 978300100, 2.0],
        [0, 0, 978300760, 4.0],
    ]
    assert set(log.events["event"].astype(str)) == {"rating"}
    assert log.meta["timestamps"] == "seconds"
    users = log.users.set_index("user_id")
    # age sorted as integers: 3 -> 1, 18 -> 2, 25 -> 3; gender F -> 1, M -> 2.
    assert users["age"].tolist() == [1, 3]
    assert users["gender"].tolist() == [1, 2]
    assert users["income"].tolist() == [0, 2]  # u1 empty -> 0; 20 -> 1, 1000.5 -> 2
    assert "emb" not in users
    items = log.items.set_index("item_id")
    # category = the first token: Action -> 1, Drama -> 2, empty -> 0.
    assert items["category"].tolist() == [2, 0]
    assert items["brand"].tolist() == [1, 2]
    assert items["price"].iloc[0] > items["price"].iloc[1] > 0
    assert log.meta["skipped_fields"] == [
        "review:token_seq",
        "test.user: emb:float_seq",
    ]
    assert log.meta["conversion"]["counts"] == {
        "lines_read": 4,
        "outside_time_window": 0,
        "out_of_order": 1,
        "duplicate_events_dropped": 1,
        "user_lines_read": 3,
        "users_without_interactions_dropped": 1,
        "users_without_features": 0,
        "item_lines_read": 3,
        "items_without_interactions_dropped": 1,
        "items_without_features": 0,
        "events_written": 3,
    }


def test_float_features_become_equal_frequency_buckets():
    assert recbole.float_buckets(np.arange(30.0)[::-1]).tolist() == [
        10 - i // 3 for i in range(30)
    ]
    assert recbole.float_buckets(np.array([3.0, 3.0])).tolist() == [1, 1]
    assert recbole.float_buckets(np.array([1.0, 1, 1, 2])).tolist() == [1, 1, 1, 2]


def test_integer_ids_sort_as_integers_and_missing_features_are_zero(tmp_path):
    inter = _tsv(
        ["user_id:token", "item_id:token"], ["10", "7"], ["9", "7"], ["10", "100"]
    )
    users = _tsv(["user_id:token", "age:token"], ["10", "5"])
    out = str(tmp_path / "out")
    log = recbole.convert(_folder(tmp_path, inter, users, None), out, "test")
    assert common.to_original(out, "user", [0, 1]).tolist() == [9, 10]
    assert common.to_original(out, "item", [0, 1]).tolist() == [7, 100]
    assert log.users["age"].tolist() == [0, 1]
    assert log.meta["conversion"]["counts"]["users_without_features"] == 1
    assert (log.items[["category", "brand"]] == 0).all().all()


def test_without_timestamps_the_file_order_of_each_user_is_kept(tmp_path):
    inter = _tsv(
        ["user_id:token", "item_id:token"],
        ["a", "x"],
        ["b", "y"],
        ["a", "z"],
        ["a", "x"],
    )
    out = str(tmp_path / "out")
    log = recbole.convert(
        _folder(tmp_path, inter, None, None), out, "test", event="buy"
    )
    assert log.meta["timestamps"] == "order"
    assert _events(log, out) == [
        ("a", "x", 0, "buy", 1.0),
        ("a", "x", 2, "buy", 1.0),
        ("a", "z", 1, "buy", 1.0),
        ("b", "y", 0, "buy", 1.0),
    ]
    assert log.meta["conversion"]["counts"]["duplicate_events_dropped"] == 0


def test_label_one_is_the_event_and_zero_an_impression(tmp_path):
    inter = _tsv(
        ["user_id:token", "item_id:token", "label:float"],
        ["a", "x", "1"],
        ["a", "y", "0.0"],
    )
    out = str(tmp_path / "out")
    log = recbole.convert(_folder(tmp_path, inter, None, None), out, "test")
    assert _events(log, out) == [
        ("a", "x", 0, "click", 1.0),
        ("a", "y", 1, "impression", 1.0),
    ]


def test_event_field_gives_each_row_its_type(tmp_path):
    inter = _tsv(
        [
            "user_id:token",
            "item_id:token",
            "event:token",
            "rating:float",
            "label:float",
        ],
        ["a", "x", "click", "1.0", "1"],
        ["a", "x", "rating", "2.5", "0"],
        ["b", "y", "fav", "1.0", "1"],
    )
    out = str(tmp_path / "out")
    log = recbole.convert(_folder(tmp_path, inter, None, None), out, "test")
    assert _events(log, out) == [
        ("a", "x", 0, "click", 1.0),
        ("a", "x", 1, "rating", 2.5),
        ("b", "y", 0, "fav", 1.0),
    ]
    assert log.meta["skipped_fields"] == ["label:float"]


def test_gzipped_files_are_read(tmp_path):
    import gzip

    folder = tmp_path / "gz"
    folder.mkdir()
    for suffix, text in (("inter", INTER), ("user", USERS)):
        with gzip.open(folder / f"test.{suffix}.gz", "wt") as f:
            f.write(text)
    log = recbole.convert(str(folder), str(tmp_path / "out"), "test")
    assert len(log.events) == 3 and "age" in log.users


def test_tiny_blocks_give_the_same_dataset(tmp_path):
    folder = _folder(tmp_path)
    recbole.convert(folder, str(tmp_path / "one"), "test")
    recbole.convert(folder, str(tmp_path / "tiny"), "test", block_bytes=16)
    assert_same_parquet(tmp_path / "one", tmp_path / "tiny", *DATASET_TABLES)


# --------------------------------------------------------------------------
# Errors.
# --------------------------------------------------------------------------

_HEAD = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
_BAD_INTER = [
    # (text, line, field, message)
    (_tsv(["user_id", "item_id:token"], ["a", "b"]), 1, "user_id", "'name:type'"),
    (
        _tsv(["user_id:token", "item_id:tok"], ["a", "b"]),
        1,
        "item_id",
        "unknown field type 'tok'",
    ),
    (
        _tsv(["user_id:token", "rating:float"], ["a", "1"]),
        1,
        "item_id",
        "missing field item_id:token",
    ),
    (
        _tsv(["user_id:float", "item_id:token"], ["1", "b"]),
        1,
        "user_id",
        "expected type token, got float",
    ),
    (
        _tsv(["user_id:token", "item_id:token", "user_id:token"], ["a", "b", "c"]),
        1,
        "user_id",
        "named twice",
    ),
    (_tsv(_HEAD, ["a", "b", "1", "5"], ["a", "c", "1"]), 3, None, "expected 4 fields"),
    (_tsv(_HEAD, ["a", "b", "1", "5"], ["a c 1 5"]), 3, None, "got 1"),
    (_tsv(_HEAD, ["a", "b", "abc", "5"]), 2, "rating", "finite number, got 'abc'"),
    (
        _tsv(_HEAD, ["a", "b", "4", "5"], ["a", "b", "NaN", "5"]),
        3,
        "rating",
        "finite number",
    ),
    (_tsv(_HEAD, ["a", "b", "4", ""]), 2, "timestamp", "empty value"),
    (_tsv(_HEAD, ["a", "b", "4", "inf"]), 2, "timestamp", "finite number"),
    (
        _tsv(_HEAD, ["a", "b", "4", "978300760000"]),
        2,
        "timestamp",
        r"in \[0, 4102444800\]",
    ),
    (_tsv(_HEAD, ["a", "b", "4", "-1"]), 2, "timestamp", r"in \[0, 4102444800\]"),
    (
        _tsv(_HEAD, ["a", "b", "4", "5"], [" ", "b", "4", "5"]),
        3,
        "user_id",
        "non-empty token",
    ),
    (_tsv(_HEAD, ["a", "", "4", "5"]), 2, "item_id", "non-empty token"),
    (
        _tsv(["user_id:token", "item_id:token", "label:float"], ["a", "b", "2"]),
        2,
        "label",
        "0 or 1",
    ),
    (
        _tsv(["user_id:token", "item_id:token", "event:token"], ["a", "b", "clack"]),
        2,
        "event",
        "one of 'impression'",
    ),
    (
        _tsv(
            ["user_id:token", "item_id:token", "event:token"],
            ["a", "b", "click"],
            ["a", "c", "rating"],
        ),
        3,
        "event",
        "needs a rating:float",
    ),
    ("", 1, None, "got nothing"),
    (_tsv(_HEAD), None, None, "only a header line"),
]


@pytest.mark.parametrize("text,line,field,message", _BAD_INTER)
def test_bad_inter_file_is_named(tmp_path, text, line, field, message):
    folder = _folder(tmp_path, text, None, None)
    with pytest.raises(common.FormatError, match=message) as info:
        recbole.convert(folder, str(tmp_path / "out"), "test")
    assert info.value.file.endswith("test.inter")
    assert info.value.line == line
    assert info.value.field == field


_BAD_FEATURES = [
    # (suffix, text, line, field, message)
    (
        "user",
        _tsv(["user_id:token", "age:token"], ["u1", "3"], ["u1", "4"]),
        3,
        "user_id",
        "listed twice",
    ),
    (
        "user",
        _tsv(["user_id:token", "income:float"], ["u1", "3"], ["u2", "lots"]),
        3,
        "income",
        "finite number",
    ),
    ("user", _tsv(["age:token"], ["3"]), 1, "user_id", "missing field user_id:token"),
    (
        "item",
        _tsv(["item_id:token", "price:float"], ["i1", "3", "4"]),
        2,
        None,
        "expected 2 fields",
    ),
    (
        "item",
        _tsv(["item_id:token", "price:flt"], ["i1", "3"]),
        1,
        "price",
        "unknown field type",
    ),
]


@pytest.mark.parametrize("suffix,text,line,field,message", _BAD_FEATURES)
def test_bad_feature_file_is_named(tmp_path, suffix, text, line, field, message):
    folder = _folder(
        tmp_path,
        INTER,
        text if suffix == "user" else None,
        text if suffix == "item" else None,
    )
    with pytest.raises(common.FormatError, match=message) as info:
        recbole.convert(folder, str(tmp_path / "out"), "test")
    assert info.value.file.endswith(f"test.{suffix}")
    assert info.value.line == line
    assert info.value.field == field


def test_missing_files_and_bad_arguments(tmp_path):
    with pytest.raises(common.FormatError, match="input folder not found"):
        recbole.convert(str(tmp_path / "none"), str(tmp_path / "out"), "test")
    folder = _folder(tmp_path)
    with pytest.raises(common.FormatError, match="file not found") as info:
        recbole.convert(folder, str(tmp_path / "out"), "other")
    assert info.value.file.endswith("other.inter")
    with pytest.raises(ValueError, match="event"):
        recbole.convert(folder, str(tmp_path / "out"), "test", event="rating")


# --------------------------------------------------------------------------
# Export.
# --------------------------------------------------------------------------


def _dataset(tmp_path, timestamps="seconds", mappings=True, offset=0):
    log = schema.EventLog(
        pd.DataFrame({"user_id": np.arange(4), "age": [5, 6, 7, 8]}),
        pd.DataFrame(
            {
                "item_id": np.arange(4),
                "category": [2, 0, 1, 3],
                "brand": 0,
                "year": [10, 20, 30, 40],
            }
        ),
        pd.DataFrame(
            {
                "user_id": [0, 0, 1, 2, 2],
                "item_id": [1, 0, 1, 2, 2],
                "timestamp": np.array([30, 10, 20, 5, 40]) + offset,
                "event": ["click", "rating", "buy", "click", "click"],
                "value": [1.0, 4.5, 1.0, 1.0, 1.0],
            }
        ),
        {"name": "tiny", "timestamps": timestamps},
    )
    folder = str(tmp_path / f"dataset_{timestamps}_{mappings}")
    schema.write_event_log(log, folder)
    if mappings:
        common.write_mapping(
            folder, "user", np.array(["ann", "bob", "cid", "dee"], object)
        )
        common.write_mapping(folder, "item", np.array([100, 200, 300, 400]))
    return folder


def test_export_writes_atomic_files_with_original_ids(tmp_path):
    out = str(tmp_path / "atomic")
    counts = recbole.export(_dataset(tmp_path), out, "tiny")
    assert counts == {"events_written": 5, "users_written": 3, "items_written": 3}
    assert open(os.path.join(out, "tiny.inter")).read() == _tsv(
        [
            "user_id:token",
            "item_id:token",
            "event:token",
            "rating:float",
            "timestamp:float",
        ],
        ["ann", "100", "rating", "4.5", "10"],
        ["ann", "200", "click", "1.0", "30"],
        ["bob", "200", "buy", "1.0", "20"],
        ["cid", "300", "click", "1.0", "5"],
        ["cid", "300", "click", "1.0", "40"],
    )
    assert open(os.path.join(out, "tiny.user")).read() == _tsv(
        ["user_id:token", "age:token"], ["ann", "5"], ["bob", "6"], ["cid", "7"]
    )
    assert open(os.path.join(out, "tiny.item")).read() == _tsv(
        ["item_id:token", "category:token", "brand:token", "year:token"],
        ["100", "2", "0", "10"],
        ["200", "0", "0", "20"],
        ["300", "1", "0", "30"],
    )


def test_export_one_type_without_times_or_mappings(tmp_path):
    out = str(tmp_path / "atomic")
    recbole.export(_dataset(tmp_path, "order", mappings=False), out, "tiny", ["click"])
    assert open(os.path.join(out, "tiny.inter")).read() == _tsv(
        ["user_id:token", "item_id:token"], ["0", "1"], ["2", "2"], ["2", "2"]
    )
    with pytest.raises(ValueError, match="clack"):
        recbole.export(_dataset(tmp_path), out, "tiny", ["clack"])


@pytest.mark.parametrize("timestamps", ["seconds", "order"])
def test_round_trip_export_then_import_gives_the_same_events(tmp_path, timestamps):
    # Seconds in RecBole's plausible window (1990-2039); positions as they are.
    offset = 1_600_000_000 if timestamps == "seconds" else 0
    folder = _dataset(tmp_path, timestamps, offset=offset)
    out = str(tmp_path / "atomic")
    recbole.export(folder, out, "tiny")
    log = recbole.convert(out, str(tmp_path / "back"), "tiny")
    source = schema.read_event_log(folder)
    expected = _events(source, folder)
    if timestamps == "order":  # Positions: each user's events renumbered 0, 1, ...
        expected = _sorted(
            (u, i, {5: 0, 10: 0, 20: 0, 30: 1, 40: 1}[t], e, v)
            for u, i, t, e, v in expected
        )
    assert _events(log, str(tmp_path / "back")) == expected
    assert log.meta["timestamps"] == timestamps
    # Features: the same partition of the users / items (codes are relabelled).
    users = common.to_original(str(tmp_path / "back"), "user", log.users["user_id"])
    ages = dict(zip(users, log.users["age"]))
    assert ages["ann"] < ages["bob"] < ages["cid"]
    assert log.items["category"].nunique() == 3 and (log.items["brand"] == 1).all()


# --------------------------------------------------------------------------
# Fuzz.
# --------------------------------------------------------------------------

_GARBAGE = [
    "",
    " ",
    "x",
    "-1",
    "nan",
    "inf",
    "1e20",
    "2.5",
    "978300760000",
    "\u0663",
    "0x10",
    "5",
    "zz top",
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data(), block_bytes=st.sampled_from([20, 1 << 20]))
def test_fuzz_one_corrupted_field_converts_or_names_its_line(
    tmp_path_factory, data, block_bytes
):
    lines = INTER.splitlines()
    row = data.draw(st.integers(1, len(lines) - 1))
    fields = lines[row].split(T)
    column = data.draw(st.integers(0, len(fields) - 1))
    fields[column] = data.draw(st.sampled_from(_GARBAGE))
    lines[row] = T.join(fields)
    tmp = tmp_path_factory.mktemp("fuzz")
    folder = _folder(tmp, "\n".join(lines) + "\n", None, None)
    try:
        log = recbole.convert(folder, str(tmp / "out"), "test", block_bytes=block_bytes)
    except common.FormatError as error:
        assert error.line == row + 1, (lines[row], str(error))
        assert error.file.endswith("test.inter")
        assert (
            error.field == _HEAD[column].split(":")[0]
            if column < 4
            else error.field is None
        )
    else:
        assert 1 <= len(log.events) <= 4


# --------------------------------------------------------------------------
# Real data.
# --------------------------------------------------------------------------


@pytest.mark.real_data
def test_real_ml1m_round_trip(ml1m_folder, tmp_path):
    out = str(tmp_path / "atomic")
    counts = recbole.export(ml1m_folder, out, "ml-1m")
    assert counts == {
        "events_written": 487_650,
        "users_written": 2999,
        "items_written": 3615,
    }
    with open(os.path.join(out, "ml-1m.inter")) as f:
        assert (
            f.readline()
            == "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        )
    back = str(tmp_path / "back")
    log = recbole.convert(out, back, "ml-1m")
    assert (log.num_users, log.num_items, len(log.events)) == (2999, 3615, 487_650)
    counts = log.meta["conversion"]["counts"]
    assert counts["duplicate_events_dropped"] == 0 and counts["out_of_order"] == 0
    assert (
        counts["users_without_features"] == 0 and counts["items_without_features"] == 0
    )
    source = schema.read_event_log(ml1m_folder)

    def frame(log, folder):
        events = log.events
        return (
            pd.DataFrame(
                {
                    "user": common.to_original(folder, "user", events["user_id"]),
                    "item": common.to_original(folder, "item", events["item_id"]),
                    "timestamp": events["timestamp"].to_numpy(),
                    "event": events["event"].astype(str).to_numpy(),
                    "value": events["value"].to_numpy(),
                }
            )
            .sort_values(["user", "timestamp", "item"])
            .reset_index(drop=True)
        )

    pd.testing.assert_frame_equal(frame(log, back), frame(source, ml1m_folder))
    # Features are the same partitions: one code per original code and back.
    for table, kind, columns in (
        (("users", "user"), "user", ["gender", "age", "occupation", "zip_region"]),
        (("items", "item"), "item", ["category", "genres", "year", "brand"]),
    ):
        new = getattr(log, table[0]).copy()
        new["original"] = common.to_original(back, kind, new[f"{kind}_id"])
        old = getattr(source, table[0]).copy()
        old["original"] = common.to_original(ml1m_folder, kind, old[f"{kind}_id"])
        joined = new.merge(old, on="original", suffixes=("_new", "_old"))
        assert len(joined) == len(old)
        for column in columns:
            pairs = joined[[f"{column}_new", f"{column}_old"]].drop_duplicates()
            assert pairs[f"{column}_new"].is_unique and pairs[f"{column}_old"].is_unique


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------


def test_cli_imports_exports_and_reports_bad_input(tmp_path):
    folder = _folder(tmp_path)
    out = tmp_path / "cli"
    result = run_module(
        "recbole", "--input", folder, "--output", str(out), "--dataset=test"
    )
    assert result.returncode == 0, result.stderr
    assert len(schema.read_event_log(str(out)).events) == 3
    result = run_module(
        "recbole",
        "--export",
        "--input",
        str(out),
        "--output",
        str(tmp_path / "again"),
        "--dataset=t2",
        "--events=rating",
    )
    assert result.returncode == 0, result.stderr
    assert (
        open(tmp_path / "again" / "t2.inter").read().splitlines()[1]
        == "u1\ti2\t3.5\t978300000"
    )
    bad = _folder(tmp_path, _tsv(_HEAD, ["a", "b", "x", "5"]), None, None)
    result = run_module(
        "recbole", "--input", bad, "--output", str(tmp_path / "bad"), "--dataset=test"
    )
    assert_one_line_error(result, "line 2, field 'rating'")


def test_timestamps_in_another_unit_are_named(tmp_path):
    # Milliseconds divided once too often, or positions: not times of any log
    # (issue 17, case 4). One such row among real times is counted.
    inter = _tsv(["user_id:token", "item_id:token", "timestamp:float"])
    rows = [["u1", "i1", "978300760"], ["u1", "i2", "1"], ["u2", "i1", "2"]]
    folder = _folder(tmp_path, inter=inter + _tsv(*rows), users=None, items=None)
    with pytest.raises(common.FormatError) as info:
        recbole.convert(folder, str(tmp_path / "out"), "test")
    assert (info.value.line, info.value.field) == (3, "timestamp")
    assert "expected seconds since 1970 in 1990-01-01..2039-12-31" in str(info.value)
    assert "2 of 3 values are outside" in str(info.value)
    rows[2][2] = "978300000"
    folder = _folder(tmp_path, inter=inter + _tsv(*rows), users=None, items=None)
    log = recbole.convert(folder, str(tmp_path / "out"), "test")
    assert log.meta["conversion"]["counts"]["outside_time_window"] == 1
