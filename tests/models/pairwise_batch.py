"""A tiny pairwise training batch and the NumPy references of the pair scorers."""

import numpy as np

from tests import testing

NUM_USERS, NUM_ITEMS = 8, 30
TYPES = ("buy", "click", "cart", "fav")


def batch(n=12, negatives=3, seed=1, without=()):
    """(x, dummy labels): users, positives, negatives and random pair feedback
    (the positives are target pairs; types in `without` appear in no pair)."""
    rng = np.random.default_rng(seed)
    feedback = rng.integers(0, 2, (n, len(TYPES))).astype(np.int8)
    feedback[:, 0] = 1
    negative_feedback = rng.integers(0, 2, (n, negatives, len(TYPES))).astype(np.int8)
    negative_feedback[..., 0] = 0
    for t in without:
        feedback[:, TYPES.index(t)] = 0
        negative_feedback[..., TYPES.index(t)] = 0
    x = {
        "user_id": rng.integers(0, NUM_USERS, n).astype(np.int64),
        "item_id": rng.integers(0, NUM_ITEMS // 2, n).astype(np.int64),
        "negatives": rng.integers(NUM_ITEMS // 2, NUM_ITEMS, (n, negatives)).astype(
            np.int64
        ),
        "feedback": feedback,
        "negative_feedback": negative_feedback,
    }
    return x, np.zeros(n, np.float32)


def pairs(x):
    """The inputs of `call` alone (what evaluation feeds)."""
    return {"user_id": x["user_id"], "item_id": x["item_id"]}


def table(layer):
    return testing.to_numpy(layer.embeddings).astype(np.float64)
