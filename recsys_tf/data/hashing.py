"""A 64-bit integer hash shared by the task builders and the converters."""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(values, seed: int = 0) -> np.ndarray:
    """SplitMix64 (Steele, Lea and Flood, OOPSLA 2014) of ``values + seed * golden``.

    The finaliser's xor-shifts carry the high bits into the low ones, so (unlike
    multiplying by an odd constant) ``hash % 2**b`` depends on every bit of the
    input: ids congruent modulo ``2**b`` do not collide systematically.

    Args:
        values: integer array (any shape); negative values wrap as two's complement.
        seed: a non-negative int mixed in before hashing.

    Returns:
        uint64 array of the same shape.
    """
    with np.errstate(over="ignore"):
        x = np.asarray(values).astype(np.uint64) + np.uint64(seed) * _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
