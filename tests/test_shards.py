"""The test-suite split of `tests/conftest.py` and its runner `tests/run_shards.py`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conftest, run_shards

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "text,expected", [("0/1", (0, 1)), ("1/2", (1, 2)), ("2/3", (2, 3))]
)
def test_parse_shard(text, expected):
    assert conftest.parse_shard(text) == expected


@pytest.mark.parametrize("text", ["", "1", "a/2", "2/2", "-1/2", "0/0", "0/2/3"])
def test_parse_shard_refuses_with_the_variable_and_the_form(text):
    with pytest.raises(ValueError, match="RECSYS_TF_TEST_SHARD.*k/n|0 <= k < n"):
        conftest.parse_shard(text)


def test_assign_shards_deals_groups_longest_first_to_the_lightest_shard():
    keys = ["a.py"] * 3 + ["b.py::t0", "b.py::t1", "c.py", "c.py"]
    weights = [1.0, 1.0, 1.0, 5.0, 0.5, 1.0, 1.5]
    # Groups: a.py 3.0, b.py::t0 5.0, b.py::t1 0.5, c.py 2.5. Longest first:
    # t0 -> 0 (5.0), a.py -> 1 (3.0), c.py -> 1 (5.5), t1 -> 0 (5.5).
    assert conftest.assign_shards(keys, weights, 2) == [1, 1, 1, 0, 0, 1, 1]


def test_assign_shards_ties_go_to_the_first_seen_group_and_lowest_shard():
    assert conftest.assign_shards(["x", "y", "z"], [1.0, 1.0, 1.0], 2) == [0, 1, 0]
    assert conftest.assign_shards(["x", "y", "x"], [1.0, 4.0, 2.0], 1) == [0, 0, 0]


def test_per_test_seconds_from_the_record_and_its_mean_for_new_files():
    record = {"a.py": (10.0, 4), "b.py": (2.0, 1)}
    # a.py: 2.5 s a test; b.py: 2.0; new.py: the mean 12 / 5.
    assert conftest.per_test_seconds(["a.py", "b.py", "new.py"], record) == [
        2.5,
        2.0,
        2.4,
    ]
    assert conftest.per_test_seconds(["x.py"], {}) == [1.0]


def test_read_durations_names_the_file_and_the_form(tmp_path):
    assert conftest.read_durations(tmp_path / "absent.json") == {}
    path = tmp_path / "durations.json"
    path.write_text('{"a.py": [1.5, 2]}')
    assert conftest.read_durations(path) == {"a.py": (1.5, 2)}
    path.write_text('{"a.py": 3}')
    with pytest.raises(
        ValueError, match="durations.json.*file -> \\[seconds, tests\\]"
    ):
        conftest.read_durations(path)


def test_merge_records_sums_files_split_across_shards():
    merged = run_shards.merge_records(
        [{"a.py": (1.0, 2), "b.py": (3.0, 1)}, {"a.py": (0.5, 1)}]
    )
    assert merged == {"a.py": [1.5, 3], "b.py": [3.0, 1]}


def test_the_committed_record_covers_the_suite():
    record = conftest.read_durations(conftest.DURATIONS)
    files = {str(p.relative_to(REPO)) for p in (REPO / "tests").rglob("test_*.py")}
    # Every recorded file exists; a few new files may be missing (they count the mean).
    assert set(record) <= files
    assert len(record) >= 0.9 * len(files)


def _collected(shard):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop(conftest.SHARD_VARIABLE, None)
    if shard:
        env[conftest.SHARD_VARIABLE] = shard
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "tests/data_prep/test_synthetic.py",
            "tests/test_shards.py",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if "::" in line]


def test_shards_partition_the_collection_and_keep_module_fixtures_in_one():
    everything = _collected(None)
    parts = [_collected(f"{k}/2") for k in range(2)]
    assert sorted(parts[0] + parts[1]) == sorted(everything)
    assert not set(parts[0]) & set(parts[1])
    assert all(parts)
    # test_synthetic.py builds its data in the module-scoped fixture `tiny`: the
    # tests that use it are in one shard, the file's other tests spread.
    uses_tiny = (
        "test_generate_writes_a_valid_folder",
        "test_feedback_lands_on_the_right_rows",
        "test_oracle_needs_the_policy_state",
    )
    holders = {k for k, part in enumerate(parts) for t in part if t.endswith(uses_tiny)}
    assert len(holders) == 1
    (holder,) = holders
    singles = (
        "test_true_click_probability_is_calibrated",
        "test_user_features_carry_signal",
    )
    assert any(t.endswith(singles) for t in parts[1 - holder])


def test_runner_splits_reports_the_first_failing_shard_and_records(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(conftest, "DURATIONS", tmp_path / "durations.json")
    (tmp_path / "test_x.py").write_text(
        "import os\n"
        "def test_a():\n    assert os.environ['RECSYS_TF_TEST_SHARD'] != '1/2'\n"
        "def test_b():\n    assert os.environ['RECSYS_TF_TEST_SHARD'] != '1/2'\n"
    )
    # The split is loaded as a plugin: one test to each process; shard 1's fails.
    code = run_shards.main(
        ["--shards=2", "--record", "--", "-q", "-p", "no:cacheprovider"]
        + ["-p", "tests.conftest", "--rootdir", str(tmp_path), str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "[0/2] 1 passed" in out and "[1/2] 1 failed" in out
    assert "0/2: exit 0, 1/2: exit 1" in out
    (seconds, tests) = conftest.read_durations(conftest.DURATIONS)["test_x.py"]
    assert tests == 2 and seconds >= 0
