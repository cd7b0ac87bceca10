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


def test_assign_shards_keeps_groups_together_and_balances_counts():
    keys = ["a.py"] * 5 + [f"b.py::t{i}" for i in range(7)] + ["c.py"] * 3
    shards = conftest.assign_shards(keys, 2)
    # a.py (5 tests) goes first to shard 0; each single test then to the lighter.
    assert shards[:5] == [0] * 5
    assert shards[5:10] == [1, 1, 1, 1, 1]
    assert shards[10] == 0 and shards[11] == 1
    # c.py as one group, on the lighter shard (0: 6 tests, 1: 6 -> lowest index).
    assert shards[12:] == [0, 0, 0]
    assert [shards.count(s) for s in (0, 1)] == [9, 6]
    for key in set(keys):
        assert len({s for k, s in zip(keys, shards) if k == key}) == 1


def test_assign_shards_one_shard_keeps_everything():
    assert conftest.assign_shards(["x", "y", "x"], 1) == [0, 0, 0]


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


def test_runner_reports_the_first_failing_shard(tmp_path, capsys):
    (tmp_path / "test_x.py").write_text(
        "import os\n"
        "def test_a():\n    assert os.environ['RECSYS_TF_TEST_SHARD'] != '1/2'\n"
        "def test_b():\n    assert os.environ['RECSYS_TF_TEST_SHARD'] != '1/2'\n"
    )
    # The temporary folder has no conftest: both processes run both tests, so only
    # the environment tells them apart; shard 1 fails.
    code = run_shards.main(
        ["--shards=2", "--", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "[0/2]" in out and "[1/2]" in out
    assert "0/2: exit 0, 1/2: exit 1" in out
