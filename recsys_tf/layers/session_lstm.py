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

    Inputs: `inputs` `[batch, seq_len, dim]`; `mask` bool `[batch, seq_len]` (None
    = all real); `resets` bool `[batch, seq_len]` (None = one session).
    Output: `[batch, seq_len, units]`, the hidden states `h_t`.

    Args:
        units: size of the hidden state.
        dropout: dropout rate on the inputs of each step.

    Example:
        >>> lstm = SessionLSTM(8)
        >>> x = keras.ops.ones((2, 5, 4))
        >>> resets = keras.ops.convert_to_tensor([[1, 0, 1, 0, 0]] * 2) > 0
        >>> lstm(x, resets=resets).shape
        (2, 5, 8)

    Reference: F. Lv et al., "SDM: Sequential Deep Matching Model for Online
    Large-scale Recommender System", CIKM 2019.
    """

    def __init__(self, units, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"`units` must be > 0. Received: units={units}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout}"
            )
        self.units = int(units)
        self.dropout = float(dropout)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "SessionLSTM takes `[batch, seq_len, dim]` inputs with known dim. "
                f"Received: input_shape={input_shape}"
            )
        cell = _RestartingCell(self.units, name="cell")
        self.input_dropout = keras.layers.Dropout(self.dropout)
        self.rnn = keras.layers.RNN(cell, return_sequences=True, name="rnn")
        self.rnn.build((input_shape[0], input_shape[1], input_shape[2] + 1))

    def call(self, inputs, mask=None, resets=None, training=False):
        shape = ops.shape(inputs)[:2]
        mask = ops.ones(shape, "bool") if mask is None else ops.cast(mask, "bool")
        if resets is None:
            resets = ops.zeros(shape, "bool")
        flags = ops.cast(ops.cast(resets, "bool"), inputs.dtype)[..., None]
        inputs = self.input_dropout(inputs, training=training)
        outputs = self.rnn(
            ops.concatenate([inputs, flags], axis=-1), mask=mask, training=training
        )
        return outputs * ops.cast(mask, outputs.dtype)[..., None]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:2]) + (self.units,)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, dropout=self.dropout)
        return config
