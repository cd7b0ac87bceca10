"""tf.data input pipelines over in-memory examples.

Examples are dicts of NumPy arrays sharing their first dimension (sequences are
either already padded, with boolean masks beside them, or `SequenceWindows` cut
per batch). Batches are built by gathering a block of shuffled row indices at
once, which is far cheaper than shuffling and batching element by element.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class SequenceWindows:
    """Per-row windows of one flat event sequence, cut per batch by `make_dataset`.

    Each user's events are held once, `values` sorted by user then time; row r's
    history is the slice `values[start[r]:end[r]]` (`start[r]`: the first event
    of the row's user, `end[r]`: its first event the row may not see). Nothing of
    size rows x length exists outside a batch. As a value of `make_dataset`'s
    `features` under the key `prefix`, a batch of rows gets, oldest first and
    left-padded (padding code 0):

    - without segments, the last `length` events of each slice:
      `f"{prefix}_{name}"` [batch, length] for every `name` of `lookups` and
      `f"{prefix}_mask"` int8 [batch, length] (1 = a real event);
    - with segments (`segment_of`, `segment_start`, `num_segments`: e.g. the
      sessions of a click sequence), the last `num_segments` segments that
      intersect the slice, each cut at `end[r]` and holding its last `length`
      events: [batch, num_segments, length] (the most recent segment last).

    A lookup maps the sequence's codes to an output code (`table[values]`, e.g.
    item id -> category); None outputs the codes themselves.

    With `sample` (no segments), a batch also gets one event drawn uniformly
    from each row's whole slice, not only its last `length`:
    `f"{prefix}_sample_{name}"` [batch, 1] and `f"{prefix}_sample_mask"` int8
    [batch, 1] (0 = the slice is empty), e.g. DUMN's triplet samples "from the
    data of all user interactions" (Sec. 3.5). `make_dataset` seeds the draw
    (`cut`'s `seed`) by the epoch, the batch's position in it, its own seed and
    the window: every epoch draws anew, and a resumed epoch draws as the
    uninterrupted one did.

    Attributes:
        values: int [events] codes (e.g. item ids), each user's events
            contiguous, oldest first.
        start: int [n] first index of each row's user in `values`.
        end: int [n] one past the last event each row sees (`start <= end`).
        length: window length (T, or the items per segment L).
        lookups: output name -> int table indexed by the codes, or None.
        segment_of: int [events] non-decreasing segment index of every event (a
            user's first event starts a segment), or None.
        segment_start: int [segments + 1] index of each segment's first event,
            then `len(values)`.
        num_segments: segments per row (S) when `segment_of` is given.
    """

    values: np.ndarray
    start: np.ndarray
    end: np.ndarray
    length: int
    lookups: dict
    segment_of: np.ndarray | None = None
    segment_start: np.ndarray | None = None
    num_segments: int = 0
    sample: bool = False

    def __post_init__(self):
        if self.length < 1:
            raise ValueError(f"`length` must be >= 1. Received: length={self.length}")
        if self.start.shape != self.end.shape or self.start.ndim != 1:
            raise ValueError(
                "`start` and `end` must be 1-D of the same length. Received shapes "
                f"{self.start.shape} and {self.end.shape}"
            )
        bad = (self.start > self.end) | (self.start < 0) | (self.end > len(self.values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"row {row}: expected 0 <= start <= end <= {len(self.values)} (the "
                f"events), got start={self.start[row]}, end={self.end[row]}"
            )
        if (self.segment_of is None) != (self.segment_start is None) or (
            (self.segment_of is None) != (self.num_segments == 0)
        ):
            raise ValueError(
                "`segment_of`, `segment_start` and `num_segments` (> 0) go together"
            )
        if self.sample and self.segment_of is not None:
            raise ValueError("`sample` needs windows without segments")

    def __len__(self) -> int:
        return len(self.start)

    def __getitem__(self, rows) -> SequenceWindows:
        """The windows of a subset of rows (the events stay shared)."""
        return dataclasses.replace(self, start=self.start[rows], end=self.end[rows])

    def output_names(self, prefix: str) -> list[str]:
        return [f"{prefix}_{name}" for name in self.lookups] + [f"{prefix}_mask"]

    def sample_names(self, prefix: str) -> list[str]:
        """The outputs of the drawn event (`sample`), [] without it."""
        return self.output_names(f"{prefix}_sample") if self.sample else []

    def _index_dtype(self):
        return tf.int32 if len(self.values) < 2**31 - 1 else tf.int64

    def tensors(self) -> dict:
        """The constant tensors a batch gathers from: each output's code of every
        event (the lookup applied once), after a padding 0 at position 0."""
        out = {}
        for name, table in self.lookups.items():
            codes = self.values if table is None else np.asarray(table)[self.values]
            out[name] = tf.constant(np.concatenate([np.zeros(1, codes.dtype), codes]))
        if self.segment_of is not None:
            dtype = self._index_dtype().as_numpy_dtype
            segment_of = self.segment_of if len(self.segment_of) else np.zeros(1)
            out["segment_of"] = tf.constant(segment_of.astype(dtype))
            out["segment_start"] = tf.constant(self.segment_start.astype(dtype))
        return out

    def cut(self, prefix: str, tensors: dict, start, end, seed=None) -> dict:
        """The outputs of one batch from its rows' `start` and `end` [batch];
        with `sample`, also the drawn event's (`seed`: int64 [2], the
        stateless seed of the draw; None = (0, 0))."""
        dtype = self._index_dtype()
        start = tf.cast(start, dtype)
        end = tf.cast(end, dtype)
        steps = tf.range(-self.length, 0, dtype=dtype)
        if self.segment_of is None:
            index = end[:, None] + steps  # [batch, length]
            mask = index >= start[:, None]
        else:
            segment_of = tensors["segment_of"]
            last = tf.cast(tf.shape(segment_of)[0] - 1, dtype)
            first = tf.gather(segment_of, tf.clip_by_value(start, 0, last))
            latest = tf.gather(segment_of, tf.clip_by_value(end - 1, 0, last))
            segment = latest[:, None] + tf.range(
                1 - self.num_segments, 1, dtype=dtype
            )  # [batch, segments], oldest first
            real = (end > start)[:, None] & (segment >= first[:, None])
            segment = tf.maximum(segment, 0)
            begin = tf.gather(tensors["segment_start"], segment)
            stop = tf.minimum(
                tf.gather(tensors["segment_start"], segment + 1), end[:, None]
            )
            index = stop[..., None] + steps  # [batch, segments, length]
            mask = real[..., None] & (index >= begin[..., None])
        position = tf.where(mask, index + 1, tf.zeros_like(index))  # 0 = padding
        out = {
            f"{prefix}_{name}": tf.gather(tensors[name], position)
            for name in self.lookups
        }
        out[f"{prefix}_mask"] = tf.cast(mask, tf.int8)
        if self.sample:
            out.update(self._draw(prefix, tensors, start, end, seed))
        return out

    def _draw(self, prefix, tensors, start, end, seed):
        """One event of each row's slice [start, end), uniformly: [batch, 1]."""
        seed = tf.zeros([2], tf.int64) if seed is None else seed
        uniform = tf.random.stateless_uniform(tf.shape(start), seed, dtype=tf.float64)
        size = tf.cast(end - start, tf.float64)
        pick = start + tf.cast(tf.floor(uniform * size), start.dtype)
        has = end > start
        pick = tf.minimum(pick, tf.maximum(end - 1, start))  # uniform < 1 anyway
        position = tf.where(has, pick + 1, tf.zeros_like(pick))[:, None]
        out = {
            f"{prefix}_sample_{name}": tf.gather(tensors[name], position)
            for name in self.lookups
        }
        out[f"{prefix}_sample_mask"] = tf.cast(has, tf.int8)[:, None]
        return out


def trim_left_padding(x: dict, y=None, mask: str = "history_mask", keys=("history",)):
    """A batch without its leading columns that no row uses.

    `x[mask]` `[batch, T]` marks the real positions of left-padded sequences
    `x[k]` (`k` in `keys`); the columns before the first one that some row uses
    are cut from them, from the mask and from `y` when it is `[batch, T]` (the
    per-position targets); a batch that uses no column keeps the last one. A model whose outputs do not depend on the padding's
    width (`SequentialRetrievalModel.padding_invariant`) then gives the same
    outputs for less work. Returns `x` (and `y` when given).
    """
    used = tf.reduce_any(tf.not_equal(x[mask], 0), axis=0)
    first = tf.cast(tf.argmax(tf.cast(used, tf.int32)), tf.int32)
    # A batch with no event keeps its last column (padding only), not zero.
    first = tf.where(tf.reduce_any(used), first, tf.shape(used)[0] - 1)
    x = dict(x)
    for key in (mask, *keys):
        x[key] = x[key][:, first:]
    if y is None:
        return x
    if y.shape.rank == 2:
        y = y[:, first:]
    return x, y


def window_trimmer(features: dict):
    """A `Dataset.map` function cutting each batch's `SequenceWindows` outputs
    (those without segments) to the columns its rows use, or None when
    `features` has none. Each window is cut on its own mask
    (`trim_left_padding`); the elements may be `x` or `(x, labels, ...)`."""
    groups = [
        (f"{prefix}_mask", [n for n in w.output_names(prefix) if n != f"{prefix}_mask"])
        for prefix, w in features.items()
        if isinstance(w, SequenceWindows) and w.segment_of is None
    ]
    if not groups:
        return None

    def trim(x, *rest):
        for mask, keys in groups:
            x = trim_left_padding(x, mask=mask, keys=keys)
        return (x, *rest) if rest else x

    return trim


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
    bucket_lengths: np.ndarray | None = None,
    bucket_batches: int = 0,
) -> tf.data.Dataset:
    """A batched `tf.data.Dataset` of `(features, labels)` (or `features`).

    Args:
        features: name -> array [n, ...] or `SequenceWindows` (cut per batch into
            `f"{name}_..."` outputs, see there); bool arrays arrive as int8 0/1.
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
        bucket_lengths: int [n] a length per row (e.g. its real history
            positions), used with `bucket_batches`.
        bucket_batches: 0 = batches are consecutive slices of the (shuffled)
            rows; k > 0 = each epoch's shuffled rows are cut into chunks of k
            batches, each chunk sorted by `bucket_lengths` (stably) and cut into
            batches, and the batches of the epoch are then shuffled (seeded by
            `(seed, epoch)` too): batches hold rows of similar lengths, so a
            model that skips padding does less work. Every row is still seen
            once per epoch, but the batches differ from the unbucketed ones.
    """
    if batch_size < 1:
        raise ValueError(
            f"`batch_size` must be >= 1. Received: batch_size={batch_size}"
        )
    n = _check_lengths(features, labels)
    windows = {k: v for k, v in features.items() if isinstance(v, SequenceWindows)}
    arrays = {k: _feedable(v) for k, v in features.items() if k not in windows}
    for name, spec in windows.items():  # their per-row offsets, gathered as columns
        arrays[f"{name}/start"] = spec.start
        arrays[f"{name}/end"] = spec.end
    window_tensors = {name: spec.tensors() for name, spec in windows.items()}
    # Same-dtype 1-D features are stored as the columns of one matrix, so a batch
    # costs one gather per dtype instead of one per feature.
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

    if bucket_batches < 0 or (bucket_batches and bucket_lengths is None):
        raise ValueError(
            "`bucket_batches` must be >= 0 and needs `bucket_lengths`. Received: "
            f"bucket_batches={bucket_batches}"
        )
    if bucket_batches and len(bucket_lengths) != n:
        raise ValueError(
            f"`bucket_lengths` has {len(bucket_lengths)} rows; the features have {n}"
        )
    if bucket_batches:
        length_tensor = tf.constant(np.asarray(bucket_lengths, np.int64))
        span = int(np.max(bucket_lengths)) + 1

    def epoch_batches(epoch):
        rows = tf.range(n, dtype=tf.int64)
        seeds = tf.stack([tf.cast(seed, tf.int64), epoch])
        if shuffle:
            rows = tf.random.experimental.stateless_shuffle(rows, seed=seeds)
        order = tf.range(num_batches, dtype=tf.int64)
        if bucket_batches:
            chunk = tf.range(n, dtype=tf.int64) // (bucket_batches * batch_size)
            key = chunk * span + tf.gather(length_tensor, rows)
            rows = tf.gather(rows, tf.argsort(key, stable=True))
            if shuffle:
                order = tf.random.experimental.stateless_shuffle(
                    order, seed=seeds + [0, 2**40]
                )
        # Slices of the permutation, one per batch (no per-example tf.data work).
        return tf.data.Dataset.from_tensor_slices(order).map(
            lambda b: (
                rows[b * batch_size : tf.minimum((b + 1) * batch_size, n)],
                tf.stack([epoch, b]),
            )
        )

    if epochs is None:
        # One pass with a known cardinality (Keras then sizes its progress bar).
        indices = epoch_batches(tf.constant(0, tf.int64))
    else:
        indices = tf.data.Dataset.range(first, end).flat_map(epoch_batches)

    def gather(index, batch_id):
        x = {}
        for names, tensor in tensors.values():
            block = tf.gather(tensor, index)
            if len(names) == 1:
                x[names[0]] = block
            else:
                x.update(zip(names, tf.unstack(block, axis=1)))
        # The draws of `SequenceWindows.sample`: seeded by (epoch, batch), the
        # dataset's seed and the window, so a resumed epoch draws the same.
        for k, (name, spec) in enumerate(windows.items()):
            draw_seed = tf.stack(
                [
                    tf.cast(seed, tf.int64) * 1_000_003 + k,
                    batch_id[0] * (num_batches + 1) + batch_id[1],
                ]
            )
            x.update(
                spec.cut(
                    name,
                    window_tensors[name],
                    x[f"{name}/start"],
                    x[f"{name}/end"],
                    seed=draw_seed,
                )
            )
        names = [k for k in features if k not in windows]
        names += [o for k, spec in windows.items() for o in spec.output_names(k)]
        names += [o for k, spec in windows.items() for o in spec.sample_names(k)]
        x = {k: x[k] for k in names}
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
