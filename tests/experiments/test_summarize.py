"""Tests of the README table generator."""

import json
import math

import numpy as np
import pytest

from experiments import summarize


def _student_t_two_sided_p(t, df, steps=200_000):
    """Independent reference: integrate the Student-t density numerically."""
    x = np.linspace(abs(t), abs(t) + 200.0, steps)
    log_c = (
        math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    )
    density = np.exp(log_c - (df + 1) / 2 * np.log1p(x * x / df))
    return float(2 * np.trapezoid(density, x))


@pytest.mark.parametrize(
    "a, b",
    [([1.0, 1.2, 0.9], [2.0, 2.1, 1.8]), ([0.5, 0.6, 0.4, 0.55], [0.52, 0.58, 0.47])],
)
def test_welch_p_value_matches_numeric_integral(a, b):
    ma, mb = np.mean(a), np.mean(b)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    t = (ma - mb) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    assert summarize.welch_p_value(a, b) == pytest.approx(
        _student_t_two_sided_p(t, df), rel=1e-3
    )


def test_welch_needs_two_values():
    assert summarize.welch_p_value([1.0], [2.0, 3.0]) is None


def test_collect_and_render(tmp_path):
    runs = tmp_path / "runs"
    for experiment, values in {
        "base": [0.60, 0.61, 0.59],
        "better": [0.70, 0.71, 0.69],
    }.items():
        for seed, value in enumerate(values):
            workdir = runs / experiment / f"seed{seed}"
            workdir.mkdir(parents=True)
            (workdir / "results.json").write_text(
                json.dumps({"seed": seed, "test": {"auc": value}, "train_seconds": 3.0})
            )
            (workdir / "config.json").write_text("{}")
    results_dir = tmp_path / "results"
    assert summarize.collect(str(runs), str(results_dir)) == 6
    results = summarize.load(str(results_dir))
    table = summarize.Table(
        id="t",
        metrics=("auc",),
        rows=(
            summarize.Row("Base", "base"),
            summarize.Row("Better", "better", paper={"auc": 0.75}),
            summarize.Row("Missing", "missing", paper={"auc": 0.5}),
        ),
        command="make x",
        reference="base",
    )
    text = summarize.render(table, results)
    lines = text.splitlines()
    assert "| Base | — | 0.6000 ± 0.0100 | — | 0,1,2 | `make x` |" in lines
    assert (
        "| Better | 0.7500 | 0.7000 ± 0.0100† | -0.0500 | 0,1,2 | `make x` |" in lines
    )
    assert "| Missing | 0.5000 | — | — | — | — |" in lines
    assert "training time per trained run 3–3 s" in lines[-1]
    assert "differs from the base row at p < 0.05" in lines[-1]
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- table:t -->\nold\n<!-- /table -->\nend\n")
    assert summarize.update_readme(str(readme), results, tables=(table,)) == 1
    body = readme.read_text()
    assert "old" not in body and "0.7000 ± 0.0100†" in body and body.endswith("end\n")


def test_collect_names_folders_by_run_and_marks_subsampled_rows(tmp_path):
    """A workdir is collected under the run name results.json records; a row whose
    test part was subsampled is marked ‡ with its counts."""
    runs = tmp_path / "runs"
    for seed in (0, 1):
        workdir = runs / "anything" / f"seed{seed}"
        workdir.mkdir(parents=True)
        result = {
            "run": "youtube_dnn_ml1m",
            "seed": seed,
            "test": {"hr@10": 0.1 + seed / 100},
            "eval_subsampled": {"validation": [200, 900], "test": [200, 1000]},
        }
        (workdir / "results.json").write_text(json.dumps(result))
    results_dir = tmp_path / "results"
    assert summarize.collect(str(runs), str(results_dir)) == 2
    assert sorted(p.name for p in (results_dir / "youtube_dnn_ml1m").iterdir()) == [
        "seed0.results.json",
        "seed1.results.json",
    ]
    results = summarize.load(str(results_dir))
    table = summarize.Table(
        id="t",
        metrics=("hr@10",),
        rows=(summarize.Row("YouTube DNN", "youtube_dnn_ml1m"),),
        command="make x",
    )
    lines = summarize.render(table, results).splitlines()
    assert lines[2].startswith("| YouTube DNN ‡ | — | 0.1050 ± 0.0071 |")
    assert lines[-1] == (
        "‡ = evaluated on a seeded subsample of the test examples "
        "(config data.max_eval_examples): YouTube DNN: 200 of 1,000."
    )


def test_render_bench():
    assert "make bench" in summarize.render_bench({})
    run = {
        "model": "wide_deep",
        "examples_per_second": 2000.0,
        "examples_per_second_per_epoch": [1000.0, 2000.0, 3000.0],
        "target_examples_per_second": 1500,
        "test_auc": 0.75,
        "input_pipeline_share": 0.1,
        "dense_flops_ratio_to_matmul": 0.2,
    }
    bench = {
        "training": {
            "runs": [run],
            "machine": "m",
            "tensorflow": "t",
            "keras": "k",
            "jit_compile": "auto",
            "rows": 10,
            "batch_size": 2,
            "matmul_flops_per_second": 1e9,
        },
        "data": [
            {
                "size": "tiny",
                "events": 1234,
                "generate_seconds": 1.25,
                "generate_peak_gb": 0.5,
                "read_seconds": 0.25,
                "read_peak_gb": 0.4,
            }
        ],
    }
    lines = summarize.render_bench(bench).splitlines()
    assert (
        "| wide_deep | 2,000 | 1,000–3,000 | 1,500 | auc 0.7500 | 10% | 20.0% |"
        in lines
    )
    assert "| tiny | 1,234 | 1.2 | 0.50 | 0.2 | 0.40 |" in lines
    assert not any("conversion" in line for line in lines)
    bench["conversion"] = {
        "runs": [
            {
                "rows": 1_000_000,
                "file_bytes": 35e6,
                "convert_seconds": 2.0,
                "convert_peak_gb": 1.0,
            },
            {
                "rows": 3_000_000,
                "file_bytes": 105e6,
                "convert_seconds": 6.0,
                "convert_peak_gb": 2.0,
            },
        ],
        "fit": {
            "gb_per_million_rows": 0.5,
            "intercept_gb": 0.5,
            "full_rows": 100_150_807,
            "full_peak_gb_extrapolated": 50.6,
        },
    }
    lines = summarize.render_bench(bench).splitlines()
    assert "| generated, seed 0 | 3,000,000 | 0.10 | 6.0 | 2.00 |" in lines
    assert any(
        "0.500 GB per million rows" in line and "about 50.6 GB" in line
        for line in lines
    )


def test_render_datasets_beside_paper_numbers(tmp_path):
    stats = {
        "ml1m_all": {
            "users": 6040,
            "items": 3706,
            "events_per_type": {"rating": 1000209},
            "density": 0.044684,
            "sequence_length_p50": 96.0,
            "sequence_length_p90": 400.0,
            "sequence_length_max": 2314,
            "timestamps": "absent",
        },
        "kuairand": {
            "users": 2,
            "items": 3,
            "events_per_type": {"click": 1, "impression": 4},
            "density": 0.5,
            "sequence_length_p50": 1.0,
            "sequence_length_p90": 1.0,
            "sequence_length_max": 1,
            "timestamps": "seconds",
            "first": "2022-04-25",
            "last": "2022-05-08",
        },
    }
    paper = {"ml1m_all": {"users": 6040, "density": 0.0447, "source": "DMAN l.147"}}
    text = summarize.render_datasets(stats, paper)
    rows = text.splitlines()
    assert rows[2].startswith(
        "| ml1m_all | 6,040 | 3,706 | rating 1,000,209 | 4.47% | 96 / 400 / 2,314 | none (absent) | 6,040 / — / — / 4.47% | DMAN l.147 |"
    )
    assert rows[3].startswith("| kuairand | 2 | 3 | impression 4, click 1 | 50.00% |")
    assert "2022-04-25 .. 2022-05-08" in rows[3] and rows[3].endswith(
        "| — / — / — / — | — |"
    )
    assert summarize.render_datasets({}, paper).startswith("Not measured yet")
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "ml1m_all.json").write_text(json.dumps(stats["ml1m_all"]))
    assert summarize.load_dataset_stats(str(tmp_path)) == {
        "ml1m_all": stats["ml1m_all"]
    }
