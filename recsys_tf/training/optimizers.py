"""Optimizers: Adam with lazy (row-sparse) updates of embedding tables."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="recsys_tf")
class LazyAdam(keras.optimizers.Adam):
    """Adam that updates only the rows of an embedding table seen in the batch.

    For a dense gradient it is exactly `keras.optimizers.Adam`. For a row-sparse
    gradient (`tf.IndexedSlices`, what an embedding lookup produces) it applies the
    Adam step (Kingma & Ba 2015, Algorithm 1) to the looked-up rows only:

        m_r <- b1 m_r + (1 - b1) g_r,    v_r <- b2 v_r + (1 - b2) g_r^2,
        w_r <- w_r - lr sqrt(1 - b2^t) / (1 - b1^t) * m_r / (sqrt(v_r) + eps)

    for every row `r` in the batch (duplicate rows summed first); other rows and
    their moments are left untouched, whereas dense Adam would decay their moments
    and keep moving them. This is the "lazy Adam" of TF-Addons and of most large
    embedding systems: on a catalogue-sized table the step costs O(rows in batch)
    instead of O(table). `amsgrad` and weight decay are not supported.
    """

    def __init__(self, *args, amsgrad=False, **kwargs):
        if amsgrad:
            raise ValueError("LazyAdam does not support `amsgrad=True`.")
        super().__init__(*args, amsgrad=False, **kwargs)
        if self.weight_decay:
            raise ValueError("LazyAdam does not support `weight_decay`.")

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        alpha = lr * tf.sqrt(1 - tf.pow(beta_2, step)) / (1 - tf.pow(beta_1, step))
        rows, position = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(
            tf.cast(gradient.values, dtype), position, tf.shape(rows)[0]
        )
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        m_rows = beta_1 * tf.gather(m.value, rows) + (1 - beta_1) * values
        v_rows = beta_2 * tf.gather(v.value, rows) + (1 - beta_2) * tf.square(values)
        m.value.scatter_update(tf.IndexedSlices(m_rows, rows))
        v.value.scatter_update(tf.IndexedSlices(v_rows, rows))
        target = variable.value if isinstance(variable, keras.Variable) else variable
        target.scatter_sub(
            tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon), rows)
        )


OPTIMIZERS = {"adam": keras.optimizers.Adam, "lazy_adam": LazyAdam}


def get_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """`adam`, `lazy_adam`, or any Keras optimizer name (`sgd`, `adagrad`, ...)."""
    if name in OPTIMIZERS:
        return OPTIMIZERS[name](learning_rate=learning_rate)
    try:
        return keras.optimizers.get(
            {"class_name": name, "config": {"learning_rate": learning_rate}}
        )
    except ValueError as error:
        raise ValueError(
            f"Unknown optimizer {name!r}: use one of {sorted(OPTIMIZERS)} or a Keras "
            f"optimizer name. ({error})"
        ) from error
