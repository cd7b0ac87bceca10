"""A stack of dense layers."""

import keras

from recsys_tf.layers.dice import Dice

ADAPTIVE_ACTIVATIONS = ("dice", "prelu")
"""Activations with weights of their own, applied as layers after each `Dense`."""


@keras.saving.register_keras_serializable(package="recsys_tf")
class MLP(keras.layers.Layer):
    """Multi-layer perceptron: `Dense(units[i]) -> activation -> dropout` per layer.

    `h_{l+1} = act(W_l h_l + b_l)`; the last layer gets `output_activation`
    (default: the same `activation`), so `MLP((256, 1), output_activation=None)`
    ends in a logit.

    `activation="prelu"` (PReLU, one slope per unit, shared over the other axes)
    and `"dice"` (`recsys_tf.layers.Dice`, DIN Eq. (9)) are layers after a linear
    `Dense`; Dice takes `training` and an optional `mask` (its batch statistics
    then skip the masked positions).

    Input shape `[batch, ..., in_dim]`, output `[batch, ..., units[-1]]`.

    Args:
        units: sizes of the layers, e.g. `(256, 128, 64)`.
        activation: activation of the hidden layers: a Keras activation name,
            "prelu" or "dice".
        output_activation: activation of the last layer; "same" = `activation`.
        dropout: dropout rate after every hidden activation (not after the last).
        kernel_regularizer: optional L2 factor on the kernels.

    Example:
        >>> mlp = MLP((8, 1), output_activation=None)
        >>> mlp(keras.ops.ones((2, 4))).shape
        (2, 1)
    """

    def __init__(
        self,
        units,
        activation="relu",
        output_activation="same",
        dropout=0.0,
        kernel_regularizer=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.supports_masking = True  # position-wise: a sequence's mask still holds
        units = tuple(int(u) for u in units)
        if not units or min(units) < 1:
            raise ValueError(
                f"`units` must be positive integers. Received: units={units}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout}"
            )
        if kernel_regularizer < 0:
            raise ValueError(
                f"`kernel_regularizer` must be >= 0. Received: {kernel_regularizer}"
            )
        self.units = units
        self.activation = activation
        self.output_activation = output_activation
        self.dropout = dropout
        self.kernel_regularizer = kernel_regularizer
        last = activation if output_activation == "same" else output_activation
        regularizer = (
            keras.regularizers.L2(kernel_regularizer) if kernel_regularizer else None
        )
        activations = [activation] * (len(units) - 1) + [last]
        self.dense_layers = [
            keras.layers.Dense(
                u,
                activation=None if act in ADAPTIVE_ACTIVATIONS else act,
                kernel_regularizer=regularizer,
                name=f"dense_{i}",
            )
            for i, (u, act) in enumerate(zip(units, activations))
        ]
        self.activation_layers = [
            Dice(name=f"dice_{i}")
            if act == "dice"
            else keras.layers.PReLU(name=f"prelu_{i}")
            if act == "prelu"
            else None
            for i, act in enumerate(activations)
        ]
        self.dropout_layers = [
            keras.layers.Dropout(dropout, name=f"dropout_{i}")
            for i in range(len(units) - 1)
        ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer, activation in zip(self.dense_layers, self.activation_layers):
            layer.build(shape)
            shape = shape[:-1] + (layer.units,)
            if isinstance(activation, keras.layers.PReLU):
                # One slope per unit, shared over every axis but the batch's.
                activation.shared_axes = list(range(1, len(shape) - 1)) or None
            if activation is not None:
                activation.build(shape)

    def call(self, inputs, training=False, mask=None):
        x = inputs
        for i, layer in enumerate(self.dense_layers):
            x = layer(x)
            activation = self.activation_layers[i]
            if isinstance(activation, Dice):
                x = activation(x, training=training, mask=mask)
            elif activation is not None:
                x = activation(x)
            if i < len(self.dropout_layers) and self.dropout:
                x = self.dropout_layers[i](x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.units[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            output_activation=self.output_activation,
            dropout=self.dropout,
            kernel_regularizer=self.kernel_regularizer,
        )
        return config
