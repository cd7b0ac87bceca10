"""Where the original files of the real datasets are found on this machine.

The licenses of MovieLens, Taobao and KuaiRand forbid copying them into the
repository, so they are read from a folder beside it: ``$RECSYS_TF_DATASETS``
when set, else ``../shared/datasets`` next to the repository root.
"""

from __future__ import annotations

import os

ENV = "RECSYS_TF_DATASETS"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def datasets_root() -> str:
    """The folder holding one sub-folder per original dataset (may not exist)."""
    return os.environ.get(ENV) or os.path.normpath(
        os.path.join(REPO_ROOT, "..", "shared", "datasets")
    )


def source_folder(folder: str, root: str | None = None) -> str:
    """`root/folder` (default root: `datasets_root()`), or an error saying how to get it."""
    path = os.path.join(root or datasets_root(), folder)
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"{path}: original files of dataset folder {folder!r} not found; put them "
            f"there or point ${ENV} at the folder that holds {folder!r}."
        )
    return path
