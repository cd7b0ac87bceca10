"""Base classes that separate what a model computes from how it is scored.

As in TFRS `models/base.py`: a model's `call` returns logits (CTR) or query
embeddings (retrieval); its `compute_loss` holds the training objective, so
`compile` / `fit` keep their usual Keras meaning.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from recsys_tf.data.ctr_sequence import MERGED, SEQUENCE_TYPES
from recsys_tf.layers import FieldEmbedding
from recsys_tf.losses import PAIR_LOSSES, pair_loss

CANDIDATES = "sampled_candidates"
"""Key of `x` holding the sampled softmax's candidates drawn outside an XLA step."""


def scale_for_replicas(loss):
    """Divides a per-replica mean loss by the number of replicas in sync.

    Under tf.distribute each replica's gradients are summed, so a loss averaged
    over the local batch must be divided by the replica count to give the mean
    over the global batch (what Keras' compiled losses do internally).
    """
    strategy = tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if replicas > 1 and tf.distribute.in_cross_replica_context() is False:
        return loss / replicas
    return loss


def _regularisation(model):
    if not model.losses:
        return 0.0
    return ops.sum(ops.stack([ops.cast(x, "float32") for x in model.losses]))


class SuiteModel(keras.Model):
    """What every model of the suite shares."""

    def input_fields(self) -> dict[str, int | None]:
        """The inputs that `call` reads, name -> vocabulary size of its codes (None
        for an input that is not a code, such as a mask): what a serving signature
        takes (`experiments/export.py`)."""
        raise NotImplementedError(f"{type(self).__name__} does not list its inputs")

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3.15 under tf.distribute draws a training batch (which the epoch then
        # misses) and reduces it with a MEAN (which fails for bool tensors and for the
        # per-worker values of MultiWorkerMirroredStrategy) only to build the model
        # symbolically. The trainer builds the model and its optimizer before `fit`,
        # so there is nothing to build: skip it.
        if self.built and self.optimizer is not None and self.optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def train_step(self, data):
        logs = super().train_step(data)
        if isinstance(
            self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy
        ):
            # Keras 3.15 averages the logs across workers with
            # strategy.reduce("MEAN", value, axis=0), which fails on scalars; as
            # [1] vectors they reduce to the scalar mean over replicas.
            logs = {name: ops.reshape(value, (1,)) for name, value in logs.items()}
        return logs


class CTRModel(SuiteModel):
    """A click-through-rate model: `call` returns logits `[batch]`.

    The loss is the binary cross-entropy of the logits against the labels,
    averaged over the batch, plus the layers' regularisation losses.
    """

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        labels = ops.cast(ops.reshape(y, (-1,)), "float32")
        logits = ops.reshape(y_pred, (-1,))
        loss = ops.mean(
            ops.binary_crossentropy(labels, logits, from_logits=True)
            if sample_weight is None
            else ops.binary_crossentropy(labels, logits, from_logits=True)
            * ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
        )
        return scale_for_replicas(loss + _regularisation(self))

    def predict_proba(self, logits):
        return ops.sigmoid(logits)

    def input_fields(self) -> dict[str, int]:
        """The int `[batch]` inputs that `call` reads (its `fields`), name ->
        vocabulary size."""
        return dict(zip(self.fields, self.vocabulary_sizes))


def stack_fields(inputs: dict, fields) -> object:
    """Stacks the named int fields of `inputs` into `[batch, num_fields]`."""
    missing = [f for f in fields if f not in inputs]
    if missing:
        raise KeyError(f"inputs lack field(s) {missing}; they have {sorted(inputs)}")
    return ops.stack([ops.cast(inputs[f], "int32") for f in fields], axis=1)


def sparse_fields(task, fields=None) -> tuple[tuple[str, ...], list[int]]:
    """`fields` and their vocabulary sizes in a `CTRTask`; None or () (a config's
    default) = every field but the crosses, which models with embeddings learn
    themselves."""
    if not fields:
        fields = tuple(f for f in task.fields if "_x_" not in f)
    unknown = [f for f in fields if f not in task.vocabulary_sizes]
    if unknown:
        raise ValueError(
            f"field(s) {unknown} are not in the task; it has {list(task.fields)}"
        )
    return tuple(fields), [task.vocabulary_sizes[f] for f in fields]


class FieldCTRModel(CTRModel):
    """A CTR model whose categorical fields share one embedding table.

    What FM, DeepFM, PNN, DCN and AutoInt share: the fields and their vocabulary
    sizes, one `embedding_dim` vector per field code (`FieldEmbedding`, named
    "embedding", with L2 factor `l2` on the looked-up rows), `from_task` (every
    field of the task but the crosses by default) and the config of these
    arguments. Subclasses add their own layers and arguments.

    Args:
        fields: names of the categorical fields.
        vocabulary_sizes: their vocabulary sizes.
        embedding_dim: size of each field embedding.
        l2: L2 factor on looked-up embedding rows.
    """

    def __init__(self, fields, vocabulary_sizes, embedding_dim=16, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        if len(fields) != len(vocabulary_sizes):
            raise ValueError("`fields` and `vocabulary_sizes` differ in length.")
        self.fields = tuple(fields)
        self.vocabulary_sizes = tuple(int(v) for v in vocabulary_sizes)
        self.embedding_dim = int(embedding_dim)
        self.l2 = l2
        self.embedding = FieldEmbedding(
            self.vocabulary_sizes,
            self.embedding_dim,
            embeddings_regularizer=l2,
            name="embedding",
        )

    @classmethod
    def from_task(cls, task, fields=None, **kwargs):
        """Builds the model for a `CTRTask` (every field but the crosses by default)."""
        return cls(*sparse_fields(task, fields), **kwargs)

    def embed(self, inputs):
        """The field codes `[batch, F]` of `inputs` and their embeddings
        `[batch, F, embedding_dim]`."""
        codes = stack_fields(inputs, self.fields)
        return codes, self.embedding(codes)

    def get_config(self):
        config = super().get_config()
        config.update(
            fields=self.fields,
            vocabulary_sizes=self.vocabulary_sizes,
            embedding_dim=self.embedding_dim,
            l2=self.l2,
        )
        return config


class SequenceCTRModel(FieldCTRModel):
    """A CTR model that also reads the user's feedback sequences before each
    impression (task "ctr_sequence").

    Inputs beside the CTR fields, for each type `t` in `sequence_types`:
    `f"{t}_{feature}"` int `[batch, T]` for each of `item_features` (oldest
    first, left-padded) and `f"{t}_mask"` `[batch, T]` (1 = a real event); with
    `uses_sessions`, `f"session_{feature}"` and `"session_mask"`
    `[batch, S, L]`. A sequence position's item is embedded with the rows of the
    CTR field of the same name (one shared table), so the target item
    (`embed_target`) and the behaviours (`embed_sequence`) live in one space of
    size `len(item_features) * embedding_dim`.

    Subclasses set `default_sequence_types` (None = every type the data has) and
    `uses_sessions`.

    Args:
        fields: names of the CTR fields (they include every item feature).
        vocabulary_sizes: their vocabulary sizes.
        sequence_types: the feedback types the model reads.
        item_features: the item fields that describe a sequence position,
            "item_id" first.
        embedding_dim: size of each field embedding.
        l2: L2 factor on the looked-up rows of the CTR fields.
    """

    default_sequence_types: tuple[str, ...] | None = ("click",)
    uses_sessions = False
    # True when the outputs do not depend on the padding's width: the task then
    # cuts each batch's sequences to the columns its rows use (`window_trimmer`).
    padding_invariant = False

    def __init__(
        self,
        fields,
        vocabulary_sizes,
        sequence_types=("click",),
        item_features=("item_id",),
        embedding_dim=16,
        l2=0.0,
        **kwargs,
    ):
        super().__init__(fields, vocabulary_sizes, embedding_dim, l2, **kwargs)
        sequence_types = tuple(sequence_types)
        item_features = tuple(item_features)
        unknown = [t for t in sequence_types if t not in SEQUENCE_TYPES + (MERGED,)]
        if not sequence_types or unknown:
            raise ValueError(
                f"`sequence_types` must be non-empty, of {SEQUENCE_TYPES + (MERGED,)}. "
                f"Received: sequence_types={sequence_types}"
            )
        missing = [f for f in item_features if f not in self.fields]
        if not item_features or item_features[0] != "item_id" or missing:
            raise ValueError(
                "`item_features` must start with 'item_id' and be CTR fields "
                f"{self.fields}. Received: item_features={item_features}"
            )
        self.sequence_types = sequence_types
        self.item_features = item_features
        self._item_index = tuple(self.fields.index(f) for f in item_features)

    @classmethod
    def from_task(cls, task, fields=None, sequence_types=None, **kwargs):
        """Builds the model for a behaviour-sequence CTR task.

        `sequence_types` None = the class's `default_sequence_types` (None there
        = every type the data has). A type the data lacks is a ValueError naming
        it and the dataset.
        """
        available = tuple(task.sequence_types)
        if sequence_types:
            types = tuple(sequence_types)
        elif cls.default_sequence_types is None:
            types = available
        else:
            types = cls.default_sequence_types
        lacking = [t for t in types if t not in available]
        if lacking:
            raise ValueError(
                f"{cls.__name__} reads the {lacking} sequence(s), which dataset "
                f"{getattr(task, 'dataset', '?')!r} does not have (it has "
                f"{list(available)}); choose others with "
                "--config.model.sequence_types"
            )
        fields, sizes = sparse_fields(task, fields)
        item_features = tuple(f for f in task.item_features if f in fields)
        return cls(
            fields,
            sizes,
            sequence_types=types,
            item_features=item_features,
            **kwargs,
        )

    def user_field_index(self) -> tuple[int, ...]:
        """Positions in `fields` of the fields that are not item features (DUMN's
        e_user: the user profile; on our data also the item fields not read in
        sequences); a ValueError naming the model when there is none."""
        index = tuple(
            i for i, f in enumerate(self.fields) if f not in self.item_features
        )
        if not index:
            raise ValueError(
                f"{type(self).__name__} needs a user field (e_user) beside the item "
                f"features. Received: fields={self.fields}, "
                f"item_features={self.item_features}"
            )
        return index

    def embed_user(self, embedded, index):
        """e_user `[batch, len(index) * embedding_dim]`: the field embeddings
        `embedded` `[batch, F, E]` at `index` (`user_field_index()`), side by
        side."""
        user = ops.take(embedded, index, axis=1)
        return ops.reshape(user, (-1, len(index) * self.embedding_dim))

    @property
    def item_dim(self) -> int:
        """Size of a target / behaviour item embedding."""
        return len(self.item_features) * self.embedding_dim

    def _embed_items(self, inputs, prefix):
        return ops.concatenate(
            [
                self.embedding.embed_field(inputs[f"{prefix}{feature}"], index)
                for feature, index in zip(self.item_features, self._item_index)
            ],
            axis=-1,
        )

    def embed_target(self, inputs):
        """The target item's embedding `[batch, item_dim]`."""
        return self._embed_items(inputs, "")

    def embed_sequence(self, inputs, sequence_type):
        """The `sequence_type` behaviours `[batch, T, item_dim]` and their mask
        (bool `[batch, T]`)."""
        if sequence_type not in self.sequence_types:
            raise ValueError(
                f"{type(self).__name__} was built without the {sequence_type!r} "
                f"sequence; it reads {self.sequence_types}"
            )
        items = self._embed_items(inputs, f"{sequence_type}_")
        return items, ops.cast(inputs[f"{sequence_type}_mask"], "bool")

    def embed_history_samples(self, inputs, types):
        """type -> (the event drawn from the row's whole earlier history of that
        type `[batch, 1, item_dim]`, its mask bool `[batch, 1]`) for each of
        `types`: the task's `data.history_samples` inputs `<type>_sample_*`
        (DUMN's triplet samples, Sec. 3.5). A missing input is a ValueError
        naming it and the config key."""
        out = {}
        for t in types:
            if f"{t}_sample_mask" not in inputs:
                raise ValueError(
                    f"{type(self).__name__}(triplet_samples='history') needs the "
                    f"input {t}_sample_mask: build the task with "
                    "data.history_samples=True"
                )
            items = self._embed_items(inputs, f"{t}_sample_")
            out[t] = items, ops.cast(inputs[f"{t}_sample_mask"], "bool")
        return out

    def embed_sessions(self, inputs):
        """The click sessions `[batch, S, L, item_dim]` and their mask (bool
        `[batch, S, L]`)."""
        items = self._embed_items(inputs, "session_")
        return items, ops.cast(inputs["session_mask"], "bool")

    def input_fields(self) -> dict[str, int | None]:
        sizes = dict(zip(self.fields, self.vocabulary_sizes))
        prefixes = [f"{t}_" for t in self.sequence_types]
        prefixes += ["session_"] if self.uses_sessions else []
        inputs = dict(sizes)
        for prefix in prefixes:
            for feature in self.item_features:
                inputs[f"{prefix}{feature}"] = sizes[feature]
            inputs[f"{prefix}mask"] = None
        return inputs

    def get_config(self):
        config = super().get_config()
        config.update(
            sequence_types=self.sequence_types, item_features=self.item_features
        )
        return config


class RetrievalModel(SuiteModel):
    """A two-tower style retrieval model scored by a dot product.

    Subclasses implement `call(inputs) -> query [batch, dim]` and
    `candidate_embeddings() -> [num_items, dim]` (biases folded in as an extra
    column of ones in the query). Training uses the model's `sampled_softmax`
    (a `recsys_tf.losses.SampledSoftmax`, or None for the full softmax).
    """

    sampled_softmax = None
    _compiled_step = None  # the XLA part of the step, see `make_train_function`

    def output_table(self):
        """The (embeddings [num_items, dim], biases [num_items] or None) scored."""
        raise NotImplementedError

    def candidate_embeddings(self):
        """Candidates for brute-force retrieval: `[E, b]` `[num_items, dim (+1)]`."""
        embeddings, biases = self.output_table()
        if biases is None:
            return embeddings
        return ops.concatenate([embeddings, ops.expand_dims(biases, 1)], axis=1)

    def retrieval_queries(self, queries):
        """Queries matching `candidate_embeddings`: `[q, 1]` when there are biases."""
        _, biases = self.output_table()
        if biases is None:
            return queries
        ones = ops.ones_like(queries[:, :1])
        return ops.concatenate([queries, ones], axis=1)

    def make_train_function(self, force=False):
        """The training step; under XLA, the candidate sampler runs outside it.

        TensorFlow's candidate samplers (log-uniform, uniform, unigram) have no
        XLA kernel. With `jit_compile=True` and a sampled softmax, the step that
        Keras runs is therefore left uncompiled: it draws the candidates and
        passes them, as inputs under `x[CANDIDATES]`, to the rest of the step
        (forward pass, loss, gradients, optimizer update), compiled by XLA.
        """
        if self.train_function is not None and not force:
            return self.train_function
        self._compiled_step = None
        if not (self.jit_compile and self.sampled_softmax is not None):
            return super().make_train_function(force)
        self._compiled_step = tf.function(
            super().train_step, jit_compile=True, reduce_retracing=True
        )
        self.jit_compile = False  # the step Keras runs: uncompiled
        try:
            return super().make_train_function(force=True)
        finally:
            self.jit_compile = True

    def train_step(self, data):
        if self._compiled_step is None:
            return super().train_step(data)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        labels = ops.cast(ops.reshape(y, (-1,)), "int64")
        x = {**x, CANDIDATES: self.sampled_softmax.sample_candidates(labels)}
        return self._compiled_step(
            keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        )

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        embeddings, biases = self.output_table()
        labels = ops.cast(ops.reshape(y, (-1,)), "int64")
        if training and self.sampled_softmax is not None:
            candidates = x.get(CANDIDATES) if isinstance(x, dict) else None
            # Candidates in `x` come from outside an XLA step (`train_step`).
            per_example = self.sampled_softmax(
                embeddings,
                biases,
                y_pred,
                labels,
                sampled_values=candidates,
                xla=candidates is not None,
            )
        else:
            logits = ops.matmul(y_pred, ops.transpose(embeddings))
            if biases is not None:
                logits = logits + biases[None, :]
            per_example = keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True
            )
        if sample_weight is not None:
            per_example = per_example * ops.cast(
                ops.reshape(sample_weight, (-1,)), "float32"
            )
        return scale_for_replicas(ops.mean(per_example) + _regularisation(self))


class PairwiseModel(SuiteModel):
    """A model scoring (user, item) pairs, trained against sampled negatives.

    `call(inputs)` returns the logits `[batch]` of the pairs
    (`inputs["user_id"]`, `inputs["item_id"]`); a ranking sorts by them (a model
    whose paper ends in a sigmoid, `predict_proba`, ranks the same). Training
    batches (`recsys_tf.data.pairwise.train_dataset`) add `negatives` `[batch, x]`
    and the training feedback of every pair (`feedback` `[batch, T]`,
    `negative_feedback` `[batch, x, T]`); `compute_loss` scores the negatives with
    `score` and applies `recsys_tf.losses.pair_loss(loss)`. Subclasses implement
    `score(user_ids, item_ids, feedback=None, training=False) -> [n]` (feedback is
    given during training only) and list their own arguments in `get_config`.

    Args:
        num_users: user vocabulary size.
        num_items: item vocabulary size.
        loss: "bpr", "pointwise" or "weighted_square" (`pair_loss`).
        positive_weight: the positive's confidence of "weighted_square".
    """

    def __init__(self, num_users, num_items, loss="bpr", positive_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        if loss not in PAIR_LOSSES:
            raise ValueError(f"`loss` must be one of {PAIR_LOSSES}. Received: {loss!r}")
        if min(num_users, num_items) < 1:
            raise ValueError(
                "`num_users` and `num_items` must be >= 1. Received: "
                f"num_users={num_users}, num_items={num_items}"
            )
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        self.loss = loss
        self.positive_weight = float(positive_weight)

    @classmethod
    def from_task(cls, task, **kwargs):
        """Builds the model for a `recsys_tf.data.pairwise.PairwiseTask`."""
        return cls(task.num_users, task.num_items, **kwargs)

    def score(self, user_ids, item_ids, feedback=None, training=False):
        raise NotImplementedError

    def call(self, inputs, training=False):
        feedback = inputs.get("feedback") if training else None
        return self.score(inputs["user_id"], inputs["item_id"], feedback, training)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        negatives = ops.cast(x["negatives"], "int32")
        batch, count = ops.shape(negatives)[0], ops.shape(negatives)[1]
        users = ops.reshape(
            ops.repeat(ops.cast(x["user_id"], "int32")[:, None], count, axis=1), (-1,)
        )
        feedback = x.get("negative_feedback")
        if feedback is not None:
            feedback = ops.reshape(feedback, (batch * count, ops.shape(feedback)[-1]))
        scores = self.score(users, ops.reshape(negatives, (-1,)), feedback, training)
        per_example = pair_loss(
            ops.reshape(y_pred, (-1,)),
            ops.reshape(scores, (batch, count)),
            self.loss,
            self.positive_weight,
        )
        if sample_weight is not None:
            per_example = per_example * ops.cast(
                ops.reshape(sample_weight, (-1,)), "float32"
            )
        return scale_for_replicas(ops.mean(per_example) + _regularisation(self))

    def predict_proba(self, logits):
        return ops.sigmoid(logits)

    def input_fields(self) -> dict[str, int]:
        return {"user_id": self.num_users, "item_id": self.num_items}

    def get_config(self):
        config = super().get_config()
        config.update(
            num_users=self.num_users,
            num_items=self.num_items,
            loss=self.loss,
            positive_weight=self.positive_weight,
        )
        return config


SEQUENTIAL_LOSSES = ("bce", "bce_mean", "bpr", "softmax", "sampled_softmax")


def require_positive(**sizes) -> None:
    """Raises a ValueError naming every size of `sizes` (name -> value) when one of
    them is below 1, e.g. "`embedding_dim` and `units` must be >= 1. Received:
    embedding_dim=0, units=8"."""
    if min(int(v) for v in sizes.values()) >= 1:
        return
    names = [f"`{k}`" for k in sizes]
    listed = (
        names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    )
    received = ", ".join(f"{k}={v}" for k, v in sizes.items())
    raise ValueError(f"{listed} must be >= 1. Received: {received}")


class SequentialRetrievalModel(RetrievalModel):
    """A retrieval model that reads the history as a sequence, a query per position.

    Subclasses implement `encode(inputs, training) -> [batch, seq_len, dim]`, the
    query of every position of `inputs["history"]` (position t reads positions
    up to t only), and `output_table()`. `call` returns the last position's
    query `[batch, dim]`, the one evaluation scores; with `per_position` (a task
    built with `per_position=True`, one row per user with a target per position)
    it returns every position's query in training, and the loss covers every
    real position (`history_mask`) at the cost of one sequence.

    Losses (`loss`), averaged over the real positions:
    - "bce": binary cross-entropy of the target's logit against `num_negatives`
      items per position drawn uniformly from the catalogue,
      `-log sigmoid(r_target) - sum_j log(1 - sigmoid(r_j))` (SASRec Eq. (10),
      Caser Eq. (10)); a drawn item equal to one of the row's items (inputs or
      targets) is left out (SASRec redraws it; on Amazon Beauty that is about 1 in
      1,300 draws);
    - "bce_mean": the same terms with the negatives averaged instead of summed,
      `-log sigmoid(r_target) - mean_j log(1 - sigmoid(r_j))` over the kept
      negatives (Caser's code: the mean of the targets' terms plus the mean of
      the negatives'; the two losses agree for `num_negatives=1`);
    - "bpr": `mean_j -log sigmoid(r_target - r_j)` over the same drawn and
      kept negatives (BPR, Rendle et al. 2009; SHAN Eq. (8) with one negative);
      a position whose negatives are all left out contributes 0;
    - "softmax": cross-entropy of the softmax over the whole catalogue;
    - "sampled_softmax": the foundation's `SampledSoftmax` with `num_negatives`
      uniform candidates shared by the batch, log-Q corrected.

    Args:
        num_items: catalogue size.
        loss: one of `SEQUENTIAL_LOSSES`.
        num_negatives: negatives per position ("bce", "bce_mean", "bpr") or per batch
            ("sampled_softmax").
        per_position: return every position's query in training (set by
            `from_task` from the task).
        seed: seed of the negatives.
    """

    # Whether the queries at real positions stay the same when leading columns of
    # padding are added or cut (checked by the models' tests); the input pipeline
    # then cuts each batch to the columns its rows use. Subclasses that read a
    # fixed window (Caser) keep False.
    padding_invariant = False

    def __init__(
        self,
        num_items,
        loss="bce",
        num_negatives=1,
        per_position=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_items) < 2:
            raise ValueError(
                f"`num_items` must be >= 2. Received: num_items={num_items}"
            )
        if loss not in SEQUENTIAL_LOSSES:
            raise ValueError(
                f"`loss` must be one of {SEQUENTIAL_LOSSES}. Received: loss={loss!r}"
            )
        if int(num_negatives) < 1:
            raise ValueError(
                f"`num_negatives` must be >= 1. Received: num_negatives={num_negatives}"
            )
        self.num_items = int(num_items)
        self.training_loss = loss  # `loss` is Keras' compiled loss
        self.num_negatives = int(num_negatives)
        self.per_position = bool(per_position)
        self.seed = seed
        self.negative_seeds = keras.random.SeedGenerator(seed, name="negative_seeds")
        if loss == "sampled_softmax":
            from recsys_tf.losses import SampledSoftmax

            self.position_softmax = SampledSoftmax(
                num_items=self.num_items,
                num_sampled=min(self.num_negatives, self.num_items),
                sampler="uniform",
                seed=seed,
            )

    @classmethod
    def from_task(cls, task, **kwargs):
        """Builds the model for a `RetrievalTask`; `per_position` follows the task."""
        return cls(
            num_items=task.num_items,
            per_position=getattr(task, "per_position", False),
            **kwargs,
        )

    def input_fields(self):
        """`history` (item codes) and `history_mask`."""
        return {"history": self.num_items, "history_mask": None}

    def encode(self, inputs, training=False):
        """Queries of every position, `[batch, seq_len, dim]`."""
        raise NotImplementedError

    def encode_last(self, inputs, training=False):
        """The last position's query `[batch, dim]` (override to skip the others)."""
        return self.encode(inputs, training=training)[:, -1]

    def call(self, inputs, training=False):
        if training and self.per_position:
            return self.encode(inputs, training=training)
        return self.encode_last(inputs, training=training)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        labels = ops.cast(y, "int32")
        if len(y_pred.shape) == 2:  # one query per row: its last target
            if len(labels.shape) == 2:
                labels = labels[:, -1]
            queries, labels = y_pred[:, None], labels[:, None]
            mask = ops.ones_like(labels, "bool")
        else:
            queries, mask = y_pred, ops.cast(x["history_mask"], "bool")
        weights = ops.cast(mask, "float32")
        if sample_weight is not None:
            weights = weights * ops.cast(ops.reshape(sample_weight, (-1, 1)), "float32")
        if self.training_loss in ("bce", "bce_mean", "bpr"):
            per_position = self._drawn_negatives_loss(x, queries, labels, mask)
        else:
            per_position = self._softmax(queries, labels, mask, training)
            weights = tf.boolean_mask(weights, mask)
        loss = ops.sum(per_position * weights) / ops.maximum(ops.sum(weights), 1.0)
        return scale_for_replicas(loss + _regularisation(self))

    def _logits(self, queries, items):
        """`q . e_i + b_i` of queries `[..., dim]` and items `[..., k]`."""
        embeddings, biases = self.output_table()
        logits = ops.einsum("...d,...kd->...k", queries, ops.take(embeddings, items, 0))
        if biases is not None:
            logits = logits + ops.take(biases, items, 0)
        return logits

    def _drawn_negatives_loss(self, x, queries, labels, mask):
        """Per-position loss against drawn negatives, `[batch, seq_len]` ("bce",
        "bce_mean", "bpr")."""
        shape = ops.shape(labels)
        negatives = keras.random.randint(
            (shape[0], shape[1], self.num_negatives),
            0,
            self.num_items,
            seed=self.negative_seeds,
            dtype="int32",
        )
        history = ops.cast(x["history"], "int32")
        real = ops.cast(x["history_mask"], "bool")
        items = ops.concatenate(
            [ops.where(real, history, -1), ops.where(mask, labels, -1)], axis=1
        )
        clash = ops.any(negatives[..., None] == items[:, None, None, :], axis=-1)
        keep = 1.0 - ops.cast(clash, "float32")
        if self.training_loss == "bpr":  # softplus(r_j - r_target) = -log sigma(.)
            target = self._logits(queries, labels[..., None])
            pairs = ops.softplus(self._logits(queries, negatives) - target) * keep
            return ops.sum(pairs, -1) / ops.maximum(ops.sum(keep, -1), 1.0)
        negative = ops.sum(ops.softplus(self._logits(queries, negatives)) * keep, -1)
        if self.training_loss == "bce_mean":
            negative = negative / ops.maximum(ops.sum(keep, -1), 1.0)
        return self._positive_bce(queries, labels, mask) + negative

    def _positive_bce(self, queries, labels, mask):
        """`-log sigmoid(r_target)` of each position, `[batch, seq_len]`."""
        return ops.softplus(-self._logits(queries, labels[..., None])[..., 0])

    def _softmax(self, queries, labels, mask, training):
        queries = tf.boolean_mask(queries, mask)  # real positions only: [P, dim]
        labels = tf.boolean_mask(labels, mask)
        embeddings, biases = self.output_table()
        if self.training_loss == "sampled_softmax" and training:
            return self.position_softmax(
                embeddings, biases, queries, ops.cast(labels, "int64")
            )
        logits = ops.matmul(queries, ops.transpose(embeddings))
        if biases is not None:
            logits = logits + biases[None, :]
        return keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            num_items=self.num_items,
            loss=self.training_loss,
            num_negatives=self.num_negatives,
            per_position=self.per_position,
            seed=self.seed,
        )
        return config
