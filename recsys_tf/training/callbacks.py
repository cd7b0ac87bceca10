"""Callbacks: validation with best-epoch selection, checkpoints, resumable state."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import resource
import shutil
import sys
import time

import keras
import tensorflow as tf

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "checkpoints/state.json"


def epoch_weights(epoch: int) -> str:
    """Path (relative to the workdir) of the weights saved after `epoch`."""
    return f"{CHECKPOINT_DIR}/epoch_{epoch:04d}.weights.h5"


class DiskFullError(OSError):
    """The disk filled up (ENOSPC) while writing `filename`; the file it would have
    replaced is intact."""

    def __str__(self):
        return (
            f"the disk is full: no space left to write {self.filename}; the last "
            "good checkpoint is intact: free some space and rerun the same command "
            "to resume"
        )


@contextlib.contextmanager
def atomic_path(path: str):
    """Yields a temporary name beside `path`, renamed to `path` once written.

    A kill or an error leaves the previous `path` untouched (the temporary file is
    removed on error); a full disk (ENOSPC) raises `DiskFullError` naming `path`.
    The temporary name keeps the file's suffix (Keras checks `.weights.h5`).
    """
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".tmp.{name}")
    with disk_full_names(path):
        try:
            os.makedirs(folder or ".", exist_ok=True)
            yield tmp
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise


@contextlib.contextmanager
def disk_full_names(path: str):
    """Turns an OSError ENOSPC raised inside into a `DiskFullError` naming `path`."""
    try:
        yield
    except OSError as error:
        if error.errno != errno.ENOSPC or isinstance(error, DiskFullError):
            raise
        raise DiskFullError(errno.ENOSPC, os.strerror(errno.ENOSPC), path) from error


def write_json_atomic(path: str, payload: dict) -> None:
    """Writes JSON through a temporary file and a rename, so a kill never leaves half a file."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=2, sort_keys=True, default=_jsonable)


def save_weights_atomic(model, path: str) -> None:
    """`model.save_weights(path)` through a temporary file and a rename.

    Refuses (DiskFullError) when the disk has less free space than twice the
    model's and optimizer's variables at 8 bytes per value: h5py can crash the
    process on a full disk instead of raising.
    """
    variables = list(model.weights)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    needed = 2 * 8 * sum(math.prod(v.shape) for v in variables)
    folder = os.path.dirname(path) or "."
    if shutil.disk_usage(folder).free < needed + (1 << 20):
        raise DiskFullError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
    with atomic_path(path) as tmp:
        model.save_weights(tmp)


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def read_state(workdir: str) -> dict | None:
    path = os.path.join(workdir, STATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def peak_rss_gb() -> float:
    """This process's peak resident memory since its start or the last
    `reset_peak_rss`, in GB = 10^9 bytes (the README's unit): Linux's VmHWM,
    else `getrusage`'s ru_maxrss (kilobytes on Linux, bytes on macOS; never
    reset)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak * (1 if sys.platform == "darwin" else 1024) / 1e9


def reset_peak_rss() -> bool:
    """Restarts `peak_rss_gb` from the current resident memory (Linux: "5" to
    /proc/self/clear_refs), so that runs sharing a process (a sweep's trials)
    each record their own peak; False where the system cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class ValidateAndCheckpoint(keras.callbacks.Callback):
    """At each epoch end: validation metrics, best-epoch tracking, checkpoints.

    Puts `val_<metric>` into the epoch logs (so TensorBoard and the progress bar
    show them under the same names as results.json), saves the model and optimizer
    state to `checkpoints/epoch_NNNN.weights.h5`, then records it in
    `checkpoints/state.json` (written atomically, so a kill at any point leaves a
    consistent last checkpoint to resume from), and keeps the file of the best
    epoch on `monitor`; other epoch files are deleted unless `keep_all`. Stops after `patience`
    epochs without improvement (0 = never).

    Args:
        workdir: run folder.
        evaluate: `model -> dict` of validation metrics.
        monitor: metric that selects the epoch (e.g. "auc", "hr@50").
        mode: "max" or "min".
        patience: early-stopping patience in epochs (0 = off).
        state: a previous state to continue (from `read_state`).
        keep_all: keep every epoch's file (inspection over training).
    """

    def __init__(
        self,
        workdir,
        evaluate,
        monitor,
        mode="max",
        patience=0,
        state=None,
        keep_all=False,
    ):
        super().__init__()
        self.keep_all = bool(keep_all)
        if mode not in ("max", "min"):
            raise ValueError(f"`mode` must be 'max' or 'min'. Received: mode={mode!r}")
        self.workdir = workdir
        self.evaluate = evaluate
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.state = state or {
            "epoch": 0,
            "best_epoch": None,
            "best": None,
            "history": [],
            "train_seconds": 0.0,
            "stopped": False,
        }
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()

    def _better(self, value):
        best = self.state["best"]
        if best is None:
            return True
        return value > best if self.mode == "max" else value < best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        seconds = time.time() - (self._start or time.time())
        results = self.evaluate(self.model)
        if self.monitor not in results:
            raise KeyError(
                f"monitor {self.monitor!r} is not among the validation metrics "
                f"{sorted(results)}"
            )
        for name, value in results.items():
            logs[f"val_{name}"] = value
        logs.update(state_diagnostics(self.model))
        value = results[self.monitor]
        if math.isnan(value):
            raise FloatingPointError(
                f"validation {self.monitor} is NaN at epoch {epoch + 1}"
            )
        os.makedirs(os.path.join(self.workdir, CHECKPOINT_DIR), exist_ok=True)
        save_weights_atomic(
            self.model, os.path.join(self.workdir, epoch_weights(epoch + 1))
        )
        if self._better(value):
            self.state["best"] = float(value)
            self.state["best_epoch"] = epoch + 1
        self.state["epoch"] = epoch + 1
        self.state["train_seconds"] += seconds
        # The peak over every session of the run (a resumed run starts a process).
        self.state["peak_rss_gb"] = max(
            self.state.get("peak_rss_gb", 0.0), peak_rss_gb()
        )
        self.state["history"].append(
            {
                "epoch": epoch + 1,
                "seconds": seconds,
                **{k: float(v) for k, v in logs.items()},
            }
        )
        # Early stopping is part of the state, so a restarted run does not resume it.
        self.state["stopped"] = bool(
            self.patience and epoch + 1 - self.state["best_epoch"] >= self.patience
        )
        write_json_atomic(os.path.join(self.workdir, STATE_FILE), self.state)
        keep = {
            epoch_weights(self.state["epoch"]),
            epoch_weights(self.state["best_epoch"]),
        }
        folder = os.path.join(self.workdir, CHECKPOINT_DIR)
        for name in [] if self.keep_all else os.listdir(folder):
            if name.startswith("epoch_") and f"{CHECKPOINT_DIR}/{name}" not in keep:
                os.remove(os.path.join(folder, name))
        if self.state["stopped"]:
            self.model.stop_training = True


def state_diagnostics(model) -> dict:
    """Scalars of a model's non-trainable state worth watching over training,
    logged each epoch (TensorBoard and the run state's history):
    `<layer>_slot_cosine` for every layer with a `slot_cosine()` (each
    `NTMMemory`: 1 = its slots have collapsed to one vector)."""
    found = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if callable(getattr(layer, "slot_cosine", None)) and layer.built:
            found.setdefault(f"{layer.name}_slot_cosine", layer.slot_cosine())
    return found


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback with every epoch summary recorded.

    Keras 3.15 keeps the per-step `record_if(step % update_freq == 0)` of
    `update_freq` active during `on_epoch_end`, so epoch scalars, validation
    metrics and weight histograms were written only when the epoch happened to end
    on a multiple of `update_freq` steps.
    """

    def on_epoch_end(self, epoch, logs=None):
        with tf.summary.record_if(True):
            super().on_epoch_end(epoch, logs)
