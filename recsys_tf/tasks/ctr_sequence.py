"""Behaviour-sequence CTR (issue 19): CTR instances whose inputs also hold the
user's earlier feedback sequences (click, unclick, like, dislike, cart, fav, buy)
and, for DSIN, its click sessions."""

from __future__ import annotations

from recsys_tf.data import ctr_sequence
from recsys_tf.tasks.ctr import CTR
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
    types of the time-ordered sequence "all", DUMN_AF).
    """

    name = "ctr_sequence"

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
        )

    def check_config(self, config) -> None:
        data = config.data
        try:
            ctr_sequence.check_options(
                tuple(data.sequence_types),
                data.max_length,
                data.num_sessions,
                data.session_length,
                tuple(data.get("merged_types", ())),
            )
        except ValueError as error:
            raise ConfigError(f"config.data: {error}") from error
