"""DUMN (Bian et al., 2021): the Denoising User-aware Memory Network."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.data.ctr_sequence import MERGED
from recsys_tf.layers import (
    MLP,
    MultiHeadInteraction,
    NTMMemory,
    OrthogonalProjection,
    PAIRGate,
)
from recsys_tf.layers.ntm_memory import read_memories
from recsys_tf.losses.triplet import (
    TRIPLET_ARGS,
    feedback_triplet_term,
    paired_types,
    triplet_options,
)
from recsys_tf.models.base import SequenceCTRModel

FEEDBACK_TYPES = {
    # DUMN: one sequence per feedback type.
    "typed": ("click", "unclick", "like", "dislike"),
    # DUMN_IF (Table 6): implicit feedback only, no projection.
    "implicit": ("click", "unclick"),
    # DUMN_AF (Table 6): every type as one time-ordered sequence, no projection.
    "all": (MERGED,),
}
PURIFICATION = (("click", "dislike"), ("unclick", "like"))
"""Eq. (6)-(7)'s pairs <f_c, f_d> and <f_u, f_l>: (purified, basis)."""
MEMORIES = ("per_type", "one", "none")


@keras.saving.register_keras_serializable(package="recsys_tf")
class DUMN(SequenceCTRModel):
    """Purified short-term interests, per-type user memories, PAIR, triplet loss.

    DUMN Sec. 3, for the feedback types k of `sequence_types` (click c, unclick u,
    like l, dislike d), each sequence embedded as `e_k` `[batch, T, D]` (D =
    len(item_features) * E, the target item's width), `e_user` the other fields'
    embeddings and `e_item` the target's:

    - Eq. (1)-(5): `f_k = MultiHeadInteraction_k(e_k, e_user, e_item)` (own
      parameters per type);
    - Eq. (6)-(7): `f^o_c = f_c - project(f_c, f_d)`, `f^o_u = f_u -
      project(f_u, f_l)` (`OrthogonalProjection`); `f^o_l = f_l`, `f^o_d = f_d`;
    - Eq. (8)-(12): `r_k = NTMMemory_k(f^o_k, e_user)`, m slots of size Z, one
      memory per type, written in training calls only;
    - Eq. (13)-(14): `R_cross = PAIRGate(f^o, r)`;
    - Eq. (15): `logit = FFN(Concat(e_user, e_item, R_cross))`;
    - Eq. (16)-(20): `L = L1 + triplet_weight * sum_k mean_batch L_k`, L1 the
      logloss (`CTRModel.compute_loss`), `L_k = max(d(q_k, s_k) - d(q_k, s_k')
      + margin, 0)` with the anchor q_k of Eq. (18), `d = 1 - cos` (Eq. (19)),
      `<k, k'>` in <c, u>, <u, c>, <l, d>, <d, l>; added with `add_loss` in
      training calls only, so validation losses are L1.

    Samples s_k (Sec. 3.5, l.389-392: "from the data of all user interactions,
    not only from the constructed sequence"): with `triplet_samples="history"`
    each row's k sample is one event drawn uniformly from its user's whole k
    history before the instance (the task's `data.history_samples` inputs
    `k_sample_<feature>`, `k_sample_mask` `[batch, 1]`); "window" draws it
    from the row's own k window (the last T events), the default of the class
    and what runs before 2026-12-04 did.

    Choices where the paper is silent:
    - E vs Z: each memory maps its anchor q (width Z) to the samples' width D
      with a bias-free linear map (`NTMMemory(anchor_dim=D)`).
    - Samples s_k: every row of the batch contributes one item (above); the pool of the batch's samples serves every anchor, and the hardest
      positive (farthest from q) and negative (nearest) are chosen in it
      (`triplet_sampling="hardest"`; "random" draws them: DUMN_RS). A row
      without a k event gives no sample; an anchor without a valid positive or
      negative adds 0. Under tf.distribute the pool is the replica's batch.
      A row without k events still has an anchor (its f_k is 0, its controller
      reads e_user) and still counts in M_k's batch-mean write.
    - A type without its pair (no dislike data: like has no negative) has no
      triplet term; the purification pair needs both of its types.
    - e_user is every field that is not an item feature of the sequences (user
      profile; on our data also item fields not read in sequences).
    - Eq. (15)'s FFN: ReLU layers `hidden_units` then a logit (the text before
      it also names the long- and short-term interests; we follow the equation:
      R_cross holds both).
    - Memories: one shared by all users, a batch writes with its mean erase and
      add (see `NTMMemory`).
    - Margin 0.5 and 2 heads; batch size and epochs are the config's.

    Ablations (switches of this one model; the paper's names):
    - `memory="none"` (DUMN-UMN, Table 2): no memory, no PAIR, no triplet term;
      Eq. (15) reads Concat(e_user, e_item, f^o_1 .. f^o_K). `memory="one"`
      (DUMN+UMN1): one memory for every type, read by all K types before the
      batch's one write, the mean of their K x batch writes (our choice: the
      paper does not say how the types share it). `memory=False` / `True` mean
      "none" / "per_type".
    - `fusion` (Table 4): "gate" (PAIR) or "concat", "cross", "ffn", "attention"
      (`PAIRGate`).
    - `triplet_weight=0` (DUMN-TL) and `triplet_sampling="random"` (DUMN_RS,
      Table 5).
    - `feedback="implicit"` (DUMN_IF, Table 6): click and unclick only, no
      projection; `feedback="all"` (DUMN_AF): the one time-ordered sequence
      "all" of the task's `data.merged_types`, no projection, one memory and no
      triplet term (it needs two types).
    - `purify=False` (DUMN-FP, Sec. 4.3.1): `f^o_k = f_k`.
    - Data without dislike: `sequence_types=("click", "unclick", "like")` turns
      M_d and the <click, dislike> projection off.

    Inputs: the CTR fields int `[batch]`; for each type t of `sequence_types`,
    `t_<feature>` int `[batch, T]` and `t_mask` `[batch, T]`. Output: logits
    `[batch]`.

    Args:
        fields, vocabulary_sizes, item_features, embedding_dim, l2: as
            `SequenceCTRModel` (embedding_dim is E).
        sequence_types: None = `FEEDBACK_TYPES[feedback]`; for "typed" any
            subset of the four holding click and unclick.
        max_length: T of Eq. (1)'s `sqrt(T)` (the task's window length; None =
            each batch's padded length, which makes the outputs depend on the
            padding: `from_task` sets it).
        feedback: "typed", "implicit" or "all".
        purify: Eq. (6)-(7) on (False: DUMN-FP).
        memory: "per_type", "one" or "none" (True / False accepted).
        fusion: the PAIR fusion (`PAIRGate`).
        num_heads: H of Eq. (1); must divide D.
        num_slots: m. slot_dim: Z. controller_units: the memory FFN's width.
        key_strength, write_content, learn_key_strength: `NTMMemory`'s
            addressing sharpness and write content (defaults: Eq. (9) and (12)
            as written, whose memories collapse: see `NTMMemory`; the configs
            set the values chosen on validation).
        hidden_units: Eq. (15)'s hidden layers.
        dropout: dropout of those layers.
        triplet_weight: the weight of L2 (1 in the paper; 0 = DUMN-TL).
        triplet_margin: the margin of Eq. (17).
        triplet_sampling: "hardest" or "random".
        triplet_samples: where each row's sample comes from: "window" (its k
            window) or "history" (its whole earlier k history; needs the
            `k_sample_*` inputs).
        seed: seed of the sample draws.

    Example:
        >>> model = DUMN(["user_id", "item_id"], [10, 50], embedding_dim=4,
        ...              num_slots=8, slot_dim=4, controller_units=8)

    Reference: Z. Bian et al., "Denoising User-aware Memory Network for
    Recommendation", RecSys 2021 (arXiv:2107.05474).
    """

    default_sequence_types = FEEDBACK_TYPES["typed"]
    # With `max_length` set (as `from_task` does), nothing depends on the
    # padding's width: the task cuts each batch to the columns it uses.
    padding_invariant = True

    def __init__(
        self,
        fields,
        vocabulary_sizes,
        sequence_types=None,
        item_features=("item_id",),
        embedding_dim=16,
        max_length=None,
        feedback="typed",
        purify=True,
        memory="per_type",
        fusion="gate",
        num_heads=2,
        num_slots=256,
        slot_dim=64,
        controller_units=512,
        key_strength=1.0,
        write_content="add",
        learn_key_strength=False,
        hidden_units=(200, 80),
        dropout=0.0,
        triplet_weight=1.0,
        triplet_margin=0.5,
        triplet_sampling="hardest",
        triplet_samples="window",
        seed=None,
        l2=0.0,
        **kwargs,
    ):
        if feedback not in FEEDBACK_TYPES:
            raise ValueError(
                f"`feedback` must be one of {tuple(FEEDBACK_TYPES)}. "
                f"Received: feedback={feedback!r}"
            )
        memory = {True: "per_type", False: "none"}.get(memory, memory)
        if memory not in MEMORIES:
            raise ValueError(
                f"`memory` must be one of {MEMORIES}. Received: memory={memory!r}"
            )
        triplet = triplet_options(
            triplet_weight, triplet_margin, triplet_sampling, triplet_samples, seed
        )
        if memory == "none" and fusion != "gate":
            raise ValueError(
                f"fusion={fusion!r} fuses the memory's long-term interests: it "
                "needs a memory (memory='per_type' or 'one')"
            )
        types = tuple(sequence_types or FEEDBACK_TYPES[feedback])
        allowed = FEEDBACK_TYPES[feedback]
        if feedback == "typed":
            valid = set(types) <= set(allowed) and {"click", "unclick"} <= set(types)
        else:
            valid = types == allowed
        if not valid:
            raise ValueError(
                f"DUMN with feedback={feedback!r} reads "
                + (
                    "click, unclick and any of like, dislike"
                    if feedback == "typed"
                    else f"the sequences {allowed}"
                )
                + f". Received: sequence_types={types}"
            )
        super().__init__(
            fields,
            vocabulary_sizes,
            sequence_types=types,
            item_features=item_features,
            embedding_dim=embedding_dim,
            l2=l2,
            **kwargs,
        )
        self._user_index = self.user_field_index()
        self.user_fields = tuple(self.fields[i] for i in self._user_index)
        self.max_length = None if max_length is None else int(max_length)
        if self.max_length is not None and self.max_length < 1:
            raise ValueError(
                f"`max_length` must be >= 1 or None. Received: max_length={max_length}"
            )
        self.feedback = feedback
        self.purify = bool(purify)
        self.memory = memory
        self.fusion = fusion
        self.num_heads = int(num_heads)
        self.num_slots = int(num_slots)
        self.slot_dim = int(slot_dim)
        self.controller_units = int(controller_units)
        self.key_strength = float(key_strength)
        self.write_content = write_content
        self.learn_key_strength = bool(learn_key_strength)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.dropout = dropout
        for key, value in triplet.items():
            setattr(self, key, value)

        self.purified_pairs = (
            tuple(p for p in PURIFICATION if set(p) <= set(types))
            if self.purify and feedback == "typed"
            else ()
        )
        self.triplet_types = (
            paired_types(types) if self.triplet_weight and memory != "none" else ()
        )
        self.interaction = {
            t: MultiHeadInteraction(
                self.num_heads, scale_length=self.max_length, name=f"{t}_interaction"
            )
            for t in types
        }
        self.projection = (
            OrthogonalProjection(name="purification") if self.purified_pairs else None
        )

        def memory_layer(name, anchor):
            return NTMMemory(
                num_slots=self.num_slots,
                slot_dim=self.slot_dim,
                controller_units=self.controller_units,
                anchor_dim=self.item_dim if anchor else None,
                key_strength=self.key_strength,
                write_content=self.write_content,
                learn_key_strength=self.learn_key_strength,
                name=name,
            )

        if memory == "per_type":
            self.memories = {
                t: memory_layer(f"{t}_memory", t in self.triplet_types) for t in types
            }
        elif memory == "one":
            shared = memory_layer("memory", bool(self.triplet_types))
            self.memories = {t: shared for t in types}
        else:
            self.memories = {}
        self.pair = PAIRGate(fusion, name="pair") if self.memories else None
        self.mlp = MLP(
            self.hidden_units + (1,),
            output_activation=None,
            dropout=dropout,
            name="mlp",
        )
        self.sample_seeds = keras.random.SeedGenerator(seed, name="sample_seeds")

    @classmethod
    def from_task(
        cls, task, fields=None, sequence_types=None, feedback="typed", **kwargs
    ):
        """The model for a behaviour-sequence CTR task: the sequences of
        `feedback` unless `sequence_types` is given; a type the data lacks is a
        ValueError naming it and the dataset."""
        if not sequence_types:
            if feedback not in FEEDBACK_TYPES:
                raise ValueError(
                    f"`feedback` must be one of {tuple(FEEDBACK_TYPES)}. "
                    f"Received: feedback={feedback!r}"
                )
            sequence_types = FEEDBACK_TYPES[feedback]
        kwargs.setdefault("max_length", getattr(task, "max_length", None))
        return super().from_task(
            task, fields, sequence_types, feedback=feedback, **kwargs
        )

    def representations(self, inputs):
        """What Eq. (1)-(7) compute, for inspection (Figures 3-4) and tests.

        Returns:
            dict with "user" (e_user `[batch, U]`), "item" (e_item `[batch, D]`),
            "short" and "purified" (type -> f_k and f^o_k `[batch, D]`) and
            "sequences" (type -> (e_k `[batch, T, D]`, mask bool `[batch, T]`)).
        """
        _, fields = self.embed(inputs)
        user = self.embed_user(fields, self._user_index)
        item = self.embed_target(inputs)
        sequences = {t: self.embed_sequence(inputs, t) for t in self.sequence_types}
        short = {
            t: self.interaction[t](e, user, item, mask=mask)  # Eq. (1)-(5)
            for t, (e, mask) in sequences.items()
        }
        purified = dict(short)
        for implicit, explicit in self.purified_pairs:  # Eq. (6)-(7)
            purified[implicit] = self.projection(short[implicit], short[explicit])
        return dict(
            user=user, item=item, short=short, purified=purified, sequences=sequences
        )

    def call(self, inputs, training=False):
        parts = self.representations(inputs)
        user, purified = parts["user"], parts["purified"]
        short = ops.stack([purified[t] for t in self.sequence_types], axis=1)
        if not self.memories:
            deep = ops.reshape(short, (-1, short.shape[1] * short.shape[2]))
        else:
            reads, anchors = self.read_memories(purified, user, training)
            deep = self.pair(short, ops.stack(reads, axis=1))  # Eq. (13)-(14)
            if anchors:
                self.add_loss(
                    self.triplet_weight
                    * self.triplet_term(anchors, self.sample_sources(inputs, parts))
                )
        features = ops.concatenate([user, parts["item"], deep], axis=-1)
        return ops.squeeze(self.mlp(features, training=training), -1)  # Eq. (15)

    def read_memories(self, purified, user, training):
        """Eq. (8)-(12), (18): the reads r_k (a list in `sequence_types` order)
        and the anchors q_k of the triplet types (a dict; training calls only).
        With `memory="one"` every type reads the one memory before the batch's
        single write (`read_memories` of `ntm_memory`)."""
        types = self.sequence_types
        anchored = (
            [k for k, t in enumerate(types) if t in self.triplet_types]
            if training
            else []
        )
        reads, anchors = read_memories(
            [self.memories[t] for t in types],
            [purified[t] for t in types],
            user,
            training=training,
            anchored=anchored,
        )
        return reads, {types[k]: anchors[k] for k in anchored}

    def sample_sources(self, inputs, parts):
        """type -> (items `[batch, n, D]`, mask `[batch, n]`) the triplet
        samples are drawn from: the windows, or the drawn history events
        `[batch, 1]` (`triplet_samples="history"`)."""
        if self.triplet_samples == "window":
            return parts["sequences"]
        # A paired type's pair is paired too: the triplet types are all needed.
        return self.embed_history_samples(inputs, self.triplet_types)

    def triplet_term(self, anchors, sequences):
        """Eq. (20): `sum_k mean_batch L_k` (Eq. (17)-(19)) over `anchors`
        (type -> q_k `[batch, D]`)."""
        return feedback_triplet_term(
            anchors,
            sequences,
            self.sequence_types,
            margin=self.triplet_margin,
            mining=self.triplet_sampling,
            seed=self.sample_seeds,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            max_length=self.max_length,
            feedback=self.feedback,
            purify=self.purify,
            memory=self.memory,
            fusion=self.fusion,
            num_heads=self.num_heads,
            num_slots=self.num_slots,
            slot_dim=self.slot_dim,
            controller_units=self.controller_units,
            key_strength=self.key_strength,
            write_content=self.write_content,
            learn_key_strength=self.learn_key_strength,
            hidden_units=self.hidden_units,
            dropout=self.dropout,
            **{key: getattr(self, key) for key in TRIPLET_ARGS},
        )
        return config
