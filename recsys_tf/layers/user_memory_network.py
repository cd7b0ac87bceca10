"""DUMN's user memory network and PAIR as one module, for other CTR models."""

import keras
from keras import ops

from recsys_tf.layers.ntm_memory import NTMMemory, read_memories
from recsys_tf.layers.pair_gate import PAIRGate
from recsys_tf.losses.triplet import feedback_triplet_term, paired_types


@keras.saving.register_keras_serializable(package="recsys_tf")
class UserMemoryNetwork(keras.layers.Layer):
    """Per-type NTM memories read with each short-term interest, fused by PAIR.

    DUMN's UMN (Section 3.4, Eq. (8)-(12)) and PAIR (Section 3.5, Eq. (13)-(14))
    as the module DUMN Table 3 adds to other models (AutoInt+UMN, DFN+UMN). For K
    feedback types with short-term interests `f_k` (`inputs[:, k]`, width D) and
    the user embedding `e_user`:

    - Eq. (8)-(12): `r_k = NTMMemory_k(f_k, e_user)`, m slots of size Z, one
      memory per type (`shared=True`: one memory for every type, DUMN+UMN1's
      reading: every type reads it before the batch's one write, the mean of
      the K x batch rows' writes; `read_memories`), written in training calls
      only;
    - Eq. (13)-(14): `R_cross = PAIRGate(fusion)(f, r)`, the output.

    Choices where the paper is silent: the module is Eq. (8)-(14); the triplet
    loss of Eq. (16)-(20) needs the raw behaviour samples, so the model adds it
    (from the anchors of `return_anchors=True`), or not: Table 3 names only "the
    user memory network" added, the introduction (l.76-78) makes the triplet
    loss part of UMN. The memories are `NTMMemory`'s (one
    shared by all users, batch-averaged writes). DUMN composes the same
    `NTMMemory` and `PAIRGate` layers itself (its saved weights predate this
    layer).

    Inputs: `inputs` `[batch, K, D]`, `user_embedding` `[batch, U]`. Output:
    `[batch, K * width]` (`PAIRGate`'s width: D + Z for "gate").

    Args:
        num_types: K, the number of feedback types.
        num_slots: m. slot_dim: Z. controller_units: the memory FFN's width.
        shared: one memory for every type (False: one per type).
        fusion: the PAIR fusion (`PAIRGate`).
        key_strength, write_content, learn_key_strength: `NTMMemory`'s
            addressing sharpness and write content (defaults: Eq. (9) and (12)
            as written).
        anchor_dim: width of the triplet anchor q (Eq. (18), `NTMMemory`'s
            `anchor_dim`) of the memories of the types `anchored`; None = no
            anchors. With it, `call(..., return_anchors=True)` also returns a
            list of K anchors `[batch, anchor_dim]` (None for a type without),
            for a model that adds DUMN's triplet loss (`read_with_triplet`).
        anchored: indices of the types whose memory has an anchor (None = all).

    Example:
        >>> umn = UserMemoryNetwork(2, num_slots=8, slot_dim=4, controller_units=8)
        >>> umn(keras.ops.ones((3, 2, 6)), keras.ops.ones((3, 5))).shape
        (3, 20)

    Reference: Z. Bian et al., "Denoising User-aware Memory Network for
    Recommendation", arXiv:2107.05474, Sections 3.4-3.5 and Table 3.
    """

    def __init__(
        self,
        num_types,
        num_slots=256,
        slot_dim=64,
        controller_units=512,
        shared=False,
        fusion="gate",
        key_strength=1.0,
        write_content="add",
        learn_key_strength=False,
        anchor_dim=None,
        anchored=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_types) < 1:
            raise ValueError(
                f"`num_types` must be > 0. Received: num_types={num_types}"
            )
        self.num_types = int(num_types)
        self.num_slots = int(num_slots)
        self.slot_dim = int(slot_dim)
        self.controller_units = int(controller_units)
        self.shared = bool(shared)
        self.fusion = fusion
        self.key_strength = float(key_strength)
        self.write_content = write_content
        self.learn_key_strength = bool(learn_key_strength)
        self.anchor_dim = None if anchor_dim is None else int(anchor_dim)
        self.anchored = (
            tuple(range(self.num_types))
            if anchored is None
            else tuple(int(k) for k in anchored)
        )
        self.memories = [
            NTMMemory(
                num_slots=self.num_slots,
                slot_dim=self.slot_dim,
                controller_units=self.controller_units,
                key_strength=self.key_strength,
                write_content=self.write_content,
                learn_key_strength=self.learn_key_strength,
                anchor_dim=(
                    self.anchor_dim if self.shared or k in self.anchored else None
                ),
                name=f"memory_{k}",
            )
            for k in range(1 if self.shared else self.num_types)
        ]
        self.pair = PAIRGate(fusion, name="pair")

    def build(self, inputs_shape, user_embedding_shape=None):
        if len(inputs_shape) != 3 or inputs_shape[1] != self.num_types:
            raise ValueError(
                "UserMemoryNetwork's `inputs` must have shape [batch, num_types="
                f"{self.num_types}, dim]. Received: {inputs_shape}"
            )
        if user_embedding_shape is None or len(user_embedding_shape) != 2:
            raise ValueError(
                "UserMemoryNetwork's `user_embedding` must have shape [batch, dim]. "
                f"Received: {user_embedding_shape}"
            )
        batch, _, dim = inputs_shape
        for memory in self.memories:
            memory.build((batch, dim), tuple(user_embedding_shape))
        self.pair.build(tuple(inputs_shape), (batch, self.num_types, self.slot_dim))

    def call(self, inputs, user_embedding, training=False, return_anchors=False):
        if return_anchors and self.anchor_dim is None:
            raise ValueError("`return_anchors=True` needs the layer's `anchor_dim`.")
        reads, anchors = read_memories(  # Eq. (8)-(12), (18)
            [self.memories[0 if self.shared else k] for k in range(self.num_types)],
            [inputs[:, k] for k in range(self.num_types)],
            user_embedding,
            training=training,
            anchored=self.anchored if return_anchors else (),
        )
        output = self.pair(inputs, ops.stack(reads, axis=1))  # Eq. (13)-(14)
        return (output, anchors) if return_anchors else output

    def compute_output_shape(self, inputs_shape, user_embedding_shape=None):
        short = tuple(inputs_shape)
        long = (short[0], short[1], self.slot_dim)
        return self.pair.compute_output_shape(short, long)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_types=self.num_types,
            num_slots=self.num_slots,
            slot_dim=self.slot_dim,
            controller_units=self.controller_units,
            shared=self.shared,
            fusion=self.fusion,
            key_strength=self.key_strength,
            write_content=self.write_content,
            learn_key_strength=self.learn_key_strength,
            anchor_dim=self.anchor_dim,
            anchored=list(self.anchored),
        )
        return config


def memory_for_model(model, fusion, name="umn"):
    """The `UserMemoryNetwork` a CTR model adds (DUMN Table 3: AutoInt+UMN,
    DFN+UMN): one memory per type of `model.sequence_types`, m =
    `model.num_slots`, Z = `model.slot_dim`, `model.controller_units`,
    `model.key_strength`, `model.write_content`, PAIR's `fusion`; with
    `model.triplet_weight` > 0 the memories of the paired types (`paired_types`)
    carry anchors of width `model.item_dim` (Eq. (18)), for
    `read_with_triplet`."""
    types = model.sequence_types
    paired = paired_types(types)
    anchored = [k for k, t in enumerate(types) if t in paired]
    return UserMemoryNetwork(
        len(types),
        num_slots=model.num_slots,
        slot_dim=model.slot_dim,
        controller_units=model.controller_units,
        key_strength=model.key_strength,
        write_content=model.write_content,
        fusion=fusion,
        anchor_dim=model.item_dim if model.triplet_weight and anchored else None,
        anchored=anchored,
        name=name,
    )


def read_with_triplet(model, short, user, sequences: dict, training: bool, inputs=None):
    """`model.umn`'s output for the short-term interests `short` `[batch, K,
    D]`; in training calls with `model.triplet_weight` > 0 it also adds DUMN's
    triplet term to `model`'s losses (Eq. (16)-(20): weight * sum_k
    mean_batch L_k over the anchored types, with `model.triplet_margin`,
    `model.triplet_sampling` and `model.sample_seeds`).

    `sequences`: type -> (e `[batch, T, dim]`, mask bool `[batch, T]`) for
    `model.sequence_types`, the windows the samples are drawn from
    (`feedback_triplet_term`), unless `model.triplet_samples` is "history":
    then the drawn history events of `inputs` (`embed_history_samples`)."""
    umn = model.umn
    if not (training and model.triplet_weight and umn.anchor_dim):
        return umn(short, user, training=training)
    output, anchors = umn(short, user, training=training, return_anchors=True)
    types = model.sequence_types
    chosen = {t: anchors[k] for k, t in enumerate(types) if anchors[k] is not None}
    if model.triplet_samples == "history":
        sequences = model.embed_history_samples(inputs, paired_types(types))
    term = feedback_triplet_term(
        chosen,
        sequences,
        types,
        margin=model.triplet_margin,
        mining=model.triplet_sampling,
        seed=model.sample_seeds,
    )
    model.add_loss(model.triplet_weight * term)
    return output
