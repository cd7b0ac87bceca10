"""Tests of the Taobao display-ad click data converter (fixtures in the original
format: we hold none of the real files)."""

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep import common, taobao_ad
from recsys_tf.data import schema
from tests.data_prep.shared import (
    assert_one_line_error,
    assert_same_logs,
    assert_same_parquet,
    run_module,
    shared_dataset,
    write_lines,
)

RAW_SAMPLE = [
    "user,time_stamp,adgroup_id,pid,nonclk,clk",
    "581738,1494137644,1,430548_1007,1,0",
    "581738,1494137600,2,430548_1007,0,1",  # earlier than user's previous line
    "449818,1494638778,3,430539_1007,1,0",
    "449818,1494638778,3,430539_1007,0,1",  # the same display again, clicked
    "7,1494500000,2,430539_1007,1,0",  # user 7 has no profile
]
AD_FEATURE = [
    "adgroup_id,cate_id,campaign_id,customer,brand,price",
    "1,6406,83237,1,95471,170.0",
    "2,6406,83237,1,NULL,0.0",
    "3,1665,167,5,82527,3.5",
    "4,9999,1,1,1,1.0",  # never shown: left out
]
USER_PROFILE = [
    # The original header ends with a space.
    "userid,cms_segid,cms_group_id,final_gender_code,age_level,pvalue_level,"
    "shopping_level,occupation,new_user_class_level ",
    "581738,0,5,2,5,,3,0,3",
    "449818,2,1,1,1,2,3,1,",
    "12345,0,0,1,1,1,1,0,1",  # no event: left out
]
BEHAVIOR_LOG = [
    "user,time_stamp,btag,cate,brand",
    "581738,1494100000,pv,6406,95471",
    "581738,1494100000,pv,6406,95471",  # exact duplicate
    "581738,1494000000,cart,1665,NULL",  # earlier than user's previous line
    "449818,1494200000,buy,4520,82527",  # a category no ad has
    "99,1494300000,fav,6406,95471",  # only in the behaviour log, no profile
]
FILES = {
    "raw_sample": RAW_SAMPLE,
    "ad_feature": AD_FEATURE,
    "user_profile": USER_PROFILE,
    "behavior_log": BEHAVIOR_LOG,
}


def _folder(tmp_path, gz=(), **overrides):
    """Writes the four files (a None override leaves that file out)."""
    folder = tmp_path / "taobao_ad"
    folder.mkdir(exist_ok=True)
    for name, lines in {**FILES, **overrides}.items():
        for stale in (f"{name}.csv", f"{name}.csv.gz"):
            if (folder / stale).exists():
                (folder / stale).unlink()
        if lines is None:
            continue
        write_lines(folder / (f"{name}.csv.gz" if name in gz else f"{name}.csv"), lines)
    return str(folder)


def _convert(tmp_path, use_log=True, **files):
    return taobao_ad.convert(
        _folder(tmp_path, **files), str(tmp_path / "out"), behavior_log=use_log
    )


def _orig(out, kind, codes):
    return common.to_original(out, kind, codes).tolist()


def test_converts_to_exact_tables(tmp_path):
    log = _convert(tmp_path)
    out = str(tmp_path / "out")
    assert (log.num_users, log.num_items, len(log.events)) == (4, 6, 10)
    events = log.events
    assert events["timestamp"].tolist() == [
        1494000000,
        1494100000,
        1494137600,
        1494137600,
        1494137644,
        1494200000,
        1494300000,
        1494500000,
        1494638778,
        1494638778,
    ]
    assert _orig(out, "user", events["user_id"]) == [
        581738,
        581738,
        581738,
        581738,
        581738,
        449818,
        99,
        7,
        449818,
        449818,
    ]
    assert events["event"].astype(str).tolist() == [
        "cart",
        "click",
        "impression",
        "click",
        "impression",
        "buy",
        "fav",
        "impression",
        "impression",
        "click",
    ]
    # Ad groups 1, 2, 3 are items 0-2; behaviour targets (1665, NULL),
    # (4520, 82527), (6406, 95471) are items 3-5.
    assert events["item_id"].tolist() == [3, 5, 1, 1, 0, 4, 5, 1, 2, 2]
    assert _orig(out, "item", [0, 1, 2, 3, 4, 5]) == [1, 2, 3, -1, -1, -1]
    assert events["request_id"].tolist() == [-1, -1, 1, 1, 0, -1, -1, 4, 2, 2]
    assert _orig(out, "pid", [0, 1]) == ["430539_1007", "430548_1007"]
    assert events["pid"].tolist() == [-1, -1, 1, 1, 1, -1, -1, 0, 0, 0]
    assert (events["value"] == 1.0).all()

    items = log.items
    assert list(items.columns) == [
        "item_id",
        "category",
        "brand",
        "kind",
        "campaign",
        "customer",
        "price_bucket",
    ]
    assert _orig(out, "category", items["category"]) == [
        6406,
        6406,
        1665,
        1665,
        4520,
        6406,
    ]
    assert _orig(out, "brand", items["brand"]) == [95471, -1, 82527, -1, 82527, 95471]
    assert items["brand"].tolist()[1] == 0  # NULL is code 0
    assert items["kind"].tolist() == [0, 0, 0, 1, 1, 1]
    assert _orig(out, "campaign", items["campaign"]) == [83237, 83237, 167, -1, -1, -1]
    assert _orig(out, "customer", items["customer"]) == [1, 1, 5, -1, -1, -1]
    # 1 + floor(log2(1 + price)): 170.0 -> 8, 0.0 -> 1, 3.5 -> 3.
    assert items["price_bucket"].tolist() == [8, 1, 3, 0, 0, 0]

    assert list(log.users.columns) == ["user_id", *taobao_ad.PROFILE_FEATURES]
    users = log.users.set_index(np.array(_orig(out, "user", log.users["user_id"])))
    users = users.drop(columns="user_id")
    assert users.loc[581738].tolist() == [1, 6, 3, 6, 0, 4, 1, 4]
    assert users.loc[449818].tolist() == [3, 2, 2, 2, 3, 4, 2, 0]
    assert users.loc[7].tolist() == [0] * 8 and users.loc[99].tolist() == [0] * 8

    counts = log.meta["conversion"]["counts"]
    assert counts == {
        "raw_sample_rows": 5,
        "outside_time_window": 0,
        "raw_sample_out_of_order": 1,
        "repeated_displays_merged": 1,
        "repeated_displays_with_different_clk": 1,
        "ad_feature_rows": 4,
        "ad_feature_null_brand": 1,
        "ad_groups_without_displays_dropped": 1,
        "behavior_log_rows": 5,
        "behavior_log_null_brand": 1,
        "behavior_log_out_of_order": 1,
        "behavior_log_duplicates_dropped": 1,
        "user_profile_rows": 3,
        "profile_missing_cms_segid": 0,
        "profile_missing_cms_group_id": 0,
        "profile_missing_final_gender_code": 0,
        "profile_missing_age_level": 0,
        "profile_missing_pvalue_level": 1,
        "profile_missing_shopping_level": 0,
        "profile_missing_occupation": 0,
        "profile_missing_new_user_class_level": 1,
        "users_without_profile": 2,
        "profiles_without_events_dropped": 1,
        "clicks": 2,
        "events_written": 10,
    }
    assert log.meta["behavior_log"] == "used" and log.meta["timestamps"] == "seconds"
    assert len(log.meta["source_files"]) == 4
    reread = schema.read_event_log(out)
    pd.testing.assert_frame_equal(reread.events, log.events)
    pd.testing.assert_frame_equal(reread.users, log.users)


def test_category_and_brand_codes_are_shared(tmp_path):
    log = _convert(tmp_path)
    items = log.items
    ads = items[items["kind"] == 0]
    targets = items[items["kind"] == 1]
    # Ad group 1 and target (6406, 95471) share both codes.
    assert (ads.iloc[0]["category"], ads.iloc[0]["brand"]) == (
        targets.iloc[2]["category"],
        targets.iloc[2]["brand"],
    )


@pytest.mark.parametrize("how", ["off", "absent", "header only"])
def test_without_behaviour_log(tmp_path, how):
    if how == "off":
        log = _convert(tmp_path, use_log=False)
    elif how == "absent":
        log = _convert(tmp_path, behavior_log=None)
    else:
        log = _convert(tmp_path, behavior_log=BEHAVIOR_LOG[:1])
    out = str(tmp_path / "out")
    assert log.meta["behavior_log"] == ("used" if how == "header only" else how)
    assert (log.num_users, log.num_items, len(log.events)) == (3, 3, 6)
    assert set(log.events["event"].astype(str)) == {"impression", "click"}
    assert (log.items["kind"] == 0).all()
    assert _orig(out, "user", log.users["user_id"]) == [7, 449818, 581738]
    assert _orig(out, "category", [0, 1]) == [1665, 6406]
    assert _orig(out, "brand", [0, 1, 2]) == [-1, 82527, 95471]
    counts = log.meta["conversion"]["counts"]
    assert ("behavior_log_rows" in counts) == (how == "header only")
    assert counts["users_without_profile"] == 1


def test_gzip_extra_and_reordered_columns(tmp_path):
    def shuffle(lines, order, extra):
        rows = [line.split(",") for line in lines]
        out = []
        for i, row in enumerate(rows):
            out.append(",".join([row[j] for j in order] + [extra if i else "extra"]))
        return out

    raw = shuffle(RAW_SAMPLE, [5, 4, 3, 2, 1, 0], "zz")
    behavior = shuffle(BEHAVIOR_LOG, [4, 0, 3, 1, 2], "9")
    log = _convert(
        tmp_path,
        raw_sample=raw,
        behavior_log=behavior,
        gz=("raw_sample", "ad_feature", "user_profile"),
    )
    (tmp_path / "plain").mkdir()
    reference = taobao_ad.convert(_folder(tmp_path / "plain"), str(tmp_path / "ref"))
    pd.testing.assert_frame_equal(log.events, reference.events)
    pd.testing.assert_frame_equal(log.items, reference.items)
    pd.testing.assert_frame_equal(log.users, reference.users)


def test_tiny_blocks_give_identical_output(tmp_path):
    folder = _folder(tmp_path)
    one = taobao_ad.convert(folder, str(tmp_path / "a"))
    for size in (16, 64):
        two = taobao_ad.convert(folder, str(tmp_path / f"b{size}"), block_bytes=size)
        assert_same_logs(one, two)
        kinds = ("user", "item", "category", "brand", "pid")
        assert_same_parquet(
            tmp_path / "a", tmp_path / f"b{size}", *(f"{kind}_ids" for kind in kinds)
        )


def test_repeated_display_rules(tmp_path):
    raw = [
        RAW_SAMPLE[0],
        "1,1494000000,1,a,1,0",
        "1,1494000000,2,a,1,0",  # another ad group at the same second: kept
        "1,1494000000,1,b,1,0",  # another placement: kept
        "1,1494000000,1,a,1,0",  # repeat, not clicked: merged
        "2,1494000000,1,a,0,1",  # another user
    ]
    log = _convert(tmp_path, raw_sample=raw, behavior_log=None)
    counts = log.meta["conversion"]["counts"]
    assert counts["repeated_displays_merged"] == 1
    assert counts["repeated_displays_with_different_clk"] == 0
    assert counts["clicks"] == 1
    assert log.events["request_id"].tolist() == [0, 1, 2, 4, 4]
    assert log.events["event"].astype(str).tolist()[-2:] == ["impression", "click"]


@pytest.mark.parametrize(
    "file, line, field, message",
    [
        ("raw_sample", "x,1494137644,1,p,1,0", "user", "expected an integer, got 'x'"),
        ("raw_sample", "-3,1494137644,1,p,1,0", "user", r"in \[0, inf\]"),
        ("raw_sample", "1,1494137644000,1,p,1,0", "time_stamp", "seconds since"),
        ("raw_sample", "1,nan,1,p,1,0", "time_stamp", "expected an integer"),
        ("raw_sample", "1,1494137644,1.5,p,1,0", "adgroup_id", "an integer"),
        ("raw_sample", "1,1494137644,1,,1,0", "pid", "non-empty value"),
        ("raw_sample", "1,1494137644,1,p,1,1", "nonclk", "nonclk = 1 - clk = 0"),
        ("raw_sample", "1,1494137644,1,p,0,0", "nonclk", "nonclk = 1 - clk = 1"),
        ("raw_sample", "1,1494137644,1,p,1,2", "clk", r"in \[0, 1\], got 2"),
        ("raw_sample", "1;1494137644;1;p;1;0", None, "expected 6 fields"),
        ("raw_sample", "1,1494137644,1,p,1", None, "expected 6 fields"),
        ("ad_feature", "5,x,1,1,1,1.0", "cate_id", "expected an integer, got 'x'"),
        ("ad_feature", "5,1,1,1,abc,1.0", "brand", "expected an integer, got 'abc'"),
        ("ad_feature", "5,1,1,1,-2,1.0", "brand", r"in \[0, inf\]"),
        ("ad_feature", "5,1,1,1,1,nan", "price", "a finite number"),
        ("ad_feature", "5,1,1,1,1,-1.0", "price", "a finite number in"),
        ("ad_feature", "5,1,1,1,1", None, "expected 6 fields"),
        ("ad_feature", "1,1,1,1,1,1.0", "adgroup_id", "repeated id 1"),
        ("user_profile", "5,0,0,1,x,1,1,0,1", "age_level", "got 'x'"),
        ("user_profile", "5,0,0,1,1,1,1,0,-1", "new_user_class_level", "in"),
        ("user_profile", "581738,0,0,1,1,1,1,0,1", "userid", "repeated id 581738"),
        ("user_profile", "5\t0\t0\t1\t1\t1\t1\t0\t1", None, "expected 9 fields"),
        ("behavior_log", "1,1494100000,click,1,1", "btag", "one of 'pv', 'cart'"),
        ("behavior_log", "1,-1,pv,1,1", "time_stamp", "seconds since the epoch"),
        ("behavior_log", "1,1494100000,pv,,1", "cate", "an empty value"),
        ("behavior_log", "1,1494100000,pv,1,1.0", "brand", "got '1.0'"),
        ("behavior_log", "1,1494100000,pv,1", None, "expected 5 fields"),
    ],
)
def test_bad_lines_name_file_line_field(tmp_path, file, line, field, message):
    lines = list(FILES[file])
    lines.insert(2, line)
    folder = _folder(tmp_path, **{file: lines})
    with pytest.raises(common.FormatError, match=message) as info:
        taobao_ad.convert(folder, str(tmp_path / "out"))
    assert info.value.file == os.path.join(folder, f"{file}.csv")
    assert info.value.line == 3 and info.value.field == field


@pytest.mark.parametrize(
    "file, column",
    [
        ("raw_sample", "clk"),
        ("raw_sample", "pid"),
        ("ad_feature", "brand"),
        ("user_profile", "new_user_class_level"),
        ("user_profile", "userid"),
        ("behavior_log", "btag"),
    ],
)
def test_missing_column(tmp_path, file, column):
    lines = [line.split(",") for line in FILES[file]]
    drop = [name.strip() for name in lines[0]].index(column)
    folder = _folder(
        tmp_path,
        **{
            file: [",".join(v for i, v in enumerate(row) if i != drop) for row in lines]
        },
    )
    with pytest.raises(common.FormatError, match=f"missing column '{column}'") as info:
        taobao_ad.convert(folder, str(tmp_path / "out"))
    assert info.value.file == os.path.join(folder, f"{file}.csv")
    assert (info.value.line, info.value.field) == (1, column)


def test_bad_headers(tmp_path):
    raw = ["user,time_stamp,adgroup_id,pid,nonclk,clk,clk", "1,1494000000,1,p,1,0,0"]
    with pytest.raises(common.FormatError, match="'clk' appears twice") as info:
        _convert(tmp_path, raw_sample=raw)
    assert (info.value.line, info.value.field) == (1, "clk")
    # Repeated or empty names of extra columns are fine.
    raw = [RAW_SAMPLE[0] + ",x,x,", *(line + ",1,2," for line in RAW_SAMPLE[1:])]
    assert len(_convert(tmp_path, raw_sample=raw).events) == 10
    with pytest.raises(common.FormatError, match="expected a header line") as info:
        _convert(tmp_path, ad_feature=[""])
    assert info.value.file.endswith("ad_feature.csv") and info.value.line == 1
    # A file without its header: the first data line is taken as the header.
    with pytest.raises(
        common.FormatError, match="missing column 'user'.*header line missing"
    ):
        _convert(tmp_path, raw_sample=RAW_SAMPLE[1:])


@pytest.mark.parametrize("file", ["raw_sample", "ad_feature", "user_profile"])
def test_missing_file(tmp_path, file):
    folder = _folder(tmp_path, **{file: None})
    with pytest.raises(common.FormatError, match="file not found") as info:
        taobao_ad.convert(folder, str(tmp_path / "out"))
    assert info.value.file == os.path.join(folder, f"{file}.csv")


def test_missing_folder_and_empty_files(tmp_path):
    with pytest.raises(common.FormatError, match="input folder not found"):
        taobao_ad.convert(str(tmp_path / "nope"), str(tmp_path / "out"))
    with pytest.raises(common.FormatError, match="no rows after the header") as info:
        _convert(tmp_path, raw_sample=RAW_SAMPLE[:1])
    assert info.value.file.endswith("raw_sample.csv")
    with pytest.raises(common.FormatError, match="no rows after the header") as info:
        _convert(tmp_path, ad_feature=AD_FEATURE[:1])
    assert info.value.file.endswith("ad_feature.csv")
    # An empty profile table is allowed: every user is without a profile.
    log = _convert(tmp_path, user_profile=USER_PROFILE[:1])
    assert log.meta["conversion"]["counts"]["users_without_profile"] == 4
    assert (log.users.drop(columns="user_id") == 0).all().all()


def test_ad_group_missing_from_ad_feature(tmp_path):
    ads = [line for line in AD_FEATURE if not line.startswith("2,")]
    folder = _folder(tmp_path, ad_feature=ads)
    with pytest.raises(
        common.FormatError, match="adgroup_id 2 is not listed in ad_feature.csv"
    ) as info:
        taobao_ad.convert(folder, str(tmp_path / "out"))
    assert info.value.file == os.path.join(folder, "raw_sample.csv")
    assert (info.value.line, info.value.field) == (3, "adgroup_id")


def test_not_gzip(tmp_path):
    folder = _folder(tmp_path, raw_sample=None)
    with open(os.path.join(folder, "raw_sample.csv.gz"), "wb") as f:
        f.write(b"user,time_stamp\n")
    with pytest.raises(common.FormatError, match="not a valid gzip file") as info:
        taobao_ad.convert(folder, str(tmp_path / "out"))
    assert info.value.file.endswith("raw_sample.csv.gz")


def test_string_codes_follow_sorted_strings():
    import pyarrow as pa

    codes = taobao_ad.StringCodes()
    first = codes.encode(pa.array(["b", "a ", "b"]), "f", "pid", 1)
    second = codes.encode(pa.array(["c", "a"]), "f", "pid", 4)
    final, strings = codes.finish(np.concatenate([first, second]))
    assert strings.tolist() == ["a", "b", "c"]
    assert final.tolist() == [1, 0, 1, 2, 0]


_JUNK = st.sampled_from(
    ["", "x", "-1", "1.5", "nan", "NULL", "0", "1", "2", " 3", "pv", "buy", "99999"]
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    file=st.sampled_from(["raw_sample", "behavior_log", "ad_feature", "user_profile"]),
    row=st.integers(1, 3),
    field=st.integers(0, 8),
    junk=_JUNK,
)
def test_fuzz_corrupted_field_converts_or_names_its_line(
    tmp_path_factory, file, row, field, junk
):
    tmp = tmp_path_factory.mktemp("fuzz")
    lines = list(FILES[file])
    parts = lines[row].split(",")
    parts[field % len(parts)] = junk
    lines[row] = ",".join(parts)
    folder = _folder(tmp, **{file: lines})
    try:
        log = taobao_ad.convert(folder, str(tmp / "out"))
    except common.FormatError as error:
        if file == "ad_feature" and field % 6 == 0 and error.field == "adgroup_id":
            # A changed ad group id: now raw_sample shows an unlisted ad group,
            # or the new id repeats another line's.
            assert error.file.endswith("raw_sample.csv") or f"line {row + 1}" in str(
                error
            )
        else:
            assert error.file == os.path.join(folder, f"{file}.csv")
            assert error.line == row + 1
    else:
        counts = log.meta["conversion"]["counts"]
        assert counts["raw_sample_rows"] == len(RAW_SAMPLE) - 1
        assert len(log.events) >= 5 and log.num_items >= 3


@pytest.mark.real_data
@pytest.mark.slow
def test_real_taobao_ad_without_behaviour_log(tmp_path):
    # Not held locally (folder name assumed: taobao-ad); the counts are the
    # documented sizes of the original files.
    folder = shared_dataset("taobao-ad", "raw_sample.csv", "ad_feature.csv")
    log = taobao_ad.convert(folder, str(tmp_path), behavior_log=False)
    counts = log.meta["conversion"]["counts"]
    assert counts["raw_sample_rows"] == 26_557_961
    assert counts["ad_feature_rows"] == 846_811
    assert log.meta["behavior_log"] == "off"


def test_cli(tmp_path):
    folder = _folder(tmp_path)
    result = run_module(
        "taobao_ad", "--input", folder, "--output", str(tmp_path / "out")
    )
    assert result.returncode == 0, result.stderr
    assert "[taobao_ad] written" in result.stdout
    assert len(schema.read_event_log(str(tmp_path / "out")).events) == 10
    result = run_module(
        "taobao_ad",
        "--input",
        folder,
        "--output",
        str(tmp_path / "ads"),
        "--behavior_log=false",
    )
    assert result.returncode == 0, result.stderr
    log = schema.read_event_log(str(tmp_path / "ads"))
    assert len(log.events) == 6 and log.meta["behavior_log"] == "off"
    (tmp_path / "bad").mkdir()
    bad = _folder(tmp_path / "bad", behavior_log=[BEHAVIOR_LOG[0], "1,1,view,1,1"])
    result = run_module("taobao_ad", "--input", bad, "--output", str(tmp_path / "out2"))
    assert_one_line_error(result, "line 2, field 'btag'")


def test_user_sample_is_the_same_in_every_file(tmp_path):
    users = np.array([581738, 449818, 7, 99])
    seed = next(  # a seed whose half-sample keeps some users and drops others
        s for s in range(100) if 0 < common.sample_mask(users, 0.5, s).sum() < 4
    )
    kept = set(users[common.sample_mask(users, 0.5, seed)].tolist())
    (tmp_path / "full").mkdir()
    full = _convert(tmp_path / "full")
    folder = _folder(tmp_path)
    log = taobao_ad.convert(folder, str(tmp_path / "out"), sample_users=0.5, seed=seed)
    out = str(tmp_path / "out")
    assert set(_orig(out, "user", log.events["user_id"])) == kept
    full_users = common.to_original(
        str(tmp_path / "full" / "out"), "user", full.events["user_id"]
    )
    expected = full.events[np.isin(full_users, list(kept))]
    assert len(log.events) == len(expected)
    # request_id stays the display's data line, whatever the sample drops.
    got = log.events[log.events["event"] == "impression"]["request_id"]
    want = expected[expected["event"] == "impression"]["request_id"]
    assert sorted(got.tolist()) == sorted(want.tolist())
    counts = log.meta["conversion"]["counts"]
    raw_users = [int(line.split(",")[0]) for line in RAW_SAMPLE[1:]]
    assert counts["raw_sample_rows"] == 5
    assert counts["raw_sample_rows_outside_user_sample"] == sum(
        u not in kept for u in raw_users
    )
    assert log.meta["sample_users"] == 0.5 and log.meta["seed"] == seed


def test_behaviors_filter(tmp_path):
    log = taobao_ad.convert(
        _folder(tmp_path), str(tmp_path / "out"), behaviors=("cart", "buy")
    )
    types = set(log.events["event"].astype(str))
    assert types == {"impression", "click", "cart", "buy"}
    # Two pv lines (one a duplicate) and one fav line are left out.
    assert log.meta["conversion"]["counts"]["behavior_log_rows_left_out"] == 3
    assert log.meta["behaviors"] == ["cart", "buy"]
    with pytest.raises(ValueError, match="non-empty subset"):
        taobao_ad.convert(_folder(tmp_path), str(tmp_path / "o"), behaviors=("clk",))
    with pytest.raises(ValueError, match="sample_users"):
        taobao_ad.convert(_folder(tmp_path), str(tmp_path / "o"), sample_users=0.0)


def test_unknown_ad_group_line_is_right_under_a_sample(tmp_path):
    users = np.array([581738, 7])
    seed = next(
        s
        for s in range(100)
        if list(common.sample_mask(users, 0.5, s)) == [False, True]
    )
    ads = [line for line in AD_FEATURE if not line.startswith("2,")]
    folder = _folder(tmp_path, ad_feature=ads)
    with pytest.raises(common.FormatError, match="adgroup_id 2 is not listed") as info:
        taobao_ad.convert(folder, str(tmp_path / "out"), sample_users=0.5, seed=seed)
    # User 581738 (line 3 shows ad 2) is out of the sample; user 7's line 6 is in.
    assert (info.value.line, info.value.field) == (6, "adgroup_id")


def test_times_in_another_unit_are_named(tmp_path):
    # time_stamp in days since 1970, a unit slip (issue 17, case 4).
    folder = _folder(tmp_path)
    path = os.path.join(folder, "raw_sample.csv")
    with open(path) as f:
        lines = f.read().splitlines()
    rows = [lines[0]]
    for line in lines[1:]:
        values = line.split(",")
        values[1] = str(int(values[1]) // 86400)
        rows.append(",".join(values))
    write_lines(path, rows)
    with pytest.raises(common.FormatError) as info:
        taobao_ad.convert(folder, str(tmp_path / "out"))
    assert info.value.file == path
    assert (info.value.line, info.value.field) == (2, "time_stamp")
    assert "expected seconds since 1970 in 2017-04-01..2017-05-31" in str(info.value)
    assert "the values look like days" in str(info.value)
