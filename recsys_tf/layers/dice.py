"""Dice, the data-adaptive activation of DIN (Zhou et al., 2018)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class Dice(keras.layers.Layer):
    """PReLU whose rectification point follows the data: DIN Eq. (9).

    `f(s) = p(s) s + (1 - p(s)) alpha s`, `p(s) = sigmoid((s - E[s]) /
    sqrt(Var[s] + epsilon))`, per unit (the last axis). In training `E[s]` and
    `Var[s]` are the mean and (biased) variance of the mini-batch over every axis
    but the last; in inference, their moving averages (`moving_mean`,
    `moving_variance`, updated in training as `m <- momentum m + (1 - momentum)
    batch`), as the paper says. With `E[s] = 0` and `Var[s] = 0` Dice is PReLU
    (Eq. (8)). `alpha` starts at 0, as in the official code.

    With a `mask` (bool, the input's shape without the last axis), the batch
    statistics are taken over the unmasked positions only, so padding never moves
    them (the paper has no padding; this is our choice). The gradient flows
    through the batch statistics, as through batch normalisation (the official
    code normalises with `tf.layers.batch_normalization`).

    Input: `[batch, ..., units]`; output: the same shape.

    Args:
        epsilon: the paper's epsilon, 1e-8.
        momentum: of the moving averages (the paper does not give it; 0.99, the
            Keras batch-normalisation default).

    Example:
        >>> Dice()(keras.ops.ones((2, 3))).shape
        (2, 3)

    Reference: G. Zhou et al., "Deep Interest Network for Click-Through Rate
    Prediction", KDD 2018.
    """

    def __init__(self, epsilon=1e-8, momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be > 0. Received: epsilon={epsilon}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(
                f"`momentum` must be in [0, 1). Received: momentum={momentum}"
            )
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)

    def build(self, input_shape):
        units = input_shape[-1]
        if units is None:
            raise ValueError(
                f"Dice needs a known last axis. Received: input_shape={input_shape}"
            )
        self.alpha = self.add_weight(name="alpha", shape=(units,), initializer="zeros")
        self.moving_mean = self.add_weight(
            name="moving_mean", shape=(units,), initializer="zeros", trainable=False
        )
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=(units,), initializer="ones", trainable=False
        )

    def call(self, inputs, training=False, mask=None):
        if training:
            axes = tuple(range(len(inputs.shape) - 1))
            if mask is None:
                mean = ops.mean(inputs, axis=axes)
                variance = ops.mean(ops.square(inputs - mean), axis=axes)
            else:
                weights = ops.cast(mask, inputs.dtype)[..., None]
                count = ops.maximum(ops.sum(weights), 1.0)
                mean = ops.sum(inputs * weights, axis=axes) / count
                variance = (
                    ops.sum(ops.square(inputs - mean) * weights, axis=axes) / count
                )
            self.moving_mean.assign(
                self.momentum * self.moving_mean + (1.0 - self.momentum) * mean
            )
            self.moving_variance.assign(
                self.momentum * self.moving_variance + (1.0 - self.momentum) * variance
            )
        else:
            mean, variance = self.moving_mean, self.moving_variance
        p = ops.sigmoid((inputs - mean) / ops.sqrt(variance + self.epsilon))
        return p * inputs + (1.0 - p) * self.alpha * inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon, momentum=self.momentum)
        return config
