"""Tests of the KuaiRand converter (data_prep/kuairand.py).

The fixtures are written in the original format (column order, CSV quoting of
the feature files, ``1.0`` floats and empty missing values as in the KuaiRand
releases); the real-data test reads the KuaiRand-Pure extract in
../shared/datasets/kuairand-pure.
"""

import csv
import gzip
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep import common, kuairand
from recsys_tf.data import ctr, schema
from tests.data_prep.shared import (
    assert_one_line_error,
    assert_same_logs,
    run_module,
    shared_dataset,
    write_lines,
)

LOG_HEADER = (
    "user_id,video_id,date,hourmin,time_ms,is_click,is_like,is_follow,is_comment,"
    "is_forward,is_hate,long_view,play_time_ms,duration_ms,profile_stay_time,"
    "comment_stay_time,is_profile_enter,is_rand,tab"
)
# Line 2: click + like. Line 3: earlier in the same second (out of order) with a
# dislike. Line 4: click with follow/comment/forward. Line 5: exact duplicate of 4.
STANDARD_1 = [
    "10,100,20220408,1000,1649383200500,1,1,0,0,0,0,1,5000,8000,0,0,0,0,1",
    "10,200,20220408,1000,1649383200100,0,0,0,0,0,1,0,300,9000,0,0,0,0,1",
    "20,100,20220408,1100,1649386800000,1,0,1,1,1,0,1,8000,8000,100,200,1,0,4",
    "20,100,20220408,1100,1649386800000,1,0,1,1,1,0,1,8000,8000,100,200,1,0,4",
]
STANDARD_2 = ["20,200,20220423,1200,1650686400000,0,0,0,0,0,0,0,0,9000,0,0,0,0,2"]
# Random log (gzipped): the second row says is_rand = 0 and gets 1.
RANDOM = [
    "20,300,20220422,900,1650589200000,0,0,0,0,0,0,0,100,5000,0,0,0,1,0",
    "10,300,20220422,900,1650589201000,1,0,0,0,0,0,0,100,5000,0,0,0,0,0",
]
USER_HEADER = (
    "user_id,user_active_degree,is_lowactive_period,is_live_streamer,is_video_author,"
    "follow_user_num,follow_user_num_range,fans_user_num,fans_user_num_range,"
    "friend_user_num,friend_user_num_range,register_days,register_days_range,"
    + ",".join(f"onehot_feat{i}" for i in range(18))
)
USERS = [
    '10,full_active,0,-124,1,8,"(0,10]",26,"[10,100)",3,"[1,5)",231,181-365,'
    "1,0,2,1176,1.0,0,0,31,275,5,2,2,0.0,0.0,0.0,1.0,0.0,0.0",
    '20,high_active,0,1,0,514,500+,150,"[100,1k)",34,"[30,60)",799,730+,'
    "0,3,29,949,,0,1,14,135,6,3,0,,,,,,",
    "30,UNKNOWN,0,-124,1,0,0,0,0,0,0,20,15-30,1,1,1,1,1.0,0,0,1,1,1,1,1,"
    "0.0,0.0,0.0,0.0,0.0,0.0",
]
VIDEO_HEADER = (
    "video_id,author_id,video_type,upload_dt,upload_type,visible_status,"
    "video_duration,server_width,server_height,music_id,music_type,tag"
)
VIDEOS = [
    "100,7349781,NORMAL,2022-04-10,LongImport,0.0,87433.0,720.0,1280.0,9155697141,9.0,39",
    '200,2103883,AD,2022-04-10,Web,0.0,,720.0,1280.0,6355810746,,"20,43"',
    "300,7349781,NORMAL,2022-04-09,Kmovie,0.0,5000.0,720.0,1280.0,0,4.0,",
    "400,5067285,NORMAL,2022-04-09,ShortImport,0.0,9233.0,720.0,1280.0,0,4.0,1",
]
FILES = {
    "log_standard_4_08_to_4_21_pure.csv": (LOG_HEADER, STANDARD_1),
    "log_standard_4_22_to_5_08_pure.csv": (LOG_HEADER, STANDARD_2),
    "log_random_4_22_to_5_08_pure.csv.gz": (LOG_HEADER, RANDOM),
    "user_features_pure.csv": (USER_HEADER, USERS),
    "video_features_basic_pure.csv": (VIDEO_HEADER, VIDEOS),
}


def _write(folder, files=None, **replace):
    """Writes the fixture files into `folder`; `replace` maps a file name (dots as
    underscores) to its new lines or None (left out)."""
    os.makedirs(folder, exist_ok=True)
    for name, (header, rows) in (files or FILES).items():
        key = name.replace(".", "_")
        lines = replace.get(key, [header, *rows])
        if lines is not None:
            write_lines(os.path.join(folder, name), lines)
    return str(folder)


def _lines(name):
    header, rows = FILES[name]
    return [header, *rows]


def _convert(tmp_path, folder=None, **kwargs):
    folder = folder or _write(tmp_path / "in")
    return kuairand.convert(folder, str(tmp_path / "out"), **kwargs)


def _error(tmp_path, **replace):
    folder = _write(tmp_path / "in", **replace)
    with pytest.raises(common.FormatError) as info:
        kuairand.convert(folder, str(tmp_path / "out"))
    return info.value


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    base = tmp_path_factory.mktemp("kuairand")
    log = kuairand.convert(_write(base / "in"), str(base / "out"))
    return log, str(base / "out")


# --------------------------------------------------------------------------
# The fixture converts to exactly the expected tables.
# --------------------------------------------------------------------------


def test_ids_are_remapped_and_mapped_back(converted):
    log, out = converted
    assert log.num_users == 2 and log.num_items == 3
    assert common.to_original(out, "user", [0, 1]).tolist() == [10, 20]
    assert common.to_original(out, "item", [0, 1, 2]).tolist() == [100, 200, 300]


def test_events_follow_the_mapping(converted):
    log, out = converted
    events = log.events
    got = list(
        zip(
            events["request_id"],
            common.to_original(out, "user", events["user_id"]),
            common.to_original(out, "item", events["item_id"]),
            events["event"].astype(str),
            events["timestamp"],
        )
    )
    # Requests are numbered in time_ms order; the schema sorts by (second, user).
    assert got == [
        (0, 10, 200, "impression", 1649383200),
        (0, 10, 200, "dislike", 1649383200),
        (1, 10, 100, "impression", 1649383200),
        (1, 10, 100, "click", 1649383200),
        (1, 10, 100, "like", 1649383200),
        (2, 20, 100, "impression", 1649386800),
        (2, 20, 100, "click", 1649386800),
        (3, 20, 300, "impression", 1650589200),
        (4, 10, 300, "impression", 1650589201),
        (4, 10, 300, "click", 1650589201),
        (5, 20, 200, "impression", 1650686400),
    ]
    assert (events["value"] == 1.0).all()


def test_event_columns_are_carried_by_every_event_of_an_exposure(converted):
    log, _ = converted
    events = log.events.set_index("request_id")
    assert list(log.meta["event_columns"]) == list(kuairand.EVENT_EXTRAS)
    follow = events.loc[2]
    assert (follow["is_follow"] == 1).all() and (follow["is_comment"] == 1).all()
    assert (follow["is_forward"] == 1).all() and (follow["is_profile_enter"] == 1).all()
    assert (follow["long_view"] == 1).all() and (follow["tab"] == 4).all()
    assert (follow["play_time_ms"] == 8000).all() and (
        follow["duration_ms"] == 8000
    ).all()
    first = events.loc[0]
    assert (first[["is_follow", "long_view", "is_rand"]] == 0).all().all()
    assert (first["play_time_ms"] == 300).all() and (first["tab"] == 1).all()
    # Both random-log exposures are flagged, also the one whose column said 0.
    assert events.loc[[3, 4], "is_rand"].tolist() == [1, 1, 1]
    assert events.loc[5, "is_rand"] == 0
    for column in kuairand.EVENT_EXTRAS:
        assert log.events[column].dtype == np.int64


def test_user_features_are_coded_with_zero_for_missing(converted):
    log, _ = converted
    users = log.users.set_index("user_id")
    values = log.meta["feature_values"]
    assert values["user_active_degree"] == ["full_active", "high_active"]
    assert users["user_active_degree"].tolist() == [1, 2]
    assert values["is_live_streamer"] == [-124, 1]
    assert users["is_live_streamer"].tolist() == [1, 2]
    assert users["is_video_author"].tolist() == [2, 1]
    assert values["follow_user_num_range"] == ["(0,10]", "500+"]
    assert users["follow_user_num_range"].tolist() == [1, 2]
    assert values["fans_user_num_range"] == ["[10,100)", "[100,1k)"]
    assert values["onehot_feat3"] == [949, 1176]
    assert users["onehot_feat3"].tolist() == [2, 1]
    assert users["onehot_feat4"].tolist() == [1, 0]  # "1.0" and empty
    assert users["onehot_feat15"].tolist() == [1, 0]
    assert "follow_user_num" not in users.columns
    assert sorted(users.columns) == sorted(kuairand.USER_FEATURES)


def test_item_features(converted):
    log, out = converted
    items = log.items.set_index("item_id")
    # Videos 100 ("39"), 200 ("20,43"), 300 (no tag).
    assert items["category"].tolist() == [2, 1, 0]
    assert common.to_original(out, "category", [0, 1, 2]).tolist() == [-1, 20, 39]
    assert items["brand"].tolist() == [2, 1, 2]
    assert common.to_original(out, "brand", [1, 2]).tolist() == [2103883, 7349781]
    assert items["video_type"].tolist() == [2, 1, 2]  # AD, NORMAL
    assert items["upload_type"].tolist() == [2, 3, 1]  # Kmovie, LongImport, Web
    assert items["music_type"].tolist() == [2, 0, 1]  # 9.0, missing, 4.0
    assert items["duration_bucket"].tolist() == [5, 0, 1]  # 87.4 s, missing, 5 s
    assert log.meta["feature_values"]["duration_bucket"][4] == "[60, 120) s"


def test_counts_and_meta(converted):
    log, _ = converted
    counts = log.meta["conversion"]["counts"]
    assert counts["lines_read"] == 7
    assert counts["rows_log_random_4_22_to_5_08_pure.csv.gz"] == 2
    assert counts["duplicate_rows_dropped"] == 1
    assert counts["out_of_order"] == 1
    assert counts["random_log_rows_set_is_rand"] == 1
    assert counts["is_click_rows_read"] == 4
    assert counts["users_without_events_dropped"] == 1
    assert counts["videos_without_events_dropped"] == 1
    assert counts["missing_onehot_feat4"] == 1
    assert counts["missing_onehot_feat12"] == 1
    assert counts["missing_tag"] == 1 and counts["missing_music_type"] == 1
    assert counts["missing_video_duration"] == 1
    assert counts["impression_events"] == 6 and counts["click_events"] == 3
    assert counts["like_events"] == 1 and counts["dislike_events"] == 1
    assert counts["events_written"] == 11
    assert "kept once" in log.meta["conversion"]["rules"]["duplicate_rows_dropped"]
    assert log.meta["timestamps"] == "seconds"
    assert len(log.meta["source_files"]) == 5


def test_the_ctr_builder_matches_each_click_to_its_impression(converted):
    log, _ = converted
    task = ctr.build_ctr_task(
        log,
        split="random",
        fractions=(0.5, 0.25, 0.25),
        user_features=(),
        item_features=(),
    )
    labels = np.concatenate([p.labels for p in task.parts().values()])
    assert len(labels) == 6 and labels.sum() == 3


def test_written_folder_reads_back(converted):
    log, out = converted
    again = schema.read_event_log(out)
    pd.testing.assert_frame_equal(again.events, log.events)
    pd.testing.assert_frame_equal(again.items, log.items)


# --------------------------------------------------------------------------
# Flags: explicit files, no random log.
# --------------------------------------------------------------------------


def test_explicit_log_list_and_feature_names(tmp_path):
    folder = _write(tmp_path / "in")
    os.rename(
        os.path.join(folder, "user_features_pure.csv"),
        os.path.join(folder, "users.csv"),
    )
    log = _convert(
        tmp_path,
        folder,
        logs=["log_standard_4_22_to_5_08_pure.csv"],
        user_features="users.csv",
    )
    assert len(log.events) == 1 and log.meta["conversion"]["counts"]["lines_read"] == 1


def test_random_log_can_be_left_out(tmp_path):
    log = _convert(tmp_path, include_random=False)
    assert log.meta["conversion"]["counts"]["lines_read"] == 5
    assert (log.events["is_rand"] == 0).all()


# --------------------------------------------------------------------------
# Errors: file, line, field and message.
# --------------------------------------------------------------------------

STD = "log_standard_4_08_to_4_21_pure_csv"
USERS_KEY = "user_features_pure_csv"
VIDEOS_KEY = "video_features_basic_pure_csv"


def _with(name, line, text):
    """The lines of fixture file `name` with 1-based `line` replaced."""
    lines = _lines(name)
    lines[line - 1] = text
    return lines


def _field(name, line, field, value):
    header = _lines(name)[0].split(",")
    rows = _lines(name)
    values = next(csv.reader([rows[line - 1]]))
    values[header.index(field)] = value
    return _with(name, line, ",".join(f'"{v}"' if "," in v else v for v in values))


STD_NAME = "log_standard_4_08_to_4_21_pure.csv"


def test_malformed_line(tmp_path):
    error = _error(tmp_path, **{STD: _with(STD_NAME, 3, "10,200,20220408")})
    assert error.file.endswith(STD_NAME) and error.line == 3 and error.field is None
    assert "expected 19 fields" in str(error)


def test_wrong_separator_in_the_whole_file(tmp_path):
    lines = [line.replace(",", ";") for line in _lines(STD_NAME)]
    error = _error(tmp_path, **{STD: lines})
    assert error.line == 1 and error.field == "user_id"
    assert "missing column 'user_id'" in str(error)


def test_wrong_separator_on_one_line(tmp_path):
    error = _error(
        tmp_path, **{STD: _with(STD_NAME, 4, STANDARD_1[2].replace(",", "\t"))}
    )
    assert error.line == 4 and "expected 19 fields" in str(error)


def test_non_numeric_id(tmp_path):
    error = _error(tmp_path, **{STD: _field(STD_NAME, 2, "video_id", "v100")})
    assert (error.line, error.field) == (2, "video_id")
    assert "expected an integer, got 'v100'" in str(error)


@pytest.mark.parametrize("field", ["is_click", "is_hate", "is_rand", "long_view"])
def test_binary_field_must_be_0_or_1(tmp_path, field):
    error = _error(tmp_path, **{STD: _field(STD_NAME, 3, field, "2")})
    assert (error.line, error.field) == (3, field)
    assert "an integer in [0, 1], got 2" in str(error)


def test_negative_count(tmp_path):
    error = _error(tmp_path, **{STD: _field(STD_NAME, 5, "play_time_ms", "-5")})
    assert (error.line, error.field) == (5, "play_time_ms") and "[0, inf]" in str(error)


@pytest.mark.parametrize("value", ["4102444800001", "-1", "1.6e12"])
def test_out_of_range_or_malformed_timestamp(tmp_path, value):
    error = _error(tmp_path, **{STD: _field(STD_NAME, 2, "time_ms", value)})
    assert (error.line, error.field) == (2, "time_ms")


def test_empty_value(tmp_path):
    error = _error(tmp_path, **{STD: _field(STD_NAME, 2, "tab", "")})
    assert (error.line, error.field) == (2, "tab") and "an empty value" in str(error)


def test_missing_column(tmp_path):
    lines = _lines(STD_NAME)
    lines[0] = lines[0].replace("is_hate", "is_hated")
    error = _error(tmp_path, **{STD: lines})
    assert (error.line, error.field) == (1, "is_hate")
    assert "missing column 'is_hate'" in str(error)


def test_columns_are_found_by_name(tmp_path):
    header = LOG_HEADER.split(",")
    order = header[::-1]
    rows = [",".join(r.split(",")[::-1]) for r in STANDARD_1]
    folder = _write(tmp_path / "in", **{STD: [",".join(order), *rows]})
    log = kuairand.convert(folder, str(tmp_path / "out"))
    assert len(log.events) == 11


def test_missing_files(tmp_path):
    error = _error(
        tmp_path,
        **{
            STD: None,
            "log_standard_4_22_to_5_08_pure_csv": None,
            "log_random_4_22_to_5_08_pure_csv_gz": None,
        },
    )
    assert "no log file found" in str(error) and "log_standard_" in error.file
    error = _error(tmp_path / "b", **{USERS_KEY: None})
    assert "user_features" in error.file and "file not found" in str(error)
    error = _error(tmp_path / "c", **{VIDEOS_KEY: None})
    assert "video_features_basic" in error.file
    with pytest.raises(common.FormatError, match="input folder not found"):
        kuairand.convert(str(tmp_path / "nowhere"), str(tmp_path / "out"))
    folder = _write(tmp_path / "d")
    with pytest.raises(common.FormatError, match="file not found") as info:
        kuairand.convert(folder, str(tmp_path / "out"), logs=["log_x.csv"])
    assert info.value.file.endswith("log_x.csv")


def test_ambiguous_files(tmp_path):
    folder = _write(tmp_path / "in")
    with open(os.path.join(folder, "user_features_1k.csv"), "w") as f:
        f.write(USER_HEADER + "\n")
    with pytest.raises(common.FormatError, match="2 candidate files.*--user_features"):
        kuairand.convert(folder, str(tmp_path / "out"))
    folder = _write(tmp_path / "b")
    with gzip.open(
        os.path.join(folder, "log_standard_4_22_to_5_08_pure.csv.gz"), "wb"
    ) as f:
        f.write(b"x\n")
    with pytest.raises(common.FormatError, match="both .* and its .gz"):
        kuairand.convert(folder, str(tmp_path / "out"))


def test_empty_logs(tmp_path):
    error = _error(
        tmp_path,
        **{
            STD: [LOG_HEADER],
            "log_standard_4_22_to_5_08_pure_csv": [LOG_HEADER],
            "log_random_4_22_to_5_08_pure_csv_gz": [LOG_HEADER],
        },
    )
    assert "no exposures" in str(error)


def test_feature_value_errors(tmp_path):
    name = "user_features_pure.csv"
    error = _error(tmp_path, **{USERS_KEY: _field(name, 3, "onehot_feat3", "abc")})
    assert error.file.endswith(name) and (error.line, error.field) == (
        3,
        "onehot_feat3",
    )
    error = _error(
        tmp_path / "b", **{USERS_KEY: _field(name, 2, "onehot_feat4", "1.5")}
    )
    assert (error.line, error.field) == (2, "onehot_feat4") and "an integer" in str(
        error
    )
    name = "video_features_basic_pure.csv"
    error = _error(tmp_path / "c", **{VIDEOS_KEY: _field(name, 3, "tag", "20;43")})
    assert (error.line, error.field) == (3, "tag") and "comma-separated" in str(error)
    error = _error(
        tmp_path / "d", **{VIDEOS_KEY: _field(name, 2, "video_duration", "nan")}
    )
    assert (error.line, error.field) == (2, "video_duration")
    assert "a finite number" in str(error)
    error = _error(tmp_path / "e", **{VIDEOS_KEY: _field(name, 5, "author_id", "x")})
    assert (error.line, error.field) == (5, "author_id")


def test_feature_file_structure_errors(tmp_path):
    name = "video_features_basic_pure.csv"
    error = _error(
        tmp_path, **{VIDEOS_KEY: _with(name, 3, VIDEOS[1].replace('"20,43"', '"20,43'))}
    )
    assert error.line == 3 and "unbalanced double quote" in str(error)
    error = _error(tmp_path / "b", **{VIDEOS_KEY: _with(name, 4, VIDEOS[2] + ",7")})
    assert error.line == 4 and "expected 12 fields" in str(error)
    error = _error(tmp_path / "c", **{VIDEOS_KEY: _with(name, 5, VIDEOS[0])})
    assert (error.line, error.field) == (5, "video_id") and "listed twice" in str(error)
    lines = _lines(name)
    lines[0] = lines[0].replace("author_id", "author")
    error = _error(tmp_path / "d", **{VIDEOS_KEY: lines})
    assert (error.line, error.field) == (1, "author_id")


def test_log_ids_missing_from_the_feature_files(tmp_path):
    error = _error(tmp_path, **{USERS_KEY: [USER_HEADER, USERS[0], USERS[2]]})
    assert error.file.endswith("user_features_pure.csv") and error.field == "user_id"
    assert error.line is None and "(first: 20)" in str(error)
    error = _error(tmp_path / "b", **{VIDEOS_KEY: [VIDEO_HEADER, *VIDEOS[1:]]})
    assert error.field == "video_id" and "(first: 100)" in str(error)


# --------------------------------------------------------------------------
# Streaming.
# --------------------------------------------------------------------------


def test_tiny_blocks_give_the_same_dataset(tmp_path, converted):
    log, _ = converted
    small = _convert(tmp_path, block_bytes=64)
    assert_same_logs(small, log)


def test_error_lines_are_right_across_blocks(tmp_path):
    folder = _write(tmp_path / "in", **{STD: _field(STD_NAME, 5, "user_id", "?")})
    with pytest.raises(common.FormatError) as info:
        kuairand.convert(folder, str(tmp_path / "out"), block_bytes=64)
    assert (info.value.line, info.value.field) == (5, "user_id")


# --------------------------------------------------------------------------
# Fuzz: one corrupted field either still converts or names its line.
# --------------------------------------------------------------------------

_CORRUPTIONS = [
    "",
    "x",
    "-1",
    "2",
    "0",
    "1.5",
    "nan",
    '"',
    ",",
    ";",
    "1e3",
    " 1 ",
    "9" * 25,
]
_FUZZED = {
    STD_NAME: STD,
    "user_features_pure.csv": USERS_KEY,
    "video_features_basic_pure.csv": VIDEOS_KEY,
}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_fuzz_one_corrupted_field(tmp_path_factory, data):
    name = data.draw(st.sampled_from(sorted(_FUZZED)))
    lines = _lines(name)
    line = data.draw(st.integers(2, len(lines)))
    fields = lines[line - 1].split(",")
    index = data.draw(st.integers(0, len(fields) - 1))
    fields[index] = data.draw(st.sampled_from(_CORRUPTIONS))
    lines[line - 1] = ",".join(fields)
    base = tmp_path_factory.mktemp("fuzz")
    folder = _write(base / "in", **{_FUZZED[name]: lines})
    try:
        log = kuairand.convert(folder, str(base / "out"))
    except common.FormatError as error:
        if error.line is None:
            # An id changed: the other file no longer lists it (or lists it twice).
            assert "lists no row" in str(error) or "no exposures" in str(error)
        else:
            assert error.file.endswith(name), str(error)
            assert error.line == line or (
                "listed twice" in str(error) and error.line > 1
            ), str(error)
    else:
        assert log.num_users >= 1 and len(log.events) >= 1


# --------------------------------------------------------------------------
# Real data and command line.
# --------------------------------------------------------------------------


@pytest.mark.real_data
def test_real_kuairand_pure(tmp_path):
    folder = shared_dataset(
        "kuairand-pure",
        "log_standard_4_25_to_5_08_pure.csv.gz",
        "user_features_pure.csv",
        "video_features_basic_pure.csv",
    )
    log = kuairand.convert(folder, str(tmp_path / "out"))
    counts = log.meta["conversion"]["counts"]
    assert counts["lines_read"] == 228_329
    assert (log.num_users, log.num_items) == (25_156, 6_361)
    assert counts["is_click_rows_read"] == 100_900
    assert counts["is_like_rows_read"] == 3_915
    assert counts["is_hate_rows_read"] == 190
    assert counts["duplicate_rows_dropped"] == 5_460
    assert counts["out_of_order"] == 0
    assert counts["users_without_events_dropped"] == 27_285 - 25_156
    assert counts["videos_without_events_dropped"] == 7_583 - 6_361
    # After the 5,460 duplicates: exposures and their feedback.
    assert counts["impression_events"] == 228_329 - 5_460
    assert (counts["click_events"], counts["like_events"]) == (100_070, 3_874)
    assert counts["dislike_events"] == 187
    assert counts["missing_tag"] == 78 and counts["missing_onehot_feat4"] == 815
    task = ctr.build_ctr_task(log, label="click", user_features=(), item_features=())
    assert sum(p.labels.sum() for p in task.parts().values()) == 100_070


def test_command_line(tmp_path):
    folder = _write(tmp_path / "in")
    output = str(tmp_path / "cli")
    done = run_module(
        "kuairand", f"--input={folder}", f"--output={output}", "--noinclude_random"
    )
    assert done.returncode == 0, done.stderr
    assert "[kuairand] written" in done.stdout
    assert len(schema.read_event_log(output).events) == 8

    _write(tmp_path / "in", **{STD: _field(STD_NAME, 3, "is_like", "yes")})
    done = run_module("kuairand", f"--input={folder}", f"--output={tmp_path / 'bad'}")
    assert_one_line_error(done, "line 3, field 'is_like'")


# --------------------------------------------------------------------------
# Times cross-checked (issue 17, case 4).
# --------------------------------------------------------------------------


def _times(rows, scale=1, date=None):
    """`rows` with time_ms divided by `scale` (and date replaced when given)."""
    out = []
    for row in rows:
        values = row.split(",")
        values[4] = str(int(values[4]) // scale)
        if date is not None:
            values[2] = date
        out.append(",".join(values))
    return out


def test_time_ms_holding_seconds_is_an_error(tmp_path):
    # Was: exit 0, a 14-day log turned into 20 minutes in 1970.
    error = _error(tmp_path, **{STD: [LOG_HEADER, *_times(STANDARD_1, 1000)]})
    assert error.file.endswith(STD_NAME)
    assert (error.line, error.field) == (2, "time_ms")
    message = str(error)
    assert "expected milliseconds since 1970 matching date 20220408" in message
    assert "got 1649383200: the values look like seconds" in message


def test_a_few_times_off_their_date_are_counted(tmp_path):
    rows = list(STANDARD_1)
    rows[0] = _times(rows[:1], date="20220410")[0]  # two days off
    log = _convert(tmp_path, _write(tmp_path / "in", **{STD: [LOG_HEADER, *rows]}))
    counts = log.meta["conversion"]["counts"]
    assert counts["time_ms_off_date_hourmin"] == 1
    assert counts["outside_time_window"] == 0


def test_times_outside_kuairands_window_are_an_error(tmp_path):
    # date, hourmin and time_ms agree, but a year early: not KuaiRand's log.
    year = 365 * 86400 * 1000
    rows = [r.replace("202204", "202104") for r in STANDARD_1]
    rows = [
        ",".join(
            v if i != 4 else str(int(v) - year) for i, v in enumerate(r.split(","))
        )
        for r in rows
    ]
    error = _error(tmp_path, **{STD: [LOG_HEADER, *rows]})
    assert (error.line, error.field) == (2, "time_ms")
    assert "expected milliseconds since 1970 in 2022-04-01..2022-05-31" in str(error)
    assert "4 of 4 values are outside" in str(error)


def test_a_date_that_is_no_day(tmp_path):
    error = _error(tmp_path, **{STD: _field(STD_NAME, 3, "date", "20221345")})
    assert (error.line, error.field) == (3, "date")
    assert "expected a day YYYYMMDD, got 20221345" in str(error)
