"""Runs the test suite as several pytest processes side by side.

    python -m tests.run_shards --shards=2 -- -q --durations=15

Each process gets `RECSYS_TF_TEST_SHARD=k/n` (see `tests/conftest.py`) and the
arguments after `--`; its output lines are printed as they come, prefixed with
`[k/n]`. The exit status is 0 when every shard passed, else the first failing
shard's status. With `--shards=1` it is a plain pytest run. `--record` writes the
run's seconds and tests per file, the shards' summed, to `tests/durations.json`,
which the next runs' split reads (re-record when files or their costs change).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests import conftest


def _pump(stream, prefix: str, lock: threading.Lock) -> None:
    for line in iter(stream.readline, ""):
        with lock:
            sys.stdout.write(f"{prefix} {line}" if prefix else line)
            sys.stdout.flush()
    stream.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=2, help="pytest processes")
    parser.add_argument(
        "--record", action="store_true", help="write tests/durations.json"
    )
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest")
    args = parser.parse_args(argv)
    if args.shards < 1:
        parser.error(f"--shards={args.shards}: expected at least 1")
    command = [sys.executable, "-m", "pytest", *args.pytest_args]
    with tempfile.TemporaryDirectory() as folder:
        records = [Path(folder) / f"shard{k}.json" for k in range(args.shards)]
        code = _run(command, args.shards, records if args.record else None)
        if args.record:
            merged = merge_records([conftest.read_durations(r) for r in records])
            conftest.DURATIONS.write_text(json.dumps(merged, indent=1) + "\n")
            print(f"recorded {len(merged)} files in {conftest.DURATIONS}")
    return code


def merge_records(records):
    """{file: [seconds, tests]} summed over the shards' records."""
    merged: dict[str, list] = {}
    for record in records:
        for name, (seconds, tests) in record.items():
            total = merged.setdefault(name, [0.0, 0])
            total[0] = round(total[0] + seconds, 2)
            total[1] += tests
    return dict(sorted(merged.items()))


def _run(command, shards, records):
    if shards == 1 and records is None:
        return subprocess.call(command)
    start = time.monotonic()
    lock = threading.Lock()
    processes, pumps = [], []
    for index in range(shards):
        env = dict(os.environ)
        if shards > 1:
            env[conftest.SHARD_VARIABLE] = f"{index}/{shards}"
        if records is not None:
            env[conftest.RECORD_VARIABLE] = str(records[index])
        process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        pump = threading.Thread(
            target=_pump, args=(process.stdout, f"[{index}/{shards}]", lock)
        )
        pump.start()
        processes.append(process)
        pumps.append(pump)
    codes = [process.wait() for process in processes]
    for pump in pumps:
        pump.join()
    elapsed = time.monotonic() - start
    print(
        f"shards {', '.join(f'{i}/{shards}: exit {c}' for i, c in enumerate(codes))}"
        f"; {elapsed:.0f} s wall"
    )
    return next((code for code in codes if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main())
