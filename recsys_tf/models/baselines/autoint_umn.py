"""AutoInt+UMN (DUMN Table 3): AutoInt with DUMN's user memory network."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import MaskedMeanPooling
from recsys_tf.layers.user_memory_network import memory_for_model, read_with_triplet
from recsys_tf.losses.triplet import TRIPLET_ARGS, triplet_options
from recsys_tf.models.base import SequenceCTRModel
from recsys_tf.models.baselines.autoint import interacting_features, interacting_stack


@keras.saving.register_keras_serializable(package="recsys_tf")
class AutoIntUMN(SequenceCTRModel):
    """AutoInt's interacting layers over the fields, beside DUMN's user memory
    network over the feedback sequences.

    DUMN Table 3 adds "the user memory network which can capture users' long-term
    interest" to AutoInt (l.559-562), without more detail. Here:

    - AutoInt (Song et al. 2019, Eq. (5)-(8)): `num_layers` interacting layers
      over the field embeddings, flattened (as `AutoInt`);
    - the short-term interest of each feedback type k is `f_k`, the mean of its
      window's item embeddings (our choice: AutoInt reads no sequence, and the
      mean is the interest a field model forms from a multi-hot field);
    - `R_cross = UserMemoryNetwork(f, e_user)` (DUMN Eq. (8)-(14): a memory per
      type, PAIR), e_user the fields that are not item features;
    - `logit = w^T Concat(AutoInt's output, R_cross) + b` (AutoInt's Eq. (9)
      with the memory's output beside the attention output).

    With `triplet_weight` > 0 DUMN's triplet loss (Eq. (16)-(20)) is added for
    the memories whose type has its pair (<click, unclick>, <like, dislike>),
    with DUMN's mining (`triplet_sampling`) over one sample per row, drawn from
    its window or, with `triplet_samples="history"` (its config), from its whole
    earlier history (the task's `data.history_samples`). Weight 0 (the class
    default; its config sets 1) leaves the logloss alone: Table 3 names only
    "the user memory network", and the paper's introduction makes the triplet
    loss part of it (l.76-78), so both readings are switches. A row with an
    empty window has `f_k = 0`, and the output does not
    depend on the padding's width.

    `memory=False` is the control run (ours, not the paper's): AutoInt beside
    the same window means `f_1 .. f_K`, concatenated into the logit's input, no
    memory, no PAIR, no triplet term. It separates what the memory adds from
    what the feedback windows add (AutoInt reads none).

    Inputs: the CTR fields int `[batch]`; for each type t of `sequence_types`,
    `t_<feature>` int `[batch, T]` and `t_mask` `[batch, T]`. Output: logits
    `[batch]`.

    Args:
        fields, vocabulary_sizes, sequence_types, item_features, embedding_dim,
            l2: as `SequenceCTRModel`.
        num_layers, num_heads, head_dim, use_residual: AutoInt's (`AutoInt`).
        num_slots, slot_dim, controller_units, fusion: the memory's m, Z,
            controller width and PAIR fusion (DUMN's defaults).
        key_strength, write_content: the memory's addressing sharpness and
            write content (`NTMMemory`; defaults: DUMN's Eq. (9), (12)).
        memory: False = the control without the memory network (above).
        triplet_weight, triplet_margin, triplet_sampling, triplet_samples,
            seed: DUMN's triplet loss (`DUMN`'s arguments); weight 0 = none.

    Example:
        >>> model = AutoIntUMN(["user_id", "item_id"], [10, 50], embedding_dim=4,
        ...                    num_slots=8, slot_dim=4, controller_units=8)

    References: W. Song et al., "AutoInt", CIKM 2019; Z. Bian et al., "Denoising
    User-aware Memory Network for Recommendation", arXiv:2107.05474, Table 3.
    """

    default_sequence_types = ("click", "unclick", "like", "dislike")
    padding_invariant = True

    def __init__(
        self,
        fields,
        vocabulary_sizes,
        sequence_types=("click", "unclick", "like", "dislike"),
        item_features=("item_id",),
        embedding_dim=16,
        num_layers=3,
        num_heads=2,
        head_dim=32,
        use_residual=True,
        num_slots=256,
        slot_dim=64,
        controller_units=512,
        key_strength=1.0,
        write_content="add",
        fusion="gate",
        memory=True,
        triplet_weight=0.0,
        triplet_margin=0.5,
        triplet_sampling="hardest",
        triplet_samples="window",
        seed=0,
        l2=0.0,
        **kwargs,
    ):
        super().__init__(
            fields,
            vocabulary_sizes,
            sequence_types=sequence_types,
            item_features=item_features,
            embedding_dim=embedding_dim,
            l2=l2,
            **kwargs,
        )
        self._user_index = self.user_field_index()
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.head_dim = int(head_dim)
        self.use_residual = bool(use_residual)
        self.num_slots = int(num_slots)
        self.slot_dim = int(slot_dim)
        self.controller_units = int(controller_units)
        self.key_strength = float(key_strength)
        self.write_content = write_content
        self.fusion = fusion
        self.memory = bool(memory)
        if not self.memory and triplet_weight:
            raise ValueError(
                "AutoIntUMN's triplet loss needs the memories' anchors: with "
                f"memory=False set triplet_weight=0. Received: {triplet_weight}"
            )
        triplet = triplet_options(
            triplet_weight, triplet_margin, triplet_sampling, triplet_samples, seed
        )
        for key, value in triplet.items():
            setattr(self, key, value)
        self.interacting_layers = interacting_stack(
            self.num_layers, self.num_heads, self.head_dim, self.use_residual
        )
        self.pooling = MaskedMeanPooling(name="short_term")
        self.umn = memory_for_model(self, fusion) if self.memory else None
        self.logit = keras.layers.Dense(1, name="logit")
        self.sample_seeds = keras.random.SeedGenerator(seed, name="sample_seeds")

    def short_term(self, inputs):
        """`[batch, K, item_dim]`: each type's mean window embedding, and the
        windows (type -> (e `[batch, T, item_dim]`, mask))."""
        sequences = {t: self.embed_sequence(inputs, t) for t in self.sequence_types}
        short = [self.pooling(*sequences[t]) for t in self.sequence_types]
        return ops.stack(short, axis=1), sequences

    def call(self, inputs, training=False):
        _, embedded = self.embed(inputs)
        attention = interacting_features(self.interacting_layers, embedded)
        user = self.embed_user(embedded, self._user_index)
        short, sequences = self.short_term(inputs)
        if self.umn is None:  # the control: the windows' means, no memory
            memory = ops.reshape(short, (-1, short.shape[1] * short.shape[2]))
        else:
            memory = read_with_triplet(self, short, user, sequences, training, inputs)
        features = ops.concatenate([attention, memory], axis=-1)
        return ops.squeeze(self.logit(features), -1)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            head_dim=self.head_dim,
            use_residual=self.use_residual,
            num_slots=self.num_slots,
            slot_dim=self.slot_dim,
            controller_units=self.controller_units,
            key_strength=self.key_strength,
            write_content=self.write_content,
            fusion=self.fusion,
            memory=self.memory,
            **{key: getattr(self, key) for key in TRIPLET_ARGS},
        )
        return config
