"""Runs the test suite as several pytest processes side by side.

    python -m tests.run_shards --shards=2 -- -q --durations=15

Each process gets `RECSYS_TF_TEST_SHARD=k/n` (see `tests/conftest.py`) and the
arguments after `--`; its output lines are printed as they come, prefixed with
`[k/n]`. The exit status is 0 when every shard passed, else the first failing
shard's status. With `--shards=1` it is a plain pytest run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time


def _pump(stream, prefix: str, lock: threading.Lock) -> None:
    for line in iter(stream.readline, ""):
        with lock:
            sys.stdout.write(f"{prefix} {line}" if prefix else line)
            sys.stdout.flush()
    stream.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=2, help="pytest processes")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest")
    args = parser.parse_args(argv)
    if args.shards < 1:
        parser.error(f"--shards={args.shards}: expected at least 1")
    command = [sys.executable, "-m", "pytest", *args.pytest_args]
    if args.shards == 1:
        return subprocess.call(command)
    start = time.monotonic()
    lock = threading.Lock()
    processes, pumps = [], []
    for index in range(args.shards):
        env = dict(os.environ, RECSYS_TF_TEST_SHARD=f"{index}/{args.shards}")
        process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        pump = threading.Thread(
            target=_pump, args=(process.stdout, f"[{index}/{args.shards}]", lock)
        )
        pump.start()
        processes.append(process)
        pumps.append(pump)
    codes = [process.wait() for process in processes]
    for pump in pumps:
        pump.join()
    elapsed = time.monotonic() - start
    print(
        f"shards {', '.join(f'{i}/{args.shards}: exit {c}' for i, c in enumerate(codes))}"
        f"; {elapsed:.0f} s wall"
    )
    return next((code for code in codes if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main())
