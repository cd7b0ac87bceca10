"""Next-item retrieval: a user's history -> the next positive item, ranked among
the whole catalogue (full protocol) or among fixed sampled negatives."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from recsys_tf.data import retrieval
from recsys_tf.data.input import trim_left_padding
from recsys_tf.tasks.base import Task
from recsys_tf.training import evaluation
from recsys_tf.training.errors import ConfigError

PROTOCOLS = ("full", "sampled")
SAMPLED = "sampled"


class Retrieval(Task):
    """(history, next item) examples (`data/retrieval.py`); HR / NDCG / MRR @k
    with pessimistic ties; the oracle is the simulator's next-click probability."""

    name = "retrieval"
    buckets = True  # `bucket_lengths` below

    def build(self, config, log):
        data = config.data
        return retrieval.build_retrieval_task(
            log,
            positive_events=tuple(data.positive_events),
            split=data.split,
            fractions=tuple(data.fractions),
            max_length=data.max_length,
            min_history=data.min_history,
            max_eval_examples=data.max_eval_examples or None,
            seed=config.seed,
            per_position=data.per_position,
            session_gap=data.session_gap,
            max_session_length=data.max_session_length,
            long_term_seconds=data.long_term_seconds,
        )

    def inputs(self, config, part):
        return part.features(), part.targets

    def dataset(self, config, part, batch_size, shuffle=False, seed=0, epochs=None):
        """`Task.dataset` of the part (with `train.bucket_batches` k > 0, rows of
        similar history lengths batched together: chunks of k batches sorted by
        length, see `make_dataset`); for a model whose queries do not depend on
        the padding's width (`padding_invariant`), each batch is then cut to the
        columns its rows use (`trim_left_padding`), not under XLA, which needs
        one shape (the rule: `loop.cuts_batches`). Without the cut, bucketing
        still changes the batches but saves no work."""
        from recsys_tf.training.loop import cuts_batches

        dataset = super().dataset(config, part, batch_size, shuffle, seed, epochs)
        if not cuts_batches(config):
            return dataset
        return dataset.map(trim_left_padding, num_parallel_calls=tf.data.AUTOTUNE)

    def bucket_lengths(self, config, part):
        """The real positions of each row's history."""
        return part.history_mask.sum(axis=1)

    def check_config(self, config) -> None:
        if config.data.per_position:
            from recsys_tf.models import MODELS, SequentialRetrievalModel

            model = MODELS.get(config.model.name)
            if model is not None and not issubclass(model, SequentialRetrievalModel):
                raise ConfigError(
                    "config.data.per_position=True needs a model that gives a query "
                    f"per position (a SequentialRetrievalModel); {config.model.name!r} "
                    "gives one per example: set config.data.per_position=False"
                )
        protocol = config.eval.protocol
        if protocol not in PROTOCOLS:
            raise ConfigError(
                f"config.eval.protocol must be one of {PROTOCOLS}. "
                f"Received: {protocol!r}"
            )
        if protocol == SAMPLED:
            candidates = config.eval.num_negatives + 1
            beyond = [k for k in config.eval.ks if k >= candidates]
            if beyond:
                raise ConfigError(
                    f"config.eval.ks has cut-off(s) {beyond} at or beyond the "
                    f"{candidates} candidates of the sampled protocol (1 target + "
                    f"config.eval.num_negatives={config.eval.num_negatives}), where "
                    f"hr@k is always 1.0; use ks below {candidates}"
                )

    def evaluation(self, config, log, data) -> dict:
        """{"negatives": part -> [n, k] (sampled protocol), "exclude_history":
        bool, "record": what results.json states of the protocol}."""
        negatives = fixed_negatives(config, log, data)
        exclude = exclude_history(config, data)
        return {
            "negatives": negatives,
            "exclude_history": exclude,
            "record": {
                "protocol": config.eval.protocol,
                "exclude_history": exclude,
                "num_negatives": (
                    int(negatives["test"].shape[1]) if negatives else None
                ),
            },
        }

    def evaluate(self, config, model, name, part, state, outputs="") -> dict:
        negatives = state["negatives"].get(name)
        if negatives is not None:
            ranks = evaluation.sampled_ranks(
                model, part, negatives, config.eval.batch_size
            )
        else:
            scores = evaluation.model_scores(model, part, config.eval.batch_size)
            ranks = evaluation.target_ranks(scores, part, state["exclude_history"])
        return part_metrics(config, part, ranks, outputs)

    def oracle(self, config, log, data, state, outputs="") -> dict:
        """Ranks by each item's probability of being clicked at the target's
        request, `synthetic.next_click_probability` (the logging policy's exposure
        probability times the click probability, given the state before the
        request), so no ranking made before the request expects more of its
        clicks in the top k: the ceiling. Same candidates as a model."""
        from data_prep import synthetic

        truth_file = os.path.join(log.path or "", "truth.npz")
        if not os.path.exists(truth_file):
            raise ConfigError(f"the oracle needs {truth_file} (simulated data only)")
        truth = log.truth()
        results = {}
        for name in ("validation", "test"):
            part = data.parts()[name]
            negatives = state["negatives"].get(name)
            if negatives is not None:
                candidates = np.concatenate([part.targets[:, None], negatives], 1)
                ranks = evaluation.candidate_ranks(
                    synthetic.next_click_probability(
                        truth, part.user_ids, part.request_ids, candidates
                    )
                )
            else:

                def scores(rows, part=part):
                    return synthetic.next_click_probability(
                        truth, part.user_ids[rows], part.request_ids[rows]
                    )

                ranks = evaluation.target_ranks(scores, part, state["exclude_history"])
            saved = outputs if name == "test" else ""
            results[name] = part_metrics(config, part, ranks, saved)
        return results

    def monitor(self, config) -> str:
        """hr@50 for full ranking; ndcg@10 for the sampled protocol (where hr@k of
        a large k nears 1 for every model)."""
        return "ndcg@10" if config.eval.protocol == SAMPLED else "hr@50"

    def metric_names(self, config) -> list[str]:
        names = evaluation.metrics.sampled_ranking_metrics(
            np.zeros(1), np.zeros((1, 1)), tuple(config.eval.ks)
        )
        return sorted(names)


def part_metrics(config, part, ranks, outputs="") -> dict:
    """Ranking metrics at `config.eval.ks` of the targets' ranks (ties
    pessimistic); with `outputs` also saves the per-example ranks."""
    if outputs:
        evaluation.save_outputs(outputs, user_id=part.user_ids, rank=ranks)
    return evaluation.metrics.ranking_metrics_from_ranks(ranks, tuple(config.eval.ks))


def exclude_history(config, data) -> bool:
    """The resolved `config.eval.exclude_history`.

    "auto" excludes the user's earlier items from the full-ranking candidates
    when no (user, item) pair repeats among the positive events (ML-1M, Amazon
    Beauty: an earlier item cannot be the next one) and keeps them on
    repeat-consumption data (simulator, Taobao, KuaiRand). The sampled protocol
    never draws any of the user's items, so it always excludes them.
    """
    value = str(config.eval.exclude_history).lower()
    if value not in ("auto", "true", "false"):
        raise ConfigError(
            "config.eval.exclude_history must be 'auto', True or False. "
            f"Received: {config.eval.exclude_history!r}"
        )
    if config.eval.protocol == SAMPLED:
        if value == "false":
            raise ConfigError(
                "config.eval.exclude_history=False does not apply to the sampled "
                "protocol, whose negatives are never the user's items"
            )
        return True
    return not data.repeat_consumption if value == "auto" else value == "true"


def fixed_negatives(config, log, data) -> dict:
    """Fixed sampled negatives of the validation and test parts (sampled protocol):
    drawn per row (seeded by `eval.negatives_seed` + part index), per user and shared
    by validation and test (`eval.shared_negatives`), or read from a published list
    (`eval.negatives_file`); drawn ones are never any item of the user's events.
    {} for the full protocol."""
    if config.eval.protocol != SAMPLED:
        if config.eval.shared_negatives or config.eval.negatives_file:
            raise ConfigError(
                "config.eval.shared_negatives / negatives_file need "
                "config.eval.protocol='sampled'"
            )
        return {}
    parts = {name: part for name, part in data.parts().items() if name != "train"}
    if config.eval.negatives_file:
        from data_prep import common

        folder = log.path or ""
        per_user = evaluation.read_negatives_file(
            config.eval.negatives_file,
            common.read_mapping(folder, "user", log.num_users),
            common.read_mapping(folder, "item", log.num_items),
        )
        return {
            name: evaluation.negatives_of_users(
                part, per_user, config.eval.negatives_file
            )
            for name, part in parts.items()
        }
    seen = evaluation.user_items(log)
    if config.eval.shared_negatives:
        per_user = evaluation.user_negatives(
            np.concatenate([part.user_ids for part in parts.values()]),
            data.num_items,
            seen,
            config.eval.num_negatives,
            config.eval.negatives_seed,
        )
        return {
            name: evaluation.negatives_of_users(part, per_user, "shared negatives")
            for name, part in parts.items()
        }
    return {
        name: evaluation.sampled_negatives(
            part,
            data.num_items,
            seen,
            config.eval.num_negatives,
            config.eval.negatives_seed + index,
        )
        for index, (name, part) in enumerate(data.parts().items())
        if name != "train"
    }
