"""Sampled softmax with log-Q correction, the training loss of the retrieval models."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

SAMPLERS = ("log_uniform", "uniform", "unigram")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class SampledSoftmax:
    """Sampled softmax cross entropy over an item table, with log-Q correction.

    For a query embedding `q` (`queries[i]`) and its positive item `y`
    (`labels[i]`), every item `j` has the logit `s_j = q . e_j + b_j`, where
    `e_j = item_embeddings[j]` and `b_j = item_biases[j]`. The full softmax loss
    `-s_y + log sum_{j=1..num_items} exp(s_j)` costs one dot product per item.
    Sampled softmax instead draws one set `S` of `num_sampled` candidate items
    per call (shared by the whole batch) from a proposal distribution `P` and
    takes the softmax over `{y} + S` only, with every logit corrected by the
    log of its expected count in `S`:

        s'_j = s_j - log Q(j)
        loss(q, y) = -s'_y + log( exp(s'_y) + sum_{j in S, j != y} exp(s'_j) )

    `Q(j)` is the expected count reported by the TensorFlow candidate sampler:
    `num_sampled * P(j)` when `unique=False`, and `1 - (1 - P(j))^T` when
    `unique=True`, where `T >= num_sampled` is the number of draws the sampler
    needed to find `num_sampled` distinct items. Subtracting `log Q` makes the
    sampled partition function an importance-sampling estimate of the full one
    (Bengio & Senecal, 2008; Jean et al., 2015); in retrieval it removes the
    popularity bias that the sampler would otherwise bake into the scores
    (the "log-Q correction" of Yi et al., 2019). A constant factor in `Q` (such
    as `num_sampled`) shifts every logit equally and does not change the loss.

    With `num_true > 1` positives per example, each positive gets the target
    weight `1 / num_true`: the loss is
    `-(1 / num_true) sum_t s'_{y_t} + log(sum over positives and S of exp(s'))`.

    `remove_accidental_hits=True` drops, row by row, the sampled candidates
    that equal one of that row's positives (their logits get `-FLOAT_MAX`, as
    in `tf.nn.sampled_softmax_loss`), so a positive is never also counted as a
    negative.

    Samplers (`P(k)` for item id `k` in `[0, num_items)`):

    - `"log_uniform"`: `P(k) = (log(k + 2) - log(k + 1)) / log(num_items + 1)`,
      a Zipf-like prior. The item ids must be sorted by decreasing frequency
      (id 0 the most popular item); with arbitrary ids this is a poor proposal.
    - `"uniform"`: `P(k) = 1 / num_items`.
    - `"unigram"`: `P(k) = unigram_counts[k] / sum(unigram_counts)`. Items with
      a zero count are never sampled; with `logq_correction=True` they must not
      appear as labels either (their `Q` is 0, so their corrected logit is
      infinite and the loss is NaN).

    The class owns no weights: the model passes its item embedding table (and
    optional biases) at every call. Call it inside the model's `compute_loss`
    or `train_step`; it returns per-example losses, and the caller reduces them
    (e.g. `tf.nn.compute_average_loss` under a `tf.distribute` strategy). The
    sampler is a stateful op: successive calls draw new candidates, and `seed`
    only makes the sequence reproducible. With a fixed `seed`, all replicas of
    a `MirroredStrategy` draw the same candidates at each step; with
    `seed=None` they draw independent ones. TensorFlow's samplers have no XLA
    kernel: under `jit_compile=True`, draw the candidates outside the compiled
    function (`sample_candidates`) and pass them as `sampled_values` with
    `xla=True`; the loss then compiles (`RetrievalModel` does this). The logits are computed in
    float32 (in float64 if `queries` are float64), also under a mixed-precision
    policy.

    Args:
        num_items: int. Number of rows of the item table (the label space).
        num_sampled: int in `[1, num_items]`. Candidates drawn per call.
        sampler: one of `"log_uniform"`, `"uniform"`, `"unigram"`.
        unigram_counts: sequence of `num_items` non-negative numbers (item
            frequencies), required by and only allowed with `"unigram"`.
        logq_correction: bool. Subtract `log Q(j)` from every logit. When
            `False`, the expected counts are replaced by ones, so no
            correction is applied.
        remove_accidental_hits: bool. Drop sampled candidates that equal a
            positive of the row.
        unique: bool. Sample without replacement within one call.
        seed: int or None. Op-level seed of the candidate sampler.

    Example:

    ```python
    loss_fn = SampledSoftmax(num_items=50_000, num_sampled=1_000)
    per_example = loss_fn(item_table, None, user_vectors, next_item_ids)
    loss = tf.reduce_mean(per_example)
    ```

    References:
        - Bengio & Senecal, "Adaptive Importance Sampling to Accelerate
          Training of a Neural Probabilistic Language Model", IEEE TNN 2008.
        - Jean et al., "On Using Very Large Target Vocabulary for Neural
          Machine Translation", ACL 2015.
        - Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large Corpus
          Item Recommendations", RecSys 2019.
    """

    def __init__(
        self,
        num_items: int,
        num_sampled: int,
        sampler: str = "log_uniform",
        unigram_counts: Any = None,
        logq_correction: bool = True,
        remove_accidental_hits: bool = True,
        unique: bool = True,
        seed: int | None = None,
    ) -> None:
        errors = []
        items_ok = _is_int(num_items) and num_items >= 1
        if not items_ok:
            errors.append(
                f"`num_items` must be an int >= 1. Received: num_items={num_items!r}"
            )
        if (
            not _is_int(num_sampled)
            or num_sampled < 1
            or (items_ok and num_sampled > num_items)
        ):
            errors.append(
                "`num_sampled` must be an int in [1, num_items]. "
                f"Received: num_sampled={num_sampled!r}, num_items={num_items!r}"
            )
        if sampler not in SAMPLERS:
            errors.append(
                f"`sampler` must be one of {SAMPLERS}. Received: sampler={sampler!r}"
            )
        for name, value in (
            ("logq_correction", logq_correction),
            ("remove_accidental_hits", remove_accidental_hits),
            ("unique", unique),
        ):
            if not isinstance(value, (bool, np.bool_)):
                errors.append(f"`{name}` must be a bool. Received: {name}={value!r}")
        if seed is not None and not _is_int(seed):
            errors.append(f"`seed` must be an int or None. Received: seed={seed!r}")

        counts = None
        if sampler == "unigram" and unigram_counts is None:
            errors.append(
                "`unigram_counts` is required when sampler='unigram'. "
                "Received: unigram_counts=None"
            )
        elif sampler != "unigram" and unigram_counts is not None:
            errors.append(
                "`unigram_counts` is only used with sampler='unigram'. "
                f"Received: sampler={sampler!r} and unigram_counts of type "
                f"{type(unigram_counts).__name__}"
            )
        elif unigram_counts is not None:
            counts, error = self._check_counts(
                unigram_counts, num_items if items_ok else None
            )
            if error:
                errors.append(error)
            elif (
                unique
                and _is_int(num_sampled)
                and num_sampled > np.count_nonzero(counts)
            ):
                errors.append(
                    "With unique=True, `num_sampled` must not exceed the number "
                    "of items with a non-zero count (the sampler would never "
                    f"finish). Received: num_sampled={num_sampled}, "
                    f"non-zero counts={np.count_nonzero(counts)}"
                )
        if errors:
            if len(errors) == 1:
                raise ValueError(errors[0])
            raise ValueError(
                f"Invalid arguments for SampledSoftmax ({len(errors)} problems):\n- "
                + "\n- ".join(errors)
            )

        self.num_items = int(num_items)
        self.num_sampled = int(num_sampled)
        self.sampler = sampler
        self.unigram_counts = None if counts is None else tuple(counts.tolist())
        self.logq_correction = bool(logq_correction)
        self.remove_accidental_hits = bool(remove_accidental_hits)
        self.unique = bool(unique)
        self.seed = None if seed is None else int(seed)

    @staticmethod
    def _check_counts(
        unigram_counts: Any, num_items: int | None
    ) -> tuple[np.ndarray | None, str | None]:
        try:
            counts = np.asarray(unigram_counts, dtype=np.float64)
        except (TypeError, ValueError):
            return None, (
                "`unigram_counts` must be a sequence of numbers. Received type "
                f"{type(unigram_counts).__name__}"
            )
        if counts.ndim != 1 or (num_items is not None and len(counts) != num_items):
            return None, (
                "`unigram_counts` must be 1-D with num_items entries. Received: "
                f"shape={counts.shape}, num_items={num_items}"
            )
        if not np.all(np.isfinite(counts)) or np.any(counts < 0):
            return None, "`unigram_counts` must be finite and >= 0."
        if counts.sum() <= 0:
            return None, "`unigram_counts` must have a positive sum."
        return counts, None

    def get_config(self) -> dict[str, Any]:
        """Returns every constructor argument (JSON-serializable)."""
        return {
            "num_items": self.num_items,
            "num_sampled": self.num_sampled,
            "sampler": self.sampler,
            "unigram_counts": (
                None if self.unigram_counts is None else list(self.unigram_counts)
            ),
            "logq_correction": self.logq_correction,
            "remove_accidental_hits": self.remove_accidental_hits,
            "unique": self.unique,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SampledSoftmax:
        """Creates an instance from the output of `get_config`."""
        return cls(**config)

    def _label_matrix(self, labels: Any) -> tf.Tensor:
        """Returns `labels` as int64 `[batch, num_true]` with a static num_true."""
        labels = tf.convert_to_tensor(labels)
        if not labels.dtype.is_integer:
            raise ValueError(
                f"`labels` must be integer item ids. Received dtype={labels.dtype}"
            )
        if labels.shape.rank == 1:
            labels = labels[:, None]
        if labels.shape.rank != 2 or labels.shape[1] is None:
            raise ValueError(
                "`labels` must have shape [batch] or [batch, num_true] with a "
                f"static num_true. Received: labels.shape={labels.shape}"
            )
        return tf.cast(labels, tf.int64)

    def sample_candidates(self, labels: Any) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Draws the shared negatives with the configured TensorFlow sampler.

        Args:
            labels: int tensor `[batch]` or `[batch, num_true]` of positive ids.

        Returns:
            `(sampled_ids [num_sampled] int64, true_expected_count
            [batch, num_true] float32, sampled_expected_count [num_sampled]
            float32)`, the raw sampler output (no correction switch applied),
            which `__call__` accepts as `sampled_values`.
        """
        labels = self._label_matrix(labels)
        kwargs = {
            "true_classes": labels,
            "num_true": labels.shape[1],
            "num_sampled": self.num_sampled,
            "unique": self.unique,
            "range_max": self.num_items,
            "seed": self.seed,
        }
        if self.sampler == "uniform":
            return tf.random.uniform_candidate_sampler(**kwargs)
        if self.sampler == "log_uniform":
            return tf.random.log_uniform_candidate_sampler(**kwargs)
        return tf.random.fixed_unigram_candidate_sampler(
            unigrams=list(self.unigram_counts), **kwargs
        )

    def _check_table(self, item_embeddings: Any, item_biases: Any) -> None:
        shape = tf.TensorShape(getattr(item_embeddings, "shape", None))
        if shape.rank is not None and (
            shape.rank != 2 or shape[0] not in (None, self.num_items)
        ):
            raise ValueError(
                "`item_embeddings` must have shape [num_items, dim] with "
                f"num_items={self.num_items}. Received: shape={shape}"
            )
        if item_biases is not None:
            bias_shape = tf.TensorShape(getattr(item_biases, "shape", None))
            if bias_shape.rank is not None and (
                bias_shape.rank != 1 or bias_shape[0] not in (None, self.num_items)
            ):
                raise ValueError(
                    "`item_biases` must be None or have shape [num_items] with "
                    f"num_items={self.num_items}. Received: shape={bias_shape}"
                )

    def __call__(
        self,
        item_embeddings: Any,
        item_biases: Any,
        queries: Any,
        labels: Any,
        sampled_values: tuple[Any, Any, Any] | None = None,
        xla: bool = False,
    ) -> tf.Tensor:
        """Computes the per-example sampled softmax loss.

        Args:
            item_embeddings: `[num_items, dim]` item table (tensor or variable;
                its gradient is `tf.IndexedSlices` over the gathered rows).
            item_biases: `[num_items]` item biases, or None for zeros.
            queries: `[batch, dim]` query (user) embeddings.
            labels: int `[batch]` or `[batch, num_true]` positive item ids.
            sampled_values: optional output of `sample_candidates` (or of a TF
                candidate sampler) to use instead of drawing new candidates.
                `logq_correction=False` still replaces its expected counts by
                ones.
            xla: compute the loss with ops that XLA compiles (`_xla_loss`)
                instead of `tf.nn.sampled_softmax_loss`, whose accidental-hit
                op has no XLA kernel; the two give the same loss and gradients.

        Returns:
            Float tensor `[batch]` of per-example losses.
        """
        self._check_table(item_embeddings, item_biases)
        queries = tf.convert_to_tensor(queries)
        dtype = tf.float64 if queries.dtype == tf.float64 else tf.float32
        queries = tf.cast(queries, dtype)
        if queries.shape.rank != 2:
            raise ValueError(
                f"`queries` must have shape [batch, dim]. Received: {queries.shape}"
            )
        labels = self._label_matrix(labels)
        if item_biases is None:
            item_biases = tf.zeros([self.num_items], dtype)
        if sampled_values is None:
            sampled_values = self.sample_candidates(labels)
        if len(sampled_values) != 3:
            raise ValueError(
                "`sampled_values` must be (sampled_ids, true_expected_count, "
                f"sampled_expected_count). Received {len(sampled_values)} items"
            )
        sampled_ids, true_count, sampled_count = (
            tf.convert_to_tensor(v) for v in sampled_values
        )
        if sampled_ids.shape.rank != 1 or sampled_ids.shape[0] not in (
            None,
            self.num_sampled,
        ):
            raise ValueError(
                f"`sampled_values[0]` must have shape [{self.num_sampled}]. "
                f"Received: {sampled_ids.shape}"
            )
        true_count = tf.cast(true_count, dtype)
        sampled_count = tf.cast(sampled_count, dtype)
        if not self.logq_correction:
            true_count = tf.ones_like(true_count)
            sampled_count = tf.ones_like(sampled_count)
        if not xla:
            return tf.nn.sampled_softmax_loss(
                weights=item_embeddings,
                biases=item_biases,
                labels=labels,
                inputs=queries,
                num_sampled=self.num_sampled,
                num_classes=self.num_items,
                num_true=labels.shape[1],
                sampled_values=(sampled_ids, true_count, sampled_count),
                remove_accidental_hits=self.remove_accidental_hits,
            )
        return self._xla_loss(
            item_embeddings,
            item_biases,
            queries,
            labels,
            sampled_ids,
            true_count,
            sampled_count,
        )

    def _xla_loss(
        self, table, biases, queries, labels, sampled_ids, true_count, counts
    ):
        """The loss of `tf.nn.sampled_softmax_loss`, written with ops XLA compiles.

        TensorFlow's version finds the accidental hits with `ComputeAccidentalHits`,
        which has no XLA kernel (its output length varies); here they are a dense
        `[batch, num_sampled]` mask, whose entries get the same `-FLOAT_MAX` logit.
        The rows of the table are gathered, so its gradient stays `IndexedSlices`.
        """
        dtype = queries.dtype
        num_true = labels.shape[1]
        true_logits = tf.einsum(
            "bd,btd->bt", queries, tf.cast(tf.gather(table, labels), dtype)
        )
        true_logits += tf.cast(tf.gather(biases, labels), dtype)
        true_logits -= tf.math.log(true_count)
        sampled_logits = tf.matmul(
            queries, tf.cast(tf.gather(table, sampled_ids), dtype), transpose_b=True
        )
        sampled_logits += tf.cast(tf.gather(biases, sampled_ids), dtype)[None, :]
        sampled_logits -= tf.math.log(counts)[None, :]
        if self.remove_accidental_hits:
            hits = tf.reduce_any(
                labels[:, :, None] == tf.cast(sampled_ids, tf.int64)[None, None, :],
                axis=1,
            )
            sampled_logits += tf.where(
                hits, tf.cast(np.finfo(np.float32).min, dtype), tf.zeros([], dtype)
            )
        logits = tf.concat([true_logits, sampled_logits], axis=1)
        targets = tf.concat(
            [tf.ones_like(true_logits) / num_true, tf.zeros_like(sampled_logits)],
            axis=1,
        )
        return tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=logits)

    def full_softmax(
        self,
        item_embeddings: Any,
        item_biases: Any,
        queries: Any,
        labels: Any,
    ) -> tf.Tensor:
        """Computes the exact softmax cross entropy over all items.

        `loss_i = logsumexp_j(s_ij) - mean_t(s_{i, y_it})`, with
        `s_ij = queries[i] . item_embeddings[j] + item_biases[j]` (the target
        puts weight `1 / num_true` on each listed positive). Used for the
        validation loss and as the reference of the sampled estimate.

        Args:
            item_embeddings: `[num_items, dim]` item table.
            item_biases: `[num_items]` item biases, or None for zeros.
            queries: `[batch, dim]` query embeddings.
            labels: int `[batch]` or `[batch, num_true]` positive item ids.

        Returns:
            Float tensor `[batch]` of per-example losses.
        """
        self._check_table(item_embeddings, item_biases)
        queries = ops.convert_to_tensor(queries)
        dtype = (
            "float64"
            if keras.backend.standardize_dtype(queries.dtype) == ("float64")
            else "float32"
        )
        queries = ops.cast(queries, dtype)
        table = ops.cast(item_embeddings, dtype)
        logits = ops.matmul(queries, ops.transpose(table))
        if item_biases is not None:
            logits = logits + ops.cast(item_biases, dtype)[None, :]
        labels = self._label_matrix(labels)
        true_logits = ops.take_along_axis(logits, labels, axis=1)
        return ops.logsumexp(logits, axis=1) - ops.mean(true_logits, axis=1)
