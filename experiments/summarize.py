"""Turns results files into the README tables (never typed by hand).

    python -m experiments.summarize --runs=runs --results=experiments/results --readme=README.md

1. Collects `runs/<workdir>/seed<k>/{results,config}.json` into
   `experiments/results/<run>/seed<k>.{results,config}.json` (committed), `<run>`
   being the run name results.json records (`<config.name>_<dataset>`), and the
   per-example test outputs `test_outputs.npz` into `seed<k>.test.npz`.
2. Rewrites every README block between `<!-- table:<id> -->` and `<!-- /table -->`
   from the collected files: Paper | Ours (mean ± std over seeds; a single seed
   gives its value alone) | Δ | command, with
   "—" for rows not yet run, † where a two-sided paired bootstrap over test users
   finds the difference to the table's reference row significant (p < 0.05), and ‡
   on a row evaluated on a subsample of its test examples (results.json
   `eval_subsampled`), with the counts in a footnote. Each footer states the
   evaluation protocol of its runs.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import hashlib
import json
import math
import os
import re
import shutil

import numpy as np
from absl import app, flags

from recsys_tf.data.schema import EVENT_TYPES
from recsys_tf.metrics.classification import _grouped_auc

# Per-example test outputs a run writes beside results.json
# (recsys_tf.training.loop.TEST_OUTPUTS_FILE), collected as seed<k>.test.npz.
TEST_OUTPUTS_FILE = "test_outputs.npz"
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
# The p-values already computed, keyed by the content of the outputs they read
# (`bootstrap_key`); kept in <results>/BOOTSTRAP_CACHE_FILE between renders.
BOOTSTRAP_CACHE_FILE = "bootstrap_p.json"
_P_CACHE: dict[str, float | None] = {}

_RUNS = flags.DEFINE_string("runs", "runs", "Folder of training workdirs.")
_RESULTS = flags.DEFINE_string(
    "results", "experiments/results", "Collected results files."
)
_README = flags.DEFINE_string("readme", "README.md", "README to update.")


@dataclasses.dataclass(frozen=True)
class Row:
    label: str
    experiment: str
    paper: dict | None = None  # metric -> the paper's number


@dataclasses.dataclass(frozen=True)
class Table:
    id: str
    metrics: tuple[str, ...]
    rows: tuple[Row, ...]
    command: str
    reference: str | None = None  # experiment the † significance marks compare to
    # Header of the paper column; a paper measured on other data gets no Δ column.
    paper_name: str = "paper"
    delta: bool = True
    # Beside each metric, the row's gap to the reference row in the paper and in
    # ours ("vs <reference label>"): the ordering question when the data differ.
    gap: bool = False


TABLES = (
    Table(
        id="foundation_ctr",
        metrics=("auc", "gauc", "logloss"),
        rows=(
            Row("Logistic regression (user×category cross)", "logistic_synthetic"),
            Row("Wide&Deep", "wide_deep_synthetic"),
            Row("Oracle (exact click probability)", "oracle_ctr_synthetic"),
        ),
        command="make reproduce-foundation",
        reference="logistic_synthetic",
    ),
    Table(
        id="foundation_retrieval",
        metrics=("hr@10", "hr@50", "ndcg@50", "mrr@50"),
        rows=(
            Row("Popularity", "popularity_synthetic"),
            Row("YouTube DNN (sampled softmax)", "youtube_dnn_synthetic"),
            Row("Oracle (next-click probability)", "oracle_retrieval_synthetic"),
        ),
        command="make reproduce-foundation",
        reference="popularity_synthetic",
    ),
)


# Real datasets through the same models (issue 12); † against the simpler baseline.
for _dataset, _label in (
    ("ml1m", "ML-1M (users 1-2999)"),
    ("kuairand", "KuaiRand-Pure"),
):
    TABLES += (
        Table(
            id=f"{_dataset}_ctr",
            metrics=("auc", "gauc", "logloss"),
            rows=(
                Row(f"Logistic regression, {_label}", f"logistic_{_dataset}"),
                Row(f"Wide&Deep, {_label}", f"wide_deep_{_dataset}"),
            ),
            command="make reproduce-real-data",
            reference=f"logistic_{_dataset}",
        ),
        Table(
            id=f"{_dataset}_retrieval",
            metrics=("hr@10", "hr@50", "ndcg@50", "mrr@50"),
            rows=(
                Row(f"Popularity, {_label}", f"popularity_{_dataset}"),
                Row(f"YouTube DNN, {_label}", f"youtube_dnn_{_dataset}"),
            ),
            command="make reproduce-real-data",
            reference=f"popularity_{_dataset}",
        ),
    )

TABLES += (
    Table(
        id="taobao_userbehavior_retrieval",
        metrics=("hr@10", "hr@50", "ndcg@50", "mrr@50"),
        rows=(
            Row(
                "Popularity, Taobao UserBehavior (814 users)",
                "popularity_taobao_userbehavior",
            ),
            Row(
                "YouTube DNN, Taobao UserBehavior (814 users)",
                "youtube_dnn_taobao_userbehavior",
            ),
        ),
        command="make reproduce-real-data",
        reference="popularity_taobao_userbehavior",
    ),
)

# AutoDenoise Table 1, "w/o" row (the backbones trained normally) on MovieLens-1M
# (autodenoise.txt Table 1), under the preset autodenoise_ml1m (issue 18).
_AUTODENOISE_ML1M = (
    ("FM", "fm", 0.8080, 0.5334),
    ("Wide&Deep", "wide_deep", 0.7957, 0.5400),
    ("DCN", "dcn", 0.8092, 0.5235),
    ("IPNN", "pnn", 0.8023, 0.5433),
    ("DeepFM", "deepfm", 0.8048, 0.5306),
)
TABLES += (
    Table(
        id="autodenoise_ml1m",
        metrics=("auc", "logloss"),
        rows=tuple(
            Row(label, f"{model}_ml1m_all", {"auc": auc, "logloss": logloss})
            for label, model, auc, logloss in _AUTODENOISE_ML1M
        )
        + (
            Row("LR (not in the paper)", "logistic_ml1m_all"),
            Row("OPNN (not in the paper)", "opnn_ml1m_all"),
            Row("DCN-v2 (not in the paper)", "dcn_v2_ml1m_all"),
            Row("AutoInt (not in the paper)", "autoint_ml1m_all"),
        ),
        command="make reproduce-ctr",
        reference="fm_ml1m_all",
    ),
    # The same models on KuaiRand-Pure (no paper number: AutoDenoise does not use
    # it); † against logistic regression.
    Table(
        id="kuairand_feature_ctr",
        metrics=("auc", "gauc", "logloss"),
        rows=tuple(
            Row(label, f"{run}_kuairand")
            for label, run in (
                ("LR", "logistic"),
                ("FM", "fm"),
                ("Wide&Deep", "wide_deep"),
                ("DCN", "dcn"),
                ("IPNN", "pnn"),
                ("DeepFM", "deepfm"),
                ("OPNN", "opnn"),
                ("DCN-v2", "dcn_v2"),
                ("AutoInt", "autoint"),
            )
        ),
        command="make reproduce-ctr",
        reference="logistic_kuairand",
    ),
)

# MF + M-MLP Table 4 (multi_feedback_mf_mlp.txt l.450-494, in its true order, the
# reading notes) on the simulator and on Taobao UserBehavior (issue 22); the paper's
# numbers are of its 19,576 Taobao users, beside the Taobao rows only. † against NCF.
_MFMLP_TABLE4 = (
    ("MFPR (implicit part)", "mfpr", 0.2426, 0.1568),
    ("BPR", "bpr", 0.2296, 0.1505),
    ("WMF", "wmf", 0.2315, 0.1485),
    ("NCF (NeuMF)", "neumf", 0.2500, 0.1670),
    ("MF + M-MLP (ours)", "mf_mlp", 0.2795, 0.1673),
)
_MFMLP_CONTROL = ("MF + M-MLP, random negatives (Section 3.1 control)", "mf_mlp_random")
for _dataset, _paper in (("synthetic", False), ("taobao_userbehavior", True)):
    TABLES += (
        Table(
            id=f"mfmlp_table4_{_dataset}",
            metrics=("hr@10", "ndcg@10"),
            rows=tuple(
                Row(
                    label,
                    f"{model}_{_dataset}",
                    {"hr@10": hr, "ndcg@10": ndcg} if _paper else None,
                )
                for label, model, hr, ndcg in _MFMLP_TABLE4
            )
            + (Row(_MFMLP_CONTROL[0], f"{_MFMLP_CONTROL[1]}_{_dataset}"),),
            command="make reproduce-mfmlp",
            reference=f"neumf_{_dataset}",
        ),
    )

# Sequential recommenders (issue 20) on S3-Rec's Amazon Beauty files, beside S3-Rec
# (Zhou et al. CIKM 2020) Table 2 (99 sampled negatives) and its full-ranking table,
# and on ML-1M users 1-2999 (full ranking, no paper number). † against SASRec.
# (label, config, sampled HR@10, sampled NDCG@10, full HR@10, full NDCG@10)
SEQUENTIAL_MODELS = (
    ("SASRec", "sasrec", 0.4696, 0.3156, 0.0605, 0.0318),
    ("GRU4Rec", "gru4rec", 0.4106, 0.2584, 0.0283, 0.0137),
    ("Caser", "caser", 0.3942, 0.2512, None, None),
    ("NARM", "narm", None, None, None, None),
    ("SHAN", "shan", None, None, None, None),
    ("HPMN", "hpmn", None, None, None, None),
    ("BINN", "binn", None, None, None, None),
    ("SDM", "sdm", None, None, None, None),
    # The floor: training-part item counts (S3-Rec's PopRec row is not copied here).
    ("Popularity", "popularity", None, None, None, None),
)


# config -> its diagnostic rows in the 99-negative table: (label, run name).
SEQUENTIAL_DIAGNOSTICS = {
    "sasrec": (("SASRec, S3-Rec's settings", "sasrec_s3rec"),),
    "caser": (("Caser, its code's training", "caser_code"),),
}


def _paper(hr, ndcg):
    return None if hr is None else {"hr@10": hr, "ndcg@10": ndcg}


TABLES += (
    Table(
        id="sequential_beauty_sampled",
        metrics=("hr@10", "ndcg@10"),
        rows=tuple(
            row
            for label, config, hr, ndcg, _, _ in SEQUENTIAL_MODELS
            for row in (Row(label, f"{config}_amazon_beauty", _paper(hr, ndcg)),)
            # Caser as its authors' code trains it (variant caser.py:code): the
            # candidate causes of the Caser row's gap (README "Sequential
            # recommenders"), beside S3-Rec's Caser; SASRec with S3-Rec's own
            # settings (variant sasrec.py:s3rec), the run behind its number.
            + tuple(
                Row(diagnostic, f"{run}_amazon_beauty", _paper(hr, ndcg))
                for diagnostic, run in SEQUENTIAL_DIAGNOSTICS.get(config, ())
            )
        ),
        command="make reproduce-sequential",
        reference="sasrec_amazon_beauty",
    ),
    Table(
        id="sequential_beauty_full",
        metrics=("hr@10", "ndcg@10"),
        rows=tuple(
            Row(label, f"{config}_full_amazon_beauty", _paper(hr, ndcg))
            for label, config, _, _, hr, ndcg in SEQUENTIAL_MODELS
        ),
        command="make reproduce-sequential",
        reference="sasrec_full_amazon_beauty",
    ),
    Table(
        id="sequential_ml1m",
        metrics=("hr@10", "ndcg@10", "hr@50"),
        rows=tuple(
            Row(label, f"{config}_loo_ml1m") for label, config, *_ in SEQUENTIAL_MODELS
        ),
        command="make reproduce-sequential",
        reference="sasrec_loo_ml1m",
    ),
)
# MF + M-MLP Tables 2 and 3 (multi_feedback_mf_mlp.txt l.396-399, l.413-437): our
# model's factors (2-32) and negatives per positive (ng-1 to ng-4 x factors 4, 8,
# 16); the other settings are Table 4's defaults (4 factors, ng-3, 2 layers), whose
# run `mf_mlp` is the default cell of both tables and their † reference. A grid run
# is `mf_mlp_f<factors>_ng<negatives>` (`make reproduce-mfmlp-analyses`).
MFMLP_TABLE2 = {
    2: (0.2739, 0.1638),
    4: (0.2759, 0.1664),
    8: (0.2695, 0.1646),
    16: (0.2623, 0.1631),
    32: (0.2546, 0.1566),
}
MFMLP_TABLE3 = {  # (negatives, factors) -> (hr@10, ndcg@10)
    (1, 4): (0.2694, 0.1665),
    (1, 8): (0.2400, 0.1534),
    (1, 16): (0.2291, 0.1499),
    (2, 4): (0.2735, 0.1663),
    (2, 8): (0.2643, 0.1634),
    (2, 16): (0.2420, 0.1523),
    (3, 4): (0.2760, 0.1654),
    (3, 8): (0.2733, 0.1639),
    (3, 16): (0.2565, 0.1590),
    (4, 4): (0.2759, 0.1664),
    (4, 8): (0.2728, 0.1630),
    (4, 16): (0.2543, 0.1558),
}
MFMLP_DEPTHS = (0, 1, 2, 3, 4)
"""Figure 3: layers per M-MLP branch; a run is `mf_mlp_l<depth>`, 2 being `mf_mlp`."""


def mfmlp_grid_run(factors: int, negatives: int, dataset: str) -> str:
    """The run of one Table 2 / 3 cell (Table 4's defaults: the `mf_mlp` run)."""
    if (factors, negatives) == (4, 3):
        return f"mf_mlp_{dataset}"
    return f"mf_mlp_f{factors}_ng{negatives}_{dataset}"


def mfmlp_depth_run(depth: int, dataset: str) -> str:
    return f"mf_mlp_{dataset}" if depth == 2 else f"mf_mlp_l{depth}_{dataset}"


for _dataset, _paper in (("synthetic", False), ("taobao_userbehavior", True)):

    def _paper_cell(numbers, paper=_paper):
        return {"hr@10": numbers[0], "ndcg@10": numbers[1]} if paper else None

    TABLES += (
        Table(
            id=f"mfmlp_table2_{_dataset}",
            metrics=("hr@10", "ndcg@10"),
            rows=tuple(
                Row(f"{f} factors", mfmlp_grid_run(f, 3, _dataset), _paper_cell(n))
                for f, n in MFMLP_TABLE2.items()
            ),
            command="make reproduce-mfmlp-analyses",
            reference=f"mf_mlp_{_dataset}",
        ),
        Table(
            id=f"mfmlp_table3_{_dataset}",
            metrics=("hr@10", "ndcg@10"),
            rows=tuple(
                Row(
                    f"ng-{x}, {f} factors",
                    mfmlp_grid_run(f, x, _dataset),
                    _paper_cell(n),
                )
                for (x, f), n in MFMLP_TABLE3.items()
            ),
            command="make reproduce-mfmlp-analyses",
            reference=f"mf_mlp_{_dataset}",
        ),
    )

FIGURES_DIR = "figures"
"""Folder of the generated figures, under the results folder."""


def plot_curves(
    results: dict[str, list[dict]],
    curves: dict[str, str],
    path: str,
    metric: str = "hr@10",
    title: str = "",
) -> bool:
    """Draws the validation `metric` per epoch of each run (`curves`: label ->
    experiment) into the PNG `path` from the results files' `history`: the mean
    over the seeds, solid while every seed is still training, dotted after the
    first seed stopped early (the mean over the seeds that reached the epoch).
    Returns False (and draws nothing) when no run has a history."""
    lines = {}
    for label, experiment in curves.items():
        per_epoch: dict[int, list[float]] = {}
        seeds = 0  # runs with a history (older results files have none)
        for result in results.get(experiment, []):
            history = [e for e in result.get("history", []) if f"val_{metric}" in e]
            seeds += bool(history)
            for entry in history:
                per_epoch.setdefault(entry["epoch"], []).append(entry[f"val_{metric}"])
        if per_epoch:
            epochs = sorted(per_epoch)
            lines[f"{label} ({seeds} seed{'s' * (seeds > 1)})"] = (
                epochs,
                [float(np.mean(per_epoch[e])) for e in epochs],
                sum(len(per_epoch[e]) == seeds for e in epochs),  # all-seed epochs
            )
    if not lines:
        return False
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6, 4))
    for label, (epochs, values, full) in lines.items():
        (line,) = axes.plot(epochs[:full], values[:full], marker=".", label=label)
        if full < len(epochs):
            axes.plot(
                epochs[max(full - 1, 0) :],
                values[max(full - 1, 0) :],
                marker=".",
                linestyle=":",
                color=line.get_color(),
            )
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"validation {metric}")
    axes.set_title(f"{title}\n(mean over seeds; dotted: after a seed stopped early)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return True


def mfmlp_figures(results: dict[str, list[dict]], folder: str) -> list[str]:
    """Figure 3 of MF + M-MLP (validation HR@10 per epoch, 0-4 layers per branch)
    for each dataset with runs: the PNG files written."""
    written = []
    for dataset in ("synthetic", "taobao_userbehavior"):
        path = os.path.join(folder, FIGURES_DIR, f"mfmlp_figure3_{dataset}.png")
        curves = {f"{d} layers": mfmlp_depth_run(d, dataset) for d in MFMLP_DEPTHS}
        if plot_curves(results, curves, path, title=f"MF + M-MLP, {dataset}"):
            written.append(path)
    return written


# Is there sequence signal to find on the simulator? (issue 19): the predictors of
# experiments/headroom.py, Wide&Deep (user x category cross), DIN and the oracle on
# the same test instances, for the default simulator and for the setting
# HEADROOM_SETTING (tag, README title) that keeps the short-term interest longer.
# † against Wide&Deep.
_HEADROOM_ROWS = (
    ("Share of the target's category among the last 2 clicks", "headroom_last2_share"),
    ("… among all earlier clicks", "headroom_history_share"),
    ("… among the other items of the same page", "headroom_page_share"),
    ("Last 2 + all earlier clicks (LR)", "headroom_last2_history"),
    ("User×category and item click rates (LR, counted)", "headroom_cross"),
    ("… + the click-sequence shares (LR)", "headroom_cross_sequence"),
    ("… + the planted intent (LR; truth)", "headroom_cross_intent"),
    ("Wide&Deep (user×category cross)", "wide_deep"),
    ("DIN (T = 20, 2 epochs, batch 4096)", "din_headroom"),
    ("Oracle (exact click probability)", "oracle_ctr"),
)
HEADROOM_SETTING = "stay09"
"""Run-name tag of the simulator setting request_stay=0.9 (`make reproduce-headroom`)."""
for _tag in ("", HEADROOM_SETTING):
    _suffix = f"_{_tag}" if _tag else ""
    TABLES += (
        Table(
            id=f"simulator_sequence_headroom{_suffix}",
            metrics=("auc", "gauc"),
            rows=tuple(
                Row(label, f"{run}{_suffix}_synthetic") for label, run in _HEADROOM_ROWS
            ),
            command="make reproduce-headroom",
            reference=f"wide_deep{_suffix}_synthetic",
            delta=False,
        ),
    )

# DUMN Table 1 (dumn.txt l.454-465), Alibaba AUC column, beside ours on the simulator
# and KuaiRand-Pure (issue 19): other data, so only the ordering compares. Every row
# reads the same CTR instances (tests/experiments/test_ctr_sequence_configs.py); the
# oracle is the simulator's ceiling. † against Wide&Deep. On KuaiRand the runs are
# reproduce-dumn's (<config>_table1_kuairand: the same protocol, trained once).
_DUMN_TABLE1 = (
    ("Wide&Deep", "wide_deep", 0.6326),
    ("PNN", "pnn", 0.6328),
    ("DeepFM", "deepfm", 0.6347),
    ("DIN", "din", 0.6330),
    ("DIEN", "dien", 0.6343),
    ("DSIN", "dsin", 0.6375),
    ("AutoInt", "autoint", 0.6360),
    ("DFN", "dfn", 0.6368),
    ("DMT", "dmt", 0.6378),
)
for _dataset, _runs_of in (("synthetic", ""), ("kuairand", "_table1")):
    TABLES += (
        Table(
            id=f"ctr_sequence_{_dataset}",
            metrics=("auc", "gauc", "logloss"),
            rows=tuple(
                Row(label, f"{run}{_runs_of}_{_dataset}", {"auc": auc})
                for label, run, auc in _DUMN_TABLE1
            )
            + (
                (Row("Oracle (exact click probability)", "oracle_ctr_synthetic"),)
                if _dataset == "synthetic"
                else ()
            ),
            command="make reproduce-ctr-sequence",
            reference=f"wide_deep{_runs_of}_{_dataset}",
            paper_name="Alibaba (DUMN Table 1)",
            delta=False,
        ),
    )

# DUMN Table 1 itself (issue 21): the same nine baselines and DUMN, each run by
# `make reproduce-dumn` (runs <config>_table1_<dataset>; the simulator is the compact
# one), † against DUMN, and each row's gap to DUMN in the paper and in ours: whether
# the paper's ordering holds on our data.
for _dataset in ("synthetic", "kuairand"):
    TABLES += (
        Table(
            id=f"dumn_table1_{_dataset}",
            metrics=("auc",),
            rows=tuple(
                Row(label, f"{run}_table1_{_dataset}", {"auc": auc})
                for label, run, auc in _DUMN_TABLE1 + (("DUMN", "dumn", 0.6496),)
            )
            + (
                (
                    Row(
                        "Oracle (exact click probability)",
                        "oracle_ctr_table1_synthetic",
                    ),
                )
                if _dataset == "synthetic"
                else ()
            ),
            command="make reproduce-dumn"
            + (" DATASET=kuairand" if _dataset == "kuairand" else ""),
            reference=f"dumn_table1_{_dataset}",
            paper_name="Alibaba",
            delta=False,
            gap=True,
        ),
    )

# DUMN's ablations (issue 21), under reproduce-dumn's protocol (runs
# <config>_<preset>_table1_<dataset>, `make reproduce-dumn-ablations`), with the
# paper's Alibaba AUC (Tables 2-6, DUMN-FP in the text), † and gaps against DUMN.
_DUMN_ABLATIONS = (
    ("DUMN", "dumn", 0.6496),
    ("DUMN, memory of Eq. (9), (12) as written (collapses; ours)", "dumn_eq9", None),
    ("DUMN-UMN (Table 2)", "dumn_no_umn", 0.6434),
    ("DUMN+UMN1 (Table 2)", "dumn_umn1", 0.6446),
    ("AutoInt (Table 3)", "autoint", 0.6360),
    ("AutoInt+UMN (Table 3)", "autoint_umn", 0.6396),
    (
        "AutoInt + window means, no memory (control, ours)",
        "autoint_umn_no_memory",
        None,
    ),
    ("DFN (Table 3)", "dfn", 0.6368),
    ("DFN+UMN (Table 3)", "dfn_umn", 0.6437),
    ("DUMN_CONCAT (Table 4)", "dumn_concat", 0.6438),
    ("DUMN_CROSS (Table 4)", "dumn_cross", 0.6487),
    ("DUMN_FFN (Table 4)", "dumn_ffn", 0.6486),
    ("DUMN_ATTE (Table 4)", "dumn_atte", 0.6433),
    ("DUMN-TL (Table 5)", "dumn_no_tl", 0.6467),
    ("DUMN_RS (Table 5)", "dumn_rs", 0.6472),
    ("DUMN_IF (Table 6)", "dumn_if", 0.6392),
    ("DUMN_AF (Table 6)", "dumn_af", 0.6394),
    ("DUMN-FP (Sec. 4.3.1)", "dumn_no_fp", 0.6417),
)
DUMN_GRID = (16, 32, 64, 128, 256)
"""Figure 2's values of m (slots) and Z (slot size)."""


def dumn_grid_run(m: int, z: int, dataset: str) -> str:
    """The run of Figure 2's cell (m, Z): reproduce-dumn's DUMN at the default."""
    if (m, z) == (256, 64):
        return f"dumn_table1_{dataset}"
    return f"dumn_m{m}_z{z}_table1_{dataset}"


for _dataset in ("synthetic", "kuairand"):
    _command = "make reproduce-dumn-ablations" + (
        " DATASET=kuairand" if _dataset == "kuairand" else ""
    )
    TABLES += (
        Table(
            id=f"dumn_ablations_{_dataset}",
            metrics=("auc",),
            rows=tuple(
                Row(label, f"{run}_table1_{_dataset}", auc and {"auc": auc})
                for label, run, auc in _DUMN_ABLATIONS
            ),
            command=_command,
            reference=f"dumn_table1_{_dataset}",
            paper_name="Alibaba",
            delta=False,
            gap=True,
        ),
        Table(
            id=f"dumn_table7_{_dataset}",
            metrics=("auc",),
            rows=(
                Row("DFN", f"dfn_dislike_table1_{_dataset}", {"auc": 0.7609}),
                Row("DUMN", f"dumn_dislike_table1_{_dataset}", {"auc": 0.8062}),
            ),
            command=_command,
            reference=f"dumn_dislike_table1_{_dataset}",
            paper_name="Alibaba-dislike",
            delta=False,
            gap=True,
        ),
    )


def memory_as_written(run: dict) -> bool:
    """Whether a collected run's model has DUMN's user memory with Eq. (9) and
    (12) as written (key strength 1, an add head of its own): the setting whose
    slots collapse to one vector (`NTMMemory`), every memory run before
    2026-12-05. False for runs without a recorded model config."""
    model = run.get("model_config") or {}
    if "slot_dim" not in model or model.get("memory") in ("none", False):
        return False
    if model.get("user_memory") is False:  # DFN without UMN
        return False
    return (
        float(model.get("key_strength", 1.0)) == 1.0
        and model.get("write_content", "add") == "add"
        and not model.get("learn_key_strength")
    )


AS_WRITTEN_NOTE = (
    "§ = the memory of Eq. (9) and (12) as written (no key strength, an add head "
    "of its own), whose slots collapse to one vector, so that every user reads "
    "the same long-term interest (`NTMMemory`); run before the fix of 2026-12-05."
)


def grid_cells(results, dataset: str, metric: str = "auc"):
    """Figure 2's cells: ({(m, Z): test `metric` or None}, seeds, common).

    Cells are compared on the same seeds: each is the mean over the seeds every
    cell with a run has (the grid runs DUMN_GRID_SEEDS, the default cell is
    reproduce-dumn's DUMN with its three), `common` True. When those seeds have
    nothing in common each cell is the mean over its own, `common` False.
    """
    runs = {
        (m, z): results.get(dumn_grid_run(m, z, dataset), [])
        for m in DUMN_GRID
        for z in DUMN_GRID
    }
    # Cells run with the memory as written compare with DUMN as written.
    others = [r for c, rs in runs.items() if c != (256, 64) for r in rs]
    as_written = results.get(f"dumn_eq9_table1_{dataset}")
    if as_written and others and all(memory_as_written(r) for r in others):
        runs[(256, 64)] = as_written
    seed_sets = [{r["seed"] for r in rs} for rs in runs.values() if rs]
    shared = set.intersection(*seed_sets) if seed_sets else set()
    if shared:
        runs = {c: [r for r in rs if r["seed"] in shared] for c, rs in runs.items()}
        seeds = sorted(shared)
    else:
        seeds = sorted(set().union(*seed_sets))
    cells = {c: _test_mean(rs, metric) for c, rs in runs.items()}
    return (
        cells,
        seeds,
        bool(shared),
        any(memory_as_written(r) for rs in runs.values() for r in rs),
    )


def render_grid(results, dataset: str, metric: str = "auc") -> str:
    """Figure 2 as a table: test `metric` of DUMN for each m (rows) and Z
    (columns) on the seeds the cells share (`grid_cells`), the best cell in
    bold, "—" where no run is."""
    cells, seeds, common, as_written = grid_cells(results, dataset, metric)
    best = max((v for v in cells.values() if v is not None), default=None)
    lines = [
        "| m \\ Z | " + " | ".join(map(str, DUMN_GRID)) + " |",
        "|" + "---|" * (len(DUMN_GRID) + 1),
    ]
    for m in DUMN_GRID:
        row = []
        for z in DUMN_GRID:
            value = cells[(m, z)]
            text = "—" if value is None else f"{value:.4f}"
            row.append(f"**{text}**" if value is not None and value == best else text)
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    which = ",".join(map(str, seeds)) or "—"
    scope = (
        f"mean over seeds {which}, the seeds every cell has"
        if common
        else f"each cell's mean over its own seeds (seeds {which}, none shared)"
    )
    lines += [
        "",
        f"Test {metric}, {scope}; the paper finds m = 256, Z = 64 best on Alibaba."
        + (
            " Every cell ran with the memory of Eq. (9) and (12) as written, whose"
            " slots collapse to one vector (`NTMMemory`; before the fix of"
            " 2026-12-05; the default cell is `dumn_eq9`'s)."
            if as_written
            else ""
        ),
    ]
    return "\n".join(lines)


def dumn_figures(results: dict[str, list[dict]], folder: str) -> list[str]:
    """Figure 2 of DUMN (test AUC over m x Z) as a heat map for each dataset with
    grid runs: the PNG files written."""
    written = []
    for dataset in ("synthetic", "kuairand"):
        cells, seeds, _, _ = grid_cells(results, dataset)
        grid = np.array(
            [[cells[(m, z)] for z in DUMN_GRID] for m in DUMN_GRID], dtype=float
        )
        if np.isnan(grid).sum() >= grid.size - 1:  # the default cell alone
            continue
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot

        figure, axes = pyplot.subplots(figsize=(5.5, 4.5))
        image = axes.imshow(np.ma.masked_invalid(grid), cmap="viridis", origin="lower")
        axes.set_xticks(range(len(DUMN_GRID)), DUMN_GRID)
        axes.set_yticks(range(len(DUMN_GRID)), DUMN_GRID)
        axes.set_xlabel("Z (slot size)")
        axes.set_ylabel("m (slots)")
        for i in range(len(DUMN_GRID)):
            for j in range(len(DUMN_GRID)):
                if not np.isnan(grid[i, j]):
                    axes.text(
                        j,
                        i,
                        f"{grid[i, j]:.3f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white",
                    )
        figure.colorbar(image, label="test AUC")
        axes.set_title(f"DUMN Figure 2, {dataset} (seeds {','.join(map(str, seeds))})")
        figure.tight_layout()
        path = os.path.join(folder, FIGURES_DIR, f"dumn_figure2_{dataset}.png")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        figure.savefig(path, dpi=100)
        pyplot.close(figure)
        written.append(path)
    return written


DATASETS = ("ml1m", "ml1m_all", "kuairand", "taobao_userbehavior", "synthetic_small")
"""Rows of the README dataset table, in order (statistics by `data_prep.describe`)."""


# The config parts a collected run folder must share across its seeds: a row
# averages its seeds, so they must be the same experiment on the same data.
PROTOCOL_KEYS = ("task", "data", "eval", "model.name")
# Settings under those keys that cannot change a run's numbers: where the files
# are read from and how many rows an evaluation step takes.
NOT_PROTOCOL = ("eval.batch_size", "data.root", "data.source_root")


def protocol_differences(collected: dict, new: dict) -> list[str]:
    """The `PROTOCOL_KEYS` settings two run configs both have and disagree on
    ("data.split: 'time' vs 'leave_one_out'"); a key only one has (a setting added
    later, at its default) is not a difference, nor are the `NOT_PROTOCOL`
    settings (an evaluation batch size changed by a later default)."""
    from recsys_tf.training.loop import flatten_config

    old, fresh = flatten_config(collected), flatten_config(new)
    return [
        f"{key}: {old[key]!r} vs {fresh[key]!r}"
        for key in sorted(set(old) & set(fresh))
        if any(key == p or key.startswith(p + ".") for p in PROTOCOL_KEYS)
        and key not in NOT_PROTOCOL
        and old[key] != fresh[key]
    ]


def _check_same_protocol(workdir: str, target: str, seed: str) -> None:
    """Refuses to collect a run into a folder whose other seeds were another
    experiment (the same run name for another protocol or data)."""
    new_path = os.path.join(workdir, "config.json")
    others = sorted(
        path
        for path in glob.glob(os.path.join(target, "seed*.config.json"))
        if os.path.basename(path) != f"{seed}.config.json"
    )
    if not others or not os.path.exists(new_path):
        return
    with open(new_path) as f:
        new = json.load(f)
    with open(others[0]) as f:
        collected = json.load(f)
    differences = protocol_differences(collected, new)
    written = [
        memory_as_written({"model_config": c.get("model")}) for c in (collected, new)
    ]
    if written[0] != written[1]:
        states = ["as written (Eq. (9), (12))" if w else "fixed" for w in written]
        raise ValueError(
            f"{workdir}: its user memory is {states[1]}, and {others[0]} ran with "
            f"the memory {states[0]}: a row would average the two; delete (git rm) "
            f"the other seeds of {target} to replace them, or give the run its own "
            "name (config.name)"
        )
    if differences:
        raise ValueError(
            f"{workdir}: its run name is that of {target}, whose {others[0]} is "
            f"another experiment ({'; '.join(differences[:5])}); give the run its "
            "own name (config.name) or delete that folder to replace its seeds"
        )


def collect(runs: str, results: str) -> int:
    """Copies every finished run's results.json / config.json into
    `results/<run>/`, `<run>` being the run name results.json records (else the
    workdir's parent folder, for results written before runs were named). A run
    whose task, data or evaluation settings differ from the seeds already in its
    folder is a ValueError (`protocol_differences`): a row never mixes two
    experiments."""
    count = 0
    for path in sorted(glob.glob(os.path.join(runs, "*", "*", "results.json"))):
        workdir = os.path.dirname(path)
        with open(path) as f:
            experiment = json.load(f).get("run") or os.path.basename(
                os.path.dirname(workdir)
            )
        seed = os.path.basename(workdir)
        target = os.path.join(results, experiment)
        _check_same_protocol(workdir, target, seed)
        os.makedirs(target, exist_ok=True)
        shutil.copyfile(path, os.path.join(target, f"{seed}.results.json"))
        config = os.path.join(workdir, "config.json")
        if os.path.exists(config):
            shutil.copyfile(config, os.path.join(target, f"{seed}.config.json"))
        outputs = os.path.join(workdir, TEST_OUTPUTS_FILE)
        if os.path.exists(outputs):
            shutil.copyfile(outputs, os.path.join(target, f"{seed}.test.npz"))
        count += 1
    return count


def load(results: str) -> dict[str, list[dict]]:
    """experiment -> list of results dicts (one per seed); a run with collected
    per-example test outputs gets their path under "test_outputs"."""
    out: dict[str, list[dict]] = {}
    for path in sorted(glob.glob(os.path.join(results, "*", "*.results.json"))):
        with open(path) as f:
            result = json.load(f)
        outputs = path[: -len(".results.json")] + ".test.npz"
        if os.path.exists(outputs):
            result["test_outputs"] = outputs
        config = path[: -len(".results.json")] + ".config.json"
        if os.path.exists(config):
            with open(config) as f:
                model = json.load(f).get("model")
            if isinstance(model, dict):
                result["model_config"] = model
        out.setdefault(os.path.basename(os.path.dirname(path)), []).append(result)
    return out


def _mean_std(values):
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


@functools.lru_cache(maxsize=64)
def _read_outputs(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as saved:
        return {name: saved[name] for name in saved.files}


def _user_totals(outputs, metric: str, users: np.ndarray):
    """Per-user sums and counts [len(users)] of a metric that averages over rows
    (every ranking metric from the target's rank, logloss) or over users (gauc)."""
    index = np.searchsorted(users, outputs["user_id"])
    name, _, k = metric.partition("@")
    if k:
        rank, k = outputs["rank"].astype(np.float64), int(k)
        hit = rank < k
        per_row = {
            "hr": hit,
            "recall": hit,
            "ndcg": hit / np.log2(rank + 2),
            "mrr": hit / (rank + 1),
            "precision": hit / k,
            "f1": 2 * hit / (k + 1),
        }[name]
    elif metric == "logloss":
        p = np.clip(outputs["probability"].astype(np.float64), 1e-7, 1 - 1e-7)
        y = outputs["label"].astype(np.float64)
        per_row = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    elif metric == "gauc":
        _, groups = np.unique(index, return_inverse=True)
        value, size, defined = _grouped_auc(
            groups.reshape(-1),
            outputs["label"].astype(np.float64),
            outputs["probability"].astype(np.float64),
        )
        users_of_groups = np.unique(index)
        sums = np.zeros(len(users))
        counts = np.zeros(len(users))
        sums[users_of_groups] = np.where(defined, size * value, 0.0)
        counts[users_of_groups] = np.where(defined, size, 0.0)
        return sums, counts
    else:
        raise ValueError(f"no paired bootstrap for metric {metric!r}")
    sums = np.bincount(index, weights=per_row, minlength=len(users))
    return sums, np.bincount(index, minlength=len(users)).astype(np.float64)


def _weighted_auc(outputs, users: np.ndarray):
    """`weights [c, len(users)] -> AUC [c]` of one run, every row weighted by its
    user's weight (Mann-Whitney, ties counting one half, as `metrics.auc`)."""
    probability = outputs["probability"].astype(np.float64)
    order = np.argsort(probability, kind="stable")
    index = np.searchsorted(users, outputs["user_id"])[order]
    positive = outputs["label"][order].astype(np.float32)
    sorted_probability = probability[order]
    starts = np.flatnonzero(
        np.append(True, sorted_probability[1:] != sorted_probability[:-1])
    )

    def auc(weights):
        # float32 holds the integer counts exactly (< 2**24); the sums in float64.
        rows = weights.astype(np.float32)[:, index]
        pos = np.add.reduceat(rows * positive, starts, axis=1)
        neg = np.add.reduceat(rows, starts, axis=1) - pos
        below = np.cumsum(neg, axis=1, dtype=np.float64) - neg
        pairs = pos.sum(axis=1, dtype=np.float64) * neg.sum(axis=1, dtype=np.float64)
        wins = (pos * (below + 0.5 * neg)).sum(axis=1)
        return wins / np.where(pairs, pairs, 1)

    return auc


def _run_metric(outputs, metric: str, users: np.ndarray):
    """`weights [c, len(users)] -> metric [c]` of one run's per-example outputs."""
    if metric == "auc":
        return _weighted_auc(outputs, users)
    sums, counts = _user_totals(outputs, metric, users)
    return lambda weights: (weights @ sums) / np.maximum(weights @ counts, 1e-300)


def paired_bootstrap_p(
    runs: dict, reference: dict, metric: str, resamples=BOOTSTRAP_RESAMPLES
) -> float | None:
    """Two-sided p-value of a paired bootstrap over test users.

    `runs` and `reference` map a seed to that run's per-example test outputs
    (`user_id` plus `rank` for retrieval, or `probability` and `label` for CTR).
    Runs of the same seed must hold the same test rows (else None: no pairing).
    Each of `resamples` draws (seeded by BOOTSTRAP_SEED) takes the test users with
    replacement; every run's metric is recomputed on the drawn users' rows (AUC
    recomputed from the rows, not averaged per user) and averaged over seeds; the
    p-value is twice the smaller share of draws whose difference (runs minus
    reference) is <= 0 or >= 0, at most 1. Identical outputs give p = 1.

    Returns:
        The p-value, or None without a common seed or with unpaired test rows.
    """
    seeds = sorted(set(runs) & set(reference))
    if not seeds or any(
        not np.array_equal(runs[s]["user_id"], reference[s]["user_id"]) for s in seeds
    ):
        return None
    users = np.unique(np.concatenate([runs[s]["user_id"] for s in seeds]))
    scorers = [
        (_run_metric(runs[s], metric, users), _run_metric(reference[s], metric, users))
        for s in seeds
    ]
    rows = max(len(runs[s]["user_id"]) for s in seeds)
    chunk = max(1, (1 << 22) // max(rows, len(users)))
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    differences = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        draws = rng.integers(0, len(users), (size, len(users)))
        flat = draws + len(users) * np.arange(size)[:, None]
        weights = np.bincount(flat.ravel(), minlength=size * len(users))
        weights = weights.reshape(size, len(users)).astype(np.float64)
        differences.append(
            np.mean([mine(weights) - theirs(weights) for mine, theirs in scorers], 0)
        )
    differences = np.concatenate(differences)
    p = 2 * min(np.mean(differences <= 0), np.mean(differences >= 0))
    return float(min(p, 1.0))


@functools.lru_cache(maxsize=4096)
def _digest(path: str, size: int, mtime: float) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_digest(path: str) -> str:
    stat = os.stat(path)
    return _digest(path, stat.st_size, stat.st_mtime)


def bootstrap_key(runs: list[dict], reference: list[dict], metric: str) -> str:
    """What a paired bootstrap p-value depends on: the metric, the resampling
    settings and the content (SHA-1) of every per-example outputs file of both
    rows, by seed. A re-collected run has new outputs, hence a new key."""
    parts = [metric, str(BOOTSTRAP_RESAMPLES), str(BOOTSTRAP_SEED)]
    for side, rows in (("runs", runs), ("reference", reference)):
        parts += sorted(
            f"{side}:{r['seed']}:{_file_digest(r['test_outputs'])}"
            for r in rows
            if "test_outputs" in r
        )
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


def cached_bootstrap_p(
    runs: list[dict], reference: list[dict], metric: str
) -> float | None:
    """`paired_bootstrap_p` of two rows' runs, computed once per content
    (`bootstrap_key`); `load_bootstrap_cache` / `save_bootstrap_cache` keep the
    values between renders (a README render recomputes only what changed)."""
    key = bootstrap_key(runs, reference, metric)
    if key not in _P_CACHE:
        _P_CACHE[key] = paired_bootstrap_p(
            _outputs_by_seed(runs), _outputs_by_seed(reference), metric
        )
    return _P_CACHE[key]


def load_bootstrap_cache(results: str) -> int:
    """Reads `<results>/bootstrap_p.json` into the cache; returns its size."""
    path = os.path.join(results, BOOTSTRAP_CACHE_FILE)
    if os.path.exists(path):
        with open(path) as f:
            try:
                cached = json.load(f)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"{path}: not a JSON object of p-values ({error}); delete it "
                    "to recompute them"
                ) from error
        if not isinstance(cached, dict):
            raise ValueError(
                f"{path}: expected a JSON object key -> p-value, got "
                f"{type(cached).__name__}; delete it to recompute them"
            )
        _P_CACHE.update(cached)
    return len(_P_CACHE)


def save_bootstrap_cache(results: str) -> None:
    """Writes the cache's p-values to `<results>/bootstrap_p.json`."""
    path = os.path.join(results, BOOTSTRAP_CACHE_FILE)
    with open(path + ".tmp", "w") as f:
        json.dump(dict(sorted(_P_CACHE.items())), f, indent=0)
    os.replace(path + ".tmp", path)


def _outputs_by_seed(runs) -> dict:
    return {
        r["seed"]: _read_outputs(r["test_outputs"]) for r in runs if "test_outputs" in r
    }


def protocol_note(runs: list[dict]) -> str:
    """The evaluation protocol of a table's runs, for its footer."""
    if not any(r.get("task") in ("retrieval", "pairwise") for r in runs):
        return ""
    if any("exclude_history" not in r for r in runs):
        return (
            " Some runs predate the recorded protocol: full ranking with the "
            "history kept and ties to the lowest item id."
        )
    notes = set()
    for r in runs:
        if r.get("protocol") == "sampled":
            notes.add(
                f"candidates: the target and {r.get('num_negatives')} sampled "
                "negatives, never the user's items"
            )
        else:
            history = "excluded" if r["exclude_history"] else "kept"
            notes.add(
                f"candidates: the full catalogue, the user's earlier items {history}"
            )
    return (
        " Evaluation: "
        + "; ".join(sorted(notes))
        + "; a tie counts against the target."
    )


def _fmt(value):
    return "—" if value is None else f"{value:.4f}"


def render(table: Table, results: dict[str, list[dict]]) -> str:
    reference = results.get(table.reference, []) if table.reference else []
    reference_row = next(
        (row for row in table.rows if row.experiment == table.reference), None
    )
    gap = table.gap and reference_row is not None
    header = ["Model"]
    for metric in table.metrics:
        header += [f"{metric} {table.paper_name}", f"{metric} ours"]
        header += ["Δ"] if table.delta else []
        if gap:
            name = reference_row.label
            header += [f"vs {name} {table.paper_name}", f"vs {name} ours"]
    header += ["seeds", "command"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    subsampled, as_written = [], False
    reference_outputs = any("test_outputs" in r for r in reference)
    for row in table.rows:
        runs = results.get(row.experiment, [])
        cells = [row.label]
        cut = [
            r["eval_subsampled"]["test"]
            for r in runs
            if "test" in r.get("eval_subsampled", {})
        ]
        if cut:
            cells = [f"{row.label} ‡"]
            subsampled.append(f"{row.label}: {cut[0][0]:,} of {cut[0][1]:,}")
        if any(memory_as_written(r) for r in runs):
            cells[0] += " §"
            as_written = True
        for metric in table.metrics:
            paper = (row.paper or {}).get(metric)
            values = [r["test"][metric] for r in runs if metric in r.get("test", {})]
            if gap:
                paper_gap = _gap(paper, (reference_row.paper or {}).get(metric))
                ours_gap = _gap(
                    np.mean(values) if values else None,
                    _test_mean(reference, metric),
                )
                gaps = [paper_gap, ours_gap]
            else:
                gaps = []
            if not values:
                cells += [_fmt(paper), "—"] + (["—"] if table.delta else []) + gaps
                continue
            mean, std = _mean_std(values)
            mark = ""
            if row.experiment != table.reference and reference_outputs:
                p = cached_bootstrap_p(runs, reference, metric)
                mark = "†" if p is not None and p < 0.05 else ""
            spread = f" ± {std:.4f}" if len(values) > 1 else ""  # one seed: no std
            cells += [_fmt(paper), f"{mean:.4f}{spread}{mark}"]
            if table.delta:
                cells += ["—" if paper is None else f"{mean - paper:+.4f}"]
            cells += gaps
        seeds = sorted({r["seed"] for r in runs})
        cells += [
            ",".join(map(str, seeds)) or "—",
            f"`{table.command}`" if runs else "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    seconds = [
        r["train_seconds"]
        for row in table.rows
        for r in results.get(row.experiment, [])
        if r.get("train_seconds")
    ]
    peaks = [
        r["peak_rss_gb"]
        for row in table.rows
        for r in results.get(row.experiment, [])
        if r.get("peak_rss_gb")
    ]
    if any(results.get(row.experiment) for row in table.rows):
        timing = (
            f"; training time per trained run {min(seconds):.0f}–{max(seconds):.0f} s "
            "(all epochs, resumed sessions included)"
            if seconds
            else ""
        )
        if peaks:
            low, high = f"{min(peaks):.1f}", f"{max(peaks):.1f}"
            span = low if low == high else f"{low}–{high}"
            which = (
                "the run that records it"
                if len(peaks) == 1
                else f"the {len(peaks)} runs that record it"
            )
            timing += f"; peak memory (RSS) {span} GB (10^9 bytes) over {which}"
        significance = (
            f" † = differs from the {table.reference} row at p < 0.05 (two-sided "
            f"paired bootstrap over test users, {BOOTSTRAP_RESAMPLES} resamples, "
            "metric averaged over seeds; rows without per-example test outputs get "
            "no mark)."
            if table.reference
            else ""
        )
        runs = [r for row in table.rows for r in results.get(row.experiment, [])]
        significance += protocol_note(runs)
        lines.append("")
        lines.append(f"{measured_on(runs)}{timing}.{significance}")
    if subsampled:
        lines.append("")
        lines.append(
            "‡ = evaluated on a seeded subsample of the test examples "
            f"(config data.max_eval_examples): {'; '.join(subsampled)}."
        )
    if as_written:
        lines += ["", AS_WRITTEN_NOTE]
    return "\n".join(lines)


def _test_mean(runs, metric):
    values = [r["test"][metric] for r in runs if metric in r.get("test", {})]
    return float(np.mean(values)) if values else None


def _gap(value, reference) -> str:
    """`value - reference` as a signed cell, "—" when either is missing."""
    if value is None or reference is None:
        return "—"
    return f"{value - reference:+.4f}"


def kernels(record: dict) -> str:
    """The CPU kernels a bench section ran with, from its `"onednn_opts"`
    (`strategy.onednn_opts`): a section recorded before the bench recorded the
    setting has none and ran Eigen's on this project's AVX2 machines."""
    value = record.get("onednn_opts")
    if value is None:
        return "Eigen kernels (recorded before oneDNN was turned on)"
    if value == "unset":
        return "TensorFlow's default kernels (TF_ENABLE_ONEDNN_OPTS unset)"
    name = "oneDNN" if value.strip().lower() in ("1", "true") else "Eigen"
    return f"{name} kernels (TF_ENABLE_ONEDNN_OPTS={value})"


def machine() -> str:
    """This machine, for the bench's footers (`strategy.machine_description`)."""
    from recsys_tf.training.strategy import machine_description

    return machine_description()


def measured_on(runs: list[dict]) -> str:
    """The machines a table's runs were trained on, from their results files
    (`"machine"`, recorded by the trainer), most runs first: "Measured on X" or
    "Measured on X (n runs) and Y (m runs)"; runs without the record are counted
    as "machine not recorded"."""
    counts: dict[str, int] = {}
    for r in runs:
        name = r.get("machine") or "machine not recorded"
        counts[name] = counts.get(name, 0) + 1
    order = sorted(counts, key=lambda name: (-counts[name], name))
    if len(order) == 1:
        return f"Measured on {order[0]}"
    parts = [f"{name} ({_runs(counts[name])})" for name in order]
    return "Measured on " + ", ".join(parts[:-1]) + " and " + parts[-1]


def _runs(count: int) -> str:
    """`count` with "run" or "runs" (1 run, 3 runs)."""
    return f"{count} run" if count == 1 else f"{count} runs"


def _range(values, fmt="{:,.0f}") -> str:
    return "—" if not values else f"{fmt.format(values[0])}–{fmt.format(values[1])}"


def _value(value, fmt="{:,.0f}") -> str:
    return "—" if value is None else fmt.format(value)


def render_bench(bench: dict) -> str:
    """The `make bench` tables from experiments/results/bench.json: training
    throughput (median and range over repeated runs, steady state and all epochs),
    inference latency, the behaviour-sequence rows, then the simulator, conversion
    and task-build benchmarks (each section only when the file has it). A file
    written before a key existed renders "—" in its cells."""
    training = bench.get("training")
    if not training:
        return "Not measured yet: run `make bench`."
    data_lines = []
    if bench.get("data"):
        data_lines = [
            "",
            "| simulator size | events | generate (s) | generate peak memory (GB) "
            "| read + validate (s) | read peak memory (GB) |",
            "|---|---|---|---|---|---|",
        ] + [
            f"| {d['size']} | {d['events']:,} | {d['generate_seconds']:.1f} | "
            f"{d['generate_peak_gb']:.2f} | {d['read_seconds']:.1f} | "
            f"{d['read_peak_gb']:.2f} |"
            for d in bench["data"]
        ]
    lines = [
        "| model | runs | epochs | steady examples/s (median) | steady range "
        "| all-epochs examples/s (median) | all-epochs range | overhead (s) "
        "| test metric | input pipeline share | FLOP/s vs matmul |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in training["runs"]:
        metric = ", ".join(
            f"{k[5:]} {v:.4f}" for k, v in sorted(run.items()) if k.startswith("test_")
        )
        lines.append(
            f"| {run['model']} | {_value(run.get('repeats'), '{}')} | "
            f"{_value(run.get('epochs'), '{}')} | "
            f"{run['examples_per_second']:,.0f} | "
            f"{_range(run.get('examples_per_second_range'))} | "
            f"{_value(run.get('all_epochs_examples_per_second'))} | "
            f"{_range(run.get('all_epochs_examples_per_second_range'))} | "
            f"{_value(run.get('overhead_seconds'), '{:.1f}')} | {metric} | "
            f"{run['input_pipeline_share']:.0%} | "
            f"{_value(run.get('dense_flops_ratio_to_matmul'), '{:.1%}')} |"
        )
    lines.append("")
    repeats = training.get("repeats")
    how = (
        f"{_runs(repeats)} per model, each a fresh model; medians and ranges "
        "(min–max) are over the runs. Steady: a run's median examples/s over its "
        "epochs after the first. All-epochs: rows × epochs / the run's wall time "
        "from building the model to the end of `fit` (the first epoch's tracing "
        "included); overhead: that wall time − epochs × the steady epoch time"
        if repeats
        else "One run per model (this file predates repeated runs: its examples/s "
        "is the median over the run's epochs after a warm-up epoch)"
    )
    lines.append(
        f"Measured by `make bench` on {training['machine']}, TensorFlow "
        f"{training['tensorflow']}, Keras {training['keras']}, optimizer "
        f"{training.get('optimizer', 'adam')}, steps_per_execution "
        f"{training.get('steps_per_execution', 1)}, jit_compile="
        f"{training['jit_compile']}, {kernels(training)}, {training['rows']:,} rows, batch "
        f"{training['batch_size']}; dense matmul reference "
        f"{training['matmul_flops_per_second'] / 1e9:.0f} GFLOP/s. {how}."
    )
    return "\n".join(
        lines
        + _latency_lines(training)
        + _sequence_lines(bench.get("sequence"))
        + _sequential_lines(bench.get("sequential"))
        + data_lines
        + _conversion_lines(bench.get("conversion"))
        + _task_build_lines(bench.get("task_build"))
    )


def _sequence_lines(sequence) -> list[str]:
    """The behaviour-sequence rows (`experiments.bench.bench_sequences`)."""
    if not sequence or not sequence.get("runs"):
        return []
    lines = [
        "",
        "| behaviour-sequence model | task | T | batch | runs | epochs "
        "| steady examples/s (median) | steady range | all-epochs examples/s "
        "(median) | overhead (s) | step (ms) | input pipeline share |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in sequence["runs"]:
        lines.append(
            f"| {run['config']} | {run['task']} | "
            f"{_value(run.get('max_length'), '{}')} | {run['batch_size']:,} | "
            f"{run['repeats']} | {run['epochs']} | "
            f"{run['examples_per_second']:,.0f} | "
            f"{_range(run.get('examples_per_second_range'))} | "
            f"{run['all_epochs_examples_per_second']:,.0f} | "
            f"{run['overhead_seconds']:.1f} | {1000 * run['step_seconds']:.0f} | "
            f"{run['input_pipeline_share']:.0%} |"
        )
    bucket = sequence.get("bucket_batches", 0)
    bucketed = f" --sequence_bucket_batches={bucket}" if bucket else ""
    lines += [
        "",
        "Behaviour-sequence rows (issues 19 and 21), measured by `python -m "
        "experiments.bench --only_sequence --sequence_rows="
        f"{sequence['rows']} --sequence_epochs={sequence['epochs']} --repeats="
        f"{sequence['repeats']}{bucketed}` on {sequence['machine']}: each "
        "model as its experiments/configs file builds it (Wide&Deep on the plain CTR "
        f"task), on {sequence['data_path']} through the trainer's input pipeline, "
        f"{sequence['rows']:,} training rows per epoch in the config's batch size, "
        f"{sequence['epochs']} epochs, {_runs(sequence['repeats'])} per row (a fresh "
        f"model each), optimizer {sequence['optimizer']}, jit_compile="
        f"{sequence['jit_compile']}, {kernels(sequence)}; examples/s and overhead "
        "as above; input "
        "pipeline share: the same batches drawn from the dataset alone, over the "
        "step time.",
    ]
    return lines


# RecBole 1.2.1's training rates on this machine's shape (5,000 users x 3,000 items,
# max length 50, embedding 64, full softmax), as issue 20 states them; RecBole counts
# a (prefix, next item) pair as a training sequence, one target each.
RECBOLE_SEQUENCES_PER_SECOND = {"sasrec": 700, "gru4rec": 1100}
# Issue 20's goal: at least this many times RecBole's rate, at equal HR@10 (the
# table checks the rate; RecBole's HR@10 on this data is not measured here).
RECBOLE_GOAL = 10


def _sequential_lines(sequential) -> list[str]:
    """The sequential rows (`experiments.bench.bench_sequentials`) beside
    RecBole's rate where it is known (SASRec, GRU4Rec): ours counted as RecBole counts (targets trained per second:
    our per-position rows train one target at each of their positions)."""
    if not sequential or not sequential.get("runs"):
        return []
    lines = [
        "",
        "| sequential model | runs | epochs | steady sequences/s (median) "
        "| steady range | targets/s | RecBole 1.2.1 (targets/s) | × RecBole "
        f"| ≥ {RECBOLE_GOAL}× RecBole's rate | test HR@10 | test HR@50 "
        "| FLOP/s vs matmul |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in sequential["runs"]:
        recbole = RECBOLE_SEQUENCES_PER_SECOND.get(run["model"])
        ratio = run["positions_per_second"] / recbole if recbole else None
        met = "—" if ratio is None else ("yes" if ratio >= RECBOLE_GOAL else "no")
        lines.append(
            f"| {run['model']} | {run['repeats']} | {run['epochs']} | "
            f"{run['examples_per_second']:,.0f} | "
            f"{_range(run.get('examples_per_second_range'))} | "
            f"{run['positions_per_second']:,.0f} | "
            f"{_value(recbole, '{:,}')} | {_value(ratio, '{:.1f}')} | {met} | "
            f"{run['test_hr@10']:.4f} | {run['test_hr@50']:.4f} | "
            f"{_value(run.get('dense_flops_ratio_to_matmul'), '{:.1%}')} |"
        )
    lines += [
        "",
        "Sequential rows (issue 20), measured by `python -m experiments.bench "
        f"--only_sequential --repeats={sequential['repeats']}` on "
        f"{sequential['machine']}, TensorFlow {sequential['tensorflow']}, Keras "
        f"{sequential['keras']}, optimizer {sequential['optimizer']}, jit_compile="
        f"{sequential['jit_compile']}, {kernels(sequential)}: generated sequences of "
        f"{sequential['users']:,} users x {sequential['items']:,} items, length "
        f"{sequential['max_length']}, embedding {sequential['embedding_dim']}, the "
        f"full softmax at every position, batch {sequential['batch_size']}, "
        f"{sequential['epochs']} epochs, {_runs(sequential['repeats'])} per row. A "
        "sequence is one user's row; targets/s = sequences/s x its positions "
        "(BINN, whose bidirectional encoder cannot train per position: x 1), the "
        "unit of RecBole's rate (a (prefix, next item) pair per training "
        "sequence; issue 20's measurement of RecBole on this machine, not rerun "
        "here). Every model keeps its own defaults but these sizes (SDM reads "
        "sessions of 10 items, every earlier item of the window long-term); "
        "FLOP/s are counted for SASRec and GRU4Rec only. "
        "Test HR@10 / HR@50: full ranking of each user's last item; the "
        "goal's other half, HR@10 equal to RecBole's on this data, is not checked "
        "(RecBole's HR@10 here is not measured).",
    ]
    return lines


def _task_build_lines(task_build) -> list[str]:
    """The task-build benchmark (`experiments.bench.bench_task_build`)."""
    if not task_build:
        return []
    runs = task_build.get("runs", [])
    lines = []
    if runs:
        lines += [
            "",
            "| task build: source | events | train impressions "
            "| validation impressions | test impressions | T | load (s) | build (s) "
            "| peak memory before build (GB) | peak memory after build (GB) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            source = f"simulator {r['source']}" if r.get("simulator") else r["source"]
            lines.append(
                f"| {source} | {r['events']:,} | {r['train_impressions']:,} | "
                f"{r['validation_impressions']:,} | {r['test_impressions']:,} | "
                f"{r['max_length']} | {r['load_seconds']:.1f} | "
                f"{r['build_seconds']:.1f} | {r['peak_before_build_gb']:.2f} | "
                f"{r['peak_after_build_gb']:.2f} |"
            )
        types = {", ".join(r["sequence_types"]) for r in runs}
        loads = [r["load_average"] for r in runs if "load_average" in r]
        load = (
            f", load average {min(loads):.1f}–{max(loads):.1f} (times vary with "
            "the load, peak memory does not)"
            if loads
            else ""
        )
        lines += [
            "",
            f"Task build (issue 19's memory), measured by `python -m experiments."
            f"bench --only_task_build` on {task_build['machine']}{load}: the event "
            f"log's load and the behaviour-sequence task of experiments/configs/"
            f"{task_build['config']}.py"
            + (f" (sequences {types.pop()})" if len(types) == 1 else "")
            + " built as the trainer builds them, each source in a fresh process "
            "after generating or converting it (not timed); peak resident memory "
            "(getrusage; GB = 10^9 bytes) of that process after its imports and the load, and after "
            "the build.",
        ]
    for skipped in task_build.get("skipped", []):
        lines += ["", f"Task build: {skipped['source']} skipped: {skipped['reason']}"]
    return lines


def _latency_lines(training) -> list[str]:
    runs = [run for run in training["runs"] if run.get("latency")]
    if not runs:
        return ["", "Inference latency: not in this file (`make bench` measures it)."]
    sizes = sorted({int(b) for run in runs for b in run["latency"]["function"]})
    paths = (("function", "tf.function"), ("saved_model", "SavedModel"))
    lines = [
        "",
        "| model | "
        + " | ".join(f"{label} batch {b} (ms)" for _, label in paths for b in sizes)
        + " |",
        "|---|" + "---|" * (len(paths) * len(sizes)),
    ]
    for run in runs:
        cells = []
        for path, _ in paths:
            for b in sizes:
                t = run["latency"].get(path, {}).get(str(b))
                cells.append(
                    "—" if t is None else f"{t['median_ms']:.2f} / {t['p99_ms']:.2f}"
                )
        lines.append(f"| {run['model']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Inference latency, median / p99 over "
        f"{training.get('latency_calls', '?')} calls after "
        f"{training.get('latency_warmup', '?')} warm-up calls, probabilities "
        "fetched: the export's serving signature (`experiments.export.Serving`, a "
        "`tf.function` with a fixed input signature) in process, and the "
        "SavedModel that `experiments.export.save` writes, loaded with "
        "`tf.saved_model.load`.",
    ]
    return lines


def _conversion_lines(conversion) -> list[str]:
    if not conversion or not conversion.get("runs"):
        return []
    lines = [
        "",
        "| conversion: Taobao UserBehavior-shaped file | rows | file (GB) | convert (s) "
        "| convert peak memory (GB) |",
        "|---|---|---|---|---|",
    ] + [
        f"| generated, seed 0 | {r['rows']:,} | {r['file_bytes'] / 1e9:.2f} | "
        f"{r['convert_seconds']:.1f} | {r['convert_peak_gb']:.2f} |"
        for r in conversion["runs"]
    ]
    fit = conversion.get("fit")
    if fit:
        full = [r for r in conversion["runs"] if r["rows"] >= fit["full_rows"]]
        if full:
            ending = (
                f"the full-size file ({fit['full_rows']:,} rows) was converted "
                f"in {full[0]['convert_seconds']:.0f} s at "
                f"{full[0]['convert_peak_gb']:.1f} GB peak, measured."
            )
        else:
            ending = (
                f"extrapolated to the full {fit['full_rows']:,}-row file: about "
                f"{fit['full_peak_gb_extrapolated']:.1f} GB."
            )
        lines += [
            "",
            f"Peak memory grows by {fit['gb_per_million_rows']:.3f} GB per million rows "
            f"(linear fit over these runs, intercept {fit['intercept_gb']:.2f} GB); "
            + ending,
        ]
    return lines


def _count(value) -> str:
    return "—" if value is None else f"{value:,}"


def render_datasets(stats: dict[str, dict], paper_stats: dict[str, dict]) -> str:
    """The README table of dataset statistics beside the papers' numbers."""
    lines = [
        "| dataset | users | items | events by type | density | sequence length "
        "median / p90 / max | time span | paper: users / items / records / density "
        "| source of the paper numbers; why ours differ |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in DATASETS:
        if name not in stats:
            continue
        s = stats[name]
        paper = paper_stats.get(name, {})
        per_type = s["events_per_type"]
        types = ", ".join(f"{k} {per_type[k]:,}" for k in EVENT_TYPES if k in per_type)
        span = (
            f"{s['first']} .. {s['last']}"
            if "first" in s
            else f"none ({s['timestamps']})"
        )
        density = paper.get("density")
        paper_cells = " / ".join(
            [
                _count(paper.get("users")),
                _count(paper.get("items")),
                _count(paper.get("events")),
                "—" if density is None else f"{100 * density:.2f}%",
            ]
        )
        note = "; ".join(x for x in (paper.get("source"), paper.get("difference")) if x)
        lines.append(
            f"| {name} | {s['users']:,} | {s['items']:,} | {types} | "
            f"{100 * s['density']:.2f}% | {s['sequence_length_p50']:g} / "
            f"{s['sequence_length_p90']:g} / {s['sequence_length_max']:,} | {span} | "
            f"{paper_cells} | {note or '—'} |"
        )
    if len(lines) == 2:
        return "Not measured yet: run `make describe-data`."
    lines += [
        "",
        "Density: distinct (user, item) pairs with any event / (users × items). "
        "Sequences: each user's clicks (ratings where a dataset has no clicks). "
        "Generated by `make describe-data` (`python -m data_prep.describe <name>`).",
    ]
    return "\n".join(lines)


def load_dataset_stats(results: str) -> dict[str, dict]:
    out = {}
    for path in sorted(glob.glob(os.path.join(results, "datasets", "*.json"))):
        with open(path) as f:
            out[os.path.splitext(os.path.basename(path))[0]] = json.load(f)
    return out


def _replace_block(text: str, block_id: str, body: str) -> tuple[str, bool]:
    pattern = re.compile(
        rf"(<!-- table:{re.escape(block_id)} -->\n).*?(<!-- /table -->)", re.S
    )
    if not pattern.search(text):
        return text, False
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text), True


def update_readme(
    readme: str,
    results: dict[str, list[dict]],
    tables=TABLES,
    bench=None,
    dataset_stats=None,
    progress=None,
) -> int:
    with open(readme) as f:
        text = f.read()
    updated = 0
    if dataset_stats:
        from data_prep.describe import PAPER_STATS

        text, done = _replace_block(
            text, "datasets", render_datasets(dataset_stats, PAPER_STATS)
        )
        updated += done
    for table in tables:
        if progress:
            progress(table.id)
        text, done = _replace_block(text, table.id, render(table, results))
        updated += done
    if any(t.id.startswith("dumn_") for t in tables):
        for dataset in ("synthetic", "kuairand"):
            text, done = _replace_block(
                text, f"dumn_figure2_{dataset}", render_grid(results, dataset)
            )
            updated += done
    if bench is not None:
        text, done = _replace_block(text, "bench", render_bench(bench))
        updated += done
    with open(readme, "w") as f:
        f.write(text)
    return updated


def main(argv):
    del argv
    copied = collect(_RUNS.value, _RESULTS.value) if os.path.isdir(_RUNS.value) else 0
    results = load(_RESULTS.value)
    cached = load_bootstrap_cache(_RESULTS.value)
    print(f"[summarize] {cached} cached p-values; rendering the README tables")
    bench_file = os.path.join(_RESULTS.value, "bench.json")
    bench = None
    if os.path.exists(bench_file):
        with open(bench_file) as f:
            bench = json.load(f)
    updated = update_readme(
        _README.value,
        results,
        bench=bench,
        dataset_stats=load_dataset_stats(_RESULTS.value),
        progress=lambda table: print(f"[summarize] table {table}", flush=True),
    )
    save_bootstrap_cache(_RESULTS.value)
    figures = mfmlp_figures(results, _RESULTS.value)
    figures += dumn_figures(results, _RESULTS.value)
    print(
        f"[summarize] collected {copied} runs; updated {updated} README tables; "
        f"figures {figures}"
    )


if __name__ == "__main__":
    app.run(main)
