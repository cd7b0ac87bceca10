"""Callbacks: validation with best-epoch selection, checkpoints, resumable state."""

from __future__ import annotations

import json
import math
import os
import time

import keras
import tensorflow as tf

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "checkpoints/state.json"


def epoch_weights(epoch: int) -> str:
    """Path (relative to the workdir) of the weights saved after `epoch`."""
    return f"{CHECKPOINT_DIR}/epoch_{epoch:04d}.weights.h5"


def write_json_atomic(path: str, payload: dict) -> None:
    """Writes JSON through a temporary file and a rename, so a kill never leaves half a file."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True, default=_jsonable)
    os.replace(tmp, path)


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


class ValidateAndCheckpoint(keras.callbacks.Callback):
    """At each epoch end: validation metrics, best-epoch tracking, checkpoints.

    Puts `val_<metric>` into the epoch logs (so TensorBoard and the progress bar
    show them under the same names as results.json), saves the model and optimizer
    state to `checkpoints/epoch_NNNN.weights.h5`, then records it in
    `checkpoints/state.json` (written atomically, so a kill at any point leaves a
    consistent last checkpoint to resume from), and keeps the file of the best
    epoch on `monitor`; other epoch files are deleted. Stops after `patience`
    epochs without improvement (0 = never).

    Args:
        workdir: run folder.
        evaluate: `model -> dict` of validation metrics.
        monitor: metric that selects the epoch (e.g. "auc", "hr@50").
        mode: "max" or "min".
        patience: early-stopping patience in epochs (0 = off).
        state: a previous state to continue (from `read_state`).
    """

    def __init__(self, workdir, evaluate, monitor, mode="max", patience=0, state=None):
        super().__init__()
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
        value = results[self.monitor]
        if math.isnan(value):
            raise FloatingPointError(
                f"validation {self.monitor} is NaN at epoch {epoch + 1}"
            )
        os.makedirs(os.path.join(self.workdir, CHECKPOINT_DIR), exist_ok=True)
        self.model.save_weights(os.path.join(self.workdir, epoch_weights(epoch + 1)))
        if self._better(value):
            self.state["best"] = float(value)
            self.state["best_epoch"] = epoch + 1
        self.state["epoch"] = epoch + 1
        self.state["train_seconds"] += seconds
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
        for name in os.listdir(folder):
            if name.startswith("epoch_") and f"{CHECKPOINT_DIR}/{name}" not in keep:
                os.remove(os.path.join(folder, name))
        if self.state["stopped"]:
            self.model.stop_training = True


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
