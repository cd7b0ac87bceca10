"""An LSTM over behaviour sequences that restarts at every session start (SDM)."""

import keras
from keras import ops


class _RestartingCell(keras.layers.Layer):
    """An `LSTMCell` whose state is zeroed before a step flagged as a restart; its
    input is the step's features with the flag as the last channel."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.cell = keras.layers.LSTMCell(units, name="lstm_cell")
        self.state_size = self.cell.state_size
        self.output_size = units

    def build(self, input_shape):
        self.cell.build((input_shape[0], input_shape[-1] - 1))

    def call(self, inputs, states, training=False):
        keep = 1.0 - inputs[:, -1:]
        states = [state * keep for state in states]
        return self.cell(inputs[:, :-1], states, training=training)


@keras.saving.register_keras_serializable(package="recsys_tf")
class SessionLSTM(keras.layers.Layer):
    """An LSTM that encodes each session of a sequence from a zero state.

    SDM (Lv et al., CIKM 2019) Eq. (6), the recurrent layer of the short-term
    session encoder: `in_t = sigma(W_in^1 e_t + W_in^2 h_{t-1} + b_in)`, `f_t`,
    `o_t` alike, `c_t = f_t c_{t-1} + in_t tanh(W_c^1 e_t + W_c^2 h_{t-1} + b_c)`,
    `h_t = o_t tanh(c_t)`, over the items `e_t` of the latest session. Over a
    sequence holding several sessions (one row per user trained at every position)
    `resets` marks each session's first item: the state `(h, c)` is zeroed before
    it, so every position sees its own session only, as if each session were a
    sequence of its own. Padded positions (`mask` False, left padding) keep the
    state and output zeros. Keras' `LSTMCell` with its forget-gate bias
    initialised to 1 (the authors' code: `forget_bias=1.0`), `dropout` on the
    inputs, drawn anew at every step (the code's
    `DropoutWrapper(input_keep_prob=1 - dropout)`).

    `num_layers` stacks such LSTMs (each restarting at the same session starts,
    each with its own input dropout), and the top `num_residual_layers` of them
    add their input to their output, as the authors' code stacks its cells
    (`create_rnn_cell`: `num_layers=2`, `num_residual_layers=1`, the residual
    around the dropout-wrapped cell, so the undropped input is added). A residual
    layer's input must have `units` channels.

    Inputs: `inputs` `[batch, seq_len, dim]`; `mask` bool `[batch, seq_len]` (None
    = all real); `resets` bool `[batch, seq_len]` (None = one session).
    Output: `[batch, seq_len, units]`, the hidden states `h_t`.

    Args:
        units: size of the hidden state.
        dropout: dropout rate on the inputs of each step.
        num_layers: stacked LSTMs.
        num_residual_layers: how many of the top layers add their input.

    Example:
        >>> lstm = SessionLSTM(8)
        >>> x = keras.ops.ones((2, 5, 4))
        >>> resets = keras.ops.convert_to_tensor([[1, 0, 1, 0, 0]] * 2) > 0
        >>> lstm(x, resets=resets).shape
        (2, 5, 8)

    Reference: F. Lv et al., "SDM: Sequential Deep Matching Model for Online
    Large-scale Recommender System", CIKM 2019.
    """

    def __init__(
        self, units, dropout=0.0, num_layers=1, num_residual_layers=0, **kwargs
    ):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"`units` must be > 0. Received: units={units}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout}"
            )
        if int(num_layers) < 1:
            raise ValueError(
                f"`num_layers` must be > 0. Received: num_layers={num_layers}"
            )
        if not 0 <= int(num_residual_layers) <= int(num_layers):
            raise ValueError(
                "`num_residual_layers` must be in [0, num_layers]. Received: "
                f"num_residual_layers={num_residual_layers}, num_layers={num_layers}"
            )
        self.units = int(units)
        self.dropout = float(dropout)
        self.num_layers = int(num_layers)
        self.num_residual_layers = int(num_residual_layers)
        self.supports_masking = True

    def _residual(self, index):
        return index >= self.num_layers - self.num_residual_layers

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "SessionLSTM takes `[batch, seq_len, dim]` inputs with known dim. "
                f"Received: input_shape={input_shape}"
            )
        if self._residual(0) and input_shape[-1] != self.units:
            raise ValueError(
                "A residual SessionLSTM layer adds its input to its output: the "
                f"inputs must have `units` = {self.units} channels. Received: "
                f"input_shape={input_shape}, num_residual_layers="
                f"{self.num_residual_layers} of num_layers={self.num_layers}"
            )
        self.input_dropout = keras.layers.Dropout(self.dropout)
        self.rnns = []
        width = input_shape[-1]
        for index in range(self.num_layers):
            # The first keeps the name of the one-layer LSTM's RNN.
            name = "rnn" if index == 0 else f"rnn_{index + 1}"
            cell = _RestartingCell(self.units, name="cell")
            rnn = keras.layers.RNN(cell, return_sequences=True, name=name)
            rnn.build((input_shape[0], input_shape[1], width + 1))
            self.rnns.append(rnn)
            width = self.units

    @property
    def rnn(self):
        """The first (bottom) LSTM."""
        return self.rnns[0]

    def call(self, inputs, mask=None, resets=None, training=False):
        shape = ops.shape(inputs)[:2]
        mask = ops.ones(shape, "bool") if mask is None else ops.cast(mask, "bool")
        if resets is None:
            resets = ops.zeros(shape, "bool")
        flags = ops.cast(ops.cast(resets, "bool"), inputs.dtype)[..., None]
        keep = ops.cast(mask, inputs.dtype)[..., None]
        outputs = inputs
        for index, rnn in enumerate(self.rnns):
            dropped = self.input_dropout(outputs, training=training)
            step = rnn(
                ops.concatenate([dropped, flags], axis=-1), mask=mask, training=training
            )
            if self._residual(index):
                step = step + outputs
            outputs = step * keep
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:2]) + (self.units,)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            dropout=self.dropout,
            num_layers=self.num_layers,
            num_residual_layers=self.num_residual_layers,
        )
        return config
