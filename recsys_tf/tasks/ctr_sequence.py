"""Behaviour-sequence CTR (issue 19): CTR instances whose inputs also hold the
user's earlier feedback sequences (click, unclick, like, dislike, cart, fav, buy)
and, for DSIN, its click sessions."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from recsys_tf.data import ctr_sequence
from recsys_tf.data.input import SequenceWindows, window_trimmer
from recsys_tf.tasks.ctr import CTR, part_metrics
from recsys_tf.training import evaluation
from recsys_tf.training.errors import ConfigError


class CTRSequence(CTR):
    """The CTR kind's instances, split, evaluation (AUC, gAUC, logloss) and
    oracle (the planted click probability), with the sequences of
    `data/ctr_sequence.py` beside the fields: `SequenceWindows` in each part's
    features, cut per batch by `make_dataset` for training and `predict_ctr`
    alike.

    Config: `data.sequence_types` (() = every type the data has),
    `data.item_features`, `data.max_length` (T), `data.num_sessions` (S, 0 = no
    session inputs), `data.session_length` (L) and `data.merged_types` (the
    types of the time-ordered sequence "all", DUMN_AF); `data.like_events` (the
    event types of the like sequence, DUMN's "like"; absent = the like events);
    `data.history_samples` (each type's batches also carry one event drawn from
    the instance's whole earlier history of it; absent = False).

    For a model whose outputs do not depend on the padding's width (the class
    attribute `padding_invariant`, e.g. DUMN), each batch's sequences are cut
    to the columns its rows use, for training and prediction alike
    (`window_trimmer`): short sequences (like, dislike) then cost little. Not
    under XLA (`loop.uses_xla`), which needs one shape.
    """

    name = "ctr_sequence"
    buckets = True  # `bucket_lengths` below

    def build(self, config, log):
        data = config.data
        return ctr_sequence.add_sequences(
            log,
            super().build(config, log),
            label=data.label,
            sequence_types=tuple(data.sequence_types),
            item_features=tuple(data.item_features),
            max_length=data.max_length,
            num_sessions=data.num_sessions,
            session_length=data.session_length,
            merged_types=tuple(data.get("merged_types", ())),
            like_events=tuple(data.get("like_events", ("like",))),
            history_samples=bool(data.get("history_samples", False)),
        )

    @staticmethod
    def trimmer(config, part):
        """`window_trimmer` of the part's sequences when this run's batches are
        cut (`loop.cuts_batches`: a `padding_invariant` model, not under XLA),
        else None."""
        from recsys_tf.training.loop import cuts_batches

        return window_trimmer(part.features) if cuts_batches(config) else None

    def bucket_lengths(self, config, part):
        """Each row's real events summed over its sequences (`SequenceWindows`
        without segments, each capped at its window length T): with
        `train.bucket_batches`, rows of similar total history are batched
        together (our choice of one length for several sequences: their
        lengths are correlated, and every one is cut per batch)."""
        total = np.zeros(len(part), np.int64)
        for window in part.features.values():
            if isinstance(window, SequenceWindows) and window.segment_of is None:
                total += np.minimum(window.end - window.start, window.length)
        return total

    def dataset(self, config, part, batch_size, shuffle=False, seed=0, epochs=None):
        dataset = super().dataset(config, part, batch_size, shuffle, seed, epochs)
        trim = self.trimmer(config, part)
        if trim is None:
            return dataset
        return dataset.map(trim, num_parallel_calls=tf.data.AUTOTUNE)

    def evaluate(self, config, model, name, part, state, outputs="") -> dict:
        probability = evaluation.predict_ctr(
            model, part, config.eval.batch_size, self.trimmer(config, part)
        )
        return part_metrics(part, probability, outputs)

    def check_config(self, config) -> None:
        data = config.data
        try:
            ctr_sequence.check_options(
                tuple(data.sequence_types),
                data.max_length,
                data.num_sessions,
                data.session_length,
                tuple(data.get("merged_types", ())),
                tuple(data.get("like_events", ("like",))),
            )
        except ValueError as error:
            raise ConfigError(f"config.data: {error}") from error
        if config.model.get("triplet_samples") == "history" and not data.get(
            "history_samples", False
        ):
            raise ConfigError(
                "config.model.triplet_samples='history' needs "
                "config.data.history_samples=True (the drawn history events)"
            )
