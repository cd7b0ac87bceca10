"""Throughput and latency benchmark of the suite's models (`make bench`).

    python -m experiments.bench --output=experiments/results/bench.json

Generated data of a fixed shape (200k rows, 10 categorical fields, embedding 16,
MLP 256-128-64, Adam 1e-3, batch 4096). Labels come from a planted logistic model
over the fields (CTR) or a planted user-item affinity (retrieval), so the test metric
says whether the fast configuration still learns. CTR rows: Wide&Deep, DeepFM, DCN
(3 cross layers), AutoInt (the paper's 3 interacting layers of 2 heads x 32, no MLP)
and IPNN (`PNN(product="inner")`); retrieval: YouTube DNN. Sequential retrieval
(issue 20): SASRec, GRU4Rec, Caser, NARM, SHAN, HPMN, BINN and SDM (each with its
defaults but these sizes) on generated sequences of issue 20's shape (5,000
users x 3,000 items, max length 50, embedding 64, the full softmax at every
position, batch 256; section "sequential", `--only_sequential` for it alone); their
examples/s are sequences/s (one row per user, a target at each of its 50 positions,
BINN's at its last only: `positions_per_second`), where RecBole counts a (prefix, next item) pair as a
training sequence. Behaviour-sequence rows
(section "sequence", issues 19 and 21): DIN, DIEN and DUMN at T = 50 and 100 beside Wide&Deep,
each as its experiments/configs file builds it, on the simulator's data through the
trainer's input pipeline (`--sequence_*` flags). Task build (section
"task_build", issue 19's memory): the event-log load and DUMN's behaviour-sequence
task build (experiments/configs/dumn.py, T = 100) on the simulator (size small)
and KuaiRand-Pure, each in a fresh subprocess, timed, with the peak resident
memory after the load and after the build (`--task_build_sources`,
`--only_task_build`).

Each training measurement is repeated `--repeats` times, a fresh model each time,
and reported as the median and range (min-max) over the runs of:
- steady-state examples/s: the median over a run's epochs after the first;
- all-epochs examples/s: rows x epochs / the whole run's wall time, from building
  the model to the end of `fit` (the first epoch's tracing included), and the
  overhead, that wall time minus epochs x the steady epoch time.
Also per model: the test metric (median over the runs), the share of step time
spent waiting for the input pipeline, the achieved FLOP/s of the model's forward
and backward pass (3x the forward FLOPs that TensorFlow's profiler counts) as a
ratio of a dense matmul measured in the same run, and, for a CTR model, inference
latency (median and p99 over `--latency_calls` calls after warm-up) at batch 1 and
256 through the export's serving signature (`experiments.export.Serving`, a
`tf.function` with a fixed input signature) in process and through the SavedModel
that `experiments.export.save` writes, loaded back with `tf.saved_model.load`.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from absl import app, flags, logging

from experiments import export, summarize
from recsys_tf import metrics
from recsys_tf.data.datasets import load_event_log
from recsys_tf.data.input import make_dataset
from recsys_tf.data.retrieval import SESSION_INPUTS
from recsys_tf.models import (
    BINN,
    DCN,
    HPMN,
    NARM,
    PNN,
    SDM,
    SHAN,
    AutoInt,
    Caser,
    DeepFM,
    GRU4Rec,
    SASRec,
    WideDeep,
    YouTubeDNN,
)
from recsys_tf.tasks import get_task
from recsys_tf.training import evaluation, loop
from recsys_tf.training.errors import ConfigError
from recsys_tf.training.optimizers import get_optimizer
from recsys_tf.training.strategy import onednn_opts

_OUTPUT = flags.DEFINE_string(
    "output", "experiments/results/bench.json", "Results file."
)
_ROWS = flags.DEFINE_integer("rows", 200_000, "Training rows.")
_EPOCHS_CTR = flags.DEFINE_integer(
    "epochs_ctr",
    5,
    "Epochs of a CTR model's run, the first included (steady state: the others).",
)
_EPOCHS_RETRIEVAL = flags.DEFINE_integer(
    "epochs_retrieval",
    11,
    "Epochs of a YouTube DNN run, the first included; its loss leaves the "
    "log(num_sampled + 1) plateau only after about five epochs at Adam 1e-3.",
)
_REPEATS = flags.DEFINE_integer(
    "repeats",
    3,
    "Runs of each model's training measurement, a fresh model each; the results "
    "file and the table give their median and range.",
)
_MODELS = flags.DEFINE_list(
    "models",
    [
        "wide_deep",
        "deepfm",
        "dcn",
        "autoint",
        "ipnn",
        "youtube_dnn",
        "sasrec",
        "gru4rec",
        "caser",
        "narm",
        "shan",
        "hpmn",
        "binn",
        "sdm",
    ],
    "Models to measure (the CTR_MODELS keys, youtube_dnn and the SEQUENTIAL ones).",
)
_EPOCHS_SEQUENTIAL = flags.DEFINE_integer(
    "epochs_sequential",
    3,
    "Epochs of a sequential model's run (SEQUENTIAL), the first included.",
)
_ONLY_SEQUENTIAL = flags.DEFINE_bool(
    "only_sequential",
    False,
    "Run only the sequential rows (the SEQUENTIAL models of --models), "
    "written to the results file's 'sequential' section, the others kept.",
)
_LATENCY_CALLS = flags.DEFINE_integer(
    "latency_calls",
    200,
    "Timed inference calls per CTR model, batch size and path (after "
    "--latency_warmup calls).",
)
_LATENCY_WARMUP = flags.DEFINE_integer(
    "latency_warmup", 20, "Untimed inference calls before the timed ones."
)
_LATENCY_BATCHES = flags.DEFINE_list(
    "latency_batch_sizes", ["1", "256"], "Batch sizes of the latency measurement."
)
_BUILD_FIRST = flags.DEFINE_bool(
    "build_first",
    True,
    "Build the model and its optimizer on two examples before `fit` (inside the "
    "timed run), as the trainer does: Keras then skips its symbolic build, which "
    "traces the model once more (DeepFM, 20k rows: 1.8 instead of 2.8 CPU-seconds "
    "per 3-epoch run).",
)
_JIT = flags.DEFINE_string(
    "jit_compile",
    "auto",
    "XLA for model.compile: auto, true or false (Keras' auto means off on "
    "CPU-only machines).",
)
_SEED = flags.DEFINE_integer("seed", 0, "Data and model seed.")
_OPTIMIZER = flags.DEFINE_string(
    "optimizer", "lazy_adam", "adam (dense updates of whole tables) or lazy_adam."
)
_SAMPLER = flags.DEFINE_enum(
    "sampler",
    "uniform",
    ["uniform", "log_uniform", "unigram"],
    "Candidate sampler of the YouTube DNN sampled softmax (the generated items are "
    "equally popular, so uniform is the matching proposal).",
)
_STEPS_PER_EXECUTION = flags.DEFINE_integer(
    "steps_per_execution", 1, "Keras steps_per_execution."
)

BATCH = 4096
FIELDS = 10
EMBEDDING = 16
HIDDEN = (256, 128, 64)
VOCAB = (100_000, 50_000, 10_000, 5_000, 1_000, 1_000, 100, 100, 20, 10)
NUM_ITEMS = 10_000
HISTORY = 20
NUM_SAMPLED = 100

# The CTR rows: name -> the model on fields `f` (vocabularies VOCAB), embedding 16,
# MLP 256-128-64 where the model has one; other sizes are the models' defaults.
CTR_MODELS = {
    "wide_deep": lambda f: WideDeep(f, VOCAB, f, VOCAB, EMBEDDING, HIDDEN),
    "deepfm": lambda f: DeepFM(f, VOCAB, EMBEDDING, HIDDEN),
    "dcn": lambda f: DCN(f, VOCAB, EMBEDDING, hidden_units=HIDDEN),
    "autoint": lambda f: AutoInt(f, VOCAB, EMBEDDING),
    "ipnn": lambda f: PNN(f, VOCAB, EMBEDDING, HIDDEN, product="inner"),
}


def _host() -> dict:
    """The machine and the CPU kernels a bench section ran on."""
    return {"machine": summarize.machine(), "onednn_opts": onednn_opts()}


def ctr_data(rows, seed):
    """Fields with planted weights: y ~ Bernoulli(sigmoid(sum_f w_f[x_f]))."""
    rng = np.random.default_rng(seed)
    x = {
        f"f{i}": (rng.zipf(1.2, rows) % v).astype(np.int64) for i, v in enumerate(VOCAB)
    }
    logit = sum(rng.normal(0, 0.6, v)[x[f"f{i}"]] for i, v in enumerate(VOCAB)) - 1.0
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return x, y


def retrieval_data(rows, seed):
    """Users in 50 taste clusters; items in 50 clusters; the next item is drawn from
    the user's cluster 80% of the time; histories from the same process."""
    rng = np.random.default_rng(seed)
    item_cluster = rng.integers(0, 50, NUM_ITEMS)
    by_cluster = [np.flatnonzero(item_cluster == c) for c in range(50)]
    user_cluster = rng.integers(0, 50, rows)

    def draw(n_per_row):
        own = rng.random((rows, n_per_row)) < 0.8
        pick = rng.integers(0, 1 << 30, (rows, n_per_row))
        items = rng.integers(0, NUM_ITEMS, (rows, n_per_row))
        for c in range(50):
            rows_c = user_cluster == c
            members = by_cluster[c]
            chosen = members[pick[rows_c] % len(members)]
            items[rows_c] = np.where(own[rows_c], chosen, items[rows_c])
        return items

    history = draw(HISTORY)
    target = draw(1)[:, 0]
    lengths = rng.integers(1, HISTORY + 1, rows)
    mask = np.arange(HISTORY)[None, :] >= (HISTORY - lengths)[:, None]
    x = {"history": np.where(mask, history, 0), "history_mask": mask}
    for i, v in enumerate(VOCAB[1:FIELDS]):  # 9 user fields + the history = 10 fields
        x[f"u{i}"] = (rng.zipf(1.2, rows) % v).astype(np.int64)
    return x, target.astype(np.int64)


def matmul_flops_per_second(size=2048, repeats=20):
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    f = tf.function(lambda: tf.matmul(a, b))
    f().numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        out = f()
    out.numpy()
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def mlp_flops_per_example(in_dim, units):
    """Forward + backward multiply-adds of the dense layers (x3 forward), times 2."""
    total, dims = 0, (in_dim,) + tuple(units)
    for a, b in zip(dims[:-1], dims[1:]):
        total += 2 * a * b
    return 3 * total


def forward_flops_per_example(model, specs) -> int:
    """Float operations of one example's forward pass, as TensorFlow's profiler
    counts them on the graph of `model` over a batch of one (`specs`: the
    serving signature, `experiments.export.serving_specs`)."""
    one = {k: tf.TensorSpec([1, *s.shape[1:]], s.dtype) for k, s in specs.items()}
    graph = (
        tf.function(lambda x: model(x, training=False)).get_concrete_function(one).graph
    )
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops


def input_share(dataset, step_seconds, steps):
    """Fraction of a training step that the input pipeline alone would take."""
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    for _ in range(steps):
        next(iterator)
    return (time.perf_counter() - start) / steps / step_seconds


class _Timer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._t)


def _fit(build, dataset, sample, rows, epochs, batch=BATCH):
    """One timed run: `build()` a fresh model, compile it, fit `epochs` epochs.

    With --build_first the model and its optimizer are built on `sample` (two
    examples) before `fit`, as the trainer does (`loop.build_compiled_model`).
    Returns the model and the run's timings: `seconds` (wall time from `build()`
    to the end of `fit`), `epoch_seconds`, steady-state `examples_per_second`
    (median over the epochs after the first; this VM's speed varies by about 20%
    between epochs), `all_epochs_examples_per_second` (rows x epochs / seconds)
    and `overhead_seconds` (seconds - epochs x the steady epoch time)."""
    start = time.perf_counter()
    model = build()
    model.compile(
        optimizer=get_optimizer(_OPTIMIZER.value, 1e-3),
        jit_compile=loop.jit_compile_setting(_JIT.value, "--jit_compile"),
        steps_per_execution=_STEPS_PER_EXECUTION.value,
    )
    if _BUILD_FIRST.value:
        model(sample)
        model.optimizer.build(model.trainable_variables)
    timer = _Timer()
    model.fit(
        dataset,
        epochs=epochs,
        steps_per_epoch=-(-rows // batch),
        callbacks=[timer],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    steady = float(np.median(timer.epoch_seconds[1:] or timer.epoch_seconds))
    return model, {
        "seconds": seconds,
        "epoch_seconds": timer.epoch_seconds,
        "examples_per_second": rows / steady,
        "all_epochs_examples_per_second": rows * epochs / seconds,
        "overhead_seconds": seconds - epochs * steady,
    }


TIMINGS = (
    "examples_per_second",
    "all_epochs_examples_per_second",
    "overhead_seconds",
)


def _datasets(x, y, seed, batch=BATCH):
    """The endless shuffled training dataset of `(x, y)` in batches of `batch` and
    the inputs of two examples (to build a model on)."""
    dataset = make_dataset(
        x, y, batch_size=batch, shuffle=True, seed=seed, epochs=(0, None)
    )
    return dataset, next(iter(make_dataset(x, y, batch_size=2)))[0]


def _repeat(name, build, measure, datasets, rows, epochs, seed, repeats, batch=BATCH):
    """`repeats` runs of `_fit` on `datasets` (`_datasets`), each followed by
    `measure(model)` (its test metrics); returns the last model and the model's
    record: the median and [min, max] range over the runs of each of TIMINGS, the
    median of each test metric, the step time, the input pipeline's share of it
    (the same batches drawn from the dataset alone) and every run (`per_run`)."""
    steps = -(-rows // batch)
    dataset, sample = datasets
    runs = []
    for repeat in range(repeats):
        keras.utils.set_random_seed(seed)
        model, run = _fit(build, dataset, sample, rows, epochs, batch)
        run.update(measure(model))
        runs.append(run)
        print(
            f"[bench] {name} run {repeat + 1}/{repeats}: "
            + ", ".join(f"{k} {v:.4g}" for k, v in run.items() if np.isscalar(v)),
            flush=True,
        )
    record = {"model": name, "repeats": repeats, "epochs": epochs}
    for key in TIMINGS:
        values = [r[key] for r in runs]
        record[key] = float(np.median(values))
        record[f"{key}_range"] = [float(min(values)), float(max(values))]
    for key in runs[0]:
        if key.startswith("test_"):
            record[key] = float(np.median([r[key] for r in runs]))
    step = rows / record["examples_per_second"] / steps
    record["step_seconds"] = step
    record["input_pipeline_share"] = input_share(dataset, step, steps)
    record["per_run"] = runs
    return model, record


def _milliseconds(call, calls, warmup) -> dict:
    """Median and p99 wall time (ms) of `calls` calls of `call` after `warmup`."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(1e3 * (time.perf_counter() - start))
    return {
        "median_ms": float(np.median(times)),
        "p99_ms": float(np.percentile(times, 99)),
    }


def latency(model, features, specs, batch_sizes, calls, warmup) -> dict:
    """Inference latency of a CTR model, probabilities fetched to NumPy:
    `{"function" | "saved_model": {batch size: {"median_ms", "p99_ms"}}}`.

    "function" is the export's serving signature in process
    (`experiments.export.Serving.serve`, a `tf.function` with a fixed input
    signature, traced once for every batch size), "saved_model" the same signature
    written by `experiments.export.save` and loaded with `tf.saved_model.load`.
    A batch of `b` is the first `b` rows of `features` (repeated if fewer)."""
    serving = export.Serving(model, specs, model.input_fields())
    out = {"function": {}, "saved_model": {}}
    with tempfile.TemporaryDirectory() as folder:
        export.save(model, specs, folder)
        loaded = tf.saved_model.load(folder).signatures[export.SIGNATURE]
        for size in batch_sizes:
            inputs = {
                k: tf.constant(np.resize(features[k], size), s.dtype)
                for k, s in specs.items()
            }
            out["function"][str(size)] = _milliseconds(
                lambda x=inputs: serving.serve(x)["probability"].numpy(), calls, warmup
            )
            out["saved_model"][str(size)] = _milliseconds(
                lambda x=inputs: loaded(**x)["probability"].numpy(), calls, warmup
            )
    return out


def bench_ctr(name, rows, epochs, seed, peak, repeats):
    """The record of CTR model `name` (a CTR_MODELS key), latencies included."""
    x, y = ctr_data(int(rows * 1.2), seed)
    train = {k: v[:rows] for k, v in x.items()}
    test = {k: v[rows:] for k, v in x.items()}
    names = tuple(x)

    def measure(model):
        logits = model.predict(make_dataset(test, batch_size=BATCH), verbose=0)
        return {"test_auc": metrics.auc(y[rows:], np.asarray(logits).reshape(-1))}

    model, record = _repeat(
        name,
        lambda: CTR_MODELS[name](names),
        measure,
        _datasets(train, y[:rows], seed),
        rows,
        epochs,
        seed,
        repeats,
    )
    specs = export.serving_specs(model.input_fields(), test)
    flops = 3 * forward_flops_per_example(model, specs) * record["examples_per_second"]
    record["dense_flops_per_second"] = flops
    record["dense_flops_ratio_to_matmul"] = flops / peak
    record["latency"] = latency(
        model,
        test,
        specs,
        [int(b) for b in _LATENCY_BATCHES.value],
        _LATENCY_CALLS.value,
        _LATENCY_WARMUP.value,
    )
    return record


def bench_youtube_dnn(rows, epochs, seed, peak, repeats):
    x, y = retrieval_data(int(rows * 1.05), seed)
    train = {k: v[:rows] for k, v in x.items()}
    user_fields = tuple(k for k in x if k.startswith("u"))

    class _Split:
        targets = y[rows:]

        @staticmethod
        def features():
            return {k: v[rows:] for k, v in x.items()}

    def build():
        return YouTubeDNN(
            NUM_ITEMS,
            user_fields,
            VOCAB[1:FIELDS],
            EMBEDDING,
            HIDDEN,
            num_sampled=NUM_SAMPLED,
            sampler=_SAMPLER.value,
            seed=seed,
        )

    def measure(model):
        scores = evaluation.evaluate_retrieval(model, _Split, (10, 50))
        return {"test_hr@10": scores["hr@10"], "test_hr@50": scores["hr@50"]}

    _, record = _repeat(
        "youtube_dnn",
        build,
        measure,
        _datasets(train, y[:rows], seed),
        rows,
        epochs,
        seed,
        repeats,
    )
    in_dim = FIELDS * EMBEDDING
    flops = (
        mlp_flops_per_example(in_dim, HIDDEN) + 3 * 2 * HIDDEN[-1] * (NUM_SAMPLED + 1)
    ) * record["examples_per_second"]
    record.update(
        num_sampled=NUM_SAMPLED,
        sampler=_SAMPLER.value,
        num_items=NUM_ITEMS,
        dense_flops_per_second=flops,
        dense_flops_ratio_to_matmul=flops / peak,
    )
    return record


SEQUENTIAL_USERS = 5_000
SEQUENTIAL_ITEMS = 3_000
SEQUENTIAL_LENGTH = 50
SEQUENTIAL_EMBEDDING = 64
SEQUENTIAL_BATCH = 256
SEQUENTIAL_SESSION = 10  # SDM's sessions in the generated rows: runs of 10 items


def _sequential(cls, users=False, units=False, length=False, **extra):
    """The builder `(items, users, seed) -> model` of a SEQUENTIAL row: `cls` at
    its defaults but the shared shape, read at build time: the item (and, with
    `users`, the user) count, embedding SEQUENTIAL_EMBEDDING (and as many `units`;
    with `users` a user embedding as wide where the model has one; with `length`
    max_length SEQUENTIAL_LENGTH), the full softmax at every position; then
    `extra` arguments."""

    def build(items, num_users, seed):
        sizes = {"embedding_dim": SEQUENTIAL_EMBEDDING}
        if units:
            sizes["units"] = SEQUENTIAL_EMBEDDING
        if length:
            sizes["max_length"] = SEQUENTIAL_LENGTH
        if users and units:  # SDM's user embedding beside its units
            sizes["user_embedding_dim"] = SEQUENTIAL_EMBEDDING
        counts = (items, num_users) if users else (items,)
        options = {"loss": "softmax", "per_position": True, **sizes, **extra}
        return cls(*counts, seed=seed, **options)

    return build


SEQUENTIAL = {
    "sasrec": _sequential(SASRec, length=True),
    "gru4rec": _sequential(GRU4Rec, units=True),
    "caser": _sequential(Caser, users=True),
    "narm": _sequential(NARM, units=True),
    "shan": _sequential(SHAN, users=True),
    "hpmn": _sequential(HPMN, units=True),
    # Its Bi-CLSTM reads each prefix backwards from its own end: one target per
    # row (the last), not one per position.
    "binn": _sequential(BINN, units=True, per_position=False),
    "sdm": _sequential(SDM, users=True, units=True),
}


def sequential_data(users, items, length, seed):
    """Per-position training rows and one test row per user.

    Each user draws `length + 2` items: from its taste cluster (one of 50, item i
    in cluster i mod 50) 80% of the time, else uniformly. Training: the first
    `length` items, each followed by its target (every position real); test: the
    last `length` items before the final one, which is the target. Every row also
    has the user's id (`user_id`, 0 .. users - 1) and SDM's session inputs
    (`SESSION_INPUTS`: the user's items cut into runs of SEQUENTIAL_SESSION from
    its first one, every earlier item of the window long-term)."""
    rng = np.random.default_rng(seed)
    clusters = min(50, items)
    sizes = -(-(items - np.arange(clusters)) // clusters)  # items of each cluster
    cluster = rng.integers(0, clusters, users)[:, None]
    members = cluster + clusters * (
        rng.integers(0, 1 << 30, (users, length + 2)) % sizes[cluster]
    )
    uniform = rng.integers(0, items, (users, length + 2))
    sequence = np.where(rng.random((users, length + 2)) < 0.8, members, uniform)
    mask = np.ones((users, length), bool)

    def row(first):
        column = np.arange(length)
        position = (first + column) % SEQUENTIAL_SESSION
        return {
            "history": sequence[:, first : first + length],
            "history_mask": mask,
            "user_id": np.arange(users),
            SESSION_INPUTS[0]: np.tile(position.astype(np.int32), (users, 1)),
            SESSION_INPUTS[1]: np.tile((column - position).clip(0), (users, 1)),
        }

    return row(0), sequence[:, 1 : length + 1], row(1), sequence[:, -1]


def sequential_flops_per_sequence(name, length, items, dim) -> int | None:
    """Forward + backward (3x forward) float operations of one training row: the
    matrix products (SASRec: 2 blocks of 5 dense layers and the attention; GRU4Rec:
    the 3 gates) and the full softmax at every position; None for the other
    models (not counted)."""
    if name not in ("sasrec", "gru4rec"):
        return None
    if name == "sasrec":
        model = 2 * (5 * 2 * length * dim * dim + 2 * 2 * length * length * dim)
    else:
        model = 3 * 2 * length * (dim + dim) * dim
    return 3 * (model + 2 * length * items * dim)


def bench_sequential(name, users, epochs, seed, peak, repeats):
    """The record of sequential model `name` (a SEQUENTIAL key): sequences/s,
    positions/s and the test HR@10 / HR@50 (full ranking, last item per user)."""
    train, targets, test, test_targets = sequential_data(
        users, SEQUENTIAL_ITEMS, SEQUENTIAL_LENGTH, seed
    )

    def build():
        return SEQUENTIAL[name](SEQUENTIAL_ITEMS, users, seed)

    model = build()
    fields = model.input_fields()  # each model's own inputs of the rows
    targets_per_row = SEQUENTIAL_LENGTH if model.per_position else 1
    train = {k: v for k, v in train.items() if k in fields}
    test = {k: v for k, v in test.items() if k in fields}

    class _Split:
        targets = test_targets

        @staticmethod
        def features():
            return test

    def measure(model):
        scores = evaluation.evaluate_retrieval(model, _Split, (10, 50))
        return {"test_hr@10": scores["hr@10"], "test_hr@50": scores["hr@50"]}

    _, record = _repeat(
        name,
        build,
        measure,
        _datasets(train, targets, seed, batch=SEQUENTIAL_BATCH),
        users,
        epochs,
        seed,
        repeats,
        batch=SEQUENTIAL_BATCH,
    )
    flops = sequential_flops_per_sequence(
        name, SEQUENTIAL_LENGTH, SEQUENTIAL_ITEMS, SEQUENTIAL_EMBEDDING
    )
    if flops is not None:
        flops = flops * record["examples_per_second"]
    record.update(
        rows=users,
        num_items=SEQUENTIAL_ITEMS,
        max_length=SEQUENTIAL_LENGTH,
        embedding_dim=SEQUENTIAL_EMBEDDING,
        batch_size=SEQUENTIAL_BATCH,
        loss="softmax",
        targets_per_row=targets_per_row,
        positions_per_second=record["examples_per_second"] * targets_per_row,
        dense_flops_per_second=flops,
        dense_flops_ratio_to_matmul=None if flops is None else flops / peak,
    )
    return record


def bench_sequentials(names, peak) -> dict:
    """The "sequential" section: `bench_sequential` of each of `names` and the
    shared settings (issue 20's shape), for the table beside RecBole's rates."""
    runs = [
        bench_sequential(
            name,
            SEQUENTIAL_USERS,
            _EPOCHS_SEQUENTIAL.value,
            _SEED.value,
            peak,
            _REPEATS.value,
        )
        for name in names
    ]
    for run in runs:
        print(f"[bench] sequential {json.dumps(run)}", flush=True)
    return {
        **_host(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "optimizer": _OPTIMIZER.value,
        "jit_compile": _JIT.value.lower(),
        "users": SEQUENTIAL_USERS,
        "items": SEQUENTIAL_ITEMS,
        "max_length": SEQUENTIAL_LENGTH,
        "embedding_dim": SEQUENTIAL_EMBEDDING,
        "batch_size": SEQUENTIAL_BATCH,
        "epochs": _EPOCHS_SEQUENTIAL.value,
        "repeats": _REPEATS.value,
        "matmul_flops_per_second": peak,
        "runs": runs,
    }


_SEQUENCE_MODELS = flags.DEFINE_list(
    "sequence_models",
    ["wide_deep", "din", "dien", "dumn"],
    "Models of the behaviour-sequence rows (issue 19, Speed), each built by its "
    "experiments/configs file on the simulator (its data.path: "
    "--sequence_data_path) and trained in that config's batch size; Wide&Deep on "
    "the plain CTR task of the same data. Empty to skip.",
)
_SEQUENCE_LENGTHS = flags.DEFINE_list(
    "sequence_lengths", ["50", "100"], "T (data.max_length) of the sequence rows."
)
_SEQUENCE_ROWS = flags.DEFINE_integer(
    "sequence_rows",
    102_400,
    "Training rows per epoch of a sequence row (the training part of the data, "
    "shuffled as the trainer shuffles it).",
)
_SEQUENCE_EPOCHS = flags.DEFINE_integer(
    "sequence_epochs", 3, "Epochs of a sequence row's run, the first included."
)
_SEQUENCE_DATA_PATH = flags.DEFINE_string(
    "sequence_data_path",
    "",
    "config.data.path of the sequence rows ('' = the configs' default: the small "
    "simulator under data/, generated on first use).",
)
_SEQUENCE_BUCKET_BATCHES = flags.DEFINE_integer(
    "sequence_bucket_batches",
    0,
    "config.train.bucket_batches of the sequence rows: 0 = random batches (the "
    "configs' default), k > 0 = rows of similar lengths batched together (other "
    "batches; for DUMN, narrower cut batches).",
)


def bench_sequence(name, length, rows, epochs, seed, repeats):
    """The record of model config `name` (`experiments/configs/<name>.py`) on its
    task over --sequence_data_path (the simulator), with T = `length` (None: the config's; a
    model without sequences ignores it): training examples/s, steady and over all
    epochs, and the input pipeline's share of the step (`_repeat`)."""
    config = importlib.import_module(f"experiments.configs.{name}").get_config()
    config.data.path = _SEQUENCE_DATA_PATH.value or config.data.path
    config.seed = seed
    config.train.jit_compile = _JIT.value  # the batches follow it (`loop.uses_xla`)
    kind = get_task(config)
    if kind.buckets:  # a task without sequences refuses bucketing
        config.train.bucket_batches = _SEQUENCE_BUCKET_BATCHES.value
    if length is not None:
        config.data.max_length = length
    task = loop.build_task(config, load_event_log(config.data))
    batch = config.train.batch_size
    dataset = kind.dataset(
        config, task.train, batch_size=batch, shuffle=True, seed=seed, epochs=(0, None)
    )
    sample = next(iter(kind.dataset(config, task.train, batch_size=2)))[0]
    _, record = _repeat(
        f"{name}_T{length}" if length is not None else name,
        lambda: loop.build_model(config, task),
        lambda model: {},
        (dataset, sample),
        rows,
        epochs,
        seed,
        repeats,
        batch,
    )
    record.update(
        config=name, task=config.task, max_length=length, batch_size=batch, rows=rows
    )
    return record


def bench_sequences(names, lengths, rows, epochs, seed, repeats) -> dict:
    """The behaviour-sequence rows: every model of `names` at every T of
    `lengths` (a model whose task has no sequences once)."""
    runs = []
    for name in names:
        config = importlib.import_module(f"experiments.configs.{name}").get_config()
        for length in lengths if config.task == "ctr_sequence" else [None]:
            runs.append(bench_sequence(name, length, rows, epochs, seed, repeats))
            print(f"[bench] {json.dumps(runs[-1])}", flush=True)
    return {
        **_host(),
        "data_path": _SEQUENCE_DATA_PATH.value or "synthetic (small)",
        "jit_compile": _JIT.value.lower(),
        "optimizer": _OPTIMIZER.value,
        "bucket_batches": _SEQUENCE_BUCKET_BATCHES.value,
        "repeats": repeats,
        "epochs": epochs,
        "rows": rows,
        "runs": runs,
    }


_ONLY_SEQUENCE = flags.DEFINE_bool(
    "only_sequence",
    False,
    "Run only the behaviour-sequence rows (--sequence_models); the other sections "
    "of --output are kept.",
)


_DATA_SIZES = flags.DEFINE_list(
    "data_sizes",
    ["small", "large"],
    "Simulator sizes whose generation and validated read-back are timed (each in a "
    "subprocess, peak resident memory from getrusage); empty to skip.",
)
_ONLY_DATA = flags.DEFINE_bool("only_data", False, "Run only the data benchmark.")


def _child(command) -> tuple[float, float]:
    """Runs `command`; returns (seconds, peak resident GB of that child)."""
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "TF_CPP_MIN_LOG_LEVEL": "2"}
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *command],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.split()
    return float(out[0]), float(out[1]) / 1e6  # ru_maxrss is in KiB on Linux


def bench_data(sizes) -> list[dict]:
    """Generation and read-back (schema validation included) of simulator sizes."""
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            path = os.path.join(folder, size)
            gen_seconds, gen_peak = _child(
                [
                    sys.executable,
                    "-m",
                    "data_prep.synthetic",
                    f"--size={size}",
                    "--seed=0",
                    f"--output={path}",
                ]
            )
            read_seconds, read_peak = _child(
                [
                    sys.executable,
                    "-c",
                    "import sys; from recsys_tf.data.schema import read_event_log; "
                    "print(len(read_event_log(sys.argv[1]).events))",
                    path,
                ]
            )
            rows = len(
                pd.read_parquet(
                    os.path.join(path, "events.parquet"), columns=["user_id"]
                )
            )
            runs.append(
                {
                    "size": size,
                    "events": rows,
                    "generate_seconds": gen_seconds,
                    "generate_peak_gb": gen_peak,
                    "read_seconds": read_seconds,
                    "read_peak_gb": read_peak,
                }
            )
            print(f"[bench] data {json.dumps(runs[-1])}", flush=True)
            shutil.rmtree(path)
    return runs


_CONVERSION_ROWS = flags.DEFINE_list(
    "conversion_rows",
    ["1000000", "4000000", "16000000", "100150807"],
    "Rows of generated Taobao UserBehavior files whose conversion time and peak "
    "memory are measured (each in a subprocess; the last is the full file's "
    "size: about 5 minutes and 3.7 GB of disk); empty to skip.",
)
_ONLY_CONVERSION = flags.DEFINE_bool(
    "only_conversion", False, "Run only the conversion benchmark."
)
TAOBAO_FULL_ROWS = 100_150_807  # rows of the original UserBehavior.csv (3.5 GB)


def bench_conversion(row_counts) -> dict:
    """Peak memory and time of `data_prep.taobao_userbehavior` on generated files
    of the original's shape, with a linear fit extrapolated to the full file."""
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for rows in row_counts:
            source = os.path.join(folder, f"source_{rows}")
            os.makedirs(source)
            file = os.path.join(source, "UserBehavior.csv")
            write_seconds, _ = _child(
                [
                    sys.executable,
                    "-c",
                    "import sys; from data_prep import taobao_userbehavior as t; "
                    "t.write_synthetic_file(sys.argv[1], int(sys.argv[2]), 0)",
                    file,
                    str(rows),
                ]
            )
            output = os.path.join(folder, f"converted_{rows}")
            seconds, peak = _child(
                [
                    sys.executable,
                    "-m",
                    "data_prep.taobao_userbehavior",
                    f"--input={source}",
                    f"--output={output}",
                ]
            )
            runs.append(
                {
                    "rows": rows,
                    "file_bytes": os.path.getsize(file),
                    "write_seconds": write_seconds,
                    "convert_seconds": seconds,
                    "convert_peak_gb": peak,
                }
            )
            print(f"[bench] conversion {json.dumps(runs[-1])}", flush=True)
            shutil.rmtree(source)
            shutil.rmtree(output)
    result = {"file": "Taobao UserBehavior shape (data_prep.taobao_userbehavior)"}
    result["runs"] = runs
    if len(runs) >= 2:
        x = np.array([r["rows"] for r in runs], float)
        y = np.array([r["convert_peak_gb"] for r in runs], float)
        slope, intercept = np.polyfit(x, y, 1)
        result["fit"] = {
            "gb_per_million_rows": slope * 1e6,
            "intercept_gb": intercept,
            "full_rows": TAOBAO_FULL_ROWS,
            "full_peak_gb_extrapolated": intercept + slope * TAOBAO_FULL_ROWS,
        }
    return result


_TASK_BUILD_SOURCES = flags.DEFINE_list(
    "task_build_sources",
    ["small", "kuairand"],
    "Sources whose event-log load and DUMN behaviour-sequence task build "
    "(experiments/configs/dumn.py: T = 100, click / unclick / like / dislike) are "
    "timed, each in a fresh subprocess with its peak resident memory: a simulator "
    "size (generated into a temporary folder) or a real dataset of "
    "recsys_tf.data.datasets.REAL (converted from $RECSYS_TF_DATASETS into a "
    "temporary folder; skipped with the reason printed when its files are "
    "absent); empty to skip.",
)
_ONLY_TASK_BUILD = flags.DEFINE_bool(
    "only_task_build", False, "Run only the task-build benchmark."
)
TASK_BUILD_CONFIG = "dumn"
"""The config whose task the task-build benchmark builds (issue 19's memory)."""

# Run by `_task_build_child` in a fresh interpreter: the trainer's imports
# (`recsys_tf.training.loop` brings TensorFlow, Keras and every model), its config
# check, event-log load and task build (`loop.run`), with the peak resident
# memory (getrusage, KiB on Linux) after the load and after the build.
_TASK_BUILD_CODE = """\
import importlib, json, resource, sys, time
import keras
from experiments.configs import common
from recsys_tf.training import loop
config = importlib.import_module("experiments.configs." + sys.argv[1]).get_config()
for key, value in json.loads(sys.argv[2]).items():
    common.override(config, key, value)
loop._check_config(config)
keras.utils.set_random_seed(config.seed)
start = time.perf_counter()
log = loop._load_event_log(config)
load_seconds = time.perf_counter() - start
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
task = loop.build_task(config, log)
build_seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "events": len(log.events),
    **{f"{name}_impressions": len(part) for name, part in task.parts().items()},
    "max_length": task.max_length,
    "sequence_types": list(task.sequence_types),
    "item_features": list(task.item_features),
    "load_seconds": load_seconds,
    "build_seconds": build_seconds,
    "peak_before_build_gb": before * 1024 / 1e9,
    "peak_after_build_gb": after * 1024 / 1e9,
}))
"""


def _task_build_child(config_name: str, overrides: dict) -> dict:
    """The measurements of `_TASK_BUILD_CODE` for config `config_name` with the
    dotted-key `overrides`, in a fresh interpreter (so that neither imports nor
    memory of this process count)."""
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", _TASK_BUILD_CODE, config_name, json.dumps(overrides)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode:
        raise RuntimeError(
            f"task build of {config_name} with {overrides} failed "
            f"(exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _task_build_source(source: str, folder: str) -> tuple[dict | None, str]:
    """The config overrides that read `source` from `folder` after preparing it
    there (a simulator size generated, a real dataset converted; not timed), or
    (None, why not) for a real dataset whose original files are absent."""
    from data_prep.synthetic import SIZES
    from recsys_tf.data import sources
    from recsys_tf.data.datasets import REAL

    if source in SIZES:
        path = os.path.join(folder, source)
        _child(
            [
                sys.executable,
                "-m",
                "data_prep.synthetic",
                f"--size={source}",
                "--seed=0",
                f"--output={path}",
            ]
        )
        return {"data.path": path}, ""
    if source in REAL:
        try:
            sources.source_folder(REAL[source].folder)
        except FileNotFoundError as error:
            return None, str(error)
        # The load converts into data.root on first use; convert first, so that
        # the timed load reads the canonical files as for the simulator.
        _child(
            [
                sys.executable,
                "-c",
                "import sys; from recsys_tf.data.datasets import convert_real; "
                "convert_real(sys.argv[1], sys.argv[2])",
                source,
                os.path.join(folder, source),
            ]
        )
        return {"data.name": source, "data.root": folder}, ""
    raise ValueError(_unknown_sources([source]))


def _unknown_sources(unknown) -> str:
    from data_prep.synthetic import SIZES
    from recsys_tf.data.datasets import REAL

    return (
        f"--task_build_sources: unknown {unknown}; each must be a simulator size "
        f"{sorted(SIZES)} or a real dataset {sorted(REAL)}"
    )


def check_task_build_sources(names) -> None:
    """Raises ValueError naming the sources of `names` that are neither a
    simulator size nor a real dataset."""
    from data_prep.synthetic import SIZES
    from recsys_tf.data.datasets import REAL

    unknown = [n for n in names if n not in SIZES and n not in REAL]
    if unknown:
        raise ValueError(_unknown_sources(unknown))


def bench_task_build(names, config_name=TASK_BUILD_CONFIG) -> dict:
    """Event-log load and behaviour-sequence task build of config `config_name`
    (DUMN's: T = 100, four sequence types) on each source of `names`
    (`_task_build_source`), each in a fresh subprocess: events, impressions per
    part, seconds of the load and of the build, and the process's peak resident
    memory after the load (imports included) and after the build."""
    check_task_build_sources(names)
    runs, skipped = [], []
    for name in names:
        with tempfile.TemporaryDirectory() as folder:
            overrides, reason = _task_build_source(name, folder)
            if overrides is None:
                print(f"[bench] task_build: skipped {name}: {reason}", flush=True)
                skipped.append({"source": name, "reason": reason})
                continue
            load_average = os.getloadavg()[0]
            record = {"source": name, "simulator": "data.path" in overrides}
            record.update(_task_build_child(config_name, overrides))
            record["load_average"] = load_average
        runs.append(record)
        print(f"[bench] task_build {json.dumps(record)}", flush=True)
    return {
        **_host(),
        "config": config_name,
        "runs": runs,
        "skipped": skipped,
    }


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    if _ONLY_DATA.value:
        _write({"data": bench_data(_DATA_SIZES.value)})
        return
    if _ONLY_CONVERSION.value:
        rows = [int(r) for r in _CONVERSION_ROWS.value]
        _write({"conversion": bench_conversion(rows)})
        return
    try:
        check_task_build_sources(_TASK_BUILD_SOURCES.value)
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    if _ONLY_TASK_BUILD.value:
        if not _TASK_BUILD_SOURCES.value:
            raise app.UsageError("--only_task_build needs --task_build_sources")
        _write({"task_build": bench_task_build(_TASK_BUILD_SOURCES.value)})
        return
    known = [*CTR_MODELS, "youtube_dnn", *SEQUENTIAL]
    try:
        loop.jit_compile_setting(_JIT.value, "--jit_compile")
    except ConfigError as error:
        raise app.UsageError(str(error)) from error
    if _ONLY_SEQUENCE.value and not _SEQUENCE_MODELS.value:
        raise app.UsageError("--only_sequence needs --sequence_models")
    sequential = [name for name in SEQUENTIAL if name in _MODELS.value]
    unknown = sorted(set(_MODELS.value) - set(known))
    if unknown:
        raise app.UsageError(f"--models: unknown {unknown}; known: {known}")
    if _ONLY_SEQUENTIAL.value:
        if not sequential:
            raise app.UsageError(
                f"--only_sequential needs one of {list(SEQUENTIAL)} in --models"
            )
        _write({"sequential": bench_sequentials(sequential, matmul_flops_per_second())})
        return
    sections = {}
    if _SEQUENCE_MODELS.value:
        sections["sequence"] = bench_sequences(
            _SEQUENCE_MODELS.value,
            [int(t) for t in _SEQUENCE_LENGTHS.value],
            _SEQUENCE_ROWS.value,
            _SEQUENCE_EPOCHS.value,
            _SEED.value,
            _REPEATS.value,
        )
        _write(sections)
        if _ONLY_SEQUENCE.value:
            return
    peak = matmul_flops_per_second()
    print(f"[bench] dense matmul: {peak / 1e9:.1f} GFLOP/s", flush=True)
    args = (_ROWS.value, _EPOCHS_CTR.value, _SEED.value, peak, _REPEATS.value)
    runs = [bench_ctr(name, *args) for name in CTR_MODELS if name in _MODELS.value]
    if "youtube_dnn" in _MODELS.value:
        runs.append(
            bench_youtube_dnn(
                _ROWS.value, _EPOCHS_RETRIEVAL.value, _SEED.value, peak, _REPEATS.value
            )
        )
    if sequential:
        sections["sequential"] = bench_sequentials(sequential, peak)
    for run in runs:
        print(f"[bench] {json.dumps(run)}", flush=True)
    out = {
        **_host(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "jit_compile": _JIT.value.lower(),
        "optimizer": _OPTIMIZER.value,
        "steps_per_execution": _STEPS_PER_EXECUTION.value,
        "build_first": _BUILD_FIRST.value,
        "rows": _ROWS.value,
        "repeats": _REPEATS.value,
        "epochs": {run["model"]: run["epochs"] for run in runs},
        "batch_size": BATCH,
        "latency_calls": _LATENCY_CALLS.value,
        "latency_warmup": _LATENCY_WARMUP.value,
        "matmul_flops_per_second": peak,
        "runs": runs,
    }
    sections["training"] = out
    if _DATA_SIZES.value:
        sections["data"] = bench_data(_DATA_SIZES.value)
    if _CONVERSION_ROWS.value:
        sections["conversion"] = bench_conversion(
            [int(r) for r in _CONVERSION_ROWS.value]
        )
    if _TASK_BUILD_SOURCES.value:
        sections["task_build"] = bench_task_build(_TASK_BUILD_SOURCES.value)
    _write(sections)


def _write(sections: dict) -> None:
    """Updates the given sections of the results file, keeping the others."""
    existing = {}
    if os.path.exists(_OUTPUT.value):
        with open(_OUTPUT.value) as f:
            existing = json.load(f)
    existing.update(sections)
    os.makedirs(os.path.dirname(_OUTPUT.value) or ".", exist_ok=True)
    with open(_OUTPUT.value, "w") as f:
        json.dump(existing, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    app.run(main)
