"""Click-through-rate prediction: impressions (or ratings) labelled 0 / 1."""

from __future__ import annotations

import os

import numpy as np

from recsys_tf.data import ctr
from recsys_tf.tasks.base import Task
from recsys_tf.training import evaluation
from recsys_tf.training.errors import ConfigError


class CTR(Task):
    """Instances with categorical fields and a click label (`data/ctr.py`);
    AUC, gAUC and logloss; the oracle is the planted click probability."""

    name = "ctr"

    def build(self, config, log):
        data = config.data
        return ctr.build_ctr_task(
            log,
            label=data.label,
            split=data.split,
            fractions=tuple(data.fractions),
            seed=config.seed,
            crosses=tuple(tuple(c) for c in data.crosses),
            rating_threshold=data.rating_threshold,
            fields=tuple(data.fields),
        )

    def inputs(self, config, part):
        return part.features, part.labels

    def evaluation(self, config, log, data) -> dict:
        return {
            "record": {"protocol": None, "exclude_history": None, "num_negatives": None}
        }

    def evaluate(self, config, model, name, part, state, outputs="") -> dict:
        probability = evaluation.predict_ctr(model, part, config.eval.batch_size)
        return part_metrics(part, probability, outputs)

    def oracle(self, config, log, data, state, outputs="") -> dict:
        """The exact click probability of each impression (`truth.npz`); with only
        a `truth_pref` column, its AUC and gAUC."""
        from data_prep import synthetic

        if ctr.resolve_label(log, config.data.label) == "dislike":
            raise ConfigError(
                "the oracle gives the planted click probability: it has nothing "
                f"for config.data.label={config.data.label!r}"
            )
        truth_file = os.path.join(log.path or "", "truth.npz")
        truth = log.truth() if os.path.exists(truth_file) else None
        results = {}
        for name in ("validation", "test"):
            part = data.parts()[name]
            if part.truth is None:
                raise ConfigError(
                    "the oracle needs a `truth_pref` column (simulated data)"
                )
            if truth is None:
                results[name] = {
                    "auc": evaluation.metrics.auc(part.labels, part.truth),
                    "gauc": evaluation.metrics.gauc(
                        part.user_ids, part.labels, part.truth
                    ),
                }
            else:
                probability = synthetic.click_probability(truth, part.truth)
                saved = outputs if name == "test" else ""
                results[name] = part_metrics(part, probability, saved)
        return results

    def monitor(self, config) -> str:
        return "auc"

    def metric_names(self, config) -> list[str]:
        names = evaluation.ctr_metrics(
            np.array([0.0, 1.0]), np.array([0.25, 0.75]), np.zeros(2, np.int64)
        )
        return sorted(names)


def part_metrics(part, probability, outputs="") -> dict:
    """AUC, gAUC and logloss of click probabilities on a part; with `outputs`
    also saves the per-example probabilities and labels."""
    if outputs:
        evaluation.save_outputs(
            outputs,
            user_id=part.user_ids,
            probability=probability.astype(np.float16),
            label=part.labels.astype(np.int8),
        )
    return evaluation.ctr_metrics(part.labels, probability, part.user_ids)
