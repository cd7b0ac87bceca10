"""tf.distribute strategy factory."""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "one_device")


def machine_description() -> str:
    """CPU model, core count and GPUs of this machine, as results.json records it
    (`"machine"`) and the README footers state it: "<CPU model>, <n> cores, no
    GPU" or "..., <k> GPU(s)"."""
    import platform

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpus = len(tf.config.list_physical_devices("GPU"))
    accelerator = f"{gpus} GPU(s)" if gpus else "no GPU"
    return f"{model}, {os.cpu_count()} cores, {accelerator}"


def onednn_opts() -> str:
    """TensorFlow's `TF_ENABLE_ONEDNN_OPTS` as this process started with it
    ("unset": TensorFlow's own choice by CPU), as results.json and the bench
    record it (`"onednn_opts"`): oneDNN's and Eigen's kernels differ in speed
    and in the last bits of a float sum. The Makefile's sequence targets set it
    to "1" unless the environment has it (`ONEDNN_TARGETS`)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset")


def get_strategy(name: str = "default") -> tf.distribute.Strategy:
    """Returns the tf.distribute strategy called `name`.

    - `default`: the default (no-op) strategy: one device.
    - `mirrored`: synchronous data parallelism over all local GPUs (or CPU logical
      devices when there is no GPU).
    - `multi_worker`: synchronous data parallelism over the workers listed in the
      `TF_CONFIG` environment variable (which must be set).
    - `one_device`: everything on the first GPU, else the CPU.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [
            d.name for d in tf.config.list_logical_devices("CPU")
        ]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            raise ValueError(
                "--strategy=multi_worker needs the TF_CONFIG environment variable "
                '(e.g. {"cluster": {"worker": ["host:port", ...]}, "task": '
                '{"type": "worker", "index": 0}}).'
            )
        try:
            json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from error
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES}.")
