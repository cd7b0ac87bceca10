"""Access to the real datasets in ../shared/datasets for tests (skipped when absent)."""

from __future__ import annotations

import os

import pytest

from recsys_tf.data import sources


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
