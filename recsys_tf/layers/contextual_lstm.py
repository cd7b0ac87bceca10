"""The contextual LSTM (CLSTM) of BINN (Li et al., 2018)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class ContextualLSTM(keras.layers.Layer):
    """An LSTM whose gates also read a context vector of every step.

    BINN's CLSTM ("Discriminative Behaviors Learning"; equation numbers not
    cited: the paper's text was not at hand, so these gates, the behaviour
    vector entering all four, are this implementation's reading): at step t,
    with the
    item embedding `x_t`, the behaviour (context) vector `b_t` and the previous
    state `(h_{t-1}, c_{t-1})`,

        i_t = sigmoid(W_i x_t + U_i h_{t-1} + V_i b_t + b_i)
        f_t = sigmoid(W_f x_t + U_f h_{t-1} + V_f b_t + b_f)
        o_t = sigmoid(W_o x_t + U_o h_{t-1} + V_o b_t + b_o)
        g_t = tanh(W_g x_t + U_g h_{t-1} + V_g b_t + b_g)
        c_t = f_t * c_{t-1} + i_t * g_t,   h_t = o_t * tanh(c_t),

    i.e. a plain LSTM whose input is `[x_t; b_t]`: `kernel` `[in_dim, 4 units]`
    (W), `recurrent_kernel` `[units, 4 units]` (U), `context_kernel`
    `[context_dim, 4 units]` (V, only when a context is given at build), `bias`
    (gates in the order i, f, g, o; the forget gate's bias starts at 1). Without a
    context the layer is the plain LSTM. The states start at zero; a padded step
    (`mask` False) keeps them. `go_backwards=True` reads the real steps from the
    last to the first (the backward half of BINN's Bi-CLSTM); its per-step output
    is then the state after reading the sequence back to that step. The steps
    are unrolled (seq_len must be known when traced), as in `AUGRU`.

    Inputs: `inputs` `[batch, seq_len, in_dim]`, `context` `[batch, seq_len,
    context_dim]` or None, `mask` bool `[batch, seq_len]` or None.
    Output: the final `h` `[batch, units]`, or every step's `h` `[batch,
    seq_len, units]` with `return_sequences=True`.

    Args:
        units: the state size.
        return_sequences: return every step's `h`, not only the final one.
        go_backwards: read the sequence from its end.
        kernel_initializer: initializer of W and V.
        recurrent_initializer: initializer of U.

    Example:
        >>> layer = ContextualLSTM(4)
        >>> layer(keras.ops.ones((2, 5, 3)), keras.ops.ones((2, 5, 2))).shape
        (2, 4)

    Reference: Z. Li, H. Zhao, Q. Liu, Z. Huang, T. Mei and E. Chen, "Learning
    from History and Present: Next-item Recommendation via Discriminatively
    Exploiting User Behaviors", KDD 2018.
    """

    def __init__(
        self,
        units,
        return_sequences=False,
        go_backwards=False,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"`units` must be > 0. Received: units={units}")
        self.units = int(units)
        self.return_sequences = bool(return_sequences)
        self.go_backwards = bool(go_backwards)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer

    def build(self, inputs_shape, context_shape=None):
        if len(inputs_shape) != 3 or None in tuple(inputs_shape)[1:]:
            raise ValueError(
                "`inputs` must be [batch, seq_len, in_dim] with a known seq_len (the "
                f"steps are unrolled) and in_dim. Received: {inputs_shape}"
            )
        if context_shape is not None and (
            len(context_shape) != 3 or context_shape[-1] is None
        ):
            raise ValueError(
                "`context` must be [batch, seq_len, context_dim] with a known "
                f"context_dim. Received: {context_shape}"
            )
        kernel_initializer = keras.initializers.get(self.kernel_initializer)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(int(inputs_shape[-1]), 4 * self.units),
            initializer=kernel_initializer,
        )
        self.context_kernel = None
        if context_shape is not None:
            self.context_kernel = self.add_weight(
                name="context_kernel",
                shape=(int(context_shape[-1]), 4 * self.units),
                initializer=kernel_initializer,
            )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel",
            shape=(self.units, 4 * self.units),
            initializer=keras.initializers.get(self.recurrent_initializer),
        )
        units = self.units
        self.bias = self.add_weight(
            name="bias",
            shape=(4 * units,),
            initializer=lambda shape, dtype=None: ops.concatenate(
                [ops.zeros((units,)), ops.ones((units,)), ops.zeros((2 * units,))]
            ),
        )

    def call(self, inputs, context=None, mask=None):
        built_with = self.context_kernel is not None
        if (context is not None) != built_with:
            raise ValueError(
                f"{self.name} was built {'with' if built_with else 'without'} a "
                "`context`; call it the same way."
            )
        batch, steps = ops.shape(inputs)[0], inputs.shape[1]
        projected = ops.matmul(inputs, self.kernel) + self.bias
        if context is not None:
            projected = projected + ops.matmul(context, self.context_kernel)
        valid = (
            ops.ones((batch, steps, 1), inputs.dtype)
            if mask is None
            else ops.cast(ops.cast(mask, "bool"), inputs.dtype)[..., None]
        )
        units = self.units
        h = ops.zeros((batch, units), inputs.dtype)
        c = ops.zeros((batch, units), inputs.dtype)
        outputs = [None] * steps
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        for t in order:
            z = projected[:, t] + ops.matmul(h, self.recurrent_kernel)
            i = ops.sigmoid(z[:, :units])
            f = ops.sigmoid(z[:, units : 2 * units])
            g = ops.tanh(z[:, 2 * units : 3 * units])
            o = ops.sigmoid(z[:, 3 * units :])
            new_c = f * c + i * g
            new_h = o * ops.tanh(new_c)
            m = valid[:, t]
            c = m * new_c + (1.0 - m) * c
            h = m * new_h + (1.0 - m) * h
            outputs[t] = h
        if self.return_sequences:
            return ops.stack(outputs, axis=1)
        return h

    def compute_output_shape(self, inputs_shape, context_shape=None):
        if self.return_sequences:
            return (inputs_shape[0], inputs_shape[1], self.units)
        return (inputs_shape[0], self.units)

    def compute_mask(self, inputs, context=None, mask=None):
        return mask if self.return_sequences else None

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards,
            kernel_initializer=self.kernel_initializer,
            recurrent_initializer=self.recurrent_initializer,
        )
        return config
