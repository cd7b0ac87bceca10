"""Tests of the KuaiRec converter (data_prep/kuairec.py).

We hold no KuaiRec file: the fixtures follow the release 2.0 format as published
(README field table, and sample rows of the original files): in
``small_matrix.csv`` ``date`` is written as a float (``20200705.0``) because of
the rows without time, date and timestamp, which are empty; in
``big_matrix.csv`` it is an integer; ``item_categories.csv`` quotes a ``feat``
list holding a comma (``"[27, 9]"``).
"""

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep import common, kuairec
from recsys_tf.data import ctr, schema
from tests.data_prep.shared import (
    assert_one_line_error,
    assert_same_logs,
    run_module,
    shared_dataset,
    write_lines,
)
from tests.data_prep.test_kuairand import USER_HEADER, USERS

HEADER = "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio"
SMALL = [
    "14,148,4381,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.7221031811438932",
    "14,183,11635,6100,2020-07-05 05:28:00.057,20200705.0,1593898080.057,1.907377049180328",
    # Earlier than the previous row of user 14 (out of order); watch_ratio exactly 1.
    "14,3649,6067,6067,2020-07-05 05:27:48.100,20200705.0,1593898068.1,1.0",
    # No time, date or timestamp.
    "19,148,0,6067,,,,0.0",
    "19,183,12200,6100,2020-07-06 10:00:00.999,20200706.0,1594029600.999,2.0",
    # Exact duplicate of the line above, then the same pair viewed again.
    "19,183,12200,6100,2020-07-06 10:00:00.999,20200706.0,1594029600.999,2.0",
    "19,183,3050,6100,2020-07-06 11:00:00.000,20200706.0,1594033200.0,0.5",
]
BIG = [
    "14,3649,13838,10867,2020-07-05 00:08:23.438,20200705,1593878903.438,1.2733965215790926",
    "14,148,13665,10984,2020-07-05 00:13:41.297,20200705,1593879221.297,1.2440823015294975",
]
CATEGORIES = ["video_id,feat", "148,[8]", '183,"[27, 9]"', "3649,[]", "5,[11]"]
# Users 14 and 19 of the matrix, and one without rows (the KuaiRand fixture's rows).
USER_LINES = [USER_HEADER] + [
    f"{uid}{row[row.index(',') :]}" for uid, row in zip((14, 19, 50), USERS)
]
FILES = {
    "small_matrix.csv": [HEADER, *SMALL],
    "big_matrix.csv.gz": [HEADER, *BIG],
    "item_categories.csv": CATEGORIES,
    "user_features.csv": USER_LINES,
}


def _write(folder, **replace):
    """The fixture files in `folder`; `replace` maps a file name (dots as
    underscores) to its lines or None (left out)."""
    os.makedirs(folder, exist_ok=True)
    for name, lines in FILES.items():
        lines = replace.get(name.replace(".", "_"), lines)
        if lines is not None:
            write_lines(os.path.join(folder, name), lines)
    return str(folder)


def _with(name, line, text):
    lines = list(FILES[name])
    lines[line - 1] = text
    return lines


def _field(line, field, value):
    values = FILES["small_matrix.csv"][line - 1].split(",")
    values[HEADER.split(",").index(field)] = value
    return _with("small_matrix.csv", line, ",".join(values))


def _error(tmp_path, missing_timestamps="drop", **replace):
    folder = _write(tmp_path / "in", **replace)
    with pytest.raises(common.FormatError) as info:
        kuairec.convert(
            folder, str(tmp_path / "out"), missing_timestamps=missing_timestamps
        )
    return info.value


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    base = tmp_path_factory.mktemp("kuairec")
    out = str(base / "out")
    return kuairec.convert(_write(base / "in"), out, missing_timestamps="drop"), out


# --------------------------------------------------------------------------
# The fixture converts to exactly the expected tables.
# --------------------------------------------------------------------------


def test_events_follow_the_mapping(converted):
    log, out = converted
    events = log.events
    assert common.to_original(out, "user", [0, 1]).tolist() == [14, 19]
    assert common.to_original(out, "item", [0, 1, 2]).tolist() == [148, 183, 3649]
    got = list(
        zip(
            events["request_id"],
            common.to_original(out, "user", events["user_id"]),
            common.to_original(out, "item", events["item_id"]),
            events["event"].astype(str),
            events["value"],
            events["timestamp"],
            events["play_duration"],
            events["video_duration"],
        )
    )
    # Requests are numbered in millisecond order; timestamps are floored seconds.
    assert got == [
        (0, 14, 3649, "impression", 1.0, 1593898068, 6067, 6067),
        (0, 14, 3649, "rating", 1.0, 1593898068, 6067, 6067),
        (1, 14, 148, "impression", 1.0, 1593898068, 4381, 6067),
        (1, 14, 148, "rating", 0.7221031811438932, 1593898068, 4381, 6067),
        (2, 14, 183, "impression", 1.0, 1593898080, 11635, 6100),
        (2, 14, 183, "rating", 1.907377049180328, 1593898080, 11635, 6100),
        (3, 19, 183, "impression", 1.0, 1594029600, 12200, 6100),
        (3, 19, 183, "rating", 2.0, 1594029600, 12200, 6100),
        (4, 19, 183, "impression", 1.0, 1594033200, 3050, 6100),
        (4, 19, 183, "rating", 0.5, 1594033200, 3050, 6100),
    ]
    for column in kuairec.EVENT_EXTRAS:
        assert events[column].dtype == np.int64


def test_items_and_users(converted):
    log, out = converted
    assert log.items["category"].tolist() == [1, 2, 0]  # [8], [27, 9], []
    assert common.to_original(out, "category", [0, 1, 2]).tolist() == [-1, 8, 27]
    assert (log.items["brand"] == 0).all()
    users = log.users.set_index("user_id")
    assert users["user_active_degree"].tolist() == [1, 2]
    assert users["onehot_feat4"].tolist() == [1, 0]
    assert log.meta["feature_values"]["user_active_degree"] == [
        "full_active",
        "high_active",
    ]


def test_counts_and_meta(converted):
    log, _ = converted
    counts = log.meta["conversion"]["counts"]
    assert counts["lines_read"] == 7
    assert counts["missing_timestamp_rows_dropped"] == 1
    assert counts["duplicate_rows_dropped"] == 1
    assert counts["repeated_user_video_rows_kept"] == 1
    assert counts["out_of_order"] == 1
    assert counts["rows_with_watch_ratio_above_1"] == 2
    assert counts["videos_without_rows_dropped"] == 1
    assert counts["videos_without_tags"] == 1
    assert counts["users_without_events_dropped"] == 1
    assert counts["events_written"] == 10
    assert log.meta["name"] == "kuairec_small" and log.meta["timestamps"] == "seconds"
    assert (
        log.meta["autodenoise_label"]["rating_threshold"]
        == kuairec.AUTODENOISE_THRESHOLD
    )


def test_autodenoise_labels_are_watch_ratio_above_one(converted):
    log, _ = converted
    assert kuairec.AUTODENOISE_THRESHOLD > 1.0
    assert np.nextafter(kuairec.AUTODENOISE_THRESHOLD, 0.0) == 1.0
    task = ctr.build_ctr_task(
        log,
        label="rating",
        split="random",
        fractions=(0.6, 0.2, 0.2),
        rating_threshold=kuairec.AUTODENOISE_THRESHOLD,
        user_features=(),
        item_features=(),
    )
    assert task.fields == ("user_id", "item_id")
    ratings = log.events_of("rating")
    # (user, item, second) is unique in the fixture.
    expected = {
        (u, i, t): float(v > 1.0)
        for u, i, t, v in zip(
            ratings["user_id"],
            ratings["item_id"],
            ratings["timestamp"],
            ratings["value"],
        )
    }
    assert sum(expected.values()) == 2  # 1.907 and 2.0; exactly 1.0 is negative.
    total = 0
    for part in task.parts().values():
        total += len(part)
        keys = zip(part.user_ids, part.features["item_id"], part.timestamps)
        assert part.labels.tolist() == [expected[k] for k in keys]
    assert total == 5


def test_without_optional_files(tmp_path):
    folder = _write(tmp_path / "in", item_categories_csv=None, user_features_csv=None)
    log = kuairec.convert(folder, str(tmp_path / "out"), missing_timestamps="drop")
    assert (log.items["category"] == 0).all() and (log.items["brand"] == 0).all()
    assert list(log.users.columns) == ["user_id"]
    assert not os.path.exists(str(tmp_path / "out" / "category_ids.parquet"))


def test_big_matrix(tmp_path):
    folder = _write(tmp_path / "in")
    log = kuairec.convert(folder, str(tmp_path / "out"), matrix="big")
    assert log.meta["name"] == "kuairec_big"
    assert log.meta["conversion"]["counts"]["lines_read"] == 2
    assert log.events["timestamp"].tolist() == [1593878903] * 2 + [1593879221] * 2
    assert log.items["category"].tolist() == [1, 0]  # 148: [8]; 3649: []


def test_written_folder_reads_back(converted):
    log, out = converted
    again = schema.read_event_log(out)
    pd.testing.assert_frame_equal(again.events, log.events)


# --------------------------------------------------------------------------
# Errors: file, line, field and message.
# --------------------------------------------------------------------------


def test_missing_timestamp_is_an_error_by_default(tmp_path):
    error = _error(tmp_path, missing_timestamps="error")
    assert error.file.endswith("small_matrix.csv")
    assert (error.line, error.field) == (5, "timestamp")
    assert "--missing_timestamps=drop" in str(error)


def test_malformed_line(tmp_path):
    error = _error(
        tmp_path, small_matrix_csv=_with("small_matrix.csv", 3, "14,183,11635")
    )
    assert (error.line, error.field) == (3, None) and "expected 8 fields" in str(error)


def test_wrong_separator(tmp_path):
    lines = [line.replace(",", "\t") for line in FILES["small_matrix.csv"]]
    error = _error(tmp_path, small_matrix_csv=lines)
    assert (error.line, error.field) == (1, "user_id") and "missing column" in str(
        error
    )
    error = _error(
        tmp_path / "b",
        small_matrix_csv=_with("small_matrix.csv", 4, SMALL[2].replace(",", ";")),
    )
    assert error.line == 4 and "expected 8 fields" in str(error)


def test_non_numeric_id(tmp_path):
    error = _error(tmp_path, small_matrix_csv=_field(2, "user_id", "u14"))
    assert (error.line, error.field) == (2, "user_id")
    assert "expected an integer, got 'u14'" in str(error)


def test_missing_files(tmp_path):
    error = _error(tmp_path, small_matrix_csv=None)
    assert error.file.endswith("small_matrix.csv") and "file not found" in str(error)
    folder = _write(tmp_path / "b", big_matrix_csv_gz=None)
    with pytest.raises(common.FormatError, match="big_matrix.csv"):
        kuairec.convert(folder, str(tmp_path / "out"), matrix="big")
    with pytest.raises(common.FormatError, match="input folder not found"):
        kuairec.convert(str(tmp_path / "nowhere"), str(tmp_path / "out"))


def test_missing_column(tmp_path):
    lines = list(FILES["small_matrix.csv"])
    lines[0] = HEADER.replace("watch_ratio", "ratio")
    error = _error(tmp_path, small_matrix_csv=lines)
    assert (error.line, error.field) == (1, "watch_ratio")
    assert "missing column 'watch_ratio'" in str(error)


@pytest.mark.parametrize("value", ["nan", "NaN", "", "-0.5", "inf", "x"])
def test_bad_watch_ratio(tmp_path, value):
    error = _error(tmp_path, small_matrix_csv=_field(3, "watch_ratio", value))
    assert (error.line, error.field) == (3, "watch_ratio")
    assert "a finite number" in str(error)


@pytest.mark.parametrize("value", ["1593898080057.0", "-1.0", "2020-07-05", "nan"])
def test_bad_timestamp(tmp_path, value):
    error = _error(tmp_path, small_matrix_csv=_field(3, "timestamp", value))
    assert (error.line, error.field) == (3, "timestamp")
    assert "expected a finite number" in str(error)


def test_negative_duration(tmp_path):
    error = _error(tmp_path, small_matrix_csv=_field(6, "play_duration", "-3"))
    assert (error.line, error.field) == (6, "play_duration")


def test_bad_options(tmp_path):
    folder = _write(tmp_path / "in")
    with pytest.raises(ValueError, match="`matrix` must be one of"):
        kuairec.convert(folder, str(tmp_path / "out"), matrix="medium")
    with pytest.raises(ValueError, match="`missing_timestamps` must be one of"):
        kuairec.convert(folder, str(tmp_path / "out"), missing_timestamps="keep")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("183,8", "a list of integer tags"),
        ('183,"[8,]"', "a list of integer tags"),
        ('183,"[27, 9]', "unbalanced double quote"),
        ("183,[27, 9]", "expected 2 fields"),
        ("18x,[8]", "expected an integer"),
    ],
)
def test_bad_item_categories(tmp_path, text, message):
    error = _error(tmp_path, item_categories_csv=_with("item_categories.csv", 3, text))
    assert error.file.endswith("item_categories.csv") and error.line == 3
    assert message in str(error)


def test_ids_missing_from_the_side_files(tmp_path):
    lines = [line for line in CATEGORIES if not line.startswith("183,")]
    error = _error(tmp_path, item_categories_csv=lines)
    assert error.field == "video_id" and "(first: 183)" in str(error)
    error = _error(tmp_path / "b", user_features_csv=[USER_HEADER, USER_LINES[1]])
    assert error.field == "user_id" and "(first: 19)" in str(error)
    lines = list(USER_LINES)
    lines[2] = lines[2].replace("high_active,0,1,0", "high_active,0,one,0")
    error = _error(tmp_path / "c", user_features_csv=lines)
    assert (error.line, error.field) == (3, "is_live_streamer")


# --------------------------------------------------------------------------
# Streaming and fuzz.
# --------------------------------------------------------------------------


def test_tiny_blocks_give_the_same_dataset(tmp_path, converted):
    log, _ = converted
    folder = _write(tmp_path / "in")
    small = kuairec.convert(
        folder, str(tmp_path / "out"), missing_timestamps="drop", block_bytes=64
    )
    assert_same_logs(small, log)
    error = _error(tmp_path / "b", small_matrix_csv=_field(8, "video_id", "v"))
    assert (error.line, error.field) == (8, "video_id")


_CORRUPTIONS = ["", "x", "-1", "0", "1.5", "nan", "inf", '"', ",", ";", "[", "9" * 25]
_FUZZED = ("small_matrix.csv", "item_categories.csv")


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_fuzz_one_corrupted_field(tmp_path_factory, data):
    name = data.draw(st.sampled_from(_FUZZED))
    lines = list(FILES[name])
    line = data.draw(st.integers(2, len(lines)))
    fields = lines[line - 1].split(",")
    index = data.draw(st.integers(0, len(fields) - 1))
    fields[index] = data.draw(st.sampled_from(_CORRUPTIONS))
    lines[line - 1] = ",".join(fields)
    base = tmp_path_factory.mktemp("fuzz")
    folder = _write(base / "in", **{name.replace(".", "_"): lines})
    try:
        log = kuairec.convert(folder, str(base / "out"), missing_timestamps="drop")
    except common.FormatError as error:
        if error.line is None:
            # An id changed: the other file no longer lists it.
            assert "lists no row" in str(error), str(error)
        else:
            assert error.file.endswith(name) and error.line == line, str(error)
    else:
        assert len(log.events) >= 2


# --------------------------------------------------------------------------
# Real data (not held here: skipped) and command line.
# --------------------------------------------------------------------------


@pytest.mark.real_data
def test_real_kuairec_small(tmp_path):
    folder = shared_dataset("kuairec", "small_matrix.csv")
    log = kuairec.convert(folder, str(tmp_path / "out"), missing_timestamps="drop")
    counts = log.meta["conversion"]["counts"]
    assert counts["lines_read"] == 4_676_570
    assert (log.num_users, log.num_items) == (1_411, 3_327)


def test_command_line(tmp_path):
    folder = _write(tmp_path / "in")
    output = str(tmp_path / "cli")
    done = run_module(
        "kuairec",
        f"--input={folder}",
        f"--output={output}",
        "--missing_timestamps=drop",
    )
    assert done.returncode == 0, done.stderr
    assert "[kuairec] written" in done.stdout
    assert len(schema.read_event_log(output).events) == 10

    done = run_module("kuairec", f"--input={folder}", f"--output={tmp_path / 'bad'}")
    assert_one_line_error(
        done, "line 5, field 'timestamp'", "--missing_timestamps=drop"
    )


def test_ignore_keeps_every_row_and_discards_times(tmp_path, converted):
    dropped, _ = converted
    log = kuairec.convert(
        _write(tmp_path / "in"), str(tmp_path / "out"), missing_timestamps="ignore"
    )
    counts = log.meta["conversion"]["counts"]
    assert log.meta["timestamps"] == "absent"
    assert (log.events["timestamp"] == 0).all()
    kept = counts["missing_timestamp_rows_kept"]
    assert kept >= 1 and "missing_timestamp_rows_dropped" not in counts
    assert len(log.events) == len(dropped.events) + 2 * kept
    with pytest.raises(ValueError, match="split='time' needs real timestamps"):
        ctr.build_ctr_task(log, label="rating", split="time")
    task = ctr.build_ctr_task(
        log, label="rating", split="random", fractions=(0.34, 0.33, 0.33)
    )
    assert sum(len(p) for p in task.parts().values()) == len(log.events) // 2


def test_times_in_another_unit_are_named(tmp_path):
    # KuaiRec's days written where its seconds belong (issue 17, case 4).
    lines = [HEADER]
    for row in SMALL:
        values = row.split(",")
        if values[6]:
            values[6] = str(int(float(values[6]) // 86400))
        lines.append(",".join(values))
    error = _error(tmp_path, small_matrix_csv=lines)
    assert (error.line, error.field) == (2, "timestamp")
    assert "expected seconds since 1970 in 2020-06-01..2020-09-30" in str(error)
    assert "the values look like days" in str(error)
