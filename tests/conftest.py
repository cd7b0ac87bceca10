"""Test sharding: `RECSYS_TF_TEST_SHARD=k/n` keeps shard k (0-based) of n.

`make test` runs the suite as n processes side by side (`tests/run_shards.py`), one
shard each. The tests are split by groups in collection order, each group to the
shard with the fewest tests so far: a test that uses a fixture wider than a
function (module, package or session scope) is grouped with its whole file, so
that fixture is built in one process only; any other test is a group of its own.
Without the variable every collected test runs.
"""

from __future__ import annotations

import os

import pytest

SHARD_VARIABLE = "RECSYS_TF_TEST_SHARD"


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


def _group_key(item: pytest.Item) -> str:
    info = getattr(item, "_fixtureinfo", None)
    if info is not None:
        for definitions in info.name2fixturedefs.values():
            if any(d.scope != "function" for d in definitions):
                return item.nodeid.split("::")[0]
    return item.nodeid


def assign_shards(keys: list[str], count: int) -> list[int]:
    """The shard of each test, given its group key, in collection order.

    Each group goes, when first seen, to the shard with the fewest tests so far
    (the lowest index on a tie); sizes count a group's tests, so the shards differ
    by at most the largest group's size.
    """
    sizes: dict[str, int] = {}
    for key in keys:
        sizes[key] = sizes.get(key, 0) + 1
    load = [0] * count
    shard_of: dict[str, int] = {}
    for key in keys:
        if key not in shard_of:
            shard = min(range(count), key=lambda s: (load[s], s))
            shard_of[key] = shard
            load[shard] += sizes[key]
    return [shard_of[key] for key in keys]


def pytest_collection_modifyitems(config, items):
    text = os.environ.get(SHARD_VARIABLE)
    if not text:
        return
    index, count = parse_shard(text)
    shards = assign_shards([_group_key(item) for item in items], count)
    kept = [item for item, shard in zip(items, shards) if shard == index]
    dropped = [item for item, shard in zip(items, shards) if shard != index]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept
