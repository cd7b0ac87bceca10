"""The 64-bit hash of crossed features against a pure-Python SplitMix64."""

import numpy as np

from data_prep import common
from recsys_tf.data import ctr, hashing
from tests.data.test_builders import _log

_MASK = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    """Vigna's reference `splitmix64` finaliser on Python ints."""
    x &= _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def test_splitmix64_matches_reference():
    values = [0, 1, 2, 12345, 2**20, 2**40 + 7, 2**63 - 1]
    got = hashing.splitmix64(np.array(values, np.int64))
    assert got.dtype == np.uint64
    assert got.tolist() == [_splitmix64(v) for v in values]
    seeded = hashing.splitmix64(np.array(values, np.int64), seed=3)
    assert seeded.tolist() == [_splitmix64(v + 3 * 0x9E3779B97F4A7C15) for v in values]


def test_codes_congruent_modulo_buckets_do_not_collide():
    codes = np.arange(1000, dtype=np.int64) * ctr.HASH_BUCKETS + 17
    buckets = hashing.splitmix64(codes) % ctr.HASH_BUCKETS
    # The old (code * 0x9E3779B1) % 2**20 sent all 1000 to one bucket; a uniform
    # hash leaves about 1000**2 / (2 * 2**20) ~ 0.5 colliding pairs.
    assert len(np.unique(buckets)) >= 995


def test_crossed_field_is_hashed_by_splitmix(monkeypatch):
    monkeypatch.setattr(ctr, "HASH_BUCKETS", 16)
    task = ctr.build_ctr_task(_log(), crosses=(("user_id", "item_id"),))
    f = task.train.features
    product = f["user_id"] * 30 + f["item_id"]
    crossed = f["user_id_x_item_id"]
    expected = [_splitmix64(int(c)) % 16 for c in product]
    assert crossed.tolist() == expected
    assert task.vocabulary_sizes["user_id_x_item_id"] == 16
    # Products congruent mod 16 share a bucket only by chance (~1/16), not always.
    pairs = [
        (a, b)
        for a in range(len(product))
        for b in range(a)
        if product[a] % 16 == product[b] % 16 and product[a] != product[b]
    ][:2000]
    same = np.mean([crossed[a] == crossed[b] for a, b in pairs])
    assert same < 0.2


def test_sample_mask_uses_the_same_hash():
    ids = np.arange(200)
    keep = common.sample_mask(ids, 0.3, seed=5)
    expected = [
        (_splitmix64(i + 5 * 0x9E3779B97F4A7C15) >> 11) < 0.3 * 2**53
        for i in range(200)
    ]
    assert keep.tolist() == expected
