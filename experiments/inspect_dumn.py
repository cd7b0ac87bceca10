"""DUMN's inspection figures from a trained run (DUMN Figures 3 and 4).

    python -m experiments.inspect_dumn --workdir=runs/dumn_table1_synthetic/seed0 \
        [--examples=3000] [--users=8] [--output=<workdir>/inspection]

Rebuilds the run at its best epoch (`loop.restore_best`) and reads the first
--examples test instances (a seeded sample) through it:

- Figure 3 (`figure3_purification.png`): the short-term representations f_k of
  the click / unclick / like / dislike sequences (Eq. (1)-(5)) before and after
  purification (f^o_k, Eq. (6)-(7)), projected to 2-D by PCA (NumPy's SVD; the
  paper's projection is not named). On the simulator a third panel colours
  each purified click representation by the share of accidental clicks in its
  window (the planted `truth_accidental` of the click events): whether
  purification separates the noise, which the paper cannot show.
- Figure 4 (`figure4_long_term.png`): the long-term interests read from the
  click memory (Eq. (11)) for the --users users with the most sampled
  instances, one colour per user, by PCA.
- TensorBoard projector (`tensorboard --logdir=<output>`): the same vectors
  with their metadata (stage, type, user, label, accidental share), for t-SNE
  or UMAP in the browser.
- `inspection.json`: per type, the mean cosine between f_k and f^o_k, and on
  the simulator the correlation between a click window's accidental share and
  the size of its purification (|f_c - f^o_c| / |f_c|).

- Figure 5 (`figure5_drift.png`), when the run kept every epoch's weights
  (`train.keep_checkpoints="all"`, DUMN's config): for the same users, at each
  epoch, the mean long-term interest read from the click memory (a dot, darker
  at later epochs) and, at the best epoch, the purified short-term click
  interests of their instances (stars). One space for both: the read r (width
  Z) is mapped into the item space (width D) by the click memory's own anchor
  map W_q of Eq. (18) (our choice: the paper does not say how it puts the two
  in one space), then one PCA for all points. `inspection.json` gets, per
  epoch, the within-user spread of the long-term reads and of the short-term
  interests (mean distance to the user's centroid over the mean distance to
  the overall centroid): the paper's reading is that the long-term spread
  shrinks over training and stays below the short-term one.
"""

from __future__ import annotations

import json
import os

import numpy as np
from absl import app, flags

from recsys_tf.data.input import SequenceWindows, make_dataset
from recsys_tf.models.dumn import DUMN
from recsys_tf.tasks import get_task
from recsys_tf.training import loop


def define_flags():
    """--workdir, --output, --examples, --users, --seed; defined only when run as
    a program, so that importing `inspect_dumn` beside `experiments.train` or
    `experiments.bench` (which define --workdir, --output, --seed) defines no flag
    twice."""
    flags.DEFINE_string("workdir", None, "A DUMN run's folder.")
    flags.DEFINE_string(
        "output", "", "Folder of the figures ('' = <workdir>/inspection)."
    )
    flags.DEFINE_integer("examples", 3000, "Test instances read.")
    flags.DEFINE_integer("users", 8, "Users shown in Figure 4.")
    flags.DEFINE_integer("seed", 0, "Seed of the instance sample.")
    flags.mark_flags_as_required(["workdir"])


def pca_2d(points: np.ndarray) -> np.ndarray:
    """The 2-D principal-component projection of `points` `[n, d]` (centred;
    NumPy's SVD), `[n, 2]` (zeros past the rank)."""
    points = np.asarray(points, np.float64)
    centred = points - points.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = np.zeros((len(points), 2))
    k = min(2, vt.shape[0])
    out[:, :k] = centred @ vt[:k].T
    return out


def row_cosine(a: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Cosine of each row pair of `a` and `b` `[n, d]` (NaN where one is zero:
    an instance without events of the type)."""
    num = np.sum(a * b, axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.where(den > eps, num / np.maximum(den, eps), np.nan)


def click_accidental_flags(log, window: SequenceWindows) -> np.ndarray | None:
    """`truth_accidental` of the click events in the order of the task's click
    `window.values` (events by user, then time, as `ctr_sequence` sorts them),
    or None when the log has no such column. A mismatch of the items in that
    order is a ValueError (the two orders must be the same)."""
    events = log.events
    if "truth_accidental" not in events.columns:
        return None
    clicks = (events["event"] == "click").to_numpy()
    users = events["user_id"].to_numpy(np.int64)[clicks]
    times = events["timestamp"].to_numpy(np.int64)[clicks]
    order = np.lexsort((times, users))
    items = events["item_id"].to_numpy(np.int64)[clicks][order]
    if not np.array_equal(items, np.asarray(window.values, np.int64)):
        raise ValueError(
            "the click events of the log and the task's click sequence differ: "
            "cannot align truth_accidental with the click windows"
        )
    return events["truth_accidental"].to_numpy(bool)[clicks][order]


def accidental_share(window: SequenceWindows, flags_sorted: np.ndarray, rows):
    """The share of accidental clicks in each row's click window `[len(rows)]`
    (NaN for an empty window)."""
    flagged = SequenceWindows(
        flags_sorted.astype(np.int32),
        window.start[rows],
        window.end[rows],
        window.length,
        {"flag": None},
    )
    total, count = [], []
    for x in make_dataset({"w": flagged}, batch_size=4096):
        mask = x["w_mask"].numpy().astype(bool)
        total.append((x["w_flag"].numpy() * mask).sum(axis=1))
        count.append(mask.sum(axis=1))
    total, count = np.concatenate(total), np.concatenate(count)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def representations(model: DUMN, config, part, rows, batch_size=1024) -> dict:
    """f_k, f^o_k and the memory reads r_k `[n, .]` of `rows` of `part`, by type,
    with the rows' user ids and labels."""
    subset = _subset(part, rows)
    dataset = get_task(config).dataset(config, subset, batch_size=batch_size)
    out = {"short": {}, "purified": {}, "read": {}}
    for x, _ in dataset:
        parts = model.representations(x)
        for t in model.sequence_types:
            for key in ("short", "purified"):
                out[key].setdefault(t, []).append(parts[key][t].numpy())
            if t in model.memories:
                read = model.memories[t](parts["purified"][t], parts["user"])
                out["read"].setdefault(t, []).append(np.asarray(read))
    result = {
        key: {t: np.concatenate(v) for t, v in values.items()}
        for key, values in out.items()
    }
    result["user_ids"] = part.user_ids[rows]
    result["labels"] = part.labels[rows]
    return result


def _subset(part, rows):
    import dataclasses

    features = {k: v[rows] for k, v in part.features.items()}
    return dataclasses.replace(
        part,
        features=features,
        labels=part.labels[rows],
        user_ids=part.user_ids[rows],
        timestamps=part.timestamps[rows],
        request_ids=None if part.request_ids is None else part.request_ids[rows],
        truth=None if part.truth is None else part.truth[rows],
    )


def summary(reps: dict, share: np.ndarray | None) -> dict:
    """The numbers of `inspection.json` (see the module docstring)."""
    out = {"examples": int(len(reps["labels"])), "cosine_short_purified": {}}
    for t, short in reps["short"].items():
        cosine = row_cosine(short, reps["purified"][t])
        out["cosine_short_purified"][t] = (
            float(np.nanmean(cosine)) if np.isfinite(cosine).any() else None
        )
    if share is not None and "click" in reps["short"]:
        short, purified = reps["short"]["click"], reps["purified"]["click"]
        removed = np.linalg.norm(short - purified, axis=1) / np.maximum(
            np.linalg.norm(short, axis=1), 1e-12
        )
        valid = ~np.isnan(share)
        out["click_windows_with_accidental"] = float(np.mean(share[valid] > 0))
        out["corr_accidental_share_vs_removed"] = (
            float(np.corrcoef(share[valid], removed[valid])[0, 1])
            if valid.sum() > 2 and np.std(share[valid]) > 0
            else None
        )
    return out


def plot_purification(reps: dict, share, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    types = list(reps["short"])
    panels = 3 if share is not None else 2
    figure, axes = pyplot.subplots(1, panels, figsize=(5 * panels, 4.5))
    stacked = np.concatenate([reps[s][t] for s in ("short", "purified") for t in types])
    points = pca_2d(stacked)
    n = len(reps["labels"])
    for panel, stage in enumerate(("short", "purified")):
        for i, t in enumerate(types):
            start = (panel * len(types) + i) * n
            xy = points[start : start + n]
            axes[panel].scatter(xy[:, 0], xy[:, 1], s=3, alpha=0.4, label=t)
        axes[panel].set_title(
            "before purification (f_k)" if stage == "short" else "after (f^o_k)"
        )
        axes[panel].legend(markerscale=4)
    if share is not None:
        click = types.index("click")
        start = (len(types) + click) * n
        xy = points[start : start + n]
        valid = ~np.isnan(share)
        image = axes[2].scatter(
            xy[valid, 0], xy[valid, 1], s=3, c=share[valid], cmap="coolwarm"
        )
        figure.colorbar(image, ax=axes[2], label="accidental share of the window")
        axes[2].set_title("purified click f^o_c, by planted accidental clicks")
    figure.suptitle("DUMN Figure 3: short-term representations (PCA, one basis)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def relative_spread(points: np.ndarray, users: np.ndarray) -> float:
    """Mean distance of each point to its user's centroid over the mean distance
    of all points to their common centroid (scale-free; 0 = each user one point,
    about 1 = users not grouped); NaN for fewer than two points."""
    points = np.asarray(points, np.float64)
    if len(points) < 2:
        return float("nan")
    overall = np.linalg.norm(points - points.mean(axis=0), axis=1).mean()
    within = np.empty(len(points))
    for user in np.unique(users):
        chosen = users == user
        centre = points[chosen].mean(axis=0)
        within[chosen] = np.linalg.norm(points[chosen] - centre, axis=1)
    return float(within.mean() / overall) if overall > 0 else float("nan")


def epoch_checkpoints(workdir: str) -> list[tuple[int, str]]:
    """(epoch, path) of every epoch checkpoint kept in `workdir`, in order."""
    folder = os.path.join(workdir, "checkpoints")
    found = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if name.startswith("epoch_") and name.endswith(".weights.h5"):
            found.append((int(name[len("epoch_") : -len(".weights.h5")]), name))
    return [(e, os.path.join(folder, n)) for e, n in found]


def drift(run, rows, users: int, workdir: str) -> dict | None:
    """Figure 5's points: for the `users` users with the most of `rows`, at every
    epoch, the click memory's reads mapped by W_q (`long`, epoch -> `[n, D]`)
    and the purified click interests (`short`, epoch -> `[n, D]`), with the
    rows' `user_ids`; None unless every epoch's weights were kept and the model
    has a click memory with an anchor map."""
    memory = getattr(run.model, "memories", {}).get("click")
    checkpoints = epoch_checkpoints(workdir)
    every = list(range(1, run.state["epoch"] + 1))
    if getattr(memory, "anchor_kernel", None) is None or len(every) < 2:
        return None
    if [epoch for epoch, _ in checkpoints] != every:
        return None
    part = run.task.test
    ids, counts = np.unique(part.user_ids[rows], return_counts=True)
    chosen = ids[np.argsort(-counts, kind="stable")[:users]]
    rows = rows[np.isin(part.user_ids[rows], chosen)]
    best = run.state["best_epoch"]
    out = {"long": {}, "short": {}, "user_ids": part.user_ids[rows], "best": best}
    for epoch, path in checkpoints:
        run.model.load_weights(path)
        reps = representations(run.model, run.config, part, rows)
        kernel = np.asarray(memory.anchor_kernel)
        out["long"][epoch] = reps["read"]["click"] @ kernel
        out["short"][epoch] = reps["purified"]["click"]
        print(f"[inspect] Figure 5: epoch {epoch}", flush=True)
    run.model.load_weights(dict(checkpoints)[best])
    return out


def drift_summary(points: dict) -> dict:
    """Per epoch, the relative within-user spread (`relative_spread`) of the
    long-term reads and of the short-term interests."""
    users = points["user_ids"]

    def spread(values):  # None where undefined (all points equal): valid JSON
        value = relative_spread(values, users)
        return None if np.isnan(value) else value

    return {
        str(epoch): {
            "long_term": spread(points["long"][epoch]),
            "short_term": spread(points["short"][epoch]),
        }
        for epoch in points["long"]
    }


def plot_drift(points: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    epochs = sorted(points["long"])
    users = points["user_ids"]
    chosen = list(dict.fromkeys(users.tolist()))
    means = {
        (e, u): points["long"][e][users == u].mean(axis=0)
        for e in epochs
        for u in chosen
    }
    short = points["short"][points["best"]]
    stacked = np.concatenate([np.stack(list(means.values())), short])
    xy = pca_2d(stacked)
    long_xy = dict(zip(means, xy[: len(means)]))
    short_xy = xy[len(means) :]
    figure, axes = pyplot.subplots(figsize=(6, 5))
    colours = pyplot.get_cmap("tab10")
    for i, user in enumerate(chosen):
        colour = colours(i % 10)
        track = np.stack([long_xy[(e, user)] for e in epochs])
        axes.plot(track[:, 0], track[:, 1], color=colour, lw=0.6, alpha=0.5)
        for j, epoch in enumerate(epochs):
            alpha = 0.15 + 0.85 * (j + 1) / len(epochs)
            axes.scatter(*long_xy[(epoch, user)], color=colour, s=18, alpha=alpha)
        mine = short_xy[users == user]
        axes.scatter(
            mine[:, 0],
            mine[:, 1],
            color=colour,
            marker="*",
            s=30,
            alpha=0.5,
            label=f"user {user}",
        )
    axes.set_title(
        "DUMN Figure 5: long-term reads over epochs (dots, darker later)\n"
        f"and short-term click interests at epoch {points['best']} (stars), PCA"
    )
    axes.legend(fontsize=7, markerscale=1.5)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def plot_long_term(reps: dict, users: int, path: str) -> bool:
    if "click" not in reps["read"]:
        return False
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    ids, counts = np.unique(reps["user_ids"], return_counts=True)
    chosen = ids[np.argsort(-counts, kind="stable")[:users]]
    keep = np.isin(reps["user_ids"], chosen)
    points = pca_2d(reps["read"]["click"][keep])
    figure, axes = pyplot.subplots(figsize=(5.5, 4.5))
    for user in chosen:
        xy = points[reps["user_ids"][keep] == user]
        axes.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.6, label=f"user {user}")
    axes.set_title("DUMN Figure 4: long-term interests read from M_c (PCA)")
    axes.legend(fontsize=7, markerscale=2)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return True


def write_projector(reps: dict, share, folder: str) -> None:
    """The vectors and their metadata for TensorBoard's projector."""
    import tensorflow as tf
    from tensorboard.plugins import projector

    n = len(reps["labels"])
    tables, metadata = {}, {}
    rows = []
    for stage in ("short", "purified"):
        for t, values in reps[stage].items():
            rows.append(values)
            for i in range(n):
                metadata.setdefault("representations", []).append(
                    (
                        stage,
                        t,
                        int(reps["user_ids"][i]),
                        int(reps["labels"][i]),
                        "" if share is None or t != "click" else f"{share[i]:.3f}",
                    )
                )
    tables["representations"] = np.concatenate(rows)
    if "click" in reps["read"]:
        tables["long_term_click"] = reps["read"]["click"]
        metadata["long_term_click"] = [
            ("read", "click", int(u), int(y), "")
            for u, y in zip(reps["user_ids"], reps["labels"])
        ]
    config = projector.ProjectorConfig()
    variables = {}
    for name, matrix in tables.items():
        variables[name] = tf.Variable(matrix.astype(np.float32), name=name)
        with open(os.path.join(folder, f"{name}.tsv"), "w") as f:
            f.write("stage\ttype\tuser\tlabel\taccidental_share\n")
            for row in metadata[name]:
                f.write("\t".join(map(str, row)) + "\n")
        embedding = config.embeddings.add()
        embedding.tensor_name = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
        embedding.metadata_path = f"{name}.tsv"
    tf.train.Checkpoint(**variables).save(os.path.join(folder, "embeddings.ckpt"))
    projector.visualize_embeddings(folder, config)


def inspect(
    workdir: str, output: str = "", examples: int = 3000, users: int = 8, seed: int = 0
) -> dict:
    """Writes the figures, projector files and inspection.json of the DUMN run in
    `workdir` into `output`; returns the summary."""
    run = loop.restore_best(workdir)
    if not isinstance(run.model, DUMN):
        raise ValueError(
            f"--workdir {workdir} is a run of {type(run.model).__name__}, not DUMN"
        )
    output = output or os.path.join(workdir, "inspection")
    os.makedirs(output, exist_ok=True)
    part = run.task.test
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(part), min(examples, len(part)), replace=False))
    print(f"[inspect] {len(rows):,} test instances of {workdir}", flush=True)
    reps = representations(run.model, run.config, part, rows)
    share = None
    window = part.features.get("click")
    if isinstance(window, SequenceWindows):
        flags_sorted = click_accidental_flags(run.log, window)
        if flags_sorted is not None:
            share = accidental_share(window, flags_sorted, rows)
    plot_purification(reps, share, os.path.join(output, "figure3_purification.png"))
    plot_long_term(reps, users, os.path.join(output, "figure4_long_term.png"))
    write_projector(reps, share, output)
    result = summary(reps, share)
    points = drift(run, rows, users, workdir)
    if points is None:
        print(
            "[inspect] Figure 5 not drawn: it needs DUMN's click memory and every "
            "epoch's weights (train.keep_checkpoints='all')",
            flush=True,
        )
    else:
        plot_drift(points, os.path.join(output, "figure5_drift.png"))
        result["figure5_relative_spread"] = drift_summary(points)
    with open(os.path.join(output, "inspection.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(f"[inspect] wrote {output}: {json.dumps(result)}", flush=True)
    return result


def main(argv):
    del argv
    args = flags.FLAGS
    inspect(args.workdir, args.output, args.examples, args.users, args.seed)


if __name__ == "__main__":
    define_flags()
    app.run(main)
