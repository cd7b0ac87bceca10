"""The user memory network of DUMN: an NTM memory shared by all users."""

import keras
from keras import ops

WRITE_CONTENTS = ("add", "key")


@keras.saving.register_keras_serializable(package="recsys_tf")
class NTMMemory(keras.layers.Layer):
    """A memory of `num_slots` slots read and written by a feed-forward controller.

    DUMN Eq. (8)-(12) and the anchor of Eq. (18), for one memory M (m x Z):

    - Eq. (8): `k = FFN(Concat(f^o, e_user))` (here one ReLU layer of
      `controller_units` units, then a linear map to the read key, the write key,
      erase and add, each of width Z; no add head with `write_content="key"`;
      two key strengths more with `learn_key_strength`);
    - Eq. (9)-(10): `w^r(j) = softmax_j(beta K(k, M(j)))`, `K(k, M(j)) = k^T M(j)
      / (|k| |M(j)|)` (cosine similarity; beta = `key_strength` = 1 is Eq. (9) as
      written);
    - Eq. (11): `r = sum_j w^r(j) M(j)`, the output, `[batch, Z]`;
    - write weights `w^w` as Eq. (9)-(10) with the write key; `erase = sigmoid(.)`,
      `add = tanh(.)`;
    - Eq. (12): `M <- (1 - w^w (x) erase) (.) M + w^w (x) add`;
    - Eq. (18): `q = sum_j w^w(j) M'(j)`, with M' the memory after the example's
      own write (Eq. (12)), optionally mapped to `anchor_dim` by a bias-free
      linear map `W_q` `[Z, anchor_dim]`.

    `num_slots` is m, `slot_dim` is Z, `controller_units` the paper's "dimension of
    the feed-forward network used in the memory network" (512).

    Choices where the paper is silent:
    - One memory shared by all users (the paper wants slots that "reflect the
      similar interests between users"), kept across batches as a non-trainable
      variable `memory`: it is saved in `.keras` files and weight checkpoints. This
      differs from MIMN (Pi et al., 2019), whose memory is one per user, started
      from a shared initial state and written along the user's own sequence.
    - A batch writes once, with its mean erase and add matrices:
      `M <- (1 - mean_b w^w_b (x) erase_b) (.) M + mean_b w^w_b (x) add_b`
      (order-free, unlike one write per example in batch order). The write
      happens only when `training=True`, like BatchNormalization's moving
      statistics; inference only reads.
    - Under `tf.distribute` the variable is MEAN-aggregated: each replica
      assigns its local write and the replicas get their mean, which is the
      global batch mean when the replicas hold equal batches.
    - Read and write use separate keys (as NTM's and MIMN's separate heads);
      `erase` is a sigmoid (NTM), `add` a tanh (MIMN); keys are linear.
    - The anchor reads the example's post-write memory so that the triplet loss of
      Eq. (17) reaches the erase and add vectors (it regularises "the content
      written"); the read of Eq. (11) uses the memory before the batch's write.
    - Key strength (a departure from Eq. (9), chosen on validation): Eq. (9)
      as written is a softmax over cosines in [-1, 1], so with m = 256 the top
      slot gets at most e^2 times the weight of any other. Every example then
      writes nearly the same share to every slot, the batch-mean writes of
      Eq. (12) pull all slots to one fixed point, and the memory collapses to
      one vector (mean pairwise slot cosine 0.9999 after a few epochs on
      KuaiRand-Pure): r_k no longer depends on the user. `key_strength` beta
      scales the cosines as NTM's key strength does, `w(j) = softmax_j(beta
      K(k, M(j)))`; beta = 1 is Eq. (9) as written. `slot_cosine()` measures
      the collapse (the trainer logs it each epoch).
    - Sharper addressing alone does not stop it: the content a slot receives
      (add / erase, Eq. (12)) is unrelated to the keys that address it, so a
      slot drifts away from the keys that wrote it, other keys take it over,
      and every slot ends as the same mixture of all writes.
      `write_content="key"` writes `add = tanh(k^w)`, the write key squashed as
      the add vector is, so that a slot moves toward the keys that address it
      and keeps them (as the lifelong memory of Kaiser et al. 2017 writes the
      query into its nearest key): slots become prototypes of users' short-term
      interests, "the user feature representation in the same slot can reflect
      the similar interests between users" (Sec. 3.4). "add" is Eq. (12) as
      written (an add head of its own). Key writes need the key strength too:
      with beta = 1 the near-uniform weights still write every slot alike
      (tested).
    - What trains what: the read of Eq. (11) reaches the controller and the read
      key; the memory is a state, not a weight, so the erase and add vectors
      (and the write key) learn only through the anchor q of Eq. (18), i.e.
      only when a triplet loss reads it (not under DUMN-TL, where they keep
      their initial mapping of the trained controller's hidden layer).
    - The cosine of Eq. (10) floors squared norms at `epsilon` (no NaN for a zero
      slot or key). The memory starts from `memory_initializer`.

    Inputs: `inputs` (f^o) `[batch, dim]`, `user_embedding` (e_user)
    `[batch, user_dim]`. Output: r `[batch, Z]`; `return_anchor=True` adds q
    `[batch, anchor_dim or Z]`, `return_weights=True` adds `w^r, w^w`
    `[batch, m]` (in that order, as a tuple).

    Args:
        num_slots: m, the number of slots.
        slot_dim: Z, the dimension of a slot.
        controller_units: width of the controller's hidden layer.
        anchor_dim: width of the anchor q (the embedding size E of the triplet
            loss's samples); None keeps Z.
        key_strength: beta, the fixed scale of the cosines (1 = Eq. (9) as
            written); with `learn_key_strength` the floor of the learned one.
        write_content: "add" (Eq. (12): `add = tanh(W_a h)`, a head of its own)
            or "key" (`add = tanh(k^w)`, the write key).
        learn_key_strength: True = NTM's learned key strength, `beta =
            key_strength + softplus(.)` from the controller, one per key (an
            option to try on validation, not the paper's).
        memory_initializer: initializer of the memory state.
        kernel_initializer: initializer of the controller and anchor kernels.
        epsilon: floor of the squared norms in Eq. (10).

    Example:
        >>> memory = NTMMemory(num_slots=8, slot_dim=4, controller_units=16)
        >>> memory(keras.ops.ones((2, 3)), keras.ops.ones((2, 5))).shape
        (2, 4)

    Reference: Z. Bian et al., "Denoising User-aware Memory Network for
    Recommendation", arXiv:2107.05474, Section 3.4; A. Graves et al., "Neural
    Turing Machines", arXiv:1410.5401.
    """

    def __init__(
        self,
        num_slots=256,
        slot_dim=64,
        controller_units=512,
        anchor_dim=None,
        key_strength=1.0,
        write_content="add",
        learn_key_strength=False,
        memory_initializer="random_normal",
        kernel_initializer="glorot_uniform",
        epsilon=1e-12,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("num_slots", num_slots),
            ("slot_dim", slot_dim),
            ("controller_units", controller_units),
        ):
            if int(value) < 1:
                raise ValueError(f"`{name}` must be > 0. Received: {name}={value}")
        if anchor_dim is not None and int(anchor_dim) < 1:
            raise ValueError(
                f"`anchor_dim` must be > 0 or None. Received: anchor_dim={anchor_dim}"
            )
        if not float(key_strength) > 0:
            raise ValueError(
                f"`key_strength` must be > 0. Received: key_strength={key_strength}"
            )
        if write_content not in WRITE_CONTENTS:
            raise ValueError(
                f"`write_content` must be one of {WRITE_CONTENTS}. "
                f"Received: write_content={write_content!r}"
            )
        if not float(epsilon) > 0:
            raise ValueError(f"`epsilon` must be > 0. Received: epsilon={epsilon}")
        self.num_slots = int(num_slots)
        self.slot_dim = int(slot_dim)
        self.controller_units = int(controller_units)
        self.anchor_dim = None if anchor_dim is None else int(anchor_dim)
        self.key_strength = float(key_strength)
        self.write_content = write_content
        self.learn_key_strength = bool(learn_key_strength)
        self.memory_initializer = memory_initializer
        self.kernel_initializer = kernel_initializer
        self.epsilon = float(epsilon)

    def build(self, inputs_shape, user_embedding_shape=None):
        for name, shape in (
            ("inputs", inputs_shape),
            ("user_embedding", user_embedding_shape),
        ):
            if shape is None or len(shape) != 2 or shape[-1] is None:
                raise ValueError(
                    f"NTMMemory's `{name}` must have shape [batch, dim] with a known "
                    f"dim. Received: {shape}"
                )
        initializer = keras.initializers.get(self.kernel_initializer)
        width = inputs_shape[-1] + user_embedding_shape[-1]
        self.controller_kernel = self.add_weight(
            name="controller_kernel",
            shape=(width, self.controller_units),
            initializer=initializer,
        )
        self.controller_bias = self.add_weight(
            name="controller_bias", shape=(self.controller_units,), initializer="zeros"
        )
        # Read key, write key, erase and add, side by side.
        self.head_kernel = self.add_weight(
            name="head_kernel",
            shape=(self.controller_units, self._head_width()),
            initializer=keras.initializers.get(self.kernel_initializer),
        )
        self.head_bias = self.add_weight(
            name="head_bias", shape=(self._head_width(),), initializer="zeros"
        )
        if self.anchor_dim is not None:
            self.anchor_kernel = self.add_weight(
                name="anchor_kernel",
                shape=(self.slot_dim, self.anchor_dim),
                initializer=keras.initializers.get(self.kernel_initializer),
            )
        self.memory = self.add_weight(
            name="memory",
            shape=(self.num_slots, self.slot_dim),
            initializer=keras.initializers.get(self.memory_initializer),
            trainable=False,
            autocast=False,
            aggregation="mean",
        )

    def _head_width(self):
        # Read key, write key, erase, add (Z each; no add head when the write
        # key is the content), then two key strengths.
        heads = 4 if self.write_content == "add" else 3
        return heads * self.slot_dim + (2 if self.learn_key_strength else 0)

    def _address(self, key, memory, strength):
        """Eq. (9)-(10): softmax over the slots of the cosine similarity scaled by
        the key strength (1 = as written)."""
        key_norm = ops.sqrt(
            ops.maximum(ops.sum(key * key, axis=-1, keepdims=True), self.epsilon)
        )
        slot_norm = ops.sqrt(
            ops.maximum(ops.sum(memory * memory, axis=-1), self.epsilon)
        )
        cosine = ops.matmul(key, ops.transpose(memory)) / (key_norm * slot_norm)
        return ops.softmax(strength * cosine, axis=-1)

    def call(
        self,
        inputs,
        user_embedding,
        training=None,
        return_anchor=False,
        return_weights=False,
    ):
        memory = ops.cast(ops.convert_to_tensor(self.memory), inputs.dtype)
        controller = ops.concatenate([inputs, user_embedding], axis=-1)  # Eq. (8)
        hidden = ops.relu(
            ops.matmul(controller, self.controller_kernel) + self.controller_bias
        )
        heads = ops.matmul(hidden, self.head_kernel) + self.head_bias
        z = self.slot_dim
        read_key, write_key = heads[:, :z], heads[:, z : 2 * z]
        erase = ops.sigmoid(heads[:, 2 * z : 3 * z])
        if self.write_content == "add":
            add, rest = ops.tanh(heads[:, 3 * z : 4 * z]), heads[:, 4 * z :]
        else:
            add, rest = ops.tanh(write_key), heads[:, 3 * z :]
        read_strength = write_strength = self.key_strength
        if self.learn_key_strength:
            strengths = self.key_strength + ops.softplus(rest)
            read_strength, write_strength = strengths[:, :1], strengths[:, 1:]

        read_weights = self._address(read_key, memory, read_strength)  # Eq. (9)-(10)
        read = ops.matmul(read_weights, memory)  # Eq. (11)
        write_weights = self._address(write_key, memory, write_strength)

        if training:
            # Eq. (12), once for the batch with its mean erase and add matrices.
            self.memory.assign(
                ops.cast(
                    ops.stop_gradient(batch_write(memory, write_weights, erase, add)),
                    self.memory.dtype,
                )
            )

        outputs = (read,)
        if return_anchor:
            # Eq. (18) on the example's own Eq. (12) write:
            # sum_j w(j) [(1 - w(j) erase) M(j) + w(j) add].
            squared = write_weights * write_weights
            anchor = (
                ops.matmul(write_weights, memory)
                - ops.matmul(squared, memory) * erase
                + ops.sum(squared, axis=-1, keepdims=True) * add
            )
            if self.anchor_dim is not None:
                anchor = ops.matmul(anchor, self.anchor_kernel)
            outputs += (anchor,)
        if return_weights:
            outputs += (read_weights, write_weights)
        return outputs[0] if len(outputs) == 1 else outputs

    def slot_cosine(self):
        """The mean cosine between two different slots of the memory state
        (1 = every slot points the same way: the memory has collapsed)."""
        m = self.num_slots
        if m < 2:
            return float("nan")  # no pair of slots
        memory = ops.cast(ops.convert_to_tensor(self.memory), "float32")
        norms = ops.sqrt(ops.maximum(ops.sum(memory * memory, axis=-1), self.epsilon))
        unit = memory / norms[:, None]
        total = ops.sum(ops.matmul(unit, ops.transpose(unit)))
        # The diagonal of a floored-norm zero slot is 0, not 1: subtract it as is.
        diagonal = ops.sum(unit * unit)
        return float((total - diagonal) / (m * (m - 1)))

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        return (inputs_shape[0], self.slot_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_slots=self.num_slots,
            slot_dim=self.slot_dim,
            controller_units=self.controller_units,
            anchor_dim=self.anchor_dim,
            key_strength=self.key_strength,
            write_content=self.write_content,
            learn_key_strength=self.learn_key_strength,
            memory_initializer=self.memory_initializer,
            kernel_initializer=self.kernel_initializer,
            epsilon=self.epsilon,
        )
        return config


def batch_write(memory, weights, erase, add):
    """Eq. (12) for a batch: `(1 - mean_b w_b (x) e_b) (.) M + mean_b w_b (x) a_b`.

    `memory` `[m, Z]`, `weights` `[batch, m]`, `erase` and `add` `[batch, Z]`;
    returns the new memory `[m, Z]`. With one example this is Eq. (12) itself.
    """
    batch = ops.cast(ops.shape(weights)[0], memory.dtype)
    erase_matrix = ops.einsum("bm,bz->mz", weights, erase) / batch
    add_matrix = ops.einsum("bm,bz->mz", weights, add) / batch
    return (1.0 - erase_matrix) * memory + add_matrix


def read_memories(memories, inputs, user_embedding, training=False, anchored=()):
    """Eq. (8)-(12) and (18) for K feedback types, each read with its memory.

    `memories`: K `NTMMemory` layers, type k's at k; the same layer at several
    positions is one memory shared by those types (DUMN+UMN1): their rows go
    through it as one batch of (number of types) x batch rows, so each type
    reads the memory as it was before the batch, and the batch writes it once,
    with the mean over all those rows (no type reads what another type of the
    same batch wrote, and the order of the types does not matter). `inputs`: K
    tensors `[batch, dim]`; `user_embedding` `[batch, U]`; `anchored`: the
    indices k whose anchor q_k (Eq. (18)) is wanted.

    Returns: (the K reads `[batch, Z]`, the K anchors, None where not wanted).
    """
    reads, anchors = [None] * len(inputs), [None] * len(inputs)
    groups = {}
    for k, memory in enumerate(memories):
        groups.setdefault(id(memory), []).append(k)
    for ks in groups.values():
        memory, want = memories[ks[0]], any(k in anchored for k in ks)
        out = memory(
            ops.concatenate([inputs[k] for k in ks], axis=0),
            ops.concatenate([user_embedding] * len(ks), axis=0),
            training=training,
            return_anchor=want,
        )
        read, anchor = out if want else (out, None)
        for k, r in zip(ks, ops.split(read, len(ks), axis=0)):
            reads[k] = r
        if want:
            for k, q in zip(ks, ops.split(anchor, len(ks), axis=0)):
                anchors[k] = q if k in anchored else None
    return reads, anchors
