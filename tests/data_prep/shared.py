"""Helpers of the data_prep tests: real datasets in ../shared/datasets (skipped when
absent), fixture files, command lines and dataset comparisons."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pandas as pd
import pytest

from recsys_tf.data import sources

DATASET_TABLES = ("users", "items", "events", "user_ids", "item_ids")
"""The parquet tables of every converted dataset folder (with its id mappings)."""


def shared_dataset(folder: str, *files: str) -> str:
    """The path of a held dataset folder; skips the test when it (or a file) is absent."""
    path = os.path.join(sources.datasets_root(), folder)
    if not os.path.isdir(path):
        pytest.skip(
            f"real dataset folder {path} is absent (set ${sources.ENV} to run this)"
        )
    for name in files:
        if not os.path.exists(os.path.join(path, name)):
            pytest.skip(f"{os.path.join(path, name)} is absent")
    return path


def write_lines(path, lines, encoding: str = "utf-8") -> None:
    """Writes `lines`, each followed by a newline; gzipped when `path` ends with .gz."""
    data = "".join(line + "\n" for line in lines).encode(encoding)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def run_module(module: str, *args: str) -> subprocess.CompletedProcess:
    """Runs ``python -m data_prep.<module> <args>`` from the repository root.

    Args:
        module: the converter (``ml1m``, ``kuairand``, ...).
        *args: its command-line arguments.

    Returns:
        The finished process, with its exit code and its stdout / stderr as text.
    """
    return subprocess.run(
        [sys.executable, "-m", f"data_prep.{module}", *args],
        cwd=sources.REPO_ROOT,
        env={**os.environ, "PYTHONPATH": sources.REPO_ROOT},
        capture_output=True,
        text=True,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Asserts a command failed the converters' way and returns its error line.

    That is: exit code 1 and stderr exactly one line, ``error: ...``, holding
    every one of `fragments`.
    """
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def assert_same_logs(one, two) -> None:
    """Asserts two `EventLog`s have equal tables and conversion reports."""
    pd.testing.assert_frame_equal(one.events, two.events)
    pd.testing.assert_frame_equal(one.users, two.users)
    pd.testing.assert_frame_equal(one.items, two.items)
    assert one.meta["conversion"] == two.meta["conversion"]


def assert_same_parquet(one, two, *names: str) -> None:
    """Asserts the tables ``<name>.parquet`` of folders `one` and `two` are equal."""
    for name in names:
        pd.testing.assert_frame_equal(
            pd.read_parquet(os.path.join(one, f"{name}.parquet")),
            pd.read_parquet(os.path.join(two, f"{name}.parquet")),
        )
