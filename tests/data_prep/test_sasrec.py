"""Tests of the plain sequence-file importer / exporter (data_prep/sasrec.py)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep import common, sasrec
from recsys_tf.data import schema
from tests.data_prep.shared import (
    DATASET_TABLES,
    assert_one_line_error,
    assert_same_parquet,
    run_module,
)

USER_LINES = "1 10 30 20 10\n7 20\n3 30 40\n"
# User 2's lines are not adjacent; the order within a user is the file order.
PAIRS = "2 5\n1 6\n2 9\n2 5\n1 9\n3 6\n2 7\n"


def _file(tmp_path, text, name="data.txt"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _sequences(log, folder):
    """{original user: [original items in time order]} of an imported dataset."""
    events = log.events.sort_values(["user_id", "timestamp"], kind="stable")
    users = common.to_original(folder, "user", events["user_id"])
    items = common.to_original(folder, "item", events["item_id"])
    out = {}
    for user, item in zip(users.tolist(), items.tolist()):
        out.setdefault(user, []).append(item)
    return out


def test_user_lines_fixture_converts_to_expected_tables(tmp_path):
    out = str(tmp_path / "out")
    log = sasrec.convert(_file(tmp_path, USER_LINES), out, "user-lines")
    assert common.to_original(out, "user", np.arange(3)).tolist() == [1, 3, 7]
    assert common.to_original(out, "item", np.arange(4)).tolist() == [10, 20, 30, 40]
    events = log.events.sort_values(["user_id", "timestamp"], kind="stable")
    assert events["user_id"].tolist() == [0, 0, 0, 0, 1, 1, 2]
    assert events["item_id"].tolist() == [0, 2, 1, 0, 2, 3, 1]
    assert events["timestamp"].tolist() == [0, 1, 2, 3, 0, 1, 0]
    assert set(log.events["event"].astype(str)) == {"click"}
    assert (log.events["value"] == 1.0).all()
    assert (log.items[["category", "brand"]] == 0).all().all()
    assert list(log.users.columns) == ["user_id"]
    assert log.meta["timestamps"] == "order"
    assert log.meta["conversion"]["counts"] == {
        "lines_read": 3,
        "repeated_items_kept": 1,
        "events_written": 7,
    }
    assert "repeat" in log.meta["conversion"]["rules"]["repeated_items_kept"]


def test_pairs_fixture_orders_each_user_by_file_order(tmp_path):
    out = str(tmp_path / "out")
    log = sasrec.convert(_file(tmp_path, PAIRS), out, "pairs", event="buy")
    assert _sequences(log, out) == {1: [6, 9], 2: [5, 9, 5, 7], 3: [6]}
    events = log.events.sort_values(["user_id", "timestamp"], kind="stable")
    assert events["timestamp"].tolist() == [0, 1, 0, 1, 2, 3, 0]
    assert set(log.events["event"].astype(str)) == {"buy"}
    assert log.meta["conversion"]["counts"]["repeated_items_kept"] == 1
    assert log.meta["layout"] == "pairs" and log.meta["event"] == "buy"


def test_blanks_at_the_ends_of_a_line_are_ignored(tmp_path):
    log = sasrec.convert(
        _file(tmp_path, "1 2 3  \n 4 5\n"), str(tmp_path / "o"), "user-lines"
    )
    assert len(log.events) == 3


@pytest.mark.parametrize("layout,text", [("user-lines", USER_LINES), ("pairs", PAIRS)])
def test_tiny_blocks_give_the_same_dataset(tmp_path, layout, text):
    path = _file(tmp_path, text * 5 if layout == "pairs" else text)
    sasrec.convert(path, str(tmp_path / "one"), layout)
    sasrec.convert(path, str(tmp_path / "tiny"), layout, block_bytes=7)
    assert_same_parquet(tmp_path / "one", tmp_path / "tiny", *DATASET_TABLES)


_BAD = [
    # (layout, text, line, field, message)
    ("user-lines", "1 2 3\n4\n", 2, None, "at least one item id"),
    ("user-lines", "1 2 3\n4\t5 6\n", 2, "user", "expected an integer, got '4\\\\t5'"),
    ("user-lines", "1 2 3\n4,5,6\n", 2, None, "got 1 field"),
    ("user-lines", "1 2 x\n", 1, "item", "expected an integer, got 'x'"),
    ("user-lines", "1 2  3\n", 1, "item", "empty value"),
    ("user-lines", "u1 2 3\n", 1, "user", "expected an integer"),
    ("user-lines", "1 2 3\n2 0\n", 2, "item", r"in \[1, inf\]"),
    ("user-lines", "0 2 3\n", 1, "user", r"in \[1, inf\]"),
    ("user-lines", "1 2 3\n\n2 4\n", 2, None, "empty line"),
    (
        "user-lines",
        "1 2 3\n2 4\n1 5\n",
        3,
        "user",
        r"user 1 already has a line \(line 1\)",
    ),
    ("pairs", "1 2\n1 2 3\n", 2, None, "2 ids separated by ' '"),
    ("pairs", "1 2\n1\n", 2, None, "got 1 field"),
    ("pairs", "1 2\n1\t2\n", 2, None, "got 1 field"),
    ("pairs", "1 2\n1 2.5\n", 2, "item", "expected an integer"),
    ("pairs", "1 2\n-1 2\n", 2, "user", r"in \[1, inf\]"),
    ("pairs", "1 2\n1 99999999999999999999\n", 2, "item", "expected an integer"),
]


@pytest.mark.parametrize("layout,text,line,field,message", _BAD)
def test_bad_line_is_named(tmp_path, layout, text, line, field, message):
    path = _file(tmp_path, text)
    with pytest.raises(common.FormatError, match=message) as info:
        sasrec.convert(path, str(tmp_path / "out"), layout)
    assert info.value.file == path
    assert info.value.line == line
    assert info.value.field == field


@pytest.mark.parametrize("layout", sasrec.LAYOUTS)
def test_blank_line_message_says_what_a_line_holds(tmp_path, layout):
    # Was "empty line: expected 1 fields (line), got 1" (issue 17, case 8).
    path = _file(tmp_path, "1 2\n\n2 3\n")
    with pytest.raises(common.FormatError) as info:
        sasrec.convert(path, str(tmp_path / "out"), layout)
    message = str(info.value)
    assert f"{path}, line 2: empty line: expected 'user item" in message
    assert "1 fields" not in message


def test_missing_and_empty_files_and_bad_arguments(tmp_path):
    with pytest.raises(common.FormatError, match="file not found") as info:
        sasrec.convert(str(tmp_path / "none.txt"), str(tmp_path / "out"), "pairs")
    assert info.value.file.endswith("none.txt")
    with pytest.raises(common.FormatError, match="empty file"):
        sasrec.convert(_file(tmp_path, ""), str(tmp_path / "out"), "pairs")
    with pytest.raises(ValueError, match="layout"):
        sasrec.convert(_file(tmp_path, PAIRS), str(tmp_path / "out"), "lines")
    with pytest.raises(ValueError, match="event"):
        sasrec.convert(_file(tmp_path, PAIRS), str(tmp_path / "out"), "pairs", "rating")


# --------------------------------------------------------------------------
# Export.
# --------------------------------------------------------------------------


def _dataset(tmp_path, mappings=True):
    """A canonical folder: 4 users (user 2 has only an impression), 3 items."""
    events = pd.DataFrame(
        {
            "user_id": [0, 0, 0, 1, 1, 2, 3, 3, 0],
            "item_id": [2, 0, 1, 1, 2, 0, 2, 2, 0],
            "timestamp": [50, 10, 10, 5, 7, 1, 3, 4, 60],
            "event": [
                "click",
                "buy",
                "click",
                "click",
                "rating",
                "impression",
                "click",
                "click",
                "impression",
            ],
            "value": [1.0, 1.0, 1.0, 1.0, 4.0, 1.0, 1.0, 1.0, 1.0],
        }
    )
    log = schema.EventLog(
        pd.DataFrame({"user_id": np.arange(4)}),
        pd.DataFrame({"item_id": np.arange(3), "category": 0, "brand": 0}),
        events,
        {"name": "tiny", "timestamps": "seconds"},
    )
    folder = str(tmp_path / "dataset")
    schema.write_event_log(log, folder)
    if mappings:
        common.write_mapping(
            folder, "user", np.array(["ann", "bob", "cid", "dee"], object)
        )
        common.write_mapping(folder, "item", np.array([100, 200, 300]))
    return folder


def test_export_user_lines_writes_sequences_and_id_tables(tmp_path):
    folder = _dataset(tmp_path)
    out = str(tmp_path / "export" / "seq.txt")
    counts = sasrec.export(folder, out, "user-lines", ["click", "buy"])
    # User 0: buy(0) and click(1) at t=10 keep the stored order, then click(2) at 50.
    # User 2 has no click or buy: skipped, and user 3 is written as 3.
    assert open(out).read() == "1 1 2 3\n2 2\n3 3 3\n"
    assert counts == {"users_written": 3, "users_skipped": 1, "events_written": 6}
    users = pd.read_csv(out + ".user_ids.tsv", sep="\t")
    assert users.to_dict("list") == {
        "sasrec_id": [1, 2, 3],
        "original": ["ann", "bob", "dee"],
    }
    items = pd.read_csv(out + ".item_ids.tsv", sep="\t")
    assert items.to_dict("list") == {
        "sasrec_id": [1, 2, 3],
        "original": [100, 200, 300],
    }


def test_export_pairs_with_every_type_and_without_mappings(tmp_path):
    folder = _dataset(tmp_path, mappings=False)
    out = str(tmp_path / "pairs.txt")
    counts = sasrec.export(folder, out, "pairs")
    assert open(out).read().splitlines() == [
        "1 1",
        "1 2",
        "1 3",
        "1 1",
        "2 2",
        "2 3",
        "3 1",
        "4 3",
        "4 3",
    ]
    assert counts["users_skipped"] == 0
    assert pd.read_csv(out + ".user_ids.tsv", sep="\t")["original"].tolist() == [
        0,
        1,
        2,
        3,
    ]
    assert pd.read_csv(out + ".item_ids.tsv", sep="\t")["original"].tolist() == [
        0,
        1,
        2,
    ]


def test_export_rejects_unknown_types_and_bad_folders(tmp_path):
    folder = _dataset(tmp_path)
    with pytest.raises(ValueError, match="clack"):
        sasrec.export(folder, str(tmp_path / "x.txt"), "pairs", ["clack"])
    with pytest.raises(schema.SchemaError, match="dataset folder not found"):
        sasrec.export(str(tmp_path / "none"), str(tmp_path / "x.txt"), "pairs")


@pytest.mark.parametrize("layout", sasrec.LAYOUTS)
def test_round_trip_export_then_import_gives_the_same_sequences(tmp_path, layout):
    folder = _dataset(tmp_path)
    out = str(tmp_path / "seq.txt")
    sasrec.export(folder, out, layout, ["click", "buy", "rating"])
    imported = str(tmp_path / "imported")
    log = sasrec.convert(out, imported, layout)
    users = pd.read_csv(out + ".user_ids.tsv", sep="\t", dtype=str).set_index(
        "sasrec_id"
    )
    items = pd.read_csv(out + ".item_ids.tsv", sep="\t", dtype=str).set_index(
        "sasrec_id"
    )
    got = {
        users.loc[str(u), "original"]: [items.loc[str(i), "original"] for i in seq]
        for u, seq in _sequences(log, imported).items()
    }
    assert got == {
        "ann": ["100", "200", "300"],
        "bob": ["200", "300"],
        "dee": ["300", "300"],
    }


# --------------------------------------------------------------------------
# Fuzz.
# --------------------------------------------------------------------------

_GARBAGE = [
    "",
    "x",
    "0",
    "-3",
    "2.5",
    "1e3",
    "nan",
    "\t",
    "5 ",
    " ",
    "99999999999999999999",
    "123456",
    "\u0663",
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    data=st.data(),
    layout=st.sampled_from(sasrec.LAYOUTS),
    block_bytes=st.sampled_from([9, 1 << 20]),
)
def test_fuzz_one_corrupted_field_converts_or_names_its_line(
    tmp_path_factory, data, layout, block_bytes
):
    lines = (USER_LINES if layout == "user-lines" else PAIRS).splitlines()
    row = data.draw(st.integers(0, len(lines) - 1))
    fields = lines[row].split(" ")
    column = data.draw(st.integers(0, len(fields) - 1))
    fields[column] = data.draw(st.sampled_from(_GARBAGE))
    lines[row] = " ".join(fields)
    tmp = tmp_path_factory.mktemp("fuzz")
    path = _file(tmp, "\n".join(lines) + "\n")
    try:
        log = sasrec.convert(path, str(tmp / "out"), layout, block_bytes=block_bytes)
    except common.FormatError as error:
        assert error.line == row + 1, (lines[row], str(error))
        assert error.file == path
    else:
        assert len(log.events) >= len(lines)


# --------------------------------------------------------------------------
# Real data.
# --------------------------------------------------------------------------


@pytest.mark.real_data
@pytest.mark.parametrize("layout", sasrec.LAYOUTS)
def test_real_ml1m_round_trip(ml1m_folder, tmp_path, layout):
    out = str(tmp_path / "ml1m.txt")
    counts = sasrec.export(ml1m_folder, out, layout)
    assert counts == {
        "users_written": 2999,
        "users_skipped": 0,
        "events_written": 487_650,
    }
    log = sasrec.convert(out, str(tmp_path / "back"), layout)
    assert (log.num_users, log.num_items, len(log.events)) == (2999, 3615, 487_650)
    assert log.meta["conversion"]["counts"]["repeated_items_kept"] == 0
    # Sequences in original ids: ml1m's events by user in time order (stable)...
    source = schema.read_event_log(ml1m_folder)
    events = source.events
    order = np.lexsort((np.arange(len(events)), events["timestamp"], events["user_id"]))
    expected = pd.DataFrame(
        {
            "user": common.to_original(
                ml1m_folder, "user", events["user_id"].to_numpy()[order]
            ),
            "item": common.to_original(
                ml1m_folder, "item", events["item_id"].to_numpy()[order]
            ),
        }
    )
    # ... against the import, mapped back through both id tables.
    back = log.events.sort_values(["user_id", "timestamp"], kind="stable")
    user_table = pd.read_csv(out + ".user_ids.tsv", sep="\t").set_index("sasrec_id")[
        "original"
    ]
    item_table = pd.read_csv(out + ".item_ids.tsv", sep="\t").set_index("sasrec_id")[
        "original"
    ]
    got = pd.DataFrame(
        {
            "user": user_table.loc[
                common.to_original(str(tmp_path / "back"), "user", back["user_id"])
            ].to_numpy(),
            "item": item_table.loc[
                common.to_original(str(tmp_path / "back"), "item", back["item_id"])
            ].to_numpy(),
        }
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------


def test_cli_imports_exports_and_reports_bad_input(tmp_path):
    path = _file(tmp_path, PAIRS)
    out = tmp_path / "cli"
    result = run_module(
        "sasrec", "--input", path, "--output", str(out), "--layout=pairs", "--event=fav"
    )
    assert result.returncode == 0, result.stderr
    assert set(schema.read_event_log(str(out)).events["event"].astype(str)) == {"fav"}
    exported = tmp_path / "again.txt"
    result = run_module(
        "sasrec",
        "--export",
        "--input",
        str(out),
        "--output",
        str(exported),
        "--layout=user-lines",
        "--events=fav",
    )
    assert result.returncode == 0, result.stderr
    assert open(exported).read() == "1 2 4\n2 1 4 1 3\n3 2\n"
    bad = _file(tmp_path, "1 2\n1 x\n", "bad.txt")
    result = run_module(
        "sasrec", "--input", bad, "--output", str(tmp_path / "bad"), "--layout=pairs"
    )
    assert_one_line_error(result, "line 2, field 'item'")


# --------------------------------------------------------------------------
# Layout read from the file (issue 17, case 9).
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, layout",
    [
        (USER_LINES, "user-lines"),  # a line of other than two ids
        (PAIRS, "pairs"),  # user 2 starts two lines
        ("1 5\n2 6\n3 5\n", "pairs"),  # reads the same either way
    ],
)
@pytest.mark.parametrize("block_bytes", [4, common.BLOCK_BYTES])
def test_the_layout_is_read_from_the_file(tmp_path, text, layout, block_bytes):
    path = _file(tmp_path, text)
    assert sasrec.detect_layout(path, block_bytes) == layout
    log = sasrec.convert(path, str(tmp_path / "auto"), block_bytes=block_bytes)
    assert log.meta["layout"] == layout
    given = sasrec.convert(path, str(tmp_path / "given"), layout)
    assert_same_parquet(
        str(tmp_path / "auto"), str(tmp_path / "given"), *DATASET_TABLES
    )
    assert _sequences(log, str(tmp_path / "auto")) == _sequences(
        given, str(tmp_path / "given")
    )


def test_the_layout_deciding_line_may_come_late(tmp_path):
    # Two-id lines with distinct users first; a later line decides.
    head = "".join(f"{u} {u + 100}\n" for u in range(1, 200))
    assert sasrec.detect_layout(_file(tmp_path, head + "5 6 7\n"), 64) == "user-lines"
    assert sasrec.detect_layout(_file(tmp_path, head + "5 6\n"), 64) == "pairs"
    with pytest.raises(common.FormatError, match="empty line") as info:
        sasrec.detect_layout(_file(tmp_path, "1 2\n\n"))
    assert info.value.line == 2


def test_cli_import_without_layout(tmp_path):
    # The README's import line had no --layout, which the command required.
    path = _file(tmp_path, USER_LINES)
    result = run_module("sasrec", "--input", path, "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "[sasrec] layout: user-lines" in result.stdout
    assert schema.read_event_log(str(tmp_path / "out")).meta["layout"] == "user-lines"
    result = run_module(
        "sasrec", "--export", "--input", str(tmp_path / "out"), "--output", "x.txt"
    )
    assert result.returncode == 1 and "--export needs --layout" in result.stderr
