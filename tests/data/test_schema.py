"""Tests of the canonical event-log schema and its validation (fuzzed)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys_tf.data import schema
from recsys_tf.data.schema import EventLog, SchemaError


def _log(num_users=3, num_items=4, num_events=6, seed=0):
    rng = np.random.default_rng(seed)
    users = pd.DataFrame(
        {"user_id": np.arange(num_users), "age": rng.integers(0, 5, num_users)}
    )
    items = pd.DataFrame(
        {
            "item_id": np.arange(num_items),
            "category": rng.integers(0, 3, num_items),
            "brand": rng.integers(0, 5, num_items),
        }
    )
    events = pd.DataFrame(
        {
            "user_id": rng.integers(0, num_users, num_events),
            "item_id": rng.integers(0, num_items, num_events),
            "timestamp": rng.integers(1_500_000_000, 1_600_000_000, num_events),
            "event": rng.choice(schema.EVENT_TYPES, num_events),
            "value": np.ones(num_events),
            "request_id": np.arange(num_events),
            "truth_pref": rng.normal(size=num_events),
        }
    )
    return EventLog(users, items, events, {"name": "unit"})


def test_round_trip(tmp_path):
    log = _log()
    schema.write_event_log(log, str(tmp_path))
    back = schema.read_event_log(str(tmp_path))
    assert back.meta == {"name": "unit"}
    assert back.num_users == 3 and back.num_items == 4
    assert list(back.events["event"].cat.categories) == list(schema.EVENT_TYPES)
    expected = log.events.sort_values(["timestamp", "user_id"], kind="stable")
    np.testing.assert_array_equal(back.events["item_id"], expected["item_id"])
    assert back.events["timestamp"].is_monotonic_increasing


def test_events_of_rejects_unknown_type():
    log = schema.validate(_log())
    assert set(log.events_of("click")["event"]) <= {"click"}
    with pytest.raises(ValueError, match="clack"):
        log.events_of("clack")


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("event", "clk", "column 'event': expected one of impression"),
        ("item_id", 99, "column 'item_id': unknown id 99"),
        ("user_id", -1, "column 'user_id': unknown id -1"),
        ("timestamp", 1_700_000_000_000, "out of range"),
        ("value", np.nan, "column 'value': expected a finite float, got a missing"),
        ("value", np.inf, "column 'value': expected a finite float"),
        ("truth_pref", np.nan, "column 'truth_pref'"),
    ],
)
def test_bad_event_names_file_row_column(column, value, message):
    log = _log()
    log.events[column] = log.events[column].astype(object)
    log.events.loc[4, column] = value
    with pytest.raises(SchemaError, match=message) as info:
        schema.validate(log)
    assert "events.parquet, row 4" in str(info.value)
    assert info.value.row == 4 and info.value.column == column


def test_missing_column_is_named():
    log = _log()
    log.events = log.events.drop(columns="timestamp")
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['timestamp'\]"):
        schema.validate(log)


def test_non_numeric_id_is_named():
    log = _log()
    log.events["item_id"] = log.events["item_id"].astype(object)
    log.events.loc[2, "item_id"] = "abc"
    with pytest.raises(SchemaError, match="row 2, column 'item_id'.*'abc'"):
        schema.validate(log)


def test_ids_must_be_contiguous_and_unique():
    log = _log()
    log.items.loc[1, "item_id"] = 0
    with pytest.raises(
        SchemaError, match="items.parquet, row 1, column 'item_id': duplicate id 0"
    ):
        schema.validate(log)
    log = _log()
    log.users.loc[2, "user_id"] = 7
    with pytest.raises(SchemaError, match="users.parquet, row 2.*contiguous"):
        schema.validate(log)


def test_negative_category_and_bad_feature():
    log = _log()
    log.items.loc[3, "category"] = -2
    with pytest.raises(SchemaError, match="row 3, column 'category'"):
        schema.validate(log)
    log = _log()
    log.users["age"] = log.users["age"].astype(float)
    log.users.loc[1, "age"] = 2.5
    with pytest.raises(SchemaError, match="row 1, column 'age'"):
        schema.validate(log)


def test_empty_events_rejected():
    log = _log()
    log.events = log.events.iloc[:0]
    with pytest.raises(SchemaError, match="empty"):
        schema.validate(log)


def test_missing_files(tmp_path):
    with pytest.raises(SchemaError, match="dataset folder not found"):
        schema.read_event_log(str(tmp_path / "nope"))
    schema.write_event_log(_log(), str(tmp_path))
    (tmp_path / schema.ITEMS_FILE).unlink()
    with pytest.raises(SchemaError, match="items.parquet: file not found"):
        schema.read_event_log(str(tmp_path))
    (tmp_path / schema.ITEMS_FILE).write_text("not parquet")
    with pytest.raises(SchemaError, match="not a readable Parquet"):
        schema.read_event_log(str(tmp_path))


_BAD_VALUES = {
    "user_id": [np.nan, -5, 1000, "u1", 1.5],
    "item_id": [np.nan, -1, 1000, "x", 2.25],
    "timestamp": [np.nan, -3, 10**13, "yesterday", 0.5],
    "event": [None, "", "CLICK", "purchase", 3],
    "value": [np.nan, np.inf, -np.inf, "five", None],
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    num_events=st.integers(1, 30),
    seed=st.integers(0, 2**16),
)
def test_fuzz_one_malformed_cell_is_reported_at_its_row(data, num_events, seed):
    log = _log(num_events=num_events, seed=seed)
    column = data.draw(st.sampled_from(sorted(_BAD_VALUES)))
    value = data.draw(st.sampled_from(_BAD_VALUES[column]))
    row = data.draw(st.integers(0, num_events - 1))
    log.events[column] = log.events[column].astype(object)
    log.events.loc[row, column] = value
    with pytest.raises(SchemaError) as info:
        schema.validate(log)
    assert info.value.file.endswith("events.parquet")
    assert info.value.column == column
    assert info.value.row == row


@settings(max_examples=60, deadline=None)
@given(
    dropped=st.sets(st.sampled_from(sorted(schema.EVENT_COLUMNS)), min_size=1),
    seed=st.integers(0, 1000),
)
def test_fuzz_missing_columns(dropped, seed):
    log = _log(seed=seed)
    log.events = log.events.drop(columns=sorted(dropped))
    with pytest.raises(SchemaError, match="missing column") as info:
        schema.validate(log)
    for column in dropped:
        assert column in str(info.value)


@settings(max_examples=60, deadline=None)
@given(
    num_users=st.integers(1, 8),
    num_items=st.integers(1, 8),
    num_events=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_fuzz_valid_logs_pass_and_keep_every_row(
    num_users, num_items, num_events, seed
):
    log = _log(num_users, num_items, num_events, seed)
    out = schema.validate(log)
    assert len(out.events) == num_events
    assert out.events["timestamp"].is_monotonic_increasing
    assert out.events["user_id"].dtype == np.int64


def test_categorical_event_column_is_checked_through_codes():
    log = _log(num_events=6)
    values = list(log.events["event"].astype(str))
    values[2] = "clk"
    log.events["event"] = pd.Categorical(values)
    with pytest.raises(SchemaError, match="row 2, column 'event'.*'clk'"):
        schema.validate(log)
    values[2] = None
    log.events["event"] = pd.Categorical(values)
    with pytest.raises(SchemaError, match="row 2, column 'event'"):
        schema.validate(log)
    values[2] = "click"
    log.events["event"] = pd.Categorical(
        values, categories=["click", *sorted(set(values) - {"click"})]
    )
    out = schema.validate(log)
    assert list(out.events["event"].cat.categories) == list(schema.EVENT_TYPES)
    assert sorted(out.events["event"].astype(str)) == sorted(values)
