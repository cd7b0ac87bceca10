"""`make bench` (experiments/bench.py) on tiny sizes: the code paths, not speeds."""

import json

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from absl.testing import flagsaver

from experiments import bench, export, summarize


@pytest.fixture
def tiny_flags(monkeypatch):
    """The bench's flags at their defaults but for a short latency measurement;
    vocabularies of 50 codes (the bench's are up to 100,000)."""
    monkeypatch.setattr(bench, "VOCAB", (50,) * bench.FIELDS)
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    with flagsaver.flagsaver(
        latency_calls=3, latency_warmup=1, latency_batch_sizes=["1", "5"]
    ):
        yield


def _check_repeats(record, repeats, epochs, rows):
    runs = record["per_run"]
    assert record["repeats"] == repeats and len(runs) == repeats
    assert record["epochs"] == epochs
    for run in runs:
        assert len(run["epoch_seconds"]) == epochs
        steady = np.median(run["epoch_seconds"][1:])
        assert run["examples_per_second"] == pytest.approx(rows / steady)
        assert run["all_epochs_examples_per_second"] == pytest.approx(
            rows * epochs / run["seconds"]
        )
        assert run["overhead_seconds"] == pytest.approx(
            run["seconds"] - epochs * steady
        )
        # The run's wall time holds every epoch (and the model's build before).
        assert run["seconds"] >= sum(run["epoch_seconds"])
    for key in bench.TIMINGS:
        values = [run[key] for run in runs]
        assert record[key] == pytest.approx(np.median(values))
        assert record[f"{key}_range"] == [min(values), max(values)]
    assert 0 < record["input_pipeline_share"]


def test_ctr_row_repeats_runs_and_measures_latency(tiny_flags):
    rows, epochs = 300, 2
    record = bench.bench_ctr("deepfm", rows, epochs, seed=0, peak=1e9, repeats=2)
    _check_repeats(record, 2, epochs, rows)
    aucs = [run["test_auc"] for run in record["per_run"]]
    assert record["test_auc"] == pytest.approx(np.median(aucs))
    assert 0 <= record["test_auc"] <= 1
    for path in ("function", "saved_model"):
        assert set(record["latency"][path]) == {"1", "5"}
        for t in record["latency"][path].values():
            assert 0 < t["median_ms"] <= t["p99_ms"]
    lines = summarize.render_bench(
        {"training": _training([record], repeats=2)}
    ).splitlines()
    assert any(line.startswith("| deepfm | 2 | 2 | ") for line in lines)
    assert any(line.startswith("| deepfm | ") and " / " in line for line in lines)


@pytest.mark.slow
def test_sequence_rows_through_the_task_pipeline(tiny_flags, tmp_path):
    from experiments.configs import din
    from recsys_tf.data.datasets import load_event_log

    config = din.get_config()
    config.data.size, config.data.root = "tiny", str(tmp_path)
    path = load_event_log(config.data).path
    # Bucketed: DIN's rows by length; Wide&Deep's plain CTR rows keep random batches.
    with flagsaver.flagsaver(sequence_data_path=path, sequence_bucket_batches=2):
        out = bench.bench_sequences(["wide_deep", "din"], [5], 200, 2, 0, 1)
    assert out["bucket_batches"] == 2
    runs = out["runs"]
    assert [r["model"] for r in runs] == ["wide_deep", "din_T5"]
    assert [(r["task"], r["max_length"]) for r in runs] == [
        ("ctr", None),
        ("ctr_sequence", 5),
    ]
    for record in runs:
        _check_repeats(record, 1, 2, 200)


def test_task_build_of_dumn_on_the_tiny_simulator(tmp_path, monkeypatch):
    from experiments.configs import dumn
    from recsys_tf.data.datasets import load_event_log
    from recsys_tf.training import loop

    # KuaiRand's original files are not under an empty folder: skipped, with why.
    monkeypatch.setenv("RECSYS_TF_DATASETS", str(tmp_path / "empty"))
    out = bench.bench_task_build(["tiny", "kuairand"])
    assert out["config"] == "dumn"
    assert [s["source"] for s in out["skipped"]] == ["kuairand"]
    assert "not found" in out["skipped"][0]["reason"]
    (record,) = out["runs"]
    # The same data and task, built here as the trainer builds them.
    config = dumn.get_config()
    config.data.size, config.data.root = "tiny", str(tmp_path)
    log = load_event_log(config.data)
    task = loop.build_task(config, log)
    assert record["source"] == "tiny" and record["simulator"]
    assert record["events"] == len(log.events)
    for name, part in task.parts().items():
        assert record[f"{name}_impressions"] == len(part)
    assert record["max_length"] == 100 == config.data.max_length
    assert record["sequence_types"] == ["click", "unclick", "like", "dislike"]
    assert record["load_seconds"] > 0 and record["build_seconds"] > 0
    # After the imports of TensorFlow and the models: hundreds of MB.
    assert 0.1 < record["peak_before_build_gb"] <= record["peak_after_build_gb"]


def test_task_build_refuses_an_unknown_source():
    with pytest.raises(ValueError, match=r"unknown \['nope'\].*simulator size"):
        bench.bench_task_build(["tiny", "nope"])


def test_youtube_dnn_row_repeats_runs(tiny_flags):
    rows, epochs = 300, 2
    record = bench.bench_youtube_dnn(rows, epochs, seed=0, peak=1e9, repeats=2)
    _check_repeats(record, 2, epochs, rows)
    assert {"test_hr@10", "test_hr@50"} <= set(record)
    assert "latency" not in record


@pytest.mark.parametrize("name", list(bench.SEQUENTIAL))
def test_sequential_rows_count_sequences_and_positions(tiny_flags, monkeypatch, name):
    monkeypatch.setattr(bench, "SEQUENTIAL_ITEMS", 40)
    monkeypatch.setattr(bench, "SEQUENTIAL_LENGTH", 6)
    monkeypatch.setattr(bench, "SEQUENTIAL_EMBEDDING", 8)
    monkeypatch.setattr(bench, "SEQUENTIAL_BATCH", 16)
    users, epochs = 40, 2
    record = bench.bench_sequential(name, users, epochs, seed=0, peak=1e9, repeats=1)
    _check_repeats(record, 1, epochs, users)
    # A target at each of the 6 positions; BINN's bidirectional reading trains
    # the last one only.
    per_row = 1 if name == "binn" else 6
    assert record["targets_per_row"] == per_row
    assert record["positions_per_second"] == pytest.approx(
        per_row * record["examples_per_second"]
    )
    assert 0 <= record["test_hr@10"] <= record["test_hr@50"] <= 1
    assert record["rows"] == users and record["batch_size"] == 16


def test_only_sequential_writes_its_section_and_keeps_the_others(
    tiny_flags, monkeypatch, tmp_path
):
    from absl import app

    monkeypatch.setattr(bench, "SEQUENTIAL_USERS", 24)
    monkeypatch.setattr(bench, "SEQUENTIAL_ITEMS", 30)
    monkeypatch.setattr(bench, "SEQUENTIAL_LENGTH", 5)
    monkeypatch.setattr(bench, "SEQUENTIAL_EMBEDDING", 8)
    monkeypatch.setattr(bench, "SEQUENTIAL_BATCH", 8)
    monkeypatch.setattr(bench, "matmul_flops_per_second", lambda: 1e9)
    output = tmp_path / "bench.json"
    output.write_text(json.dumps({"training": {"runs": []}}))
    with flagsaver.flagsaver(
        only_sequential=True, models=["wide_deep"], output=str(output)
    ):
        with pytest.raises(app.UsageError, match="--only_sequential needs"):
            bench.main([])
    assert json.loads(output.read_text()) == {"training": {"runs": []}}
    with flagsaver.flagsaver(
        only_sequential=True,
        models=["gru4rec"],
        epochs_sequential=2,
        repeats=1,
        output=str(output),
    ):
        bench.main([])
    written = json.loads(output.read_text())
    assert written["training"] == {"runs": []}  # kept
    section = written["sequential"]
    assert [r["model"] for r in section["runs"]] == ["gru4rec"]
    assert (section["users"], section["max_length"], section["epochs"]) == (24, 5, 2)
    assert section["runs"][0]["positions_per_second"] > 0


def test_sequential_data_shapes_and_targets():
    train, targets, test, test_targets = bench.sequential_data(7, 30, 5, seed=0)
    assert train["history"].shape == targets.shape == test["history"].shape == (7, 5)
    # Position t's target is the next input; the test row is the training row
    # shifted by one, its target the item after it.
    np.testing.assert_array_equal(targets[:, :-1], train["history"][:, 1:])
    np.testing.assert_array_equal(test["history"], targets)
    assert test_targets.shape == (7,) and train["history_mask"].all()
    assert bench.sequential_flops_per_sequence("sasrec", 5, 30, 8) > (
        3 * 2 * 5 * 30 * 8
    )


@pytest.mark.slow  # a SavedModel per model (deepfm's is in the fast test above)
@pytest.mark.parametrize("name", list(bench.CTR_MODELS))
def test_every_ctr_row_builds_and_serves(name, tmp_path):
    fields = tuple(f"f{i}" for i in range(bench.FIELDS))
    model = bench.CTR_MODELS[name](fields)
    features = {f: np.arange(4) % 10 for f in fields}
    specs = export.serving_specs(model.input_fields(), features)
    assert bench.forward_flops_per_example(model, specs) > 0
    export.save(model, specs, str(tmp_path))
    serve = tf.saved_model.load(str(tmp_path)).signatures[export.SIGNATURE]
    inputs = {k: tf.constant(v, tf.int64) for k, v in features.items()}
    expected = tf.sigmoid(model(inputs)).numpy()
    np.testing.assert_allclose(
        serve(**inputs)["probability"].numpy(), expected, rtol=1e-5
    )


def test_forward_flops_count_the_mlp_of_wide_deep():
    fields = tuple(f"f{i}" for i in range(bench.FIELDS))
    model = bench.CTR_MODELS["wide_deep"](fields)
    features = {f: np.zeros(2, np.int64) for f in fields}
    specs = export.serving_specs(model.input_fields(), features)
    dims = (bench.FIELDS * bench.EMBEDDING, *bench.HIDDEN, 1)
    matmuls = sum(2 * a * b for a, b in zip(dims[:-1], dims[1:]))
    # Matrix products dominate; bias adds, ReLUs and the wide sum add under 1%.
    flops = bench.forward_flops_per_example(model, specs)
    assert matmuls <= flops < 1.01 * matmuls


def _training(runs, repeats):
    return {
        "runs": runs,
        "repeats": repeats,
        "machine": "m",
        "tensorflow": "t",
        "keras": "k",
        "jit_compile": "auto",
        "rows": 10,
        "batch_size": 2,
        "matmul_flops_per_second": 1e9,
        "latency_calls": 3,
        "latency_warmup": 1,
    }


def test_only_sequence_needs_sequence_models_and_keeps_other_sections(
    tiny_flags, tmp_path
):
    from absl import app

    output = tmp_path / "bench.json"
    output.write_text(json.dumps({"training": {"runs": []}}))
    with flagsaver.flagsaver(
        only_sequence=True, sequence_models=[], output=str(output)
    ):
        with pytest.raises(app.UsageError, match="--only_sequence needs"):
            bench.main([])
    assert json.loads(output.read_text()) == {"training": {"runs": []}}
