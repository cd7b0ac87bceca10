"""tf.data input pipelines over in-memory examples.

Examples are dicts of NumPy arrays sharing their first dimension (sequences are
already padded, with boolean masks beside them). Batches are built by gathering a
block of shuffled row indices at once, which is far cheaper than shuffling and
batching element by element.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _check_lengths(features: dict, labels) -> int:
    if not features:
        raise ValueError("`features` is empty: nothing to feed.")
    lengths = {name: len(value) for name, value in features.items()}
    if labels is not None:
        lengths["<labels>"] = len(labels)
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"features and labels must have the same length; got {lengths}"
        )
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError("no examples: every feature array is empty.")
    return n


def _feedable(array) -> np.ndarray:
    """Boolean masks are fed as int8 0/1: under tf.distribute, Keras reduces a first
    batch with a MEAN to build the model symbolically, and bool has no sum."""
    array = np.asarray(array)
    return array.astype(np.int8) if array.dtype == bool else array


def make_dataset(
    features: dict[str, np.ndarray],
    labels: np.ndarray | None = None,
    batch_size: int = 256,
    shuffle: bool = False,
    seed: int = 0,
    drop_remainder: bool = False,
    epochs: tuple[int, int] | None = None,
) -> tf.data.Dataset:
    """A batched `tf.data.Dataset` of `(features, labels)` (or `features`).

    Args:
        features: name -> array [n, ...]; bool arrays arrive as int8 0/1.
        labels: array [n, ...] or None.
        batch_size: global batch size (tf.distribute splits it across replicas).
        shuffle: shuffle the rows; epoch `e` uses the permutation of the
            stateless seed `(seed, e)`, so a run resumed at epoch `e` sees exactly
            the batches an uninterrupted run would have seen.
        seed: shuffle seed.
        drop_remainder: drop the last incomplete batch.
        epochs: `(first, end)`: yield the batches of epochs `first..end-1` one
            after the other (for `fit(..., initial_epoch=first, epochs=end)`, with
            `steps_per_epoch` = batches per epoch); `end=None` repeats forever
            from epoch `first`; None = one pass.
    """
    if batch_size < 1:
        raise ValueError(
            f"`batch_size` must be >= 1. Received: batch_size={batch_size}"
        )
    n = _check_lengths(features, labels)
    # Same-dtype 1-D features are stored as the columns of one matrix, so a batch
    # costs one gather per dtype instead of one per feature.
    arrays = {k: _feedable(v) for k, v in features.items()}
    groups: dict = {}
    for name, array in arrays.items():
        key = array.dtype.str if array.ndim == 1 else name
        groups.setdefault(key, []).append(name)
    tensors = {}
    for key, names in groups.items():
        if len(names) == 1:
            tensors[key] = (names, tf.constant(arrays[names[0]]))
        else:
            tensors[key] = (names, tf.constant(np.stack([arrays[k] for k in names], 1)))
    label_tensor = None if labels is None else tf.constant(np.asarray(labels))
    first, end = epochs if epochs is not None else (0, 1)
    end = 2**62 if end is None else end
    if end <= first:
        raise ValueError(
            f"`epochs` must be (first, end) with end > first. Received: {epochs}"
        )

    num_batches = n // batch_size if drop_remainder else -(-n // batch_size)
    if num_batches == 0:
        raise ValueError(
            f"{n} examples make no full batch of {batch_size} with drop_remainder=True."
        )

    def epoch_batches(epoch):
        rows = tf.range(n, dtype=tf.int64)
        if shuffle:
            rows = tf.random.experimental.stateless_shuffle(
                rows, seed=tf.stack([tf.cast(seed, tf.int64), epoch])
            )
        # Slices of the permutation, one per batch (no per-example tf.data work).
        return tf.data.Dataset.range(num_batches).map(
            lambda b: rows[b * batch_size : tf.minimum((b + 1) * batch_size, n)]
        )

    if epochs is None:
        # One pass with a known cardinality (Keras then sizes its progress bar).
        indices = epoch_batches(tf.constant(0, tf.int64))
    else:
        indices = tf.data.Dataset.range(first, end).flat_map(epoch_batches)

    def gather(index):
        x = {}
        for names, tensor in tensors.values():
            block = tf.gather(tensor, index)
            if len(names) == 1:
                x[names[0]] = block
            else:
                x.update(zip(names, tf.unstack(block, axis=1)))
        x = {k: x[k] for k in features}
        if label_tensor is None:
            return x
        return x, tf.gather(label_tensor, index)

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return (
        indices.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )
