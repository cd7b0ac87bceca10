"""Tests of the converters' shared reading, parsing and id machinery."""

import gzip
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from data_prep import common
from recsys_tf.data import schema


def _blocks(tmp_path, text, block_bytes=1 << 20, name="f.txt", **kwargs):
    path = tmp_path / name
    data = text.encode(kwargs.pop("file_encoding", "utf-8"))
    if name.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return str(path), list(common.iter_blocks(str(path), block_bytes, **kwargs))


@pytest.mark.parametrize("name", ["f.txt", "f.txt.gz"])
@pytest.mark.parametrize("block_bytes", [1, 7, 1 << 20])
def test_blocks_hold_whole_lines_with_their_numbers(tmp_path, name, block_bytes):
    lines = [f"{i},{i * 10}" for i in range(1, 40)]
    _, blocks = _blocks(tmp_path, "\n".join(lines), block_bytes, name)  # no final \n
    seen = []
    for block in blocks:
        got = block.data.decode().splitlines()
        assert block.num_lines == len(got)
        for offset, line in enumerate(got):
            seen.append((block.first_line + offset, line))
    assert seen == [(i + 1, line) for i, line in enumerate(lines)]


def test_blocks_skip_header_but_count_it(tmp_path):
    _, blocks = _blocks(tmp_path, "a,b\n1,2\n3,4\n", skip_lines=1)
    assert blocks[0].first_line == 2 and blocks[0].num_lines == 2


def test_blocks_transcode_latin1_and_crlf(tmp_path):
    _, blocks = _blocks(
        tmp_path, "1::Amélie\r\n", encoding="latin-1", file_encoding="latin-1"
    )
    assert blocks[0].data.decode() == "1::Amélie\n"


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"1,a\n2,b\n3,\xff\n")
    with pytest.raises(common.FormatError, match="line 3: not valid UTF-8") as info:
        list(common.iter_blocks(str(path)))
    assert info.value.line == 3


def test_missing_file():
    with pytest.raises(common.FormatError, match="file not found"):
        list(common.iter_blocks("/nonexistent/ratings.dat"))


def test_find_file_prefers_plain_then_gz(tmp_path):
    (tmp_path / "ratings.dat.gz").write_bytes(b"")
    assert common.find_file(str(tmp_path), "ratings.dat").endswith("ratings.dat.gz")
    with pytest.raises(common.FormatError, match="looked for x.csv"):
        common.find_file(str(tmp_path), "x.csv")


@pytest.mark.parametrize("sep", [",", "::", "\t"])
def test_split_fields_any_separator(tmp_path, sep):
    path, blocks = _blocks(tmp_path, f"1{sep}a b{sep}3\n4{sep}{sep}6\n")
    fields = common.split_fields(blocks[0], path, ("x", "y", "z"), sep)
    assert fields["x"].to_pylist() == ["1", "4"]
    assert fields["y"].to_pylist() == ["a b", ""]
    assert fields["z"].to_pylist() == ["3", "6"]


@pytest.mark.parametrize(
    "text, line, got",
    [
        ("1,2,3\n4,5\n", 2, "got 2"),  # too few
        ("1,2,3\n4,5,6\n7,8,9,10\n", 3, "got 4"),  # too many
        ("1;2;3\n", 1, "got 1"),  # wrong separator
        ("1,2,3\n\n4,5,6\n", 2, "got 1"),  # empty line
    ],
)
def test_split_fields_wrong_field_count_names_line(tmp_path, text, line, got):
    path, blocks = _blocks(tmp_path, text)
    with pytest.raises(common.FormatError, match=f"expected 3 fields.*{got}") as info:
        common.split_fields(blocks[0], path, ("a", "b", "c"), ",")
    assert info.value.line == line and info.value.file == path


def test_split_fields_line_numbers_of_a_later_block(tmp_path):
    text = "".join(f"{i},{i}\n" for i in range(100)) + "oops\n"
    path, blocks = _blocks(tmp_path, text, block_bytes=64)
    with pytest.raises(common.FormatError) as info:
        for block in blocks:
            common.split_fields(block, path, ("a", "b"), ",")
    assert info.value.line == 101


def test_split_fields_rejects_quotes_spanning_lines(tmp_path):
    # Quotes are plain characters: a quoted comma is two fields, not one.
    path, blocks = _blocks(tmp_path, '1,"a,b"\n')
    with pytest.raises(common.FormatError, match="got 3"):
        common.split_fields(blocks[0], path, ("a", "b"), ",")


def _strings(*values):
    return pa.array(list(values), pa.string())


def test_parse_int():
    out = common.parse_int(_strings("1", " 22 ", "-3"), "f", "id", 10)
    np.testing.assert_array_equal(out, [1, 22, -3])
    assert out.dtype == np.int64


@pytest.mark.parametrize(
    "value, got",
    [("1.5", "'1.5'"), ("", "an empty value"), ("abc", "'abc'"), ("9" * 30, "'9999")],
)
def test_parse_int_errors_name_line_field_and_value(value, got):
    with pytest.raises(
        common.FormatError, match=f"field 'id': expected an integer, got {got}"
    ) as info:
        common.parse_int(_strings("1", "2", value), "f.csv", "id", 10)
    assert (info.value.file, info.value.line, info.value.field) == ("f.csv", 12, "id")


def test_parse_int_range_and_line_numbers():
    with pytest.raises(common.FormatError, match=r"in \[1, 5\], got 7") as info:
        common.parse_int(
            _strings("1", "7"),
            "f",
            "r",
            1,
            line_numbers=np.array([4, 9]),
            minimum=1,
            maximum=5,
        )
    assert info.value.line == 9


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "x", ""])
def test_parse_float_rejects_nan_inf_and_text(value):
    with pytest.raises(common.FormatError, match="expected a finite number") as info:
        common.parse_float(_strings("1.5", value), "f", "rating", 1)
    assert info.value.line == 2


def test_parse_float_values_and_range():
    np.testing.assert_allclose(
        common.parse_float(_strings("1.5", "2", "3e0"), "f", "r", 1), [1.5, 2, 3]
    )
    with pytest.raises(common.FormatError, match=r"in \[1, 5\], got '0.5'"):
        common.parse_float(_strings("0.5"), "f", "r", 1, minimum=1, maximum=5)


def test_parse_choice():
    codes = common.parse_choice(
        _strings("pv", "buy", " pv"), "f", "b", 1, {"pv": 4, "buy": 6}
    )
    np.testing.assert_array_equal(codes, [4, 6, 4])
    with pytest.raises(
        common.FormatError, match="expected one of 'pv', 'buy', got 'clk'"
    ) as info:
        common.parse_choice(_strings("pv", "clk"), "f", "b", 5, {"pv": 4, "buy": 6})
    assert info.value.line == 6


def test_parse_string_rejects_empty():
    assert list(common.parse_string(_strings(" a ", "b"), "f", "s", 1)) == ["a", "b"]
    with pytest.raises(common.FormatError, match="non-empty"):
        common.parse_string(_strings("a", " "), "f", "s", 1)


def test_check_timestamps_catches_milliseconds():
    with pytest.raises(common.FormatError, match="seconds since the epoch") as info:
        common.check_timestamps(np.array([978300760, 978300760000]), "f", "ts", 3)
    assert info.value.line == 4


def test_columns_concatenate_in_order():
    columns = common.Columns()
    columns.add(a=np.array([1, 2]), b=np.array([0.5, 1.5]))
    columns.add(a=np.array([3]), b=np.array([2.5]))
    assert len(columns) == 3
    np.testing.assert_array_equal(columns.pop("a"), [1, 2, 3])


def test_remap_is_sorted_and_invertible(tmp_path):
    raw = np.array([50, 7, 50, 1000, 7])
    codes, originals = common.remap(raw)
    np.testing.assert_array_equal(originals, [7, 50, 1000])
    np.testing.assert_array_equal(originals[codes], raw)
    common.write_mapping(str(tmp_path), "item", originals)
    np.testing.assert_array_equal(common.to_original(str(tmp_path), "item", codes), raw)
    with pytest.raises(ValueError, match="unknown item code 3"):
        common.to_original(str(tmp_path), "item", [3])
    with pytest.raises(FileNotFoundError, match="no saved user id mapping"):
        common.to_original(str(tmp_path), "user", [0])


def test_remap_strings():
    codes, originals = common.remap(np.array(["b", "a", "b"], dtype=object))
    assert list(originals) == ["a", "b"] and list(codes) == [1, 0, 1]


def test_count_out_of_order_per_user_in_file_order():
    users = np.array([1, 2, 1, 1, 2, 3])
    stamps = np.array([10, 5, 9, 12, 4, 1])
    # user 1: 10, 9 (back), 12; user 2: 5, 4 (back).
    assert common.count_out_of_order(users, stamps) == 2


def test_duplicate_mask():
    a = np.array([1, 1, 2, 1])
    b = np.array([5, 5, 5, 6])
    np.testing.assert_array_equal(
        common.duplicate_mask(a, b), [False, True, False, False]
    )
    np.testing.assert_array_equal(
        common.duplicate_mask(a, b, keep="last"), [True, False, False, False]
    )


def test_write_dataset_requires_timestamp_kind(tmp_path):
    users = pd.DataFrame({"user_id": [0]})
    items = pd.DataFrame({"item_id": [0], "category": [0], "brand": [0]})
    events = pd.DataFrame(
        {
            "user_id": [0],
            "item_id": [0],
            "timestamp": [0],
            "event": common.event_column([common.EVENT_CODES["click"]]),
            "value": [1.0],
        }
    )
    progress = common.Progress("t")
    with pytest.raises(ValueError, match="timestamps"):
        common.write_dataset(
            str(tmp_path),
            users,
            items,
            events,
            {"name": "t", "source": "s", "timestamps": "days"},
            {},
            common.Report(),
            progress,
        )
    report = common.Report()
    report.count("lines_read", 1)
    log = common.write_dataset(
        str(tmp_path),
        users,
        items,
        events,
        {"name": "t", "source": "s", "timestamps": "order"},
        {"user": np.array([42])},
        report,
        progress,
    )
    assert log.meta["conversion"]["counts"] == {"lines_read": 1, "events_written": 1}
    assert common.to_original(str(tmp_path), "user", [0])[0] == 42


def test_require_folder_and_optional_file(tmp_path):
    assert common.require_folder(str(tmp_path)) == str(tmp_path)
    with pytest.raises(common.FormatError, match="input folder not found"):
        common.require_folder(str(tmp_path / "nope"))
    (tmp_path / "a.csv.gz").write_bytes(b"")
    (tmp_path / "b.csv").write_bytes(b"")
    assert common.optional_file(str(tmp_path), "x.csv") is None
    assert common.optional_file(str(tmp_path), "a.csv").endswith("a.csv.gz")
    assert common.optional_file(str(tmp_path), "x.csv", "b.csv").endswith("b.csv")


def test_first_line_reads_plain_and_gzip(tmp_path):
    path, _ = _blocks(tmp_path, "a,b\r\n1,2\n", name="f.csv.gz")
    assert common.first_line(path) == b"a,b\r\n"
    (tmp_path / "empty.csv").write_bytes(b"")
    assert common.first_line(str(tmp_path / "empty.csv")) == b""
    with pytest.raises(common.FormatError, match="file not found"):
        common.first_line(str(tmp_path / "none.csv"))
    (tmp_path / "bad.csv.gz").write_bytes(b"not gzip\n")
    with pytest.raises(common.FormatError, match="not a valid gzip file") as info:
        common.first_line(str(tmp_path / "bad.csv.gz"))
    assert info.value.file.endswith("bad.csv.gz") and info.value.line == 1


@pytest.mark.parametrize("block_bytes", [7, 1 << 20])
def test_truncated_or_non_gzip_files_name_the_file_and_line(tmp_path, block_bytes):
    # Was a raw EOFError / BadGzipFile without the file's name (issue 17, case 5).
    text = "".join(f"{i},{i}\n" for i in range(2000))
    whole = gzip.compress(text.encode())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(common.FormatError, match="truncated gzip file") as info:
        list(common.iter_blocks(str(cut), block_bytes, skip_lines=1))
    assert info.value.file == str(cut)
    assert 1 < info.value.line <= 2001
    assert f"read up to line {info.value.line}" in str(info.value)
    plain = tmp_path / "plain.csv.gz"
    plain.write_text(text)
    with pytest.raises(common.FormatError, match="not a valid gzip file") as info:
        list(common.iter_blocks(str(plain), block_bytes))
    assert info.value.file == str(plain) and info.value.line == 1
    corrupt = bytearray(whole)
    corrupt[len(corrupt) // 2] ^= 0xFF
    bad = tmp_path / "corrupt.csv.gz"
    bad.write_bytes(bytes(corrupt))
    with pytest.raises(common.FormatError, match="gzip") as info:
        list(common.iter_blocks(str(bad), block_bytes))
    assert info.value.file == str(bad)


def test_multi_character_separator_messages_show_the_file_text(tmp_path):
    # '::' is parsed as an internal \x1f; the message shows what the file holds.
    path, blocks = _blocks(tmp_path, "1::2::3\n4::5\n")
    with pytest.raises(common.FormatError) as info:
        common.split_fields(blocks[0], path, ("a", "b", "c"), "::")
    assert "'4::5'" in str(info.value) and "\\x1f" not in str(info.value)
    assert info.value.line == 2


def test_block_lines_and_split_lines(tmp_path):
    path, blocks = _blocks(tmp_path, "a\n  b c \nd\n", skip_lines=1)
    assert common.block_lines(blocks[0]).tolist() == [2, 3]
    assert common.split_lines(blocks[0], path).to_pylist() == ["b c", "d"]
    path, blocks = _blocks(tmp_path, "a\n\nb\n")
    with pytest.raises(common.FormatError, match="empty line") as info:
        common.split_lines(blocks[0], path)
    assert info.value.line == 2
    path, blocks = _blocks(tmp_path, "a\n \t\nb\n")
    with pytest.raises(common.FormatError, match="empty line: expected ids") as info:
        common.split_lines(blocks[0], path, "ids")
    assert info.value.line == 2
    # The separator split_fields uses internally is plain text to split_lines.
    path, blocks = _blocks(tmp_path, "a\x1fb\nc\n")
    assert common.split_lines(blocks[0], path).to_pylist() == ["a\x1fb", "c"]


def test_headed_csv_with_quotes(tmp_path):
    text = '\ufeffid, tags ,x\n1,"3,4",a\n2,,b\n'
    path, _ = _blocks(tmp_path, text, name="f.csv")
    assert common.read_csv_header(path) == ("id", "tags", "x")
    rows = list(common.iter_csv(path, ("tags", "id"), quoted=True))
    assert [block.first_line for block, _ in rows] == [2]
    assert rows[0][1]["tags"].to_pylist() == ["3,4", ""]
    assert rows[0][1]["id"].to_pylist() == ["1", "2"]
    with pytest.raises(common.FormatError, match="missing column 'y'") as info:
        list(common.iter_csv(path, ("id", "y")))
    assert (info.value.line, info.value.field) == (1, "y")
    path, _ = _blocks(tmp_path, "a,a\n1,2\n", name="twice.csv")
    with pytest.raises(common.FormatError, match="'a' twice in the header"):
        common.read_csv_header(path)
    path, _ = _blocks(tmp_path, "\n", name="empty.csv")
    with pytest.raises(common.FormatError, match="expected a header line"):
        common.read_csv_header(path)


@pytest.mark.parametrize(
    "line, message",
    [('4,"5,6', "unbalanced double quote"), ("4,5,6", "expected 2 fields")],
)
def test_split_quoted_names_the_bad_line(tmp_path, line, message):
    path, blocks = _blocks(tmp_path, f'1,"2,3"\n{line}\n7,8\n')
    with pytest.raises(common.FormatError, match=message) as info:
        common.split_quoted(blocks[0], path, ("a", "b"))
    assert info.value.line == 2


def test_require_non_empty():
    out = common.require_non_empty(_strings(" a ", "b"), "f", "s", 1)
    assert out.to_pylist() == ["a", "b"]
    with pytest.raises(
        common.FormatError, match="line 6, field 's': expected a non-empty token, got"
    ):
        common.require_non_empty(_strings("a", "  "), "f", "s", 5, "token")


def test_read_mapping(tmp_path):
    folder = str(tmp_path)
    assert common.read_mapping(folder, "item", 3) is None
    common.write_mapping(folder, "item", np.array(["x", "y", "z"], object))
    assert common.read_mapping(folder, "item", 3).tolist() == ["x", "y", "z"]
    with pytest.raises(common.FormatError, match="one row per item code 0..3, got 3"):
        common.read_mapping(folder, "item", 4)


def test_time_order_and_duplicate_rows():
    users = np.array([3, 1, 3, 1, 3], np.int32)
    stamps = np.array([5, 5, 4, 5, 5], np.int64)
    items = np.array([7, 8, 9, 8, 7])
    order = common.time_order(users, stamps)
    assert order.tolist() == [2, 1, 3, 0, 4]
    assert common.tied_positions(order, users, stamps).tolist() == [1, 2, 3, 4]
    assert common.duplicate_rows(order, users, stamps, items).tolist() == [
        False,
        False,
        True,
        False,
        True,
    ]
    assert common.compact(np.array([1, 2])).dtype == np.int32
    assert common.compact(np.array([1, 2**40])).dtype == np.int64
    # Wide ranges fall back to a lexicographic sort with the same result.
    wide = common.time_order(np.array([2**40, 0, 2**40]), np.array([2**40, 2**40, 0]))
    assert wide.tolist() == [2, 1, 0]


def test_keep_latest_breaks_ties_by_file_order():
    users = np.array([1, 1, 2, 1, 1])
    items = np.array([5, 5, 5, 5, 6])
    stamps = np.array([20, 10, 10, 20, 0])
    keep, dropped = common.keep_latest(stamps, users, items)
    # (1, 5): rows 0 and 3 share the latest time, the later in the file wins.
    assert keep.tolist() == [2, 3, 4] and dropped == 2


def test_positions_in_file_order():
    users = np.array([2, 1, 2, 2, 1, 3])
    positions = common.positions_in_file_order(users)
    assert positions.tolist() == [0, 0, 1, 2, 1, 0]


def test_feature_codes():
    codes, vocab = common.feature_codes(
        np.array([30, 10, 0, 30]), np.array([False, False, True, False])
    )
    assert codes.tolist() == [2, 1, 0, 2] and vocab == [10, 30]
    codes, vocab = common.feature_codes(np.array(["a"]), np.array([True]))
    assert codes.tolist() == [0] and vocab == []


def _upper(values, path, field, lines):
    text = np.array([v.upper() for v in values.to_pylist()], object)
    return text, text == ""


def test_read_features_keeps_and_aligns_the_wanted_ids(tmp_path):
    path, _ = _blocks(tmp_path, "id,name\n7,a\n3,b\n9,\n", name="f.csv")
    table = common.read_features(path, "id", {"name": _upper}, np.array([3, 9]))
    assert table.rows_read == 3 and table.ids.tolist() == [3, 9]
    aligned = table.align(np.array([9, 3]), "thing")
    assert aligned.lines.tolist() == [4, 3]
    values, missing = aligned.columns["name"]
    assert values.tolist() == ["", "B"] and missing.tolist() == [True, False]
    with pytest.raises(common.FormatError, match="lists no row for 1 thing"):
        table.align(np.array([3, 5]), "thing")
    path, _ = _blocks(tmp_path, "id,name\n3,a\n3,b\n", name="twice.csv")
    with pytest.raises(common.FormatError, match="id 3 listed twice") as info:
        common.read_features(path, "id", {"name": _upper}, np.array([3]))
    assert info.value.line == 3


def test_side_rows():
    table = pd.DataFrame({"original": [5, 7], "year": [1, 2]})
    rows = common.side_rows(table, np.array([7, 5]), "f", "MovieID", "movie")
    assert rows["year"].tolist() == [2, 1]
    with pytest.raises(
        common.FormatError, match="the ratings name movie 8, which this file does not"
    ) as info:
        common.side_rows(table, np.array([5, 8]), "f", "MovieID", "movie")
    assert info.value.field == "MovieID"


def test_select_events_groups_users_in_time_order():
    users = pd.DataFrame({"user_id": [0, 1]})
    items = pd.DataFrame({"item_id": [0, 1], "category": 0, "brand": 0})
    events = pd.DataFrame(
        {
            "user_id": [1, 0, 0, 1],
            "item_id": [0, 1, 0, 1],
            "timestamp": [5, 9, 9, 1],
            "event": ["click", "buy", "click", "impression"],
            "value": 1.0,
        }
    )
    log = schema.validate(schema.EventLog(users, items, events, {}))
    chosen, types = common.select_events(log, None)
    assert types == ["impression", "click", "buy"]
    assert chosen["user_id"].tolist() == [0, 0, 1, 1]
    assert chosen["timestamp"].tolist() == [9, 9, 1, 5]
    chosen, types = common.select_events(log, ["click"])
    assert types == ["click"] and chosen["item_id"].tolist() == [0, 0]
    with pytest.raises(ValueError, match=r"Unknown event type\(s\) \['clack'\]"):
        common.select_events(log, ["clack"])


def test_command_flags_and_check_choice():
    from absl import app, flags

    assert common.command_flags(["prog"]) is flags.FLAGS
    with pytest.raises(app.UsageError, match=r"Unexpected arguments: \['x'\]"):
        common.command_flags(["prog", "x"])
    common.check_choice("layout", "pairs", ("pairs", "user-lines"))
    with pytest.raises(
        ValueError,
        match=r"`matrix` must be one of \('small', 'big'\)\. Received: matrix='x'",
    ):
        common.check_choice("matrix", "x", {"small": 1, "big": 2})


def test_split_quoted_open_quote_on_the_last_line(tmp_path):
    path, blocks = _blocks(tmp_path, '1,"2,3"\n4,"5\n')
    with pytest.raises(common.FormatError, match="unbalanced double quote") as info:
        common.split_quoted(blocks[0], path, ("a", "b"))
    assert info.value.line == 2


@pytest.mark.parametrize("name", ["big.txt", "big.txt.gz"])
def test_large_files_print_a_progress_line_per_block(tmp_path, capsys, name):
    text = "".join(f"{i},{i}\n" for i in range(1000))
    path, _ = _blocks(tmp_path, text, name=name)
    capsys.readouterr()
    blocks = list(common.iter_blocks(path, 2000, progress_bytes=1))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(blocks) > 1
    assert lines[-1].startswith(f"[{name}] read: 1,000 lines, 100% of")
    list(common.iter_blocks(path, 2000))  # small file: silent
    assert capsys.readouterr().out == ""


def test_sample_mask_is_seeded_sized_and_stateless():
    ids = np.arange(200_000)
    mask = common.sample_mask(ids, 0.25, seed=3)
    assert abs(mask.mean() - 0.25) < 0.005
    # The same ids get the same answer in any order or block split.
    shuffled = np.random.default_rng(0).permutation(ids)
    np.testing.assert_array_equal(common.sample_mask(shuffled, 0.25, 3), mask[shuffled])
    other = common.sample_mask(ids, 0.25, seed=4)
    assert abs((mask & other).mean() - 0.25**2) < 0.005  # seeds are independent
    assert common.sample_mask(ids, 1.0, 0).all()
    assert (common.sample_mask(ids, 0.1, 3) <= mask).all()  # nested in the fraction
    with pytest.raises(ValueError, match="fraction"):
        common.sample_mask(ids, 0.0, 0)


# --------------------------------------------------------------------------
# Writing the output folder (issue 17, case 2).
# --------------------------------------------------------------------------


def _write(output, mappings=None, users=1, **kwargs):
    events = pd.DataFrame(
        {
            "user_id": np.arange(users),
            "item_id": np.zeros(users, np.int64),
            "timestamp": np.zeros(users, np.int64),
            "event": common.event_column(np.full(users, common.EVENT_CODES["click"])),
            "value": np.ones(users),
        }
    )
    return common.write_dataset(
        str(output),
        pd.DataFrame({"user_id": np.arange(users)}),
        pd.DataFrame({"item_id": [0], "category": [0], "brand": [0]}),
        events,
        {"name": "t", "source": "s", "timestamps": "order"},
        mappings if mappings is not None else {"user": np.arange(users) + 100},
        common.Report(),
        common.Progress("t"),
        **kwargs,
    )


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _siblings(folder):
    return sorted(p.name for p in folder.parent.iterdir())


def test_a_new_dataset_replaces_the_whole_folder(tmp_path):
    out = tmp_path / "out"
    _write(out, {"user": np.array([7]), "category": np.array([1, 2])})
    assert (out / "category_ids.parquet").exists()
    log = _write(out, users=2)
    # Files of the previous dataset do not survive: to_original cannot return
    # the old dataset's ids.
    assert not (out / "category_ids.parquet").exists()
    assert log.path == str(out) and log.num_users == 2
    assert common.to_original(str(out), "user", [1])[0] == 101
    assert _siblings(out) == ["out"]


@pytest.mark.parametrize("fault", [KeyboardInterrupt, RuntimeError])
def test_a_write_killed_midway_leaves_the_old_folder_or_none(
    tmp_path, monkeypatch, fault
):
    out = tmp_path / "out"
    _write(out)
    before = _snapshot(out)

    def killed(output, kind, originals):
        raise fault("killed")  # after the three tables, before the id maps

    monkeypatch.setattr(common, "write_mapping", killed)
    with pytest.raises(fault):
        _write(out, users=2)
    assert _snapshot(out) == before
    with pytest.raises(fault):
        _write(tmp_path / "new")
    assert _siblings(out) == ["out"]


def test_a_full_disk_is_one_line_and_leaves_no_half_folder(
    tmp_path, monkeypatch, capsys
):
    import errno

    out = tmp_path / "out"
    _write(out)
    before = _snapshot(out)

    def full(output, kind, originals):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(common, "write_mapping", full)
    with pytest.raises(SystemExit) as info:
        common.run(_write, out, users=2)
    assert info.value.code == 1
    message = capsys.readouterr().err.strip()
    assert message.startswith(f"error: {out}: no space left on the device")
    assert len(message.splitlines()) == 1
    assert _snapshot(out) == before and _siblings(out) == ["out"]


def test_an_output_holding_other_files_needs_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(common.OutputError, match="notes.txt.*--overwrite") as info:
        _write(out)
    assert info.value.path == str(out)
    assert _snapshot(out) == {"notes.txt": b"mine"}
    _write(out, overwrite=True)
    assert "notes.txt" not in _snapshot(out)
    (tmp_path / "file").write_text("x")
    with pytest.raises(common.OutputError, match="not a dataset folder"):
        _write(tmp_path / "file")
    _write(tmp_path / "file", overwrite=True)
    assert (tmp_path / "file" / schema.EVENTS_FILE).exists()
    # An empty folder or a dataset folder needs no --overwrite.
    (tmp_path / "empty").mkdir()
    _write(tmp_path / "empty")
    _write(tmp_path / "empty")


def _converters():
    import importlib
    import pkgutil

    import data_prep

    for info in pkgutil.iter_modules(data_prep.__path__):
        module = importlib.import_module(f"data_prep.{info.name}")
        if hasattr(module, "convert"):
            yield module


@pytest.mark.parametrize("module", list(_converters()), ids=lambda m: m.__name__)
def test_every_converter_checks_its_output_before_reading_input(tmp_path, module):
    import inspect

    (tmp_path / "a_file").write_text("x")
    unwritable = tmp_path / "a_file" / "out"
    required = {
        name: "x"
        for name, p in inspect.signature(module.convert).parameters.items()
        if p.default is inspect.Parameter.empty and name not in ("input", "output")
    }
    if module.__name__ == "data_prep.table":  # distinct columns, an event type
        required.update(item="y", event_type="click")
    # The input does not exist either: the output's error comes first.
    missing = str(tmp_path / "no_input")
    with pytest.raises(common.OutputError, match="cannot write the output") as info:
        module.convert(missing, str(unwritable), **required)
    assert info.value.path == str(tmp_path / "a_file")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(common.OutputError, match="--overwrite"):
        module.convert(missing, str(tmp_path / "taken"), **required)
    with pytest.raises(common.FormatError):  # with --overwrite: on to the input
        module.convert(missing, str(tmp_path / "taken"), overwrite=True, **required)
    assert (tmp_path / "taken" / "notes.txt").exists()


def test_the_simulator_writes_through_the_same_folder_machinery(tmp_path, monkeypatch):
    from data_prep import synthetic

    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(common.OutputError, match="--overwrite"):
        synthetic.generate("tiny", 0, str(tmp_path / "taken"))
    out = tmp_path / "out"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # after the tables, before truth.npz

    monkeypatch.setattr(synthetic.np, "savez_compressed", killed)
    with pytest.raises(KeyboardInterrupt):
        synthetic.generate("tiny", 0, str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    monkeypatch.undo()
    log = synthetic.generate("tiny", 0, str(tmp_path / "taken"), overwrite=True)
    assert log.path == str(tmp_path / "taken")
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == sorted(
        ["events.parquet", "items.parquet", "meta.json", "truth.npz", "users.parquet"]
    )


@pytest.mark.parametrize(
    "module", [m.__name__.split(".")[1] for m in _converters()] + ["synthetic"]
)
def test_every_command_line_has_overwrite(tmp_path, module):
    from tests.data_prep.shared import assert_one_line_error, run_module

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    missing = str(tmp_path / "no_input")
    if module == "synthetic":
        args = ["--size=tiny", "--output", str(taken)]
    else:
        args = ["--input", missing, "--output", str(taken)]
        args += ["--dataset=x"] if module == "recbole" else []
        args += (
            ["--user=u", "--item=i", "--event_type=click"] if module == "table" else []
        )
    if module == "synthetic":
        assert_one_line_error(run_module(module, *args), str(taken), "--overwrite")
    result = run_module(module, *args, "--overwrite")
    if module == "synthetic":
        assert result.returncode == 0, result.stderr
        assert not (taken / "notes.txt").exists()
    else:  # past the output check (refused without --overwrite), on to the input
        assert_one_line_error(result, missing)


# --------------------------------------------------------------------------
# Time windows (issue 17, case 4).
# --------------------------------------------------------------------------

_WINDOW = common.TimeWindow("2022-04-01", "2022-05-31", "a log of 2022-04..05")


def test_time_window_bounds_are_whole_days():
    start, end = _WINDOW.seconds()
    assert start == 1648771200  # 2022-04-01 00:00 UTC
    assert end == 1654041600  # 2022-06-01 00:00 UTC: the last day is included


@pytest.mark.parametrize(
    "unit, scale, looks",
    [
        ("milliseconds", 1, "look like seconds"),  # ms expected, seconds given
        ("seconds", 1000, "look like milliseconds"),
        ("seconds", 1 / 86400, "look like days"),
        ("seconds", 1e-4, "fit no time unit"),
    ],
)
def test_window_check_names_the_unit_values_look_like(unit, scale, looks):
    seconds = np.array([1650000000, 1651000000, 1652000000])
    raw = (seconds * scale).astype(np.int64)
    check = common.WindowCheck(_WINDOW, "log.csv", "time", unit)
    check.add(raw[:1], 5)  # consecutive lines from line 5
    check.add(raw[1:], np.array([9, 12]))  # or their line numbers
    with pytest.raises(common.FormatError) as info:
        check.finish()
    assert (info.value.file, info.value.line, info.value.field) == (
        "log.csv",
        5,
        "time",
    )
    assert f"expected {unit} since 1970 in 2022-04-01..2022-05-31" in str(info.value)
    assert "(a log of 2022-04..05, with a margin)" in str(info.value)
    assert "3 of 3 values are outside" in str(info.value)
    assert looks in str(info.value)


def test_window_check_counts_a_minority_outside():
    check = common.WindowCheck(_WINDOW, "log.csv", "time", "seconds", "a date")
    check.add(np.array([1650000000, 5, 1651000000, 1652000000]), 1)
    assert check.finish() == 1
    empty = common.WindowCheck(_WINDOW, "log.csv", "time", "seconds")
    assert empty.finish() == 0
    with pytest.raises(ValueError, match="unit"):
        common.WindowCheck(_WINDOW, "log.csv", "time", "hours")


def test_a_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _write(out)
    before = _snapshot(out)
    rename = os.rename

    def failing(source, target):
        if ".partial-" in str(source):
            raise OSError("rename failed")
        rename(source, target)

    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(OSError, match="rename failed"):
        _write(out, users=2)
    assert _snapshot(out) == before and _siblings(out) == ["out"]
