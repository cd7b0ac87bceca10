"""Throughput benchmark of the foundation models (`make bench`).

    python -m experiments.bench --output=experiments/results/bench.json

Generated data of a fixed shape (200k rows, 10 categorical fields, embedding 16,
MLP 256-128-64, Adam 1e-3, batch 4096). Labels come from a planted logistic model
over the fields (CTR) or a planted user-item affinity (retrieval), so the test metric
says whether the fast configuration still learns. Reports, per model: training
examples/s (steady state, after a warm-up epoch), the test metric, the share of step
time spent waiting for the input pipeline, and the achieved FLOP/s of the model's
dense layers as a ratio of a dense matmul measured in the same run.
"""

from __future__ import annotations

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
from absl import app, flags

from experiments import summarize
from recsys_tf import metrics
from recsys_tf.data.input import make_dataset
from recsys_tf.models import WideDeep, YouTubeDNN
from recsys_tf.training import evaluation
from recsys_tf.training.optimizers import get_optimizer

_OUTPUT = flags.DEFINE_string(
    "output", "experiments/results/bench.json", "Results file."
)
_ROWS = flags.DEFINE_integer("rows", 200_000, "Training rows.")
_EPOCHS_CTR = flags.DEFINE_integer(
    "epochs_ctr", 5, "Timed Wide&Deep epochs (after one warm-up epoch)."
)
_EPOCHS_RETRIEVAL = flags.DEFINE_integer(
    "epochs_retrieval",
    10,
    "Timed YouTube DNN epochs (after one warm-up epoch); its loss leaves the "
    "log(num_sampled + 1) plateau only after about five epochs at Adam 1e-3.",
)
_JIT = flags.DEFINE_enum(
    "jit_compile",
    "auto",
    ["auto", "true", "false"],
    "XLA for model.compile (Keras' auto means off on CPU-only machines).",
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


def _train(model, x, y, rows, epochs, seed):
    """Fits one warm-up epoch plus `epochs` timed ones.

    Returns the median examples/s over the timed epochs (this VM's speed varies
    by about 20% between epochs), all of them, the median step time and the
    input pipeline's share of it."""
    steps = -(-rows // BATCH)
    dataset = make_dataset(
        x, y, batch_size=BATCH, shuffle=True, seed=seed, epochs=(0, None)
    )
    model.compile(
        optimizer=get_optimizer(_OPTIMIZER.value, 1e-3),
        jit_compile={"auto": "auto", "true": True, "false": False}[_JIT.value],
        steps_per_execution=_STEPS_PER_EXECUTION.value,
    )
    timer = _Timer()
    model.fit(
        dataset,
        epochs=epochs + 1,
        steps_per_epoch=steps,
        callbacks=[timer],
        verbose=2,
    )
    speeds = [rows / seconds for seconds in timer.epoch_seconds[1:]]
    speed = float(np.median(speeds))
    step_seconds = rows / speed / steps
    return speed, speeds, step_seconds, input_share(dataset, step_seconds, steps)


def bench_wide_deep(rows, epochs, seed, peak):
    keras.utils.set_random_seed(seed)
    x, y = ctr_data(int(rows * 1.2), seed)
    train = {k: v[:rows] for k, v in x.items()}
    test = {k: v[rows:] for k, v in x.items()}
    names = tuple(x)
    model = WideDeep(names, VOCAB, names, VOCAB, EMBEDDING, HIDDEN)
    speed, speeds, step, share = _train(model, train, y[:rows], rows, epochs, seed)
    logits = model.predict(make_dataset(test, batch_size=BATCH), verbose=0)
    flops = mlp_flops_per_example(FIELDS * EMBEDDING, HIDDEN + (1,)) * speed
    return {
        "model": "wide_deep",
        "examples_per_second": speed,
        "examples_per_second_per_epoch": speeds,
        "step_seconds": step,
        "input_pipeline_share": share,
        "test_auc": metrics.auc(y[rows:], np.asarray(logits).reshape(-1)),
        "dense_flops_per_second": flops,
        "dense_flops_ratio_to_matmul": flops / peak,
        "target_examples_per_second": 180_000,
    }


def bench_youtube_dnn(rows, epochs, seed, peak):
    keras.utils.set_random_seed(seed)
    x, y = retrieval_data(int(rows * 1.05), seed)
    train = {k: v[:rows] for k, v in x.items()}
    user_fields = tuple(k for k in x if k.startswith("u"))
    model = YouTubeDNN(
        NUM_ITEMS,
        user_fields,
        VOCAB[1:FIELDS],
        EMBEDDING,
        HIDDEN,
        num_sampled=NUM_SAMPLED,
        sampler=_SAMPLER.value,
        seed=seed,
    )
    speed, speeds, step, share = _train(model, train, y[:rows], rows, epochs, seed)

    class _Split:
        targets = y[rows:]

        @staticmethod
        def features():
            return {k: v[rows:] for k, v in x.items()}

    scores = evaluation.evaluate_retrieval(model, _Split, (10, 50))
    in_dim = FIELDS * EMBEDDING
    flops = (
        mlp_flops_per_example(in_dim, HIDDEN) + 3 * 2 * HIDDEN[-1] * (NUM_SAMPLED + 1)
    ) * speed
    return {
        "model": "youtube_dnn",
        "examples_per_second": speed,
        "examples_per_second_per_epoch": speeds,
        "step_seconds": step,
        "input_pipeline_share": share,
        "test_hr@10": scores["hr@10"],
        "test_hr@50": scores["hr@50"],
        "num_sampled": NUM_SAMPLED,
        "sampler": _SAMPLER.value,
        "num_items": NUM_ITEMS,
        "dense_flops_per_second": flops,
        "dense_flops_ratio_to_matmul": flops / peak,
        "target_examples_per_second": 118_000,
    }


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


def main(argv):
    del argv
    if _ONLY_DATA.value:
        _write({"data": bench_data(_DATA_SIZES.value)})
        return
    if _ONLY_CONVERSION.value:
        rows = [int(r) for r in _CONVERSION_ROWS.value]
        _write({"conversion": bench_conversion(rows)})
        return
    peak = matmul_flops_per_second()
    print(f"[bench] dense matmul: {peak / 1e9:.1f} GFLOP/s", flush=True)
    runs = [
        bench_wide_deep(_ROWS.value, _EPOCHS_CTR.value, _SEED.value, peak),
        bench_youtube_dnn(_ROWS.value, _EPOCHS_RETRIEVAL.value, _SEED.value, peak),
    ]
    for run in runs:
        print(f"[bench] {json.dumps(run)}", flush=True)
    out = {
        "machine": summarize.machine(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "jit_compile": _JIT.value,
        "optimizer": _OPTIMIZER.value,
        "steps_per_execution": _STEPS_PER_EXECUTION.value,
        "rows": _ROWS.value,
        "epochs": {
            "wide_deep": _EPOCHS_CTR.value,
            "youtube_dnn": _EPOCHS_RETRIEVAL.value,
        },
        "batch_size": BATCH,
        "matmul_flops_per_second": peak,
        "runs": runs,
    }
    sections = {"training": out}
    if _DATA_SIZES.value:
        sections["data"] = bench_data(_DATA_SIZES.value)
    if _CONVERSION_ROWS.value:
        sections["conversion"] = bench_conversion(
            [int(r) for r in _CONVERSION_ROWS.value]
        )
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
