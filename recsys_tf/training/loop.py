"""The fit-loop glue: config -> data -> model -> training -> results.json."""

from __future__ import annotations

import inspect
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from recsys_tf.data import ctr, retrieval
from recsys_tf.data.datasets import REAL, load_event_log
from recsys_tf.data.input import make_dataset
from recsys_tf.models import MODELS, RetrievalModel
from recsys_tf.training import callbacks as cb
from recsys_tf.training import evaluation, projector
from recsys_tf.training.optimizers import get_optimizer
from recsys_tf.training.strategy import get_strategy

TASKS = ("ctr", "retrieval")
ORACLE = "oracle"
CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"


class ConfigError(ValueError):
    """A config value or key is not understood."""


def build_task(config, log):
    """The task examples named by `config.task` and `config.data`."""
    data = config.data
    if config.task == "ctr":
        return ctr.build_ctr_task(
            log,
            label=data.label,
            split=data.split,
            fractions=tuple(data.fractions),
            seed=config.seed,
            crosses=tuple(tuple(c) for c in data.crosses),
            rating_threshold=data.rating_threshold,
            fields=tuple(data.fields),
        )
    if config.task == "retrieval":
        return retrieval.build_retrieval_task(
            log,
            positive_events=tuple(data.positive_events),
            split=data.split,
            fractions=tuple(data.fractions),
            max_length=data.max_length,
            min_history=data.min_history,
            max_eval_examples=data.max_eval_examples or None,
            seed=config.seed,
        )
    raise ConfigError(f"config.task must be one of {TASKS}. Received: {config.task!r}")


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


def _inputs(config, part):
    if config.task == "ctr":
        return part.features, part.labels
    return part.features(), part.targets


PROTOCOLS = ("full", "sampled")


def _negatives(config, task):
    """Fixed sampled negatives of the validation and test parts (sampled protocol)."""
    if config.task != "retrieval" or config.eval.protocol == "full":
        return {}
    if config.eval.protocol not in PROTOCOLS:
        raise ConfigError(
            f"config.eval.protocol must be one of {PROTOCOLS}. "
            f"Received: {config.eval.protocol!r}"
        )
    seen = evaluation.user_items(task)
    return {
        name: evaluation.sampled_negatives(
            part,
            task.num_items,
            seen,
            config.eval.num_negatives,
            config.eval.negatives_seed + index,
        )
        for index, (name, part) in enumerate(task.parts().items())
        if name != "train"
    }


def _evaluate(config, model, part, negatives=None):
    if config.task == "ctr":
        return evaluation.evaluate_ctr(model, part, config.eval.batch_size)
    if negatives is not None:
        return evaluation.evaluate_retrieval_sampled(
            model, part, negatives, tuple(config.eval.ks), config.eval.batch_size
        )
    return evaluation.evaluate_retrieval(
        model, part, tuple(config.eval.ks), config.eval.batch_size
    )


def _oracle(config, log, task, negatives):
    """Validation and test scores of the planted true preference (simulated data)."""
    from data_prep import synthetic

    truth_file = os.path.join(log.path or "", "truth.npz")
    truth = log.truth() if os.path.exists(truth_file) else None
    parts = {name: part for name, part in task.parts().items() if name != "train"}
    results = {}
    if config.task == "ctr":
        for name, part in parts.items():
            if part.truth is None:
                raise ConfigError(
                    "the oracle needs a `truth_pref` column (simulated data)"
                )
            if truth is None:  # a truth_pref column without truth.npz: no P(click)
                results[name] = {
                    "auc": evaluation.metrics.auc(part.labels, part.truth),
                    "gauc": evaluation.metrics.gauc(
                        part.user_ids, part.labels, part.truth
                    ),
                }
            else:
                probability = synthetic.click_probability(truth, part.truth)
                results[name] = evaluation.ctr_metrics(
                    part.labels, probability, part.user_ids
                )
        return results
    if truth is None:
        raise ConfigError(f"the oracle needs {truth_file} (simulated data only)")
    for name, part in parts.items():
        if name in negatives:
            candidates = np.concatenate([part.targets[:, None], negatives[name]], 1)
            pref = synthetic.true_preference(
                truth, part.user_ids, part.request_ids, candidates
            )
            results[name] = evaluation.metrics.sampled_ranking_metrics(
                pref[:, 0], pref[:, 1:], tuple(config.eval.ks)
            )
            continue

        def scores(rows, part=part):
            return synthetic.true_preference(
                truth, part.user_ids[rows], part.request_ids[rows]
            )

        results[name] = evaluation.evaluate_scores(scores, part, tuple(config.eval.ks))
    return results


# Keys that may change when a run is resumed (how long and how verbosely it trains).
RESUMABLE_CHANGES = (
    "train.epochs",
    "train.patience",
    "train.verbose",
    "train.log_every_steps",
    "train.histogram_freq",
    "eval.batch_size",
)


def _flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _check_resumable(workdir: str, config: dict) -> None:
    """Refuses to resume a workdir whose checkpoints come from another config."""
    if cb.read_state(workdir) is None:
        return
    with open(os.path.join(workdir, CONFIG_FILE)) as f:
        old = _flatten(json.load(f))
    new = _flatten(config)
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

    Writes `config.json` first, logs to `workdir/tensorboard`, checkpoints every
    epoch under `workdir/checkpoints` (a restarted run resumes from the last one),
    selects the best epoch on the validation split, evaluates it on test and writes
    `results.json`. With `evaluate_test=False` (the trials of a sweep) the test
    split is not scored and the results have no "test" entry.
    """
    start = time.time()
    # The strategy comes first: a multi-worker strategy must exist before any
    # TensorFlow op runs.
    distribution = get_strategy(strategy)
    workdir = worker_workdir(workdir, distribution)
    os.makedirs(workdir, exist_ok=True)
    config_json = config.to_json_best_effort(indent=2, sort_keys=True)
    _check_resumable(workdir, json.loads(config_json))
    with open(os.path.join(workdir, CONFIG_FILE), "w") as f:
        f.write(config_json)
    keras.utils.set_random_seed(config.seed)
    log = load_event_log(config.data)
    task = build_task(config, log)
    negatives = _negatives(config, task)
    _summary_writer_text(workdir, config_json)
    base = {
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
        "num_train": len(task.train),
        "num_validation": len(task.validation),
        "num_test": len(task.test),
        "protocol": config.eval.protocol if config.task == "retrieval" else None,
    }
    if config.model.name == ORACLE:
        scores = _oracle(config, log, task, negatives)
        results = {
            **base,
            "test": scores["test"],
            "validation": scores["validation"],
            "wall_seconds": time.time() - start,
        }
        cb.write_json_atomic(os.path.join(workdir, RESULTS_FILE), results)
        return results

    with distribution.scope():
        model = build_model(config, task)
        try:
            optimizer = get_optimizer(
                config.train.optimizer, config.train.learning_rate
            )
        except ValueError as error:
            raise ConfigError(f"config.train.optimizer: {error}") from error
        model.compile(
            optimizer=optimizer,
            jit_compile=config.train.jit_compile,
            steps_per_execution=config.train.steps_per_execution,
        )
        features, labels = _inputs(config, task.train)
        sample = make_dataset(features, labels, batch_size=2)
        x, _ = next(iter(sample))
        model(x)
        if model.trainable_variables:
            optimizer.build(model.trainable_variables)

    state = cb.read_state(workdir)
    initial_epoch = 0
    if state and state["epoch"] > 0:
        model.load_weights(os.path.join(workdir, cb.epoch_weights(state["epoch"])))
        initial_epoch = state["epoch"]
        print(f"[train] resuming {workdir} after epoch {initial_epoch}", flush=True)

    validate = lambda m: _evaluate(  # noqa: E731
        config, m, task.validation, negatives.get("validation")
    )
    monitor = config.eval.monitor
    mode = metric_mode(monitor)
    validator = cb.ValidateAndCheckpoint(
        workdir, validate, monitor, mode, config.train.patience, state
    )
    epochs = config.train.epochs if model.trainable_variables else 0
    stopped = bool(state and state.get("stopped"))
    if model.trainable_variables and initial_epoch < epochs and not stopped:
        batch = config.train.batch_size
        steps = math.ceil(len(task.train) / batch)
        dataset = make_dataset(
            features,
            labels,
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
        {"test": _evaluate(config, model, task.test, negatives.get("test"))}
        if evaluate_test
        else {}
    )
    validation = _evaluate(config, model, task.validation, negatives.get("validation"))
    trained = len(state["history"])
    seconds = state["train_seconds"]
    results = {
        **base,
        **test,
        "validation": validation,
        "best_epoch": state["best_epoch"],
        "epochs_run": trained,
        "train_seconds": seconds,
        "train_examples_per_second": (trained * len(task.train) / seconds)
        if seconds
        else None,
        "num_parameters": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
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
    projector.write(
        os.path.join(workdir, "tensorboard", "projector"), embeddings, log, users
    )
    cb.write_json_atomic(os.path.join(workdir, RESULTS_FILE), results)
    part = "test" if evaluate_test else "validation"
    print(
        f"[train] {config.name} seed {config.seed}: {part} {json.dumps(results[part])}",
        flush=True,
    )
    return results


def _last_user_queries(model, part):
    """The query vector of each user's last test example, and those user ids."""
    latest_first = np.argsort(part.timestamps, kind="stable")[::-1]
    _, first = np.unique(part.user_ids[latest_first], return_index=True)
    rows = np.sort(latest_first[first])
    features = {k: v[rows] for k, v in part.features().items()}
    return evaluation.predict_queries(model, features), part.user_ids[rows]
