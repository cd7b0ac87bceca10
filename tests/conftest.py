"""Test sharding: `RECSYS_TF_TEST_SHARD=k/n` keeps shard k (0-based) of n.

`make test` runs the suite as n processes side by side (`tests/run_shards.py`), one
shard each. The suite is cut into groups: a test that uses a fixture wider than a
function (module, package or session scope) is grouped with its whole file, so
that fixture is built in one process only; any other test is a group of its own.
Each group's expected time comes from `tests/durations.json` (a file's recorded
seconds over its recorded number of tests, per test; a file not recorded counts
the mean per test of those recorded), and the groups are dealt out longest first,
each to the shard with the least expected time so far. Without the variable every
collected test runs.

`RECSYS_TF_TEST_DURATIONS=<path>` records a run's seconds (setup, call and
teardown) and tests per file into <path> (`tests/run_shards.py --record` merges
the shards' records into `tests/durations.json`).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

SHARD_VARIABLE = "RECSYS_TF_TEST_SHARD"
RECORD_VARIABLE = "RECSYS_TF_TEST_DURATIONS"
DURATIONS = Path(__file__).with_name("durations.json")


def parse_shard(text: str) -> tuple[int, int]:
    """`"k/n"` -> (k, n), with 0 <= k < n; anything else is a ValueError."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(
            f"{SHARD_VARIABLE}={text!r}: expected 'k/n' with integers, e.g. '0/2'"
        ) from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"{SHARD_VARIABLE}={text!r}: expected 0 <= k < n and n >= 1")
    return index, count


def read_durations(path: Path) -> dict[str, tuple[float, int]]:
    """{file: (seconds, tests)} of a record; a missing file is an empty record."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {f: (float(s), int(n)) for f, (s, n) in data.items()}
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(
            f"{path}: expected a JSON object of file -> [seconds, tests] ({error})"
        ) from None


def per_test_seconds(
    files: list[str], durations: dict[str, tuple[float, int]]
) -> list[float]:
    """Each test's expected seconds, given its file, from a record."""
    known = [(s, n) for s, n in durations.values() if n > 0]
    mean = sum(s for s, _ in known) / sum(n for _, n in known) if known else 1.0
    out = []
    for name in files:
        seconds, tests = durations.get(name, (0.0, 0))
        out.append(seconds / tests if tests > 0 else mean)
    return out


def assign_shards(keys: list[str], weights: list[float], count: int) -> list[int]:
    """The shard of each test, given its group key and expected seconds.

    The groups (tests sharing a key) are dealt out by decreasing total weight
    (first seen first on a tie), each to the shard with the least weight so far
    (the lowest index on a tie).
    """
    totals: dict[str, float] = {}
    first: dict[str, int] = {}
    for position, (key, weight) in enumerate(zip(keys, weights)):
        totals[key] = totals.get(key, 0.0) + weight
        first.setdefault(key, position)
    load = [0.0] * count
    shard_of: dict[str, int] = {}
    for key in sorted(totals, key=lambda k: (-totals[k], first[k])):
        shard = min(range(count), key=lambda s: (load[s], s))
        shard_of[key] = shard
        load[shard] += totals[key]
    return [shard_of[key] for key in keys]


def _file(nodeid: str) -> str:
    return nodeid.split("::")[0]


def _group_key(item: pytest.Item) -> str:
    info = getattr(item, "_fixtureinfo", None)
    if info is not None:
        for definitions in info.name2fixturedefs.values():
            if any(d.scope != "function" for d in definitions):
                return _file(item.nodeid)
    return item.nodeid


def pytest_collection_modifyitems(config, items):
    text = os.environ.get(SHARD_VARIABLE)
    if not text:
        return
    index, count = parse_shard(text)
    weights = per_test_seconds(
        [_file(item.nodeid) for item in items], read_durations(DURATIONS)
    )
    shards = assign_shards([_group_key(item) for item in items], weights, count)
    kept = [item for item, shard in zip(items, shards) if shard == index]
    dropped = [item for item, shard in zip(items, shards) if shard != index]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


_seconds: dict[str, float] = defaultdict(float)
_tests: dict[str, int] = defaultdict(int)


def pytest_runtest_logreport(report):
    if os.environ.get(RECORD_VARIABLE):
        _seconds[_file(report.nodeid)] += report.duration
        if report.when == "setup":
            _tests[_file(report.nodeid)] += 1


def pytest_sessionfinish(session):
    path = os.environ.get(RECORD_VARIABLE)
    if path and _tests:
        record = {f: [round(_seconds[f], 2), _tests[f]] for f in sorted(_tests)}
        Path(path).write_text(json.dumps(record, indent=1) + "\n")
