"""The fit-loop glue: config -> data -> model -> training -> results.json."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import inspect
import json
import math
import os
import time
from typing import NamedTuple

import keras
import ml_collections
import numpy as np
import tensorflow as tf

from recsys_tf.data import schema
from recsys_tf.data.datasets import REAL, load_event_log
from recsys_tf.data.schema import SchemaError
from recsys_tf.models import MODELS, RetrievalModel
from recsys_tf.tasks import get_task
from recsys_tf.tasks.base import check_bucketing
from recsys_tf.training import callbacks as cb
from recsys_tf.training import evaluation, projector
from recsys_tf.training.errors import ConfigError, RunError
from recsys_tf.training.optimizers import get_optimizer
from recsys_tf.training.strategy import get_strategy, machine_description, onednn_opts

ORACLE = "oracle"
CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
# Per-example test outputs beside results.json, for summarize's paired bootstrap.
TEST_OUTPUTS_FILE = "test_outputs.npz"


# What a user must fix (not a bug): the entry points print it in one line and exit 2.
USER_ERRORS = (RunError, SchemaError, cb.DiskFullError)


# The config key a task builder's ValueError is about, by the first words its
# message holds, in this order (an empty part names the fractions, a split that the
# timestamps cannot support names the split).
_BUILDER_KEYS = (
    ("is empty", "config.data.fractions"),
    ("has no example", "config.data.fractions / config.data.min_history"),
    ("label", "config.data.label"),
    ("rating events", "config.data.label"),
    ("fractions", "config.data.fractions"),
    ("min_history", "config.data.min_history"),
    ("max_length", "config.data.max_length"),
    ("cross", "config.data.crosses"),
    ("no events of type", "config.data.positive_events"),
    ("sequence type", "config.data.sequence_types"),
    ("sequence_types", "config.data.sequence_types"),
    ("item_features", "config.data.item_features"),
    ("session_length", "config.data.num_sessions / session_length"),
    ("split", "config.data.split"),
)


def build_task(config, log):
    """The task examples named by `config.task` and `config.data`.

    A builder's ValueError (the data cannot give the task the config asks for)
    becomes a ConfigError naming the config key.
    """
    kind = get_task(config)
    try:
        return kind.build(config, log)
    except ConfigError:
        raise
    except ValueError as error:
        message = str(error)
        key = next((k for word, k in _BUILDER_KEYS if word in message), "config.data")
        raise ConfigError(f"{key}: {message}") from error


def build_model(config, task):
    """Instantiates `config.model.name` from the registry for `task`."""
    hparams = dict(config.model)
    name = hparams.pop("name")
    if name not in MODELS:
        raise ConfigError(
            f"config.model.name={name!r} is not a registered model; "
            f"known: {sorted(MODELS)} (and {ORACLE!r} on simulated data)"
        )
    cls = MODELS[name]
    accepted = {
        p.name
        for method in (cls.__init__, cls.from_task)
        for p in inspect.signature(method).parameters.values()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        and p.name not in ("self", "cls", "task")
    }
    unknown = sorted(set(hparams) - accepted)
    if unknown:
        raise ConfigError(
            f"config.model has key(s) {unknown} that {cls.__name__} does not take; "
            f"it takes {sorted(accepted)}"
        )
    return cls.from_task(task, **hparams)


# `config.train.jit_compile` (a string, so that a command-line override is one) and
# bench.py's --jit_compile, in any case -> `model.compile(jit_compile=...)`.
JIT_COMPILE = {"auto": "auto", "true": True, "false": False}


def jit_compile_setting(value, key: str = "config.train.jit_compile"):
    """`model.compile(jit_compile=...)` for `value`: "auto" (Keras: XLA where a
    GPU is), True or False, from one of JIT_COMPILE's names in any case or a bool.
    Anything else is a ConfigError naming `key` and the allowed values."""
    name = str(value).strip().lower()
    if name not in JIT_COMPILE:
        raise ConfigError(
            f"{key} must be one of {', '.join(map(repr, JIT_COMPILE))}. "
            f"Received: {value!r}"
        )
    return JIT_COMPILE[name]


def uses_xla(config) -> bool:
    """Whether the config's model is compiled with XLA: `train.jit_compile` true,
    or "auto" on a machine with an accelerator (Keras' rule on one device; under
    tf.distribute Keras turns "auto" off, and the batches are then only left
    untrimmed). XLA compiles a program per input shape, so the tasks do not cut
    a padding-invariant model's batches to their used columns under XLA
    (`window_trimmer`, `trim_left_padding`): every batch keeps the full width.
    DUMN with cut batches under XLA on this CPU ran at 52 examples/s (a
    compilation every step), with whole batches at 328 (README "Throughput")."""
    setting = jit_compile_setting(config.train.jit_compile)
    if setting == "auto":
        return any(d.device_type != "CPU" for d in tf.config.list_physical_devices())
    return bool(setting)


def cuts_batches(config) -> bool:
    """Whether a task cuts this run's batches to the columns their rows use:
    the config's model is `padding_invariant` (its outputs do not depend on the
    padding's width) and not compiled with XLA (`uses_xla`: a batch shape per
    step would recompile it every step). The one rule of `CTRSequence.trimmer`
    and `Retrieval.dataset`; `evaluation.predict_queries`, which has the model
    and not the config, reads the same two facts from the model."""
    model = MODELS.get(config.model.name)
    return bool(getattr(model, "padding_invariant", False)) and not uses_xla(config)


def _sample_inputs(config, task):
    """Model inputs of two training examples, to build a model's variables."""
    x, _ = next(iter(get_task(config).dataset(config, task.train, batch_size=2)))
    return x


def build_compiled_model(config, task):
    """`build_model`, compiled with the config's optimizer and built (the model's
    and the optimizer's variables exist), so that a run's checkpoints load into it."""
    model = build_model(config, task)
    try:
        optimizer = get_optimizer(config.train.optimizer, config.train.learning_rate)
    except ValueError as error:
        raise ConfigError(f"config.train.optimizer: {error}") from error
    model.compile(
        optimizer=optimizer,
        jit_compile=jit_compile_setting(config.train.jit_compile),
        steps_per_execution=config.train.steps_per_execution,
    )
    model(_sample_inputs(config, task))
    if model.trainable_variables:
        optimizer.build(model.trainable_variables)
    return model


# Keys that may change when a run is resumed (how long and how verbosely it trains).
RESUMABLE_CHANGES = (
    "train.epochs",
    "train.patience",
    "train.verbose",
    "train.log_every_steps",
    "train.histogram_freq",
    "train.keep_checkpoints",
    "eval.batch_size",
)


def flatten_config(config: dict, prefix: str = "") -> dict:
    """A nested config dict as {"train.learning_rate": value, ...}."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(flatten_config(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def keep_all_checkpoints(config) -> bool:
    """`config.train.keep_checkpoints`: "best" (default, also when the key is
    absent) or "all"; anything else is a ConfigError."""
    keep = config.train.get("keep_checkpoints", "best")
    if keep not in ("best", "all"):
        raise ConfigError(
            f"config.train.keep_checkpoints must be 'best' or 'all'. Received: {keep!r}"
        )
    return keep == "all"


def _check_resumable(workdir: str, config: dict) -> None:
    """Refuses to resume a workdir whose checkpoints come from another config."""
    if cb.read_state(workdir) is None:
        return
    with open(os.path.join(workdir, CONFIG_FILE)) as f:
        old = flatten_config(json.load(f))
    new = flatten_config(config)
    changed = sorted(
        k
        for k in set(old) | set(new)
        if old.get(k) != new.get(k) and k not in RESUMABLE_CHANGES
    )
    if changed:
        raise ConfigError(
            f"{workdir} holds checkpoints of a run whose config differs in {changed}; "
            "use another --workdir (or delete this one) to start a new run"
        )


def _summary_writer_text(workdir, config_json):
    writer = tf.summary.create_file_writer(
        os.path.join(workdir, "tensorboard", "config")
    )
    with writer.as_default():
        tf.summary.text("config", "```\n" + config_json + "\n```", step=0)
    writer.flush()


def worker_workdir(workdir: str, distribution) -> str:
    """`workdir` for the chief (or a single process), `workdir/worker<i>` for the
    other workers of a multi-worker run, so that they never write the same files."""
    resolver = getattr(distribution, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return workdir
    task_type, task_id = resolver.task_type, resolver.task_id
    jobs = resolver.cluster_spec().as_dict()
    chief = task_type == "chief" or (
        task_type == "worker" and task_id == 0 and "chief" not in jobs
    )
    return workdir if chief else os.path.join(workdir, f"{task_type}{task_id}")


def metric_mode(metric: str) -> str:
    """The selection mode of `metric`: "min" for logloss (lower is better), else "max"."""
    return "min" if metric in ("logloss",) else "max"


def run(
    config, workdir: str, strategy: str = "default", evaluate_test: bool = True
) -> dict:
    """Trains and evaluates the model of `config` in `workdir`; returns the results.

    Holds an OS lock on `workdir/.lock` for the whole run (a second run on the same
    workdir stops with a RunError naming the holder's pid; the OS releases the lock
    when the process dies, even by kill -9). Writes `config.json` first, logs to
    `workdir/tensorboard`, checkpoints every epoch under `workdir/checkpoints` (a
    restarted run resumes from the last one, if its config and its data files are
    unchanged), selects the best epoch on the validation split, evaluates it on test
    and writes `results.json` and the per-example test outputs (`test_outputs.npz`).
    Every file is written to a temporary name and renamed. With
    `evaluate_test=False` (the trials of a sweep) the test split is not scored and
    the results have no "test" entry.
    """
    start = time.time()
    cb.reset_peak_rss()  # this run's peak, not that of earlier runs in the process
    _check_config(config)
    # One spelling in config.json, so that "True" and "true" resume the same run.
    config.train.jit_compile = str(config.train.jit_compile).strip().lower()
    # The strategy comes first: a multi-worker strategy must exist before any
    # TensorFlow op runs.
    distribution = get_strategy(strategy)
    workdir = worker_workdir(workdir, distribution)
    with _workdir_lock(workdir):
        return _run(config, workdir, strategy, distribution, start, evaluate_test)


def _run(config, workdir, strategy, distribution, start, evaluate_test) -> dict:
    config_json = config.to_json_best_effort(indent=2, sort_keys=True)
    _check_resumable(workdir, json.loads(config_json))
    with cb.atomic_path(os.path.join(workdir, CONFIG_FILE)) as tmp:
        with open(tmp, "w") as f:
            f.write(config_json)
    keras.utils.set_random_seed(config.seed)
    log = _load_event_log(config)
    fingerprint = _check_data_unchanged(workdir, log.path)
    kind = get_task(config)
    task = build_task(config, log)
    evaluation_state = kind.evaluation(config, log, task)
    _summary_writer_text(workdir, config_json)
    subsampled = _eval_subsampled(task)
    base = {
        "run": run_name(config, log),
        "name": config.name,
        "model": config.model.name,
        "task": config.task,
        "dataset": (
            config.data.name
            if config.data.name in REAL and not config.data.path
            else log.meta.get("name", config.data.name)
        ),
        "data_path": log.path,
        "seed": config.seed,
        "machine": machine_description(),
        "onednn_opts": onednn_opts(),
        "num_train": len(task.train),
        "num_validation": len(task.validation),
        "num_test": len(task.test),
        "monitor": monitor_metric(config),
        **({"eval_subsampled": subsampled} if subsampled else {}),
        **evaluation_state["record"],
    }
    if config.model.name == ORACLE:
        scores = kind.oracle(
            config,
            log,
            task,
            evaluation_state,
            os.path.join(workdir, TEST_OUTPUTS_FILE),
        )
        results = {
            **base,
            "test": scores["test"],
            "validation": scores["validation"],
            "wall_seconds": time.time() - start,
        }
        cb.write_json_atomic(os.path.join(workdir, RESULTS_FILE), results)
        return results

    with distribution.scope():
        model = build_compiled_model(config, task)

    state = cb.read_state(workdir)
    initial_epoch = 0
    if state and state["epoch"] > 0:
        model.load_weights(os.path.join(workdir, cb.epoch_weights(state["epoch"])))
        initial_epoch = state["epoch"]
        print(f"[train] resuming {workdir} after epoch {initial_epoch}", flush=True)

    def evaluate(model, name, outputs=""):
        part = task.parts()[name]
        return kind.evaluate(config, model, name, part, evaluation_state, outputs)

    validate = lambda m: evaluate(m, "validation")  # noqa: E731
    monitor = monitor_metric(config)
    mode = metric_mode(monitor)
    validator = cb.ValidateAndCheckpoint(
        workdir,
        validate,
        monitor,
        mode,
        config.train.patience,
        state,
        keep_all=keep_all_checkpoints(config),
    )
    validator.state.setdefault("data_fingerprint", fingerprint)
    epochs = config.train.epochs if model.trainable_variables else 0
    stopped = bool(state and state.get("stopped"))
    if model.trainable_variables and initial_epoch < epochs and not stopped:
        batch = config.train.batch_size
        steps = math.ceil(len(task.train) / batch)
        dataset = kind.dataset(
            config,
            task.train,
            batch_size=batch,
            shuffle=True,
            seed=config.seed,
            epochs=(initial_epoch, None),
        )
        tensorboard = cb.TensorBoard(
            log_dir=os.path.join(workdir, "tensorboard"),
            histogram_freq=config.train.histogram_freq,
            update_freq=config.train.log_every_steps,
            write_graph=False,
        )
        model.fit(
            dataset,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps,
            callbacks=[validator, tensorboard],
            shuffle=False,  # the dataset shuffles itself, per epoch and seeded
            verbose=config.train.verbose,
        )
    state = validator.state
    if state["best_epoch"]:
        model.load_weights(os.path.join(workdir, cb.epoch_weights(state["best_epoch"])))
    test = (
        {"test": evaluate(model, "test", os.path.join(workdir, TEST_OUTPUTS_FILE))}
        if evaluate_test
        else {}
    )
    validation = evaluate(model, "validation")
    trained = len(state["history"])
    seconds = state["train_seconds"]
    results = {
        **base,
        **test,
        "validation": validation,
        "best_epoch": state["best_epoch"],
        "epochs_run": trained,
        # Per epoch: training loss and seconds, validation metrics (val_<name>),
        # for learning curves drawn from the results files.
        "history": state["history"],
        "train_seconds": seconds,
        "train_examples_per_second": (trained * len(task.train) / seconds)
        if seconds
        else None,
        "num_parameters": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
        # Peak resident memory of training and evaluation over every session of
        # the run; absent for a run whose training predates the record (a
        # re-evaluation alone would understate it).
        **(
            {"peak_rss_gb": max(state["peak_rss_gb"], cb.peak_rss_gb())}
            if "peak_rss_gb" in state
            else {}
        ),
        "wall_seconds": time.time() - start,
        "strategy": strategy,
        "replicas": distribution.num_replicas_in_sync,
    }
    embeddings = (
        dict(model.projector_embeddings())
        if hasattr(model, "projector_embeddings")
        else {}
    )
    if isinstance(model, RetrievalModel) and "user" not in embeddings:
        embeddings["user"], users = _last_user_queries(model, task.test)
    else:
        users = None
    projector_dir = os.path.join(workdir, "tensorboard", "projector")
    with cb.disk_full_names(projector_dir):
        projector.write(projector_dir, embeddings, log, users)
    cb.write_json_atomic(os.path.join(workdir, RESULTS_FILE), results)
    part = "test" if evaluate_test else "validation"
    print(
        f"[train] {results['run']} seed {config.seed}: {part} "
        f"{json.dumps(results[part])}",
        flush=True,
    )
    return results


class RestoredRun(NamedTuple):
    """A trained run read back from its workdir (see `restore_best`)."""

    config: ml_collections.ConfigDict
    log: schema.EventLog
    task: object
    model: keras.Model
    state: dict


def restore_best(workdir: str) -> RestoredRun:
    """The run in `workdir` rebuilt as it trained, holding its best epoch's weights.

    Reads `config.json`, loads the event log (refusing data files changed since the
    run, as a resumed run does), builds the task and the model with `build_task` /
    `build_model` and loads the model weights of the best epoch's checkpoint
    (`checkpoints/state.json`; the model is not compiled, so the checkpoint's
    optimizer state is left out), all under the workdir's lock (a run still
    training there stops this with a RunError naming its pid). A folder that is
    not a run, or a run without a finished best epoch, is a RunError naming the
    workdir.
    """
    config_file = os.path.join(workdir, CONFIG_FILE)
    if not os.path.isfile(config_file):
        what = "has no " + CONFIG_FILE if os.path.isdir(workdir) else "does not exist"
        raise RunError(
            f"--workdir {workdir} {what}; expected the folder of a run of "
            "experiments.train"
        )
    with _workdir_lock(workdir):
        with open(config_file) as f:
            config = ml_collections.ConfigDict(json.load(f))
        if config.model.name == ORACLE:
            raise RunError(f"--workdir {workdir} is a run of the {ORACLE}: no weights")
        state = cb.read_state(workdir)
        if not state or not state.get("best_epoch"):
            raise RunError(
                f"--workdir {workdir} has no finished epoch (no best epoch in "
                f"{cb.STATE_FILE}); train it first"
            )
        log = _load_event_log(config)
        _check_data_unchanged(workdir, log.path)
        task = build_task(config, log)
        model = build_model(config, task)
        model(_sample_inputs(config, task))
        model.load_weights(os.path.join(workdir, cb.epoch_weights(state["best_epoch"])))
    return RestoredRun(config, log, task, model, state)


# ------------------------------------------------------------ run-level checks

LOCK_FILE = ".lock"


def monitor_metric(config) -> str:
    """`config.eval.monitor`, with "auto" resolved by the task kind (auc for CTR,
    hr@50 for full-ranking retrieval, ndcg@10 for the sampled protocol)."""
    monitor = config.eval.monitor
    return get_task(config).monitor(config) if monitor == "auto" else monitor


def _check_config(config) -> None:
    """Refuses values no run can use, before anything is read or written."""
    for key in ("train.batch_size", "eval.batch_size"):
        block, name = key.split(".")
        if config[block][name] < 1:
            raise ConfigError(
                f"config.{key} must be a positive number of examples. "
                f"Received: {config[block][name]}"
            )
    if config.train.epochs < 0:
        raise ConfigError(
            "config.train.epochs must be >= 0 (0 = evaluate without training). "
            f"Received: {config.train.epochs}"
        )
    jit_compile_setting(config.train.jit_compile)
    kind = get_task(config)
    kind.check_config(config)
    refusal = check_bucketing(kind, config)
    if refusal:
        raise ConfigError(refusal)
    names = kind.metric_names(config)
    if monitor_metric(config) not in names:
        raise ConfigError(
            f"config.eval.monitor={config.eval.monitor!r} is not a computed "
            f"metric; it must be 'auto' or one of {names}"
        )


@contextlib.contextmanager
def _workdir_lock(workdir: str):
    """Holds an exclusive OS lock (flock) on `workdir/.lock`, which holds the pid.

    The OS releases it when the file is closed or the process dies (kill -9
    included), so a killed run never leaves a stale lock.
    """
    try:
        os.makedirs(workdir, exist_ok=True)
        handle = open(os.path.join(workdir, LOCK_FILE), "a+")
    except OSError as error:
        raise RunError(
            f"--workdir {workdir} cannot be written ({error.strerror or error}); "
            "expected a writable folder"
        ) from error
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RunError(
                f"--workdir {workdir} is in use by another run (pid {holder}); wait "
                "for it to end or use another --workdir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


def data_fingerprint(folder: str) -> dict[str, str]:
    """SHA-256 of every data file of a dataset folder (streamed), by file name."""
    fingerprint = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if (
            name.startswith(".")
            or name == schema.STATS_FILE
            or not os.path.isfile(path)
        ):
            continue
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                digest.update(block)
        fingerprint[name] = digest.hexdigest()
    return fingerprint


def _check_data_unchanged(workdir: str, folder: str | None) -> dict[str, str]:
    """The fingerprint of the data folder (`data_fingerprint`; {} for a log held in
    memory); refuses to resume checkpoints trained on other contents of it."""
    fingerprint = data_fingerprint(folder) if folder else {}
    old = (cb.read_state(workdir) or {}).get("data_fingerprint")
    if not old:
        return fingerprint
    changed = []
    for name in sorted(set(old) | set(fingerprint)):
        if name not in fingerprint:
            changed.append(f"{name} (removed)")
        elif name not in old:
            changed.append(f"{name} (new)")
        elif old[name] != fingerprint[name]:
            changed.append(name)
    if changed:
        raise RunError(
            f"{folder}: {', '.join(changed)} changed since the checkpoints of "
            f"{workdir} were trained on it; use another --workdir (or delete this "
            "one) to train on the new data"
        )
    return fingerprint


def _load_event_log(config):
    """`load_event_log`, its ValueErrors (an unknown dataset, a converter's bad
    input) as ConfigErrors naming the data config."""
    try:
        return load_event_log(config.data)
    except (ValueError, FileNotFoundError) as error:
        if isinstance(error, (RunError, SchemaError)):
            raise
        key = "config.data.path" if config.data.path else "config.data.name"
        raise ConfigError(f"{key}: {error}") from error


def run_name(config, log) -> str:
    """`<config.name>_<dataset>`: the dataset is `data.name`, or for a `data.path`
    the name in its meta.json ("synthetic" for the simulator, whatever its size)."""
    if not config.data.path:
        dataset = config.data.name
    elif log.meta.get("source") == "data_prep.synthetic":
        dataset = "synthetic"
    else:
        dataset = log.meta.get("name") or os.path.basename(config.data.path.rstrip("/"))
    return f"{config.name}_{dataset}"


def _eval_subsampled(task) -> dict:
    """{part: [kept, total]} of the evaluation parts a `max_eval_examples` cut."""
    totals = getattr(task, "eval_totals", None) or {}
    parts = task.parts()
    return {
        name: [len(parts[name]), total]
        for name, total in totals.items()
        if len(parts[name]) < total
    }


def _last_user_queries(model, part):
    """The query vector of each user's last test example, and those user ids."""
    latest_first = np.argsort(part.timestamps, kind="stable")[::-1]
    _, first = np.unique(part.user_ids[latest_first], return_index=True)
    rows = np.sort(latest_first[first])
    features = {k: v[rows] for k, v in part.features().items()}
    return evaluation.predict_queries(model, features), part.user_ids[rows]
