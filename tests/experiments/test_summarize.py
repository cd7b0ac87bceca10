"""Tests of the README table generator."""

import json
import types

import numpy as np
import pytest

from experiments import summarize


def _write_run(runs, experiment, seed, result, **outputs):
    workdir = runs / experiment / f"seed{seed}"
    workdir.mkdir(parents=True)
    (workdir / "results.json").write_text(json.dumps({"seed": seed, **result}))
    (workdir / "config.json").write_text("{}")
    if outputs:
        np.savez_compressed(workdir / summarize.TEST_OUTPUTS_FILE, **outputs)


def _ranks(rng, users, scale):
    return {
        "user_id": users.astype(np.int32),
        "rank": rng.geometric(1 / scale, len(users)).astype(np.int32) - 1,
    }


def test_collect_and_render(tmp_path):
    runs = tmp_path / "runs"
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(200), 3)
    protocol = {"task": "retrieval", "protocol": "full", "exclude_history": True}
    for experiment, scale in {"base": 30.0, "better": 5.0, "same": None}.items():
        for seed in range(3):
            outputs = _ranks(rng, users, scale or 30.0)
            if scale is None:  # the base run's outputs: identical rows
                base = np.load(runs / "base" / f"seed{seed}" / "test_outputs.npz")
                outputs = {k: base[k] for k in base.files}
            hr = float(np.mean(outputs["rank"] < 10))
            result = {"test": {"hr@10": hr}, "train_seconds": 3.0, **protocol}
            if experiment == "better":  # runs that record their peak memory
                result["peak_rss_gb"] = 1.0 + seed
            _write_run(runs, experiment, seed, result, **outputs)
    _write_run(runs, "no_outputs", 0, {"test": {"hr@10": 0.9}, **protocol})
    results_dir = tmp_path / "results"
    assert summarize.collect(str(runs), str(results_dir)) == 10
    assert (results_dir / "better" / "seed2.test.npz").exists()
    results = summarize.load(str(results_dir))
    table = summarize.Table(
        id="t",
        metrics=("hr@10",),
        rows=(
            summarize.Row("Base", "base"),
            summarize.Row("Better", "better", paper={"hr@10": 0.75}),
            summarize.Row("Same", "same"),
            summarize.Row("No outputs", "no_outputs"),
            summarize.Row("Missing", "missing", paper={"hr@10": 0.5}),
        ),
        command="make x",
        reference="base",
    )
    text = summarize.render(table, results)
    lines = text.splitlines()
    cells = {line.split(" | ")[0][2:]: line.split(" | ")[2] for line in lines[2:7]}
    assert cells["Better"].endswith("†")
    assert not cells["Base"].endswith("†")
    assert not cells["Same"].endswith("†")  # identical outputs: p = 1
    assert cells["No outputs"] == "0.9000"  # one seed: no std; no files, no mark
    assert "| Missing | 0.5000 | — | — | — | — |" in lines
    assert "training time per trained run 3–3 s" in lines[-1]
    assert (
        "peak memory (RSS) 1.0–3.0 GB (10^9 bytes) over the 3 runs that record"
        in lines[-1]
    )
    # One run with its peak: one value, not a range, and "the run".
    single = summarize.Table(
        id="u",
        metrics=("hr@10",),
        rows=(summarize.Row("Better", "better"),),
        command="make x",
    )
    footer = summarize.render(single, {"better": results["better"][:1]}).splitlines()[
        -1
    ]
    assert (
        "peak memory (RSS) 1.0 GB (10^9 bytes) over the run that records it" in footer
    )
    assert "differs from the base row at p < 0.05" in lines[-1]
    assert "paired bootstrap over test users, 1000 resamples" in lines[-1]
    assert "the user's earlier items excluded" in lines[-1]
    assert "a tie counts against the target" in lines[-1]
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- table:t -->\nold\n<!-- /table -->\nend\n")
    assert summarize.update_readme(str(readme), results, tables=(table,)) == 1
    body = readme.read_text()
    assert "old" not in body and cells["Better"] in body and body.endswith("end\n")


def test_bootstrap_p_values_are_cached_by_content(tmp_path, monkeypatch):
    monkeypatch.setattr(summarize, "_P_CACHE", {})
    runs = tmp_path / "runs"
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(50), 2)
    for experiment, scale in (("base", 30.0), ("better", 3.0)):
        _write_run(
            runs, experiment, 0, {"test": {"hr@10": 0.5}}, **_ranks(rng, users, scale)
        )
    results_dir = tmp_path / "results"
    summarize.collect(str(runs), str(results_dir))
    results = summarize.load(str(results_dir))
    table = summarize.Table(
        id="t",
        metrics=("hr@10",),
        rows=(summarize.Row("Base", "base"), summarize.Row("Better", "better")),
        command="make x",
        reference="base",
    )
    first = summarize.render(table, results)
    assert "0.5000†" in first
    summarize.save_bootstrap_cache(str(results_dir))
    saved = json.loads((results_dir / summarize.BOOTSTRAP_CACHE_FILE).read_text())
    assert len(saved) == 1 and list(saved.values())[0] < 0.05

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a cached p-value")

    monkeypatch.setattr(summarize, "paired_bootstrap_p", fail)
    monkeypatch.setattr(summarize, "_P_CACHE", {})
    assert summarize.load_bootstrap_cache(str(results_dir)) == 1
    assert summarize.render(table, results) == first  # read from the file
    # New outputs of a run (re-collected): a new key, so a new computation.
    better = results_dir / "better" / "seed0.test.npz"
    np.savez_compressed(better, **_ranks(rng, users, 30.0))
    with pytest.raises(AssertionError, match="recomputed"):
        summarize.render(table, summarize.load(str(results_dir)))
    (results_dir / summarize.BOOTSTRAP_CACHE_FILE).write_text("[1, 2]")
    with pytest.raises(ValueError, match="bootstrap_p.json: expected a JSON object"):
        summarize.load_bootstrap_cache(str(results_dir))


def test_footer_names_the_machines_the_runs_recorded(tmp_path):
    runs = tmp_path / "runs"
    a, b = "CPU A, 2 cores, no GPU", "CPU B, 8 cores, 1 GPU(s)"
    _write_run(runs, "base", 0, {"test": {"auc": 0.7}, "machine": a})
    _write_run(runs, "base", 1, {"test": {"auc": 0.7}, "machine": a})
    _write_run(runs, "other", 0, {"test": {"auc": 0.6}, "machine": b})
    _write_run(runs, "old", 0, {"test": {"auc": 0.6}})
    summarize.collect(str(runs), str(tmp_path / "results"))
    results = summarize.load(str(tmp_path / "results"))

    def footer(*experiments):
        table = summarize.Table(
            id="t",
            metrics=("auc",),
            rows=tuple(summarize.Row(e, e) for e in experiments),
            command="make x",
        )
        return summarize.render(table, results).splitlines()[-1]

    assert footer("base") == "Measured on CPU A, 2 cores, no GPU."
    assert footer("base", "other", "old").startswith(
        "Measured on CPU A, 2 cores, no GPU (2 runs), CPU B, 8 cores, 1 GPU(s) "
        "(1 run) and machine not recorded (1 run)."
    )


def test_collect_refuses_to_mix_two_protocols_under_one_run_name(tmp_path):
    runs, results = tmp_path / "runs", tmp_path / "results"
    config = {"task": "retrieval", "seed": 0, "data": {"split": "time"}}
    _write_run(runs, "popularity_ml1m", 0, {"test": {"hr@10": 0.1}})
    (runs / "popularity_ml1m" / "seed0" / "config.json").write_text(json.dumps(config))
    assert summarize.collect(str(runs), str(results)) == 1
    # Another seed of the same experiment (the seed differs, a later-added key
    # exists on one side only): collected.
    again = tmp_path / "again"
    _write_run(again, "popularity_ml1m", 1, {"test": {"hr@10": 0.1}})
    same = {**config, "seed": 1, "eval": {"new_key": 1}}
    (again / "popularity_ml1m" / "seed1" / "config.json").write_text(json.dumps(same))
    assert summarize.collect(str(again), str(results)) == 1
    # The same run name for another split: refused, the folder unchanged.
    other = tmp_path / "other"
    _write_run(other, "popularity_ml1m", 2, {"test": {"hr@10": 0.3}})
    loo = {**config, "seed": 2, "data": {"split": "leave_one_out"}}
    (other / "popularity_ml1m" / "seed2" / "config.json").write_text(json.dumps(loo))
    with pytest.raises(ValueError, match="data.split: 'time' vs 'leave_one_out'"):
        summarize.collect(str(other), str(results))
    assert not (results / "popularity_ml1m" / "seed2.results.json").exists()
    assert (
        summarize.protocol_differences(
            {"model": {"name": "a", "dim": 8}}, {"model": {"name": "a", "dim": 16}}
        )
        == []
    )  # hyper-parameters are not the protocol
    # Nor is the evaluation batch size (a later default changed it) or where the
    # files are read from; the evaluation's negatives are.
    assert summarize.protocol_differences(
        {"eval": {"batch_size": 8192, "num_negatives": 99}, "data": {"root": "a"}},
        {"eval": {"batch_size": 65536, "num_negatives": 100}, "data": {"root": "b"}},
    ) == ["eval.num_negatives: 99 vs 100"]


def test_collect_refuses_to_mix_memory_as_written_and_fixed_seeds(tmp_path):
    # Seed 1 ran with the memory of Eq. (9), (12) as written (a config from before
    # the fix has no write_content); seed 0 reruns with the fixed memory.
    runs, results = tmp_path / "runs", tmp_path / "results"
    written = {"model": {"name": "dumn", "slot_dim": 64}}
    _write_run(runs, "dumn_af", 1, {"test": {"auc": 0.69}})
    (runs / "dumn_af" / "seed1" / "config.json").write_text(json.dumps(written))
    assert summarize.collect(str(runs), str(results)) == 1
    fixed = {
        "model": {**written["model"], "key_strength": 10.0, "write_content": "key"}
    }
    rerun = tmp_path / "rerun"
    _write_run(rerun, "dumn_af", 0, {"test": {"auc": 0.70}})
    (rerun / "dumn_af" / "seed0" / "config.json").write_text(json.dumps(fixed))
    with pytest.raises(ValueError, match="memory is fixed.*as written"):
        summarize.collect(str(rerun), str(results))
    assert not (results / "dumn_af" / "seed0.results.json").exists()
    # With the as-written seed removed, the rerun is collected; a second fixed
    # seed joins it.
    (results / "dumn_af" / "seed1.results.json").unlink()
    (results / "dumn_af" / "seed1.config.json").unlink()
    assert summarize.collect(str(rerun), str(results)) == 1
    again = tmp_path / "again"
    _write_run(again, "dumn_af", 2, {"test": {"auc": 0.71}})
    (again / "dumn_af" / "seed2" / "config.json").write_text(json.dumps(fixed))
    assert summarize.collect(str(again), str(results)) == 1


def test_paper_on_other_data_gets_its_name_and_no_delta(tmp_path):
    runs = tmp_path / "runs"
    _write_run(runs, "base", 0, {"test": {"auc": 0.7}})
    results_dir = tmp_path / "results"
    summarize.collect(str(runs), str(results_dir))
    table = summarize.Table(
        id="t",
        metrics=("auc",),
        rows=(
            summarize.Row("Base", "base", {"auc": 0.6326}),
            summarize.Row("Missing", "missing", {"auc": 0.6330}),
        ),
        command="make x",
        paper_name="Alibaba",
        delta=False,
    )
    lines = summarize.render(table, summarize.load(str(results_dir))).splitlines()
    assert lines[0] == "| Model | auc Alibaba | auc ours | seeds | command |"
    assert lines[2] == "| Base | 0.6326 | 0.7000 | 0 | `make x` |"
    assert lines[3] == "| Missing | 0.6330 | — | — | — |"


def test_gap_columns_give_each_row_against_the_reference_in_paper_and_ours(tmp_path):
    runs = tmp_path / "runs"
    for seed, (base, best) in enumerate([(0.70, 0.74), (0.72, 0.76)]):
        _write_run(runs, "base", seed, {"test": {"auc": base}})
        _write_run(runs, "best", seed, {"test": {"auc": best}})
    results_dir = tmp_path / "results"
    summarize.collect(str(runs), str(results_dir))
    table = summarize.Table(
        id="t",
        metrics=("auc",),
        rows=(
            summarize.Row("Base", "base", {"auc": 0.6326}),
            summarize.Row("Best", "best", {"auc": 0.6496}),
            summarize.Row("Missing", "missing", {"auc": 0.6330}),
            summarize.Row("Unpublished", "base"),
        ),
        command="make x",
        reference="best",
        paper_name="Alibaba",
        delta=False,
        gap=True,
    )
    lines = summarize.render(table, summarize.load(str(results_dir))).splitlines()
    assert lines[0] == (
        "| Model | auc Alibaba | auc ours | vs Best Alibaba | vs Best ours | seeds "
        "| command |"
    )
    assert lines[2].startswith(
        "| Base | 0.6326 | 0.7100 ± 0.0141 | -0.0170 | -0.0400 | 0,1 |"
    )
    assert lines[3].startswith(
        "| Best | 0.6496 | 0.7500 ± 0.0141 | +0.0000 | +0.0000 |"
    )
    assert lines[4] == "| Missing | 0.6330 | — | -0.0166 | — | — | — |"
    assert lines[5].startswith("| Unpublished | — | 0.7100 ± 0.0141 | — | -0.0400 |")


def test_dumn_figure2_grid_table_and_heat_map(tmp_path):
    runs = tmp_path / "runs"
    values = {(16, 16): 0.61, (256, 64): 0.66, (32, 128): 0.64}
    for (m, z), auc in values.items():
        for seed, shift in ((0, -0.01), (1, 0.01)):
            run = summarize.dumn_grid_run(m, z, "synthetic")
            _write_run(runs, run, seed, {"test": {"auc": auc + shift}})
    results_dir = tmp_path / "results"
    summarize.collect(str(runs), str(results_dir))
    results = summarize.load(str(results_dir))
    assert summarize.dumn_grid_run(256, 64, "kuairand") == "dumn_table1_kuairand"
    lines = summarize.render_grid(results, "synthetic").splitlines()
    assert lines[0] == "| m \\ Z | 16 | 32 | 64 | 128 | 256 |"
    assert lines[2] == "| 16 | 0.6100 | — | — | — | — |"
    assert lines[3] == "| 32 | — | — | — | 0.6400 | — |"
    assert lines[6] == "| 256 | — | — | **0.6600** | — | — |"
    assert "mean over seeds 0,1, the seeds every cell has" in lines[-1]
    written = summarize.dumn_figures(results, str(results_dir))
    assert written == [str(results_dir / "figures" / "dumn_figure2_synthetic.png")]
    assert (results_dir / "figures" / "dumn_figure2_synthetic.png").stat().st_size > 0
    # A third seed of the default cell alone does not enter the comparison.
    _write_run(runs, "dumn_table1_synthetic", 2, {"test": {"auc": 0.70}})
    summarize.collect(str(runs), str(results_dir))
    results = summarize.load(str(results_dir))
    lines = summarize.render_grid(results, "synthetic").splitlines()
    assert lines[6] == "| 256 | — | — | **0.6600** | — | — |"
    assert "mean over seeds 0,1," in lines[-1]
    # Cells with no seed in common: each its own mean, and the caption says so.
    disjoint = {
        "dumn_table1_synthetic": [
            r for r in results["dumn_table1_synthetic"] if r["seed"] == 2
        ],
        "dumn_m16_z16_table1_synthetic": results["dumn_m16_z16_table1_synthetic"],
    }
    lines = summarize.render_grid(disjoint, "synthetic").splitlines()
    assert lines[6] == "| 256 | — | — | **0.7000** | — | — |"
    assert "each cell's mean over its own seeds (seeds 0,1,2, none shared)" in lines[-1]
    # The default cell alone (reproduce-dumn's run) draws nothing.
    only = {"dumn_table1_kuairand": results["dumn_table1_synthetic"]}
    assert summarize.dumn_figures(only, str(tmp_path / "other")) == []


def _write_memory_run(runs, experiment, seed, auc, **model):
    _write_run(runs, experiment, seed, {"test": {"auc": auc}})
    config = {"model": {"name": "dumn", "slot_dim": 4, "memory": "per_type", **model}}
    (runs / experiment / f"seed{seed}" / "config.json").write_text(json.dumps(config))


def test_memory_as_written_rows_and_grid_cells_are_marked(tmp_path):
    runs, results_dir = tmp_path / "runs", tmp_path / "results"
    fixed = dict(key_strength=10.0, write_content="key")
    _write_memory_run(runs, "dumn_table1_synthetic", 0, 0.70, **fixed)
    _write_memory_run(runs, "dumn_eq9_table1_synthetic", 0, 0.68)  # old config
    _write_memory_run(runs, "dumn_m16_z16_table1_synthetic", 0, 0.66)
    _write_memory_run(runs, "dumn_no_umn_table1_synthetic", 0, 0.67, memory="none")
    _write_run(runs, "dfn_table1_synthetic", 0, {"test": {"auc": 0.65}})
    summarize.collect(str(runs), str(results_dir))
    results = summarize.load(str(results_dir))
    marked = {name: summarize.memory_as_written(rs[0]) for name, rs in results.items()}
    assert marked == {
        "dumn_table1_synthetic": False,
        "dumn_eq9_table1_synthetic": True,
        "dumn_m16_z16_table1_synthetic": True,
        "dumn_no_umn_table1_synthetic": False,  # no memory
        "dfn_table1_synthetic": False,  # no recorded model
    }
    assert not summarize.memory_as_written(
        {"model_config": {"slot_dim": 4, "user_memory": False}}
    )
    assert not summarize.memory_as_written(
        {"model_config": {"slot_dim": 4, "learn_key_strength": True}}
    )
    table = {t.id: t for t in summarize.TABLES}["dumn_ablations_synthetic"]
    text = summarize.render(table, results)
    assert "| DUMN | 0.6496 | 0.7000 |" in text
    assert "| DUMN, memory of Eq. (9), (12) as written (collapses; ours) §" in text
    assert "| DUMN-UMN (Table 2) | 0.6434 | 0.6700 |" in text
    assert text.rstrip().endswith(summarize.AS_WRITTEN_NOTE)
    # Grid cells run as written compare with DUMN as written at (256, 64).
    lines = summarize.render_grid(results, "synthetic").splitlines()
    assert lines[6] == "| 256 | — | — | **0.6800** | — | — |"
    assert "Every cell ran with the memory of Eq. (9) and (12) as written" in lines[-1]
    cells, _, _, as_written = summarize.grid_cells(
        {"dumn_table1_synthetic": results["dumn_table1_synthetic"]}, "synthetic"
    )
    assert cells[(256, 64)] == pytest.approx(0.70) and not as_written


def test_sequence_tables_name_every_run_of_their_make_targets():
    tables = {t.id: t for t in summarize.TABLES}
    rows = [r.experiment for r in tables["ctr_sequence_synthetic"].rows]
    assert rows[-1] == "oracle_ctr_synthetic" and "dmt_synthetic" in rows
    kuairand = tables["ctr_sequence_kuairand"]
    assert len(kuairand.rows) == 9  # reproduce-dumn's runs, the same protocol
    assert all(r.experiment.endswith("_table1_kuairand") for r in kuairand.rows)
    assert kuairand.reference == "wide_deep_table1_kuairand"
    dumn = [r.experiment for r in tables["dumn_table1_synthetic"].rows]
    assert dumn[-2:] == ["dumn_table1_synthetic", "oracle_ctr_table1_synthetic"]
    assert tables["dumn_table1_kuairand"].reference == "dumn_table1_kuairand"
    ablations = [r.experiment for r in tables["dumn_ablations_synthetic"].rows]
    assert len(ablations) == 18 and "autoint_umn_table1_synthetic" in ablations
    assert ablations[1] == "dumn_eq9_table1_synthetic"
    assert "autoint_umn_no_memory_table1_synthetic" in ablations
    assert [r.paper["auc"] for r in tables["dumn_table7_kuairand"].rows] == [
        0.7609,
        0.8062,
    ]
    beauty = [r.experiment for r in tables["sequential_beauty_full"].rows]
    assert beauty[0] == "sasrec_full_amazon_beauty"
    assert beauty[-1] == "popularity_full_amazon_beauty"  # the floor
    headroom = [r.experiment for r in tables["simulator_sequence_headroom"].rows]
    assert "headroom_cross_sequence_synthetic" in headroom
    assert "din_headroom_synthetic" in headroom
    stay = tables[f"simulator_sequence_headroom_{summarize.HEADROOM_SETTING}"]
    assert all("_stay09_" in r.experiment for r in stay.rows)


def test_protocol_note():
    assert summarize.protocol_note([{"task": "ctr"}]) == ""
    kept = {"task": "retrieval", "protocol": "full", "exclude_history": False}
    assert "earlier items kept" in summarize.protocol_note([kept])
    sampled = {"task": "retrieval", "protocol": "sampled", "num_negatives": 99}
    sampled["exclude_history"] = True
    assert "the target and 99 sampled negatives" in summarize.protocol_note([sampled])
    old = {"task": "retrieval", "protocol": "full"}
    assert "ties to the lowest item id" in summarize.protocol_note([old])


def _auc_reference(labels, scores):
    """Mann-Whitney AUC over all pairs, ties one half."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return wins.mean()


def test_bootstrap_weights_recompute_metrics():
    users = np.array([0, 0, 1, 2, 2, 2, 3, 3])
    outputs = {
        "user_id": users,
        "probability": np.array([0.4, 0.4, 0.7, 0.7, 0.1, 0.1, 0.7, 0.7], np.float16),
        "label": np.array([1, 0, 1, 0, 1, 1, 0, 0], np.int8),
        "rank": np.array([0, 3, 12, 1, 0, 40, 7, 2]),
    }
    unique = np.unique(users)
    weights = np.array([[1.0, 1, 1, 1], [2, 0, 1, 3]])
    # Weights [2, 0, 1, 3]: user 0's rows twice, user 2's once, user 3's three times.
    rows = np.concatenate(
        [
            np.tile(np.flatnonzero(users == u), int(w))
            for u, w in zip(unique, weights[1])
        ]
    )
    probability = outputs["probability"].astype(np.float64)
    auc = summarize._run_metric(outputs, "auc", unique)(weights)
    assert auc[0] == pytest.approx(_auc_reference(outputs["label"], probability))
    assert auc[1] == pytest.approx(
        _auc_reference(outputs["label"][rows], probability[rows])
    )
    ndcg = summarize._run_metric(outputs, "ndcg@10", unique)(weights)
    rank = outputs["rank"][rows]
    assert ndcg[1] == pytest.approx(np.mean((rank < 10) / np.log2(rank + 2)))
    gauc = summarize._run_metric(outputs, "gauc", unique)(weights)
    # Users 0 and 2 have both labels: AUC 1/2 (a tie, 2 rows) and 0 (3 rows).
    assert gauc[0] == pytest.approx((2 * 0.5 + 3 * 0.0) / 5)
    assert gauc[1] == pytest.approx((2 * 2 * 0.5 + 1 * 3 * 0.0) / 7)
    logloss = summarize._run_metric(outputs, "logloss", unique)(weights)
    y, p = outputs["label"][rows], probability[rows]
    assert logloss[1] == pytest.approx(
        -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    )


def test_paired_bootstrap_p():
    rng = np.random.default_rng(2)
    users = np.repeat(np.arange(300), 2)
    a = {s: _ranks(rng, users, 30.0) for s in range(3)}
    assert summarize.paired_bootstrap_p(a, a, "hr@10") == 1.0
    # Zero-variance runs that differ on a handful of rows are not significant.
    b = {s: dict(a[s], rank=a[s]["rank"].copy()) for s in a}
    for s in b:
        b[s]["rank"][:2] = 0
    assert summarize.paired_bootstrap_p(b, a, "hr@10") > 0.05
    better = {s: _ranks(rng, users, 3.0) for s in range(3)}
    assert summarize.paired_bootstrap_p(better, a, "hr@10") < 0.01
    # Other test rows for the same seed: no pairing, no p-value.
    shifted = {s: dict(a[s], user_id=a[s]["user_id"][::-1]) for s in a}
    assert summarize.paired_bootstrap_p(shifted, a, "hr@10") is None
    assert summarize.paired_bootstrap_p({5: a[0]}, a, "hr@10") is None


def test_outputs_file_name_is_the_trainers():
    from recsys_tf.training import loop

    assert summarize.TEST_OUTPUTS_FILE == loop.TEST_OUTPUTS_FILE


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
    training = _bench_training()
    training["runs"][0].update(
        examples_per_second_per_epoch=[1000.0, 2000.0, 3000.0],
        target_examples_per_second=1500,
    )
    bench = {
        "training": training,
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
    # A file of the one-run benchmark: its columns, "—" for the newer ones.
    assert (
        "| wide_deep | — | — | 2,000 | — | — | — | — | auc 0.7500 | 10% | 20.0% |"
        in lines
    )
    assert any("predates repeated runs" in line for line in lines)
    assert "Inference latency: not in this file (`make bench` measures it)." in lines
    assert not any("1,500" in line for line in lines)  # no target column
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


def test_render_bench_repeated_runs_and_latency():
    timing = {"median_ms": 1.5, "p99_ms": 4.25}
    run = {
        "model": "deepfm",
        "repeats": 3,
        "epochs": 5,
        "examples_per_second": 180_000.4,
        "examples_per_second_range": [170_000.0, 190_000.0],
        "all_epochs_examples_per_second": 120_000.0,
        "all_epochs_examples_per_second_range": [110_000.0, 125_000.0],
        "overhead_seconds": 2.75,
        "overhead_seconds_range": [2.0, 3.0],
        "test_auc": 0.75,
        "input_pipeline_share": 0.02,
        "dense_flops_ratio_to_matmul": 0.3,
        "latency": {
            "function": {"1": timing, "256": {"median_ms": 3.0, "p99_ms": 9.0}},
            "saved_model": {"1": timing},  # a missing size renders "—"
        },
    }
    retrieval = {
        "model": "youtube_dnn",
        "repeats": 3,
        "epochs": 11,
        "examples_per_second": 100_000.0,
        "examples_per_second_range": [90_000.0, 110_000.0],
        "all_epochs_examples_per_second": 80_000.0,
        "all_epochs_examples_per_second_range": [70_000.0, 85_000.0],
        "overhead_seconds": 3.0,
        "overhead_seconds_range": [2.5, 4.0],
        "test_hr@10": 0.5,
        "input_pipeline_share": 0.01,
        "dense_flops_ratio_to_matmul": 0.25,
    }
    bench = {
        "training": {
            "runs": [run, retrieval],
            "repeats": 3,
            "machine": "m",
            "tensorflow": "t",
            "keras": "k",
            "jit_compile": "auto",
            "rows": 200_000,
            "batch_size": 4096,
            "matmul_flops_per_second": 1e9,
            "latency_calls": 200,
            "latency_warmup": 20,
        }
    }
    lines = summarize.render_bench(bench).splitlines()
    assert (
        "| deepfm | 3 | 5 | 180,000 | 170,000–190,000 | 120,000 | 110,000–125,000 "
        "| 2.8 | auc 0.7500 | 2% | 30.0% |" in lines
    )
    assert any(line.startswith("| youtube_dnn | 3 | 11 | 100,000 |") for line in lines)
    assert (
        "| model | tf.function batch 1 (ms) | tf.function batch 256 (ms) "
        "| SavedModel batch 1 (ms) | SavedModel batch 256 (ms) |" in lines
    )
    assert "| deepfm | 1.50 / 4.25 | 3.00 / 9.00 | 1.50 / 4.25 | — |" in lines
    assert not any(line.startswith("| youtube_dnn | 1") for line in lines)
    assert any("3 runs per model" in line for line in lines)
    assert any("over 200 calls after 20 warm-up calls" in line for line in lines)


def _bench_training():
    run = {
        "model": "wide_deep",
        "examples_per_second": 2000.0,
        "test_auc": 0.75,
        "input_pipeline_share": 0.1,
        "dense_flops_ratio_to_matmul": 0.2,
    }
    return {
        "runs": [run],
        "machine": "m",
        "tensorflow": "t",
        "keras": "k",
        "jit_compile": "auto",
        "rows": 10,
        "batch_size": 2,
        "matmul_flops_per_second": 1e9,
    }


def _sequence_run(config, task, length, examples_per_second, share):
    return {
        "model": config if length is None else f"{config}_T{length}",
        "config": config,
        "task": task,
        "max_length": length,
        "batch_size": 1024,
        "rows": 102_400,
        "repeats": 3,
        "epochs": 3,
        "examples_per_second": examples_per_second,
        "examples_per_second_range": [0.9 * examples_per_second, examples_per_second],
        "all_epochs_examples_per_second": examples_per_second / 2,
        "all_epochs_examples_per_second_range": [1.0, 2.0],
        "overhead_seconds": 12.25,
        "overhead_seconds_range": [10.0, 14.0],
        "step_seconds": 1024 / examples_per_second,
        "input_pipeline_share": share,
        "per_run": [],
    }


def _sequence_section(repeats, rows, runs):
    return {
        "machine": "m2",
        "data_path": "synthetic (small)",
        "jit_compile": "auto",
        "optimizer": "adam",
        "repeats": repeats,
        "epochs": 3,
        "rows": rows,
        "runs": runs,
    }


def test_render_bench_sequence_rows():
    without = summarize.render_bench({"training": _bench_training()}).splitlines()
    bench = {
        "training": _bench_training(),
        "sequence": _sequence_section(
            3,
            102_400,
            [
                _sequence_run("wide_deep", "ctr", None, 51_200.0, 0.02),
                _sequence_run("din", "ctr_sequence", 100, 2048.0, 0.25),
            ],
        ),
    }
    lines = summarize.render_bench(bench).splitlines()
    # The earlier tables are unchanged; the sequence rows follow the latency line.
    assert lines[: len(without)] == without
    assert lines[len(without) :] == [
        "",
        "| behaviour-sequence model | task | T | batch | runs | epochs "
        "| steady examples/s (median) | steady range | all-epochs examples/s "
        "(median) | overhead (s) | step (ms) | input pipeline share |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        "| wide_deep | ctr | — | 1,024 | 3 | 3 | 51,200 | 46,080–51,200 | 25,600 "
        "| 12.2 | 20 | 2% |",
        "| din | ctr_sequence | 100 | 1,024 | 3 | 3 | 2,048 | 1,843–2,048 | 1,024 "
        "| 12.2 | 500 | 25% |",
        "",
        "Behaviour-sequence rows (issues 19 and 21), measured by `python -m "
        "experiments.bench --only_sequence --sequence_rows=102400 "
        "--sequence_epochs=3 --repeats=3` on m2: each model as its "
        "experiments/configs file builds it (Wide&Deep on the plain CTR task), on "
        "synthetic (small) through the trainer's input pipeline, 102,400 training "
        "rows per epoch in the config's batch size, 3 epochs, 3 runs per row (a "
        "fresh model each), optimizer adam, jit_compile=auto, Eigen kernels "
        "(recorded before oneDNN was turned on); examples/s and overhead as above; "
        "input pipeline share: the same batches drawn from the dataset alone, over "
        "the step time.",
    ]


def test_render_bench_sequence_rows_of_one_run():
    bench = {
        "training": _bench_training(),
        "sequence": _sequence_section(
            1, 51_200, [_sequence_run("din", "ctr_sequence", 50, 2048.0, 0.25)]
        ),
    }
    text = summarize.render_bench(bench)
    assert "--sequence_rows=51200 --sequence_epochs=3 --repeats=1`" in text
    assert "3 epochs, 1 run per row (a fresh model each)" in text


def test_render_bench_sequence_rows_names_their_bucketing():
    section = _sequence_section(
        1, 51_200, [_sequence_run("dumn", "ctr_sequence", 100, 900.0, 0.01)]
    )
    text = summarize.render_bench({"training": _bench_training(), "sequence": section})
    assert "--repeats=1` on" in text  # random batches: no flag
    section["bucket_batches"] = 50
    text = summarize.render_bench({"training": _bench_training(), "sequence": section})
    assert "--repeats=1 --sequence_bucket_batches=50` on" in text


def _task_build_run(source, simulator, events, parts, seconds, peaks, load):
    return {
        "source": source,
        "simulator": simulator,
        "events": events,
        "train_impressions": parts[0],
        "validation_impressions": parts[1],
        "test_impressions": parts[2],
        "max_length": 100,
        "sequence_types": ["click", "unclick", "like", "dislike"],
        "item_features": ["item_id", "category"],
        "load_seconds": seconds[0],
        "build_seconds": seconds[1],
        "peak_before_build_gb": peaks[0],
        "peak_after_build_gb": peaks[1],
        "load_average": load,
    }


def test_render_bench_task_build():
    without = summarize.render_bench({"training": _bench_training()}).splitlines()
    bench = {
        "training": _bench_training(),
        "task_build": {
            "machine": "m3",
            "config": "dumn",
            "runs": [
                _task_build_run(
                    "small",
                    True,
                    2_345_678,
                    (960_000, 120_000, 120_000),
                    (3.25, 12.5),
                    (0.8, 1.25),
                    6.5,
                ),
                _task_build_run(
                    "kuairand",
                    False,
                    456_789,
                    (178_295, 22_287, 22_287),
                    (0.5, 2.0),
                    (0.75, 0.875),
                    4.0,
                ),
            ],
            "skipped": [{"source": "ml1m", "reason": "files not found"}],
        },
    }
    lines = summarize.render_bench(bench).splitlines()
    assert lines[: len(without)] == without
    assert lines[len(without) :] == [
        "",
        "| task build: source | events | train impressions | validation impressions "
        "| test impressions | T | load (s) | build (s) "
        "| peak memory before build (GB) | peak memory after build (GB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        "| simulator small | 2,345,678 | 960,000 | 120,000 | 120,000 | 100 | 3.2 "
        "| 12.5 | 0.80 | 1.25 |",
        "| kuairand | 456,789 | 178,295 | 22,287 | 22,287 | 100 | 0.5 | 2.0 "
        "| 0.75 | 0.88 |",
        "",
        "Task build (issue 19's memory), measured by `python -m experiments.bench "
        "--only_task_build` on m3, load average 4.0–6.5 (times vary with the load, "
        "peak memory does not): the event log's load and the behaviour-sequence "
        "task of experiments/configs/dumn.py (sequences click, unclick, like, "
        "dislike) built as the trainer builds them, each source in a fresh process "
        "after generating or converting it (not timed); peak resident memory "
        "(getrusage; GB = 10^9 bytes) of that process after its imports and the "
        "load, and after the build.",
        "",
        "Task build: ml1m skipped: files not found",
    ]


def _pairwise_result(seed, hr, epochs=3):
    return {
        "seed": seed,
        "test": {"hr@10": hr, "ndcg@10": hr / 2},
        "train_seconds": 2.0,
        "task": "pairwise",
        "protocol": "sampled",
        "history": [
            {"epoch": e + 1, "loss": 0.6, "val_hr@10": hr * (e + 1) / epochs}
            for e in range(epochs)
        ],
    }


def test_mfmlp_tables_2_and_3_name_their_grid_runs(tmp_path):
    runs = tmp_path / "runs"
    _write_run(runs, "mf_mlp_taobao_userbehavior", 0, _pairwise_result(0, 0.25))
    _write_run(runs, "mf_mlp_f8_ng3_taobao_userbehavior", 0, _pairwise_result(0, 0.2))
    _write_run(runs, "mf_mlp_f8_ng1_taobao_userbehavior", 0, _pairwise_result(0, 0.1))
    summarize.collect(str(runs), str(tmp_path / "results"))
    results = summarize.load(str(tmp_path / "results"))
    tables = {t.id: t for t in summarize.TABLES}
    table2 = summarize.render(tables["mfmlp_table2_taobao_userbehavior"], results)
    lines = table2.splitlines()
    assert lines[2].startswith("| 2 factors | 0.2739 | — |")  # not run
    assert "| 4 factors | 0.2759 | 0.2500 | -0.0259 |" in lines[3]
    assert "| 8 factors | 0.2695 | 0.2000 | -0.0695 |" in lines[4]
    table3 = summarize.render(tables["mfmlp_table3_taobao_userbehavior"], results)
    rows = {line.split(" | ")[0][2:]: line for line in table3.splitlines()[2:14]}
    assert len(rows) == 12
    assert "| 0.2400 | 0.1000 |" in rows["ng-1, 8 factors"]
    assert "| 0.2733 | 0.2000 |" in rows["ng-3, 8 factors"]  # Table 2's run
    assert "| 0.2760 | 0.2500 |" in rows["ng-3, 4 factors"]  # Table 4's run
    assert "| 0.2291 | — |" in rows["ng-1, 16 factors"]
    simulator = summarize.render(tables["mfmlp_table2_synthetic"], results)
    assert "| 2 factors | — | — |" in simulator  # no paper number off Taobao


def test_mfmlp_figure3_png_from_the_histories(tmp_path):
    results_dir = tmp_path / "results"
    assert summarize.mfmlp_figures({}, str(results_dir)) == []  # no runs, no file
    results = {
        "mf_mlp_synthetic": [_pairwise_result(0, 0.5), _pairwise_result(1, 0.7)],
        "mf_mlp_l0_synthetic": [_pairwise_result(0, 0.3, epochs=5)],
        "mf_mlp_l4_synthetic": [{"seed": 0, "test": {"hr@10": 0.1}}],  # no history
    }
    written = summarize.mfmlp_figures(results, str(results_dir))
    path = results_dir / "figures" / "mfmlp_figure3_synthetic.png"
    assert written == [str(path)]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (
        results_dir / "figures" / "mfmlp_figure3_taobao_userbehavior.png"
    ).exists()


def test_plot_curves_averages_the_seeds_per_epoch(tmp_path, monkeypatch):
    drawn = {}
    from matplotlib.axes import Axes

    def plot(self, x, y, **kwargs):
        label = kwargs.get("label") or f"{len(drawn)} {kwargs['linestyle']}"
        drawn[label] = (list(x), list(y))
        return (types.SimpleNamespace(get_color=lambda: "C0"),)

    monkeypatch.setattr(Axes, "plot", plot)
    results = {
        "a": [
            _pairwise_result(0, 0.3),
            _pairwise_result(1, 0.6, epochs=2),
            {"seed": 2, "test": {"hr@10": 0.5}},  # an older run: no history
        ]
    }
    assert summarize.plot_curves(results, {"A": "a"}, str(tmp_path / "a.png"))
    # Solid while both seeds train, dotted from the last common epoch on.
    epochs, values = drawn["A (2 seeds)"]
    assert epochs == [1, 2]
    np.testing.assert_allclose(values, [(0.1 + 0.3) / 2, (0.2 + 0.6) / 2])
    epochs, values = drawn["1 :"]
    assert epochs == [2, 3]
    np.testing.assert_allclose(values, [(0.2 + 0.6) / 2, 0.3])


def _sequential_run(model, sequences_per_second, hr10):
    return {
        "model": model,
        "repeats": 3,
        "epochs": 3,
        "examples_per_second": sequences_per_second,
        "examples_per_second_range": [0.9 * sequences_per_second, sequences_per_second],
        "positions_per_second": 50 * sequences_per_second,
        "test_hr@10": hr10,
        "test_hr@50": hr10 + 0.1,
        "dense_flops_ratio_to_matmul": 0.05,
    }


def test_render_bench_sequential_rows_beside_recbole():
    without = summarize.render_bench({"training": _bench_training()}).splitlines()
    section = {
        "machine": "m",
        "tensorflow": "t",
        "keras": "k",
        "optimizer": "lazy_adam",
        "jit_compile": "auto",
        "users": 5000,
        "items": 3000,
        "max_length": 50,
        "embedding_dim": 64,
        "batch_size": 256,
        "epochs": 3,
        "repeats": 3,
        "matmul_flops_per_second": 1e9,
        # SASRec at 2,000 sequences/s = 100,000 targets/s: 142.9 x RecBole's 700;
        # GRU4Rec at 200 = 10,000 targets/s: 9.1 x RecBole's 1,100.
        "runs": [
            _sequential_run("sasrec", 2000.0, 0.3),
            _sequential_run("gru4rec", 200.0, 0.2),
            # No RecBole rate and no FLOP count: dashes, not numbers.
            {
                **_sequential_run("binn", 300.0, 0.1),
                "positions_per_second": 300.0,
                "dense_flops_ratio_to_matmul": None,
            },
        ],
    }
    lines = summarize.render_bench(
        {"training": _bench_training(), "sequential": section}
    ).splitlines()
    assert lines[: len(without)] == without
    rows = {
        line.split(" | ")[0][2:]: line.split(" | ")
        for line in lines
        if line.startswith(("| sasrec", "| gru4rec", "| binn"))
    }
    assert rows["sasrec"][3:9] == [
        "2,000",
        "1,800–2,000",
        "100,000",
        "700",
        "142.9",
        "yes",
    ]
    assert rows["gru4rec"][3:9] == [
        "200",
        "180–200",
        "10,000",
        "1,100",
        "9.1",
        "no",
    ]
    assert rows["sasrec"][9:11] == ["0.3000", "0.4000"]
    assert rows["binn"][3:9] == ["300", "270–300", "300", "—", "—", "—"]
    assert rows["binn"][11] == "— |" and rows["sasrec"][11] == "5.0% |"
    assert "--only_sequential --repeats=3" in lines[-1]
    assert "5,000 users x 3,000 items" in lines[-1]


def test_bench_footers_name_the_kernels_each_section_ran_with():
    assert summarize.kernels({"onednn_opts": "1"}) == (
        "oneDNN kernels (TF_ENABLE_ONEDNN_OPTS=1)"
    )
    assert summarize.kernels({"onednn_opts": "0"}).startswith("Eigen kernels")
    assert "unset" in summarize.kernels({"onednn_opts": "unset"})
    # A section recorded before the setting existed ran Eigen's kernels.
    assert summarize.kernels({}).startswith("Eigen kernels (recorded before")
