"""Exports a trained run as a TensorFlow SavedModel for serving.

    python -m experiments.export --workdir=runs/deepfm_synthetic/seed0 \
        --output=exports/deepfm_synthetic [--overwrite]

Rebuilds the run's task and model from its `config.json` (`loop.restore_best`: the
same builders as the run, the best epoch's weights) and writes a SavedModel whose
`serving_default` signature takes one tensor per input the model reads
(`model.input_fields()`), named after it:

- CTR: one int64 `[batch]` tensor per field (e.g. `user_id`, `item_id`, the
  feature columns, and a cross `a_x_b` only when the model reads it, coded as
  `recsys_tf.data.ctr` codes it); returns `{"probability": float32 [batch]}`, the
  sigmoid of the model's logit.
- Retrieval (the query tower): `history` int64 `[batch, max_length]`,
  `history_mask` bool `[batch, max_length]` and each user feature int64 `[batch]`
  (as `recsys_tf.data.retrieval` builds them); returns `{"query": float32
  [batch, dim]}`. A second signature `candidates` (no input) returns
  `{"candidates": float32 [num_items, dim]}`; `query @ candidates.T` are the
  scores the run's evaluation ranks (item biases are a column of the candidates,
  matched by a column of ones in the query).

    loaded = tf.saved_model.load("exports/deepfm_synthetic")
    loaded.signatures["serving_default"](user_id=..., item_id=...)["probability"]

Out-of-range codes are an error, not a guess: a code < 0 or >= its input's
vocabulary size raises InvalidArgumentError naming the input and its vocabulary
size. Without this check the model's `FieldEmbedding` (one table, field f's rows
at an offset) would silently read another field's row for a code past field f's
vocabulary, and only a code past the whole table fails (on CPU; a GPU gather
returns zeros). No code was trained as "unknown", so there is no row to map it to:
a caller that wants a default must choose one before calling.

The SavedModel is written with `tf.Module` + `tf.function(input_signature=...)` +
`tf.saved_model.save` rather than Keras 3's `model.export`, so that the inputs
carry their names, the range check is part of the signature and a retrieval
model gets its second signature; the model's weights are saved without the
optimizer state of the checkpoint. It is written to a temporary folder beside
--output and renamed into place; a non-empty --output is refused unless
--overwrite. `<output>/export.json` records the run, the model, the inputs and
their vocabulary sizes, the signatures, the best epoch, its validation metrics and
the TensorFlow version. A run without trained weights (no finished epoch; the
popularity baseline and the oracles have none) is refused. A user error is one
line on stderr and exit code 2.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys

import keras
import tensorflow as tf
from absl import app, flags, logging

from recsys_tf.models import RetrievalModel
from recsys_tf.tasks import get_task
from recsys_tf.training import callbacks as cb
from recsys_tf.training import loop

EXPORT_FILE = "export.json"
SIGNATURE = "serving_default"
CANDIDATES = "candidates"


def define_flags():
    """--workdir, --output, --overwrite; defined only when run as a program, so
    that importing `export` beside `experiments.train` (which has a --workdir)
    defines no flag twice."""
    flags.DEFINE_string("workdir", None, "Folder of a trained run.")
    flags.DEFINE_string("output", None, "Folder of the SavedModel to write.")
    flags.DEFINE_bool(
        "overwrite", False, "Replace a non-empty --output (default: refuse)."
    )
    flags.mark_flags_as_required(["workdir", "output"])


class Serving(tf.Module):
    """A model of the suite behind signatures of named inputs.

    `serve(inputs)` takes the dict of `specs` (field codes int64, masks bool) and
    returns `{"probability": float32 [batch]}` for a `CTRModel`, or
    `{"query": float32 [batch, dim]}` for a `RetrievalModel` (the query vector,
    its bias column of ones included, `model.retrieval_queries`); a retrieval
    model's `candidates()` returns `{"candidates": float32 [num_items, dim]}`
    (`model.candidate_embeddings`), so that `query @ candidates.T` are the scores
    its evaluation ranks. A code outside `[0, vocabulary size)` raises
    InvalidArgumentError naming its input.

    Args:
        model: a built model.
        specs: dict input name -> `tf.TensorSpec`, the signature of `serve`.
        vocabulary_sizes: dict input name -> vocabulary size of its codes (None
            for an input that is not a code), as `model.input_fields()`.
    """

    def __init__(self, model, specs, vocabulary_sizes):
        super().__init__()
        self.model = model
        self.vocabulary_sizes = {
            k: v for k, v in vocabulary_sizes.items() if v is not None
        }
        self.serve = tf.function(self._serve, input_signature=[dict(specs)])
        if isinstance(model, RetrievalModel):
            self.candidates = tf.function(self._candidates, input_signature=[])

    def _serve(self, inputs):
        checks = []
        for field, size in self.vocabulary_sizes.items():
            message = f"field {field}: codes must be in [0, {size})"
            checks += [
                tf.debugging.assert_non_negative(inputs[field], message=message),
                tf.debugging.assert_less(
                    inputs[field],
                    tf.constant(size, inputs[field].dtype),
                    message=message,
                ),
            ]
        with tf.control_dependencies(checks):
            outputs = self.model(inputs, training=False)
        if isinstance(self.model, RetrievalModel):
            query = self.model.retrieval_queries(outputs)
            return {"query": tf.cast(query, tf.float32)}
        return {"probability": tf.cast(tf.sigmoid(outputs), tf.float32)}

    def _candidates(self):
        candidates = self.model.candidate_embeddings()
        return {"candidates": tf.cast(candidates, tf.float32)}


def serving_specs(fields, element_spec) -> dict:
    """The signature of `fields` (name -> vocabulary size or None, as
    `model.input_fields()`): a `[None, ...]` spec of each, with the trailing shape
    and dtype of the task's batches (`element_spec` of its features, so inputs cut
    per batch, such as behaviour sequences, are included; or arrays of inputs:
    anything with a shape and a dtype); codes as int64."""
    specs = {}
    for name, size in fields.items():
        spec = element_spec[name]
        dtype = tf.int64 if size is not None else spec.dtype
        specs[name] = tf.TensorSpec([None, *spec.shape[1:]], dtype, name=name)
    return specs


def save(model, specs, path: str) -> None:
    """Writes `model` behind the signatures of `Serving` (the `serving_default`
    over `specs`, and `candidates` for a retrieval model) as a SavedModel in
    `path`; `experiments/bench.py` times the same signature."""
    module = Serving(model, specs, model.input_fields())
    signatures = {SIGNATURE: module.serve}
    if isinstance(model, RetrievalModel):
        signatures[CANDIDATES] = module.candidates
    tf.saved_model.save(module, path, signatures=signatures)


def export(workdir: str, output: str, overwrite: bool = False) -> dict:
    """Writes the SavedModel of the run in `workdir` to `output`; returns the
    contents of its export.json (see the module docstring)."""
    output = os.path.normpath(output)
    if os.path.isdir(output) and os.listdir(output) and not overwrite:
        raise loop.RunError(
            f"--output {output} is not empty; pass --overwrite to replace it"
        )
    if os.path.exists(output) and not os.path.isdir(output):
        raise loop.RunError(f"--output {output} is a file; expected a folder")
    run = loop.restore_best(workdir)
    config, model, state = run.config, run.model, run.state
    fields = model.input_fields()
    batches = get_task(config).dataset(config, run.task.train, batch_size=1)
    specs = serving_specs(fields, batches.element_spec[0])
    retrieval = isinstance(model, RetrievalModel)
    best = next(h for h in state["history"] if h["epoch"] == state["best_epoch"])
    record = {
        "run": loop.run_name(config, run.log),
        "workdir": os.path.abspath(workdir),
        "model": config.model.name,
        "task": config.task,
        "fields": fields,
        "signatures": {
            SIGNATURE: {
                "inputs": {
                    k: [s.dtype.name, s.shape.as_list()] for k, s in specs.items()
                },
                "outputs": ["query"] if retrieval else ["probability"],
            },
            **(
                {CANDIDATES: {"inputs": {}, "outputs": ["candidates"]}}
                if retrieval
                else {}
            ),
        },
        "best_epoch": state["best_epoch"],
        "monitor": loop.monitor_metric(config),
        "validation": {
            k[len("val_") :]: v for k, v in best.items() if k.startswith("val_")
        },
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    parent, name = os.path.split(os.path.abspath(output))
    tmp = os.path.join(parent, f".tmp.{name}.{os.getpid()}")
    old = os.path.join(parent, f".old.{name}.{os.getpid()}")
    with cb.disk_full_names(output):
        try:
            os.makedirs(parent, exist_ok=True)
            save(model, specs, tmp)
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
        f"{record['best_epoch']}) -> {args.output}: signatures "
        f"{list(record['signatures'])}, inputs {list(record['fields'])}"
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
