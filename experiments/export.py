"""Exports a trained CTR run as a TensorFlow SavedModel for serving.

    python -m experiments.export --workdir=runs/deepfm_synthetic/seed0 \
        --output=exports/deepfm_synthetic [--overwrite]

Rebuilds the run's task and model from its `config.json` (`loop.restore_best`: the
same builders as the run, the best epoch's checkpoint) and writes a SavedModel
whose `serving_default` signature takes one int64 `[batch]` input per field the
model reads (`model.input_fields()`: e.g. `user_id`, `item_id`, and a cross
`a_x_b` only when the model reads it, coded as `recsys_tf.data.ctr` codes it) and
returns `{"probability": float32 [batch]}`, the sigmoid of the model's logit:

    loaded = tf.saved_model.load("exports/deepfm_synthetic")
    loaded.signatures["serving_default"](user_id=..., item_id=...)["probability"]

Out-of-range codes are an error, not a guess: a code < 0 or >= the field's
vocabulary size raises InvalidArgumentError naming the field and its vocabulary
size. Without this check the model's `FieldEmbedding` (one table, field f's rows
at an offset) would silently read another field's row for a code past field f's
vocabulary, and only a code past the whole table fails (on CPU; a GPU gather
returns zeros). No code was trained as "unknown", so there is no row to map it to:
a caller that wants a default must choose one before calling.

The SavedModel is written with `tf.Module` + `tf.function(input_signature=...)` +
`tf.saved_model.save` rather than Keras 3's `model.export`, so that the
signature's inputs carry the field names and the range check is part of it.
It is written to a temporary folder beside --output and renamed into place; a
non-empty --output is refused unless --overwrite. `<output>/export.json` records
the run, the model, the fields and their vocabulary sizes, the best epoch, its
validation metrics and the TensorFlow version. Retrieval runs are refused (the
query tower and candidate table are not exported yet). A user error is one line on
stderr and exit code 2.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys

import keras
import tensorflow as tf
from absl import app, flags, logging

from recsys_tf.training import callbacks as cb
from recsys_tf.training import loop

EXPORT_FILE = "export.json"
SIGNATURE = "serving_default"


def define_flags():
    """--workdir, --output, --overwrite; defined only when run as a program, so
    that importing `export` beside `experiments.train` (which has a --workdir)
    defines no flag twice."""
    flags.DEFINE_string("workdir", None, "Folder of a trained CTR run.")
    flags.DEFINE_string("output", None, "Folder of the SavedModel to write.")
    flags.DEFINE_bool(
        "overwrite", False, "Replace a non-empty --output (default: refuse)."
    )
    flags.mark_flags_as_required(["workdir", "output"])


class CTRServing(tf.Module):
    """A CTR model behind a signature of named int64 field codes.

    `serve(codes)` takes a dict field -> int64 `[batch]` and returns
    `{"probability": float32 [batch]}`; a code outside `[0, vocabulary size)`
    raises InvalidArgumentError naming its field.

    Args:
        model: a built `CTRModel`.
        vocabulary_sizes: dict field -> vocabulary size of every field the model
            reads (`model.input_fields()`), in that order.
    """

    def __init__(self, model, vocabulary_sizes):
        super().__init__()
        self.model = model
        self.vocabulary_sizes = dict(vocabulary_sizes)
        self.serve = tf.function(
            self._serve,
            input_signature=[
                {f: tf.TensorSpec([None], tf.int64, name=f) for f in vocabulary_sizes}
            ],
        )

    def _serve(self, codes):
        checks = []
        for field, size in self.vocabulary_sizes.items():
            message = f"field {field}: codes must be in [0, {size})"
            checks += [
                tf.debugging.assert_non_negative(codes[field], message=message),
                tf.debugging.assert_less(
                    codes[field], tf.constant(size, tf.int64), message=message
                ),
            ]
        with tf.control_dependencies(checks):
            logits = self.model(codes, training=False)
        return {"probability": tf.cast(tf.sigmoid(logits), tf.float32)}


def export(workdir: str, output: str, overwrite: bool = False) -> dict:
    """Writes the SavedModel of the CTR run in `workdir` to `output`; returns the
    contents of its export.json (see the module docstring)."""
    output = os.path.normpath(output)
    if os.path.isdir(output) and os.listdir(output) and not overwrite:
        raise loop.RunError(
            f"--output {output} is not empty; pass --overwrite to replace it"
        )
    if os.path.exists(output) and not os.path.isdir(output):
        raise loop.RunError(f"--output {output} is a file; expected a folder")
    run = loop.restore_best(workdir)
    config, task, model, state = run.config, run.task, run.model, run.state
    if config.task != "ctr":
        raise loop.RunError(
            f"--workdir {workdir} is a {config.task} run; only CTR runs are exported"
        )
    fields = model.input_fields()
    sizes = {f: int(task.vocabulary_sizes[f]) for f in fields}
    best = next(h for h in state["history"] if h["epoch"] == state["best_epoch"])
    record = {
        "run": loop.run_name(config, run.log),
        "workdir": os.path.abspath(workdir),
        "model": config.model.name,
        "fields": sizes,
        "signature": SIGNATURE,
        "output": "probability",
        "best_epoch": state["best_epoch"],
        "monitor": loop.monitor_metric(config),
        "validation": {
            k[len("val_") :]: v for k, v in best.items() if k.startswith("val_")
        },
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    module = CTRServing(model, sizes)
    parent, name = os.path.split(os.path.abspath(output))
    tmp = os.path.join(parent, f".tmp.{name}.{os.getpid()}")
    old = os.path.join(parent, f".old.{name}.{os.getpid()}")
    with cb.disk_full_names(output):
        try:
            os.makedirs(parent, exist_ok=True)
            tf.saved_model.save(module, tmp, signatures={SIGNATURE: module.serve})
            cb.write_json_atomic(os.path.join(tmp, EXPORT_FILE), record)
            if os.path.isdir(output):
                os.rename(output, old)
            try:
                os.rename(tmp, output)
            except BaseException:
                if os.path.isdir(old):
                    os.rename(old, output)
                raise
        finally:
            for folder in (tmp, old):
                with contextlib.suppress(FileNotFoundError):
                    shutil.rmtree(folder)
    return record


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    args = flags.FLAGS
    try:
        record = export(args.workdir, args.output, args.overwrite)
    except loop.USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(
        f"[export] {record['run']} ({record['model']}, best epoch "
        f"{record['best_epoch']}) -> {args.output}: inputs {list(record['fields'])}"
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
