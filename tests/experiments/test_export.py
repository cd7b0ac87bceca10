"""The SavedModel export of a trained CTR run (experiments/export.py)."""

import json
import os
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from experiments import export
from recsys_tf.models import MODELS, CTRModel, SequenceCTRModel
from recsys_tf.training import evaluation, loop
from tests.experiments.test_train import ROOT, _config, data_root  # noqa: F401

DEEPFM = os.path.join(ROOT, "experiments", "configs", "deepfm.py")

# Loads the SavedModel in a fresh process: the probabilities of the codes in
# argv[2] go to argv[3]; then one out-of-range code of each field, which must fail.
LOAD = """
import sys
import numpy as np
import tensorflow as tf

serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
codes = dict(np.load(sys.argv[2]))
print(sorted(serve.structured_input_signature[1]))
print(serve.structured_outputs)
out = serve(**{k: tf.constant(v) for k, v in codes.items()})
np.save(sys.argv[3], out["probability"].numpy())
for field, size in [a.split("=") for a in sys.argv[4:]]:
    for bad in (int(size), -1):
        wrong = {k: tf.constant(v[:2]) for k, v in codes.items()}
        wrong[field] = tf.constant([0, bad], tf.int64)
        try:
            serve(**wrong)
            print("accepted", field, bad)
        except tf.errors.InvalidArgumentError as error:
            print("refused", field, bad, f"[0, {size})" in str(error))
"""


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": ROOT}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as for a user: the entry point sets it
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def trained(data_root, tmp_path_factory):  # noqa: F811
    """A one-epoch DeepFM run on tiny simulated data and its export."""
    workdir = str(tmp_path_factory.mktemp("run"))
    loop.run(_config(DEEPFM, data_root), workdir)
    output = os.path.join(str(tmp_path_factory.mktemp("export")), "deepfm")
    proc = _cli(
        "-m", "experiments.export", f"--workdir={workdir}", f"--output={output}"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[export]" in proc.stdout
    return workdir, output


def test_saved_model_in_a_fresh_process_equals_the_run(trained, tmp_path):
    workdir, output = trained
    run = loop.restore_best(workdir)
    part = run.task.test
    expected = evaluation.predict_ctr(run.model, part)
    fields = tuple(run.model.input_fields())
    # DeepFM reads every field but the crosses (none here, whatever the task has).
    assert fields == tuple(f for f in run.task.fields if "_x_" not in f)
    assert fields[:2] == ("user_id", "item_id") and len(fields) > 2
    np.savez(tmp_path / "codes.npz", **{f: part.features[f] for f in fields})
    sizes = [f"{f}={run.task.vocabulary_sizes[f]}" for f in fields]
    proc = _cli(
        "-c", LOAD, output, str(tmp_path / "codes.npz"), str(tmp_path / "p.npy"),
        *sizes,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == str(sorted(fields))
    assert "'probability'" in lines[1] and "float32" in lines[1]
    probability = np.load(tmp_path / "p.npy")
    assert probability.dtype == np.float32 and probability.shape == (len(part),)
    np.testing.assert_allclose(probability, expected, atol=1e-5)
    # The run's own test outputs (float16), independent of `restore_best`.
    saved = np.load(os.path.join(workdir, loop.TEST_OUTPUTS_FILE))
    np.testing.assert_allclose(probability, saved["probability"], atol=1e-3)
    # Every out-of-range code is refused with its field's vocabulary in the message.
    sizes = [run.task.vocabulary_sizes[f] for f in fields]
    assert lines[2:] == [
        f"refused {f} {bad} True" for f, n in zip(fields, sizes) for bad in (n, -1)
    ]


def test_out_of_range_codes_are_silently_wrong_without_the_check(trained):
    """Why the signature checks codes: past its vocabulary, a field's code reads
    the next field's row of the shared table, without an error."""
    run = loop.restore_best(trained[0])
    fields = tuple(run.model.input_fields())
    size = run.task.vocabulary_sizes["user_id"]
    rows = np.asarray(run.model.embedding(np.array([[size] + [0] * (len(fields) - 1)])))
    np.testing.assert_array_equal(rows[0, 0], rows[0, 1])  # user `size` = item 0
    codes = {f: tf.constant([0], tf.int64) for f in fields}
    past = {**codes, "user_id": tf.constant([size], tf.int64)}
    specs = {f: tf.TensorSpec([None], tf.int64, name=f) for f in fields}
    unchecked = export.Serving(run.model, specs, {f: 10**6 for f in fields})
    assert np.isfinite(unchecked.serve(past)["probability"]).all()
    serving = export.Serving(run.model, specs, run.model.input_fields())
    assert np.isfinite(serving.serve(codes)["probability"]).all()
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"field user_id: codes must be in \[0, "
    ):
        serving.serve(past)


def test_export_json_records_the_run(trained):
    workdir, output = trained
    record = json.loads(open(os.path.join(output, export.EXPORT_FILE)).read())
    state = json.loads(open(os.path.join(workdir, "checkpoints", "state.json")).read())
    results = json.loads(open(os.path.join(workdir, "results.json")).read())
    run = loop.restore_best(workdir)
    assert record["run"] == results["run"] == "deepfm_synthetic"
    assert record["model"] == "deepfm"
    assert record["fields"] == {
        f: run.task.vocabulary_sizes[f] for f in run.model.input_fields()
    }
    assert record["best_epoch"] == state["best_epoch"] == results["best_epoch"] == 1
    assert record["monitor"] == "auc"
    assert record["validation"]["auc"] == pytest.approx(results["validation"]["auc"])
    assert record["tensorflow"] == tf.__version__
    assert record["task"] == "ctr"
    assert record["signatures"] == {
        "serving_default": {
            "inputs": {f: ["int64", [None]] for f in run.model.input_fields()},
            "outputs": ["probability"],
        }
    }
    assert not [n for n in os.listdir(os.path.dirname(output)) if n.startswith(".")]
    # The model's weights only, not the optimizer state of the checkpoint.
    saved = tf.train.load_checkpoint(os.path.join(output, "variables", "variables"))
    names = [n for n in saved.get_variable_to_shape_map() if "VARIABLE_VALUE" in n]
    assert len(names) == len(run.model.weights)
    assert not [n for n in names if "optimizer" in n]


def test_non_empty_output_needs_overwrite(trained, tmp_path):
    workdir, _ = trained
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("x")
    with pytest.raises(loop.RunError, match=f"--output {output} is not empty"):
        export.export(workdir, str(output))
    assert os.listdir(output) == ["keep.txt"]
    export.export(workdir, str(output), overwrite=True)
    assert "keep.txt" not in os.listdir(output)
    assert {"saved_model.pb", export.EXPORT_FILE} <= set(os.listdir(output))
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temporary folder left


def test_missing_and_unfinished_runs_are_one_line_errors(trained, tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(loop.RunError, match=f"--workdir {missing} does not exist"):
        export.export(missing, str(tmp_path / "out"))
    assert not os.path.exists(missing)
    (tmp_path / "empty").mkdir()
    with pytest.raises(loop.RunError, match="empty has no config.json"):
        export.export(str(tmp_path / "empty"), str(tmp_path / "out"))
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(os.path.join(trained[0], "config.json"), unfinished)
    with pytest.raises(loop.RunError, match=f"--workdir {unfinished} has no finished"):
        export.export(str(unfinished), str(tmp_path / "out"))
    (unfinished / "checkpoints").mkdir()
    (unfinished / "checkpoints" / "state.json").write_text(
        json.dumps({"epoch": 0, "best_epoch": None, "history": []})
    )
    with pytest.raises(loop.RunError, match="has no finished epoch"):
        export.export(str(unfinished), str(tmp_path / "out"))
    with loop._workdir_lock(trained[0]):  # as a run still training there
        with pytest.raises(loop.RunError, match="is in use by another run"):
            export.export(trained[0], str(tmp_path / "out"))
    assert not os.path.exists(tmp_path / "out")
    proc = _cli("-m", "experiments.export", f"--workdir={missing}", "--output=x")
    assert proc.returncode == 2
    # One line after TensorFlow's start-up log, no traceback.
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: --workdir {missing} does not exist; expected the folder of a run "
        "of experiments.train"
    )


# The query tower and the candidate table of a retrieval run, in a fresh process;
# then every history code set to argv[4] (the catalogue size), which must fail.
LOAD_RETRIEVAL = """
import sys
import numpy as np
import tensorflow as tf

loaded = tf.saved_model.load(sys.argv[1])
inputs = {k: tf.constant(v) for k, v in np.load(sys.argv[2]).items()}
query = loaded.signatures["serving_default"](**inputs)["query"].numpy()
candidates = loaded.signatures["candidates"]()["candidates"].numpy()
np.save(sys.argv[3], query @ candidates.T)
past = tf.fill(tf.shape(inputs["history"]), tf.constant(int(sys.argv[4]), tf.int64))
try:
    loaded.signatures["serving_default"](**dict(inputs, history=past))
    print("accepted")
except tf.errors.InvalidArgumentError as error:
    print("refused", "field history: codes must be in [0, " in str(error))
"""


@pytest.mark.slow
def test_retrieval_run_exports_query_tower_and_candidates(data_root, tmp_path):  # noqa: F811
    path = os.path.join(ROOT, "experiments", "configs", "youtube_dnn.py")
    workdir = str(tmp_path / "run")
    loop.run(_config(path, data_root), workdir)
    record = export.export(workdir, str(tmp_path / "export"))
    run = loop.restore_best(workdir)
    part = run.task.test
    fields = run.model.input_fields()
    assert record["task"] == "retrieval" and record["fields"] == fields
    assert fields["history"] == run.task.num_items and fields["history_mask"] is None
    assert set(record["signatures"]) == {"serving_default", "candidates"}
    np.savez(tmp_path / "inputs.npz", **{f: part.features()[f] for f in fields})
    proc = _cli(
        "-c", LOAD_RETRIEVAL, str(tmp_path / "export"), str(tmp_path / "inputs.npz"),
        str(tmp_path / "scores.npy"), str(run.task.num_items),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["refused True"]
    expected = evaluation.model_scores(run.model, part)(np.arange(len(part)))
    np.testing.assert_allclose(np.load(tmp_path / "scores.npy"), expected, atol=1e-4)


# The behaviour-sequence models also read sequence inputs: their input fields are
# checked in tests/models/test_sequence_ctr_model.py and their own test files.
@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n, c in MODELS.items()
        if issubclass(c, CTRModel) and not issubclass(c, SequenceCTRModel)
    ),
)
def test_input_fields_are_what_call_reads(name):
    """Every CTR model runs on exactly `input_fields()` and fails without any one."""
    task = types.SimpleNamespace(
        fields=("user_id", "item_id", "user_id_x_item_id"),
        vocabulary_sizes={"user_id": 3, "item_id": 4, "user_id_x_item_id": 12},
    )
    variants = [MODELS[name].from_task(task)]
    if name == "wide_deep":
        variants += [MODELS[name].from_task(task, wide=False)]
    for model in variants:
        fields = model.input_fields()
        assert fields == {f: task.vocabulary_sizes[f] for f in fields}
        codes = {f: np.array([1, 2]) for f in fields}
        assert np.asarray(model(codes)).shape == (2,)
        for field in fields:
            with pytest.raises(KeyError, match=field):
                model({f: v for f, v in codes.items() if f != field})
    assert ("user_id_x_item_id" in variants[0].input_fields()) == (
        name in ("wide_deep", "logistic_regression")
    )
    if name == "wide_deep":
        assert variants[1].input_fields() == {"user_id": 3, "item_id": 4}


def test_retrieval_input_fields_are_what_call_reads():
    """YouTube DNN reads its history, mask and user features; Popularity only a
    batch size, from its history."""
    task = types.SimpleNamespace(
        num_items=5,
        user_vocabulary_sizes={"age": 3},
        item_counts=np.arange(5),
    )
    inputs = {
        "history": np.array([[0, 1, 2], [3, 4, 0]]),
        "history_mask": np.array([[True, True, True], [True, True, False]]),
        "age": np.array([0, 2]),
    }
    model = MODELS["youtube_dnn"].from_task(task, hidden_units=(4,), num_sampled=0)
    assert model.input_fields() == {"history": 5, "history_mask": None, "age": 3}
    assert np.asarray(model(inputs)).shape == (2, 4)
    for field in inputs:
        with pytest.raises(KeyError, match=field):
            model({f: v for f, v in inputs.items() if f != field})
    popularity = MODELS["popularity"].from_task(task)
    assert popularity.input_fields() == {"history": 5}
    assert np.asarray(popularity({"history": inputs["history"]})).shape == (2, 1)
