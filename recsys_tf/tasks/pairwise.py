"""Pairwise ranking with multiple implicit feedback (MF + M-MLP, issue 22): a user's
target-type item against sampled negatives, evaluated leave-one-out among 99
sampled items the user never interacted with."""

from __future__ import annotations

import numpy as np

from recsys_tf.data import pairwise
from recsys_tf.data.input import make_dataset
from recsys_tf.tasks.retrieval import SAMPLED, Retrieval, fixed_negatives, part_metrics
from recsys_tf.training.errors import ConfigError


class Pairwise(Retrieval):
    """(user, target item, x negatives) examples (`data/pairwise.py`), negatives
    redrawn every epoch by `config.data.negative_sampler`; evaluation is the
    retrieval task's sampled protocol (fixed negatives never of the user's items,
    HR / NDCG / MRR @k, ties pessimistic) over a pair-scoring model
    (`models.base.PairwiseModel`)."""

    name = "pairwise"
    buckets = False  # (user, item, negatives) rows: no sequence

    def build(self, config, log):
        try:
            data = pairwise.build_pairwise_task(
                log,
                target_event=config.data.target_event,
                supportive_events=tuple(config.data.supportive_events),
                min_target_events=config.data.min_target_events,
            )
        except ValueError as error:
            raise ConfigError(
                "config.data.target_event / supportive_events / min_target_events: "
                f"{error}"
            ) from error
        print(
            f"[pairwise] {data.dropped_users} users with fewer than "
            f"{data.min_target_events} {config.data.target_event!r} events dropped; "
            f"{len(data.test)} users kept, {len(data.train)} training pairs, "
            f"feedback types {data.feedback_types}",
            flush=True,
        )
        return data

    def sampler(self, config, data) -> pairwise.NegativeSampler:
        """The training negatives' sampler of a run (seeded by `config.seed`)."""
        try:
            return pairwise.NegativeSampler(
                data,
                config.data.negative_sampler,
                config.data.num_negatives,
                seed=config.seed,
            )
        except ValueError as error:
            raise ConfigError(f"config.data: {error}") from error

    def inputs(self, config, part):
        return part.features(), part.targets

    def dataset(self, config, part, batch_size, shuffle=False, seed=0, epochs=None):
        """Training batches with fresh negatives every epoch for the train part;
        the (user, item) pairs of another part."""
        data = part.owner
        if part is not data.train:
            return make_dataset(*self.inputs(config, part), batch_size=batch_size)
        return pairwise.train_dataset(
            data,
            self.sampler(config, data),
            batch_size,
            shuffle=shuffle,
            seed=seed,
            epochs=epochs or (0, 1),
        )

    def check_config(self, config) -> None:
        if config.eval.protocol != SAMPLED:
            raise ConfigError(
                "config.eval.protocol must be 'sampled' for the pairwise task (the "
                f"paper's 99 sampled negatives). Received: {config.eval.protocol!r}"
            )
        if config.eval.shared_negatives or config.eval.negatives_file:
            raise ConfigError(
                "config.eval.shared_negatives / negatives_file are not supported by "
                "the pairwise task"
            )
        super().check_config(config)

    def evaluation(self, config, log, data) -> dict:
        """{"negatives": part -> [n, k], "record": protocol, sampler and the
        dropped users, for results.json}."""
        negatives = fixed_negatives(config, log, data)
        return {
            "negatives": negatives,
            "record": {
                "protocol": SAMPLED,
                "exclude_history": True,
                "num_negatives": int(negatives["test"].shape[1]),
                "dropped_users": data.dropped_users,
                "min_target_events": data.min_target_events,
                "feedback_types": list(data.feedback_types),
                **self.sampler(config, data).record(),
            },
        }

    def evaluate(self, config, model, name, part, state, outputs="") -> dict:
        def scores(users, items):
            pairs = {"user_id": users, "item_id": items}
            dataset = make_dataset(pairs, batch_size=config.eval.batch_size)
            return np.asarray(model.predict(dataset, verbose=0)).reshape(-1)

        ranks = pairwise.pair_ranks(scores, part, state["negatives"][name])
        return part_metrics(config, part, ranks, outputs)

    def oracle(self, config, log, data, state, outputs="") -> dict:
        raise ConfigError("the pairwise task has no oracle (config.model.name)")
