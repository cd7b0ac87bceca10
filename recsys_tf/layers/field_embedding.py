"""Embeddings of several categorical fields held in one table."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class FieldEmbedding(keras.layers.Layer):
    """Looks up one `output_dim` vector per categorical field.

    All fields share one table of `sum(vocabulary_sizes)` rows; field `f` owns the
    rows `[offset_f, offset_f + vocabulary_sizes[f])`, so a lookup of F fields is a
    single gather `E[x_f + offset_f]` (faster than F separate tables on CPU).
    With `output_dim=1` this is the linear ("wide") part of a factorisation or
    Wide&Deep model.

    Input: int `[batch, num_fields]` codes, field f in `[0, vocabulary_sizes[f])`.
    Output: `[batch, num_fields, output_dim]`.

    Args:
        vocabulary_sizes: number of codes of each field, in input column order.
        output_dim: embedding size (the papers' E or d).
        embeddings_initializer: initializer of the table.
        embeddings_regularizer: optional L2 factor on the looked-up rows: adds
            `factor * sum(rows**2) / batch`, a per-example mean, so the penalty
            does not depend on the batch size or on its split across replicas.

    Example:
        >>> layer = FieldEmbedding((10, 3), output_dim=4)
        >>> layer(keras.ops.convert_to_tensor([[1, 2]])).shape
        (1, 2, 4)
    """

    def __init__(
        self,
        vocabulary_sizes,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        vocabulary_sizes = tuple(int(v) for v in vocabulary_sizes)
        if not vocabulary_sizes or min(vocabulary_sizes) < 1:
            raise ValueError(
                "`vocabulary_sizes` must be positive integers. Received: "
                f"vocabulary_sizes={vocabulary_sizes}"
            )
        if int(output_dim) < 1:
            raise ValueError(
                f"`output_dim` must be > 0. Received: output_dim={output_dim}"
            )
        if embeddings_regularizer < 0:
            raise ValueError(
                "`embeddings_regularizer` must be >= 0. Received: "
                f"{embeddings_regularizer}"
            )
        self.vocabulary_sizes = vocabulary_sizes
        self.output_dim = int(output_dim)
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = embeddings_regularizer
        offsets, total = [], 0
        for size in vocabulary_sizes:
            offsets.append(total)
            total += size
        self._offsets = tuple(offsets)
        self._total = total

    def build(self, input_shape):
        if input_shape[-1] not in (None, len(self.vocabulary_sizes)):
            raise ValueError(
                f"The last input axis must hold the {len(self.vocabulary_sizes)} "
                f"fields. Received: input_shape={input_shape}"
            )
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self._total, self.output_dim),
            initializer=keras.initializers.get(self.embeddings_initializer),
        )

    def call(self, inputs):
        codes = ops.cast(inputs, "int32") + ops.convert_to_tensor(
            self._offsets, dtype="int32"
        )
        rows = ops.take(self.embeddings, codes, axis=0)
        if self.embeddings_regularizer:
            batch = ops.cast(ops.shape(rows)[0], rows.dtype)
            self.add_loss(
                self.embeddings_regularizer * ops.sum(ops.square(rows)) / batch
            )
        return rows

    def embed_field(self, codes, field: int):
        """The rows of field index `field` for `codes` of any shape `[...]`:
        `[..., output_dim]` (behaviour sequences of a field share its rows). Adds
        no regularisation loss.
        """
        if not 0 <= field < len(self.vocabulary_sizes):
            raise ValueError(
                f"`field` must be in [0, {len(self.vocabulary_sizes)}). "
                f"Received: field={field}"
            )
        if not self.built:
            self.build((None, len(self.vocabulary_sizes)))
        codes = ops.cast(codes, "int32") + self._offsets[field]
        return ops.take(self.embeddings, codes, axis=0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_sizes=self.vocabulary_sizes,
            output_dim=self.output_dim,
            embeddings_initializer=self.embeddings_initializer,
            embeddings_regularizer=self.embeddings_regularizer,
        )
        return config
