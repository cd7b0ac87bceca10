"""Tests of the MIND converter (data_prep/mind.py), on fixtures in MIND's format."""

import os

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep import common, mind
from recsys_tf.data import ctr, datasets, schema
from tests.data_prep.shared import (
    assert_one_line_error,
    assert_same_logs,
    run_module,
    write_lines,
)

T = "\t"


def _row(*fields):
    return T.join(fields)


TRAIN_NEWS = [
    _row("N1", "news", "newsus", "Title one", "An abstract", "https://a", "[]", "[]"),
    _row("N2", "sports", "football_nfl", '"Quoted" title', "", "https://b", "[]", "[]"),
    _row("N3", "news", "newsworld", "Three", "x", "https://c", "[]", "[]"),
    _row("N4", "lifestyle", "", "Four", "x", "https://d", "[]", "[]"),
    _row("N9", "sports", "golf", "No event", "x", "https://e", "[]", "[]"),
]
DEV_NEWS = [
    TRAIN_NEWS[0],  # listed again, identical
    _row("N5", "finance", "markets", "Five", "x", "https://f", "[]", "[]"),
]
TRAIN = [
    _row("1", "U1", "11/11/2019 9:05:58 AM", "N3 N1", "N2-1 N4-0"),
    _row("2", "U2", "11/12/2019 2:00:00 PM", "", "N1-0 N2-0 N3-1"),
    _row("3", "U1", "11/10/2019 8:00:00 AM", "N3 N1", "N4-1"),  # out of order
    _row("4", "U2", "11/12/2019 2:00:00 PM", "", "N1-0 N2-0 N3-1"),  # duplicate
]
DEV = [
    _row("1", "U1", "11/15/2019 8:55:22 AM", "N3 N1", "N5-0 N5-1"),  # N5 twice
    _row("2", "U3", "11/15/2019 12:05:01 PM", "N2", "N1-1"),
]


def _stamp(text):
    return int(pd.Timestamp(text, tz="UTC").timestamp())


def _folders(tmp_path, train=TRAIN, dev=DEV, train_news=TRAIN_NEWS, dev_news=DEV_NEWS):
    root = tmp_path / "mind-small"
    out = []
    for name, behaviors, news in (
        ("MINDsmall_train", train, train_news),
        ("MINDsmall_dev", dev, dev_news),
    ):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        write_lines(folder / "behaviors.tsv", behaviors)
        write_lines(folder / "news.tsv", news)
        out.append(str(folder))
    return out


def _convert(tmp_path, **files):
    out = str(tmp_path / "out")
    return mind.convert(_folders(tmp_path, **files), out), out


def test_converts_to_exact_tables(tmp_path):
    log, out = _convert(tmp_path)
    events = log.events
    users = list(common.to_original(out, "user", events["user_id"]))
    items = list(common.to_original(out, "item", events["item_id"]))
    first_u1 = _stamp("2019-11-10 08:00:00")
    first_u3 = _stamp("2019-11-15 12:05:01")
    got = list(
        zip(
            users,
            items,
            events["timestamp"] - first_u1,
            events["event"],
            events["request_id"],
            events["history"],
        )
    )
    day = 86_400
    t1 = _stamp("2019-11-11 09:05:58") - first_u1
    t2 = _stamp("2019-11-12 14:00:00") - first_u1
    t3 = _stamp("2019-11-15 08:55:22") - first_u1
    t4 = first_u3 - first_u1
    assert got == [
        # U1's history (from their earliest line), oldest first, just before it.
        ("U1", "N3", -2, "click", -1, 1),
        ("U1", "N1", -1, "click", -1, 1),
        ("U1", "N4", 0, "impression", 0, 0),
        ("U1", "N4", 0, "click", 0, 0),
        ("U1", "N2", t1, "impression", 1, 0),
        ("U1", "N2", t1, "click", 1, 0),
        ("U1", "N4", t1, "impression", 1, 0),
        ("U2", "N1", t2, "impression", 2, 0),
        ("U2", "N2", t2, "impression", 2, 0),
        ("U2", "N3", t2, "impression", 2, 0),
        ("U2", "N3", t2, "click", 2, 0),
        ("U1", "N5", t3, "impression", 3, 0),
        ("U1", "N5", t3, "click", 3, 0),
        ("U3", "N2", t4 - 1, "click", -1, 1),
        ("U3", "N1", t4, "impression", 4, 0),
        ("U3", "N1", t4, "click", 4, 0),
    ]
    assert t4 > 4 * day
    assert (events["value"] == 1.0).all()
    assert list(log.users.columns) == ["user_id"] and log.num_users == 3
    table = log.items.set_index(common.to_original(out, "item", log.items["item_id"]))
    vocab = log.meta["feature_values"]
    assert vocab["category"] == ["finance", "lifestyle", "news", "sports"]
    assert vocab["subcategory"] == [
        "football_nfl",
        "markets",
        "newsus",
        "newsworld",
    ]
    assert table.loc["N4", ["category", "subcategory", "brand"]].tolist() == [2, 0, 0]
    assert table.loc["N2", ["category", "subcategory"]].tolist() == [4, 1]
    assert sorted(table.index) == ["N1", "N2", "N3", "N4", "N5"]  # N9: no event
    assert log.meta["conversion"]["counts"] == {
        "news_listed_again": 1,
        "lines_MINDsmall_train": 4,
        "lines_MINDsmall_dev": 2,
        "lines_read": 6,
        "out_of_order": 1,
        "lines_with_another_history": 0,
        "duplicate_lines_dropped": 1,
        "news_repeated_in_a_line": 1,
        "news_without_events_dropped": 1,
        "impression_events": 8,
        "click_events": 5,
        "history_click_events": 3,
        "missing_subcategory": 1,
        "events_written": 16,
    }
    assert log.meta["timestamps"] == "seconds"
    pd.testing.assert_frame_equal(schema.read_event_log(out).events, events)


def test_ctr_instances_are_the_labelled_impressions(tmp_path):
    log, _ = _convert(tmp_path)
    frame = ctr._instances(log, "click", 4.0)
    # History clicks (request -1) label no impression.
    assert len(frame) == 8 and frame["label"].tolist() == [1, 1, 0, 0, 0, 1, 1, 1]


def test_parent_folder_tiny_blocks_and_gzip(tmp_path):
    one, _ = _convert(tmp_path)
    two = mind.convert(
        str(tmp_path / "mind-small"), str(tmp_path / "b"), block_bytes=16
    )
    assert_same_logs(one, two)
    gz = tmp_path / "gz"
    gz.mkdir()
    write_lines(gz / "behaviors.tsv.gz", TRAIN + DEV)
    write_lines(gz / "news.tsv.gz", TRAIN_NEWS + DEV_NEWS[1:])
    three = mind.convert(str(gz), str(tmp_path / "c"))
    assert len(three.events) == len(one.events)


def test_registered_by_name(tmp_path):
    one, _ = _convert(tmp_path)
    two = datasets.convert_real("mind_small", str(tmp_path / "data"), str(tmp_path))
    pd.testing.assert_frame_equal(one.events, two.events)


def test_a_changing_history_is_counted(tmp_path):
    dev = [DEV[0].replace("N3 N1", "N3 N1 N2"), DEV[1]]
    log, out = _convert(tmp_path, dev=dev)
    assert log.meta["conversion"]["counts"]["lines_with_another_history"] == 1
    assert log.meta["conversion"]["counts"]["history_click_events"] == 3


def _error(tmp_path, **files):
    folders = _folders(tmp_path, **files)
    with pytest.raises(common.FormatError) as info:
        mind.convert(folders, str(tmp_path / "out"))
    return info.value, folders


def test_unlabelled_test_set_is_refused(tmp_path):
    error, folders = _error(
        tmp_path, dev=[_row("1", "U1", DEV[0].split(T)[2], "", "N5 N1")]
    )
    assert error.file == os.path.join(folders[1], "behaviors.tsv")
    assert (error.line, error.field) == (1, "impressions")
    assert "have no labels (the MINDlarge test set)" in str(error)


@pytest.mark.parametrize(
    "line, field, message",
    [
        (
            _row("5", "U1", "2019-11-15 08:55:22", "", "N1-1"),
            "time",
            "11/15/2019 8:55:22 AM",
        ),
        (
            _row("5", "U1", "11/15/2019 8:55:22 AM", "", "N1-2"),
            "impressions",
            "got 'N1-2'",
        ),
        (
            _row("5", "U1", "11/15/2019 8:55:22 AM", "", ""),
            "impressions",
            "got nothing",
        ),
        (
            _row("5", "", "11/15/2019 8:55:22 AM", "", "N1-1"),
            "user_id",
            "non-empty user id",
        ),
        (
            _row("x", "U1", "11/15/2019 8:55:22 AM", "", "N1-1"),
            "impression_id",
            "integer",
        ),
        (
            _row("5", "U1", "11/15/2019 8:55:22 AM", "", "N7-1"),
            "impressions",
            "news N7 is not listed",
        ),
        (
            _row("5", "U7", "11/15/2019 8:55:22 AM", "N8", "N1-1"),
            "history",
            "news N8 is not listed",
        ),
        (_row("5", "U7", "11/15/2019 8:55:22 AM", "N8"), None, "expected 5 fields"),
    ],
)
def test_bad_behaviors_line(tmp_path, line, field, message):
    error, folders = _error(tmp_path, train=[*TRAIN[:2], line, *TRAIN[2:]])
    assert error.file == os.path.join(folders[0], "behaviors.tsv")
    assert (error.line, error.field) == (3, field)
    assert message in str(error)


def test_news_errors(tmp_path):
    clash = [DEV_NEWS[0].replace("newsus", "newsworld"), DEV_NEWS[1]]
    error, folders = _error(tmp_path, dev_news=clash)
    assert error.file == os.path.join(folders[1], "news.tsv")
    assert (error.line, error.field) == (1, "category")
    assert (
        f"but news / newsus at {os.path.join(folders[0], 'news.tsv')}, line 1"
        in str(error)
    )
    error, folders = _error(tmp_path, dev_news=[DEV_NEWS[0], "N5\tfinance"])
    assert error.line == 2 and "expected 8 fields" in str(error)


def test_missing_files(tmp_path):
    with pytest.raises(common.FormatError, match="input folder not found"):
        mind.convert(str(tmp_path / "none"), str(tmp_path / "out"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(common.FormatError, match="here and in the sub-folders"):
        mind.convert(str(tmp_path / "empty"), str(tmp_path / "out"))
    folders = _folders(tmp_path)
    os.remove(os.path.join(folders[1], "news.tsv"))
    with pytest.raises(common.FormatError, match="looked for news.tsv"):
        mind.convert(folders, str(tmp_path / "out"))


def test_command_line(tmp_path):
    folders = _folders(tmp_path)
    out = str(tmp_path / "cli")
    done = run_module("mind", f"--input={','.join(folders)}", f"--output={out}")
    assert done.returncode == 0, done.stderr
    assert "[mind] written" in done.stdout
    assert len(schema.read_event_log(out).events) == 16

    write_lines(
        os.path.join(folders[1], "behaviors.tsv"), [_row("1", "U1", "x", "", "N1")]
    )
    done = run_module("mind", f"--input={folders[1]}", f"--output={out}2")
    assert_one_line_error(done, "line 1, field 'time'", "11/15/2019 8:55:22 AM")


_FIELDS = ("impression_id", "user_id", "time", "history", "impressions")
_JUNK = st.sampled_from(
    ["", "x", "-1", "N1", "N1-1", "N7-0", "N1-1  N2-0", "13/01/2019 1:00:00 AM", '"']
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(row=st.integers(0, len(TRAIN) - 1), field=st.sampled_from(_FIELDS), junk=_JUNK)
def test_fuzz_corrupted_field_converts_or_names_its_line(
    tmp_path_factory, row, field, junk
):
    tmp = tmp_path_factory.mktemp("fuzz")
    train = list(TRAIN)
    parts = train[row].split(T)
    parts[_FIELDS.index(field)] = junk
    train[row] = T.join(parts)
    folders = _folders(tmp, train=train)
    try:
        log = mind.convert(folders, str(tmp / "out"))
    except common.FormatError as error:
        assert error.file == os.path.join(folders[0], "behaviors.tsv")
        assert (error.line, error.field) == (row + 1, field)
    else:
        assert log.meta["conversion"]["counts"]["lines_read"] == len(TRAIN) + len(DEV)
