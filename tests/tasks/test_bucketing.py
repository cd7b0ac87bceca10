"""`config.train.bucket_batches`: the sequence tasks batch rows of similar lengths
together (training batches only); a task without sequences refuses the setting
instead of ignoring it."""

import dataclasses

import numpy as np
import pytest

from experiments.configs import dumn, mf_mlp, narm, sasrec, wide_deep
from recsys_tf.data.ctr_sequence import build_ctr_sequence_task
from recsys_tf.data.input import SequenceWindows
from recsys_tf.tasks import get_task
from recsys_tf.tasks.base import check_bucketing
from recsys_tf.training import loop
from tests.data.test_ctr_sequence import random_log

TYPES = ("click", "unclick", "like")


@dataclasses.dataclass
class _Part:
    """A CTR part with a row number beside its fields, to follow each row."""

    features: dict
    labels: np.ndarray

    def __len__(self):
        return len(self.labels)


def _ctr_sequence_part(max_length=4):
    log = random_log(7, num_users=4, num_requests=60)
    part = build_ctr_sequence_task(log, sequence_types=TYPES, max_length=max_length)
    train = part.train
    features = dict(train.features, row=np.arange(len(train)))
    return _Part(features, np.asarray(train.labels)), train


def _row_lengths(x):
    """Each row's real events summed over the batch's masks (NumPy)."""
    return sum(x[f"{t}_mask"].numpy().astype(int).sum(axis=1) for t in TYPES)


def _config(module, bucket, jit="false"):
    config = module.get_config()
    config.train.bucket_batches = bucket
    config.train.jit_compile = jit
    return config


def test_ctr_sequence_lengths_are_the_rows_windows_summed():
    part, _ = _ctr_sequence_part()
    kind = get_task(_config(dumn, 0))
    lengths = kind.bucket_lengths(_config(dumn, 0), part)
    # Independently: the masks of unbucketed, unshuffled batches, in row order.
    rows, counted = [], []
    for x, _ in kind.dataset(_config(dumn, 0), part, batch_size=5):
        rows.append(x["row"].numpy())
        counted.append(_row_lengths(x))
    np.testing.assert_array_equal(np.concatenate(rows), np.arange(len(part)))
    np.testing.assert_array_equal(lengths, np.concatenate(counted))
    windows = [w for w in part.features.values() if isinstance(w, SequenceWindows)]
    assert len(windows) == len(TYPES) and lengths.max() <= 4 * len(TYPES)
    assert len(set(lengths.tolist())) > 3  # something to sort


def _epoch(config, part, batch_size):
    kind = get_task(config)
    dataset = kind.dataset(
        config, part, batch_size=batch_size, shuffle=True, seed=3, epochs=(0, 1)
    )
    return [(x["row"].numpy(), _row_lengths(x)) for x, _ in dataset]


def test_bucketed_ctr_sequence_batches_hold_rows_of_similar_lengths():
    part, _ = _ctr_sequence_part()
    n, batch = len(part), 6
    chunk = -(-n // batch)  # one chunk: the whole epoch sorted, then cut
    bucketed = _epoch(_config(dumn, chunk), part, batch)
    plain = _epoch(_config(dumn, 0), part, batch)
    for batches in (bucketed, plain):  # every row once per epoch
        rows = np.sort(np.concatenate([r for r, _ in batches]))
        np.testing.assert_array_equal(rows, np.arange(n))
    # Sorted, then cut: no two batches' length ranges overlap (ties aside).
    spans = sorted((lengths.min(), lengths.max()) for _, lengths in bucketed)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    # The batches were cut to their used columns: bucketed ones are narrower.
    width = {
        name: sum(
            int(x[f"{t}_item_id"].shape[1])
            for x, _ in get_task(config).dataset(
                config, part, 6, shuffle=True, seed=3, epochs=(0, 1)
            )
            for t in TYPES
        )
        for name, config in (
            ("bucketed", _config(dumn, chunk)),
            ("plain", _config(dumn, 0)),
        )
    }
    assert width["bucketed"] < width["plain"]


def test_unshuffled_batches_keep_the_row_order_when_bucketing():
    part, _ = _ctr_sequence_part()
    config = _config(dumn, 2)
    rows = [x["row"].numpy() for x, _ in get_task(config).dataset(config, part, 5)]
    np.testing.assert_array_equal(np.concatenate(rows), np.arange(len(part)))


class _RetrievalPart:
    """Left-padded histories of lengths 1-4 in a width of 6, shuffled rows."""

    def __init__(self):
        self.lengths = np.array([4, 1, 3, 2, 1, 4, 2, 3])
        self.history_mask = np.arange(6)[None, :] >= 6 - self.lengths[:, None]
        self.targets = np.arange(8)

    def features(self):
        return {
            "history": np.where(self.history_mask, 5, 0),
            "history_mask": self.history_mask,
        }


@pytest.mark.parametrize("module", [sasrec, narm])
def test_retrieval_buckets_with_or_without_the_cut(module):
    # NARM is not padding-invariant: its batches keep their width, but they are
    # bucketed all the same (before, the setting was silently ignored for it).
    part = _RetrievalPart()
    config = _config(module, 4)
    dataset = get_task(config).dataset(
        config, part, batch_size=2, shuffle=True, seed=1, epochs=(0, 1)
    )
    batches = [(part.lengths[y.numpy()], x["history"].shape[1]) for x, y in dataset]
    assert sorted(tuple(sorted(lg)) for lg, _ in batches) == [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
    ]
    widths = {w for _, w in batches}
    assert widths == ({1, 2, 3, 4} if module is sasrec else {6})


def test_check_bucketing_refuses_what_a_task_cannot_bucket():
    assert check_bucketing(get_task(_config(dumn, 5)), _config(dumn, 5)) is None
    assert check_bucketing(get_task(_config(sasrec, 5)), _config(sasrec, 5)) is None
    assert (
        check_bucketing(get_task(_config(wide_deep, 0)), _config(wide_deep, 0)) is None
    )
    config = _config(wide_deep, 5)
    assert "'ctr' task's rows have no sequence" in check_bucketing(
        get_task(config), config
    )
    config = _config(sasrec, -1)
    assert ">= 0" in check_bucketing(get_task(config), config)
    config = _config(mf_mlp, 5)  # (user, item, negatives) rows: a Retrieval kind
    assert config.task == "pairwise"
    assert "'pairwise' task's rows have no sequence" in check_bucketing(
        get_task(config), config
    )


@pytest.mark.parametrize(
    "module, bucket, message",
    [
        (wide_deep, 3, "config.train.bucket_batches=3: the 'ctr' task"),
        (dumn, -2, "config.train.bucket_batches must be an int >= 0"),
    ],
)
def test_the_trainer_refuses_bucketing_before_reading_data(module, bucket, message):
    with pytest.raises(loop.ConfigError, match=message):
        loop._check_config(_config(module, bucket))
