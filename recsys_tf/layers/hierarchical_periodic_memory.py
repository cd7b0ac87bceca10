"""The hierarchical periodic memory of HPMN (Ren et al., 2019)."""

import keras
import tensorflow as tf
from keras import ops


def slot_covariance_norm(slots):
    """`||C - diag(C)||_F` of the slots' covariance, one value per memory.

    HPMN's memory covariance regularisation, as the authors' code (`hpmn.py`,
    `get_covreg`) computes it: for a memory `M` `[num_slots, units]`,
    `C = (M - mean(M)) (M - mean(M))^T / units`, the mean taken over each slot's
    units; the penalty is the Frobenius norm of C without its diagonal, which
    pushes different slots to memorise different patterns.

    Input `[..., num_slots, units]`, output `[...]`.
    """
    centred = slots - ops.mean(slots, axis=-1, keepdims=True)
    units = ops.cast(ops.shape(slots)[-1], slots.dtype)
    covariance = ops.einsum("...id,...jd->...ij", centred, centred) / units
    eye = ops.eye(ops.shape(slots)[-2], dtype=slots.dtype)
    off_diagonal = covariance * (1.0 - eye)
    # sqrt(x + tiny): a finite gradient where every covariance is 0 (empty memory).
    return ops.sqrt(ops.sum(ops.square(off_diagonal), axis=(-2, -1)) + 1e-12)


@keras.saving.register_keras_serializable(package="recsys_tf")
class HierarchicalPeriodicMemory(keras.layers.Layer):
    """Memory slots written by GRUs, slot j updated every `periods[j]` events.

    HPMN's hierarchical periodic memory writing (equation numbers are not cited:
    the paper's text was not at hand; the authors' code settles the details): the
    memory holds one
    slot `m^j` per layer j; after the user's i-th behaviour (counted from her
    first, i = 1, 2, ...),

        m^j_i = GRU^j(m^{j-1}_i, m^j_{i-1})   if i mod t^j == 0,
        m^j_i = m^j_{i-1}                     otherwise,

    with `m^{-1}_i = e_i`, the i-th behaviour's embedding (`inputs`), so the first
    layer reads every behaviour and layer j reads layer j-1's slot every t^j
    behaviours (`periods[j]` = t^j, each a multiple of the one before, the first
    1). Every GRU has weights of its own (`kernel_j` `[in_dim, 3 units]`,
    `recurrent_kernel_j` `[units, 3 units]`, `bias_j` `[3 units]`, gates in the
    order update z, reset r, candidate):
    `z = sigmoid(W_z x + U_z h + b_z)`, `r = sigmoid(W_r x + U_r h + b_r)`,
    `h~ = tanh(W_h x + U_h (r * h) + b_h)`, `h' = (1 - z) h + z h~` (Cho et al.
    2014, the reset applied before the recurrent product as in the TF1
    `GRUCell` of the authors' code). The slots start at zero.

    The authors' code (`hpmn.py`, `build_memory`) computes the same slots for a
    whole sequence front-padded to a multiple of the periods, i.e. with the
    periods counted back from the last behaviour; here they are counted from the
    first real behaviour, as the paper's incremental update does, so the memory
    after i behaviours is the same whatever comes later or how the row is
    padded: `return_sequences=True` gives the memory after every prefix (every
    position a next-item example), causally. Padded steps (`mask` False) do not
    count and leave the slots unchanged. The steps run in a symbolic loop
    (`tf.scan`), so the width may vary from batch to batch.

    Inputs: `inputs` `[batch, seq_len, in_dim]`, `mask` bool `[batch, seq_len]`
    or None (every step real). Output: the slots after the last step `[batch,
    num_slots, units]`, or after every step `[batch, seq_len, num_slots, units]`
    with `return_sequences=True` (`num_slots = len(periods)`).

    Args:
        units: slot size (the GRUs' state size).
        periods: t^j of each layer, e.g. `(1, 2, 4)`: the first 1, each a
            multiple of the previous one.
        return_sequences: the slots after every step, not only the last.
        kernel_initializer: initializer of the `W`s.
        recurrent_initializer: initializer of the `U`s.

    Example:
        >>> layer = HierarchicalPeriodicMemory(4, periods=(1, 2))
        >>> layer(keras.ops.ones((2, 6, 3))).shape
        (2, 2, 4)

    Reference: K. Ren et al., "Lifelong Sequential Modeling with Personalized
    Memorization for User Response Prediction", SIGIR 2019; code
    github.com/alimamarankgroup/HPMN.
    """

    def __init__(
        self,
        units,
        periods=(1, 2, 4),
        return_sequences=False,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        periods = tuple(int(p) for p in periods)
        if int(units) < 1:
            raise ValueError(f"`units` must be > 0. Received: units={units}")
        if (
            not periods
            or periods[0] != 1
            or any(b < 1 or b % a for a, b in zip(periods, periods[1:]))
        ):
            raise ValueError(
                "`periods` must start with 1, each a positive multiple of the one "
                f"before. Received: periods={periods}"
            )
        self.units = int(units)
        self.periods = periods
        self.return_sequences = bool(return_sequences)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer

    @property
    def num_slots(self) -> int:
        return len(self.periods)

    def build(self, inputs_shape):
        if len(inputs_shape) != 3 or inputs_shape[-1] is None:
            raise ValueError(
                "`inputs` must be [batch, seq_len, in_dim] with a known in_dim. "
                f"Received: {inputs_shape}"
            )
        self.kernels, self.recurrent_kernels, self.biases = [], [], []
        for j in range(self.num_slots):
            in_dim = int(inputs_shape[-1]) if j == 0 else self.units
            self.kernels.append(
                self.add_weight(
                    name=f"kernel_{j}",
                    shape=(in_dim, 3 * self.units),
                    initializer=keras.initializers.get(self.kernel_initializer),
                )
            )
            self.recurrent_kernels.append(
                self.add_weight(
                    name=f"recurrent_kernel_{j}",
                    shape=(self.units, 3 * self.units),
                    initializer=keras.initializers.get(self.recurrent_initializer),
                )
            )
            self.biases.append(
                self.add_weight(
                    name=f"bias_{j}", shape=(3 * self.units,), initializer="zeros"
                )
            )

    def _gru(self, j, x, h):
        units = self.units
        gates = ops.matmul(x, self.kernels[j]) + self.biases[j]
        kernel = self.recurrent_kernels[j]
        recurrent = ops.matmul(h, kernel[:, : 2 * units])
        update = ops.sigmoid(gates[:, :units] + recurrent[:, :units])
        reset = ops.sigmoid(gates[:, units : 2 * units] + recurrent[:, units:])
        candidate = ops.tanh(
            gates[:, 2 * units :] + ops.matmul(reset * h, kernel[:, 2 * units :])
        )
        return (1.0 - update) * h + update * candidate

    def call(self, inputs, mask=None):
        batch, steps = ops.shape(inputs)[0], ops.shape(inputs)[1]
        real = (
            ops.ones((batch, steps), "int32")
            if mask is None
            else ops.cast(ops.cast(mask, "bool"), "int32")
        )
        count = ops.cumsum(real, axis=1)  # i: the real behaviours up to each step

        def step(slots, step_inputs):
            below, is_real, i = step_inputs
            written = []
            for j, period in enumerate(self.periods):
                write = (is_real > 0) & (i % period == 0)
                slot = ops.where(
                    write[:, None], self._gru(j, below, slots[j]), slots[j]
                )
                written.append(slot)
                below = slot
            return tuple(written)

        initial = tuple(
            ops.zeros((batch, self.units), inputs.dtype) for _ in self.periods
        )
        # A symbolic loop over the steps: the width may be unknown when traced
        # (batches cut to the columns their rows use).
        every = tf.scan(
            step,
            (
                ops.transpose(inputs, (1, 0, 2)),
                ops.transpose(real),
                ops.transpose(count),
            ),
            initializer=initial,
        )
        if not self.return_sequences:
            return ops.stack([slots[-1] for slots in every], axis=1)
        return ops.transpose(ops.stack(every, axis=2), (1, 0, 2, 3))

    def compute_output_shape(self, inputs_shape):
        if self.return_sequences:
            return (inputs_shape[0], inputs_shape[1], self.num_slots, self.units)
        return (inputs_shape[0], self.num_slots, self.units)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            periods=self.periods,
            return_sequences=self.return_sequences,
            kernel_initializer=self.kernel_initializer,
            recurrent_initializer=self.recurrent_initializer,
        )
        return config
