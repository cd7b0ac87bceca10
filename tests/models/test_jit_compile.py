"""Every registered model trains under XLA (`jit_compile=True`, what Keras' "auto"
resolves to on a machine with a GPU), tested here on CPU."""

import keras
import numpy as np
import pytest

from data_prep import synthetic
from experiments.configs import common
from recsys_tf.data import pairwise
from recsys_tf.data.input import make_dataset
from recsys_tf.losses.sampled_softmax import SAMPLERS
from recsys_tf.models import MODELS, PairwiseModel, RetrievalModel, SequenceCTRModel
from recsys_tf.training import loop
from recsys_tf.training.optimizers import get_optimizer
from tests import testing

# Small towers: the point is that the step compiles, not what it learns.
SMALL = {
    "wide_deep": dict(embedding_dim=4, hidden_units=(8,)),
    "youtube_dnn": dict(embedding_dim=4, hidden_units=(8,), num_sampled=20),
    # The sequential models' sampled losses and dropout draw inside the step, where
    # XLA and eager execution draw different numbers from the same seed; the full
    # softmax without dropout compares the two on the same computation.
    "sasrec": dict(loss="softmax", dropout=0.0),
    "gru4rec": dict(loss="softmax", dropout=0.0),
    "caser": dict(loss="softmax", dropout=0.0),
    "narm": dict(loss="softmax", embedding_dropout=0.0, dropout=0.0),
    "shan": dict(loss="softmax", embeddings_l2=0.01, attention_l2=0.01),
    "sdm": dict(loss="softmax", dropout=0.0, units=8, num_heads=2, embedding_dim=8),
    "binn": dict(
        loss="softmax", dropout=0.0, embedding_dim=8, units=8, session_length=3
    ),
    "hpmn": dict(
        loss="softmax", dropout=0.0, embedding_dim=8, units=8, periods=(1, 2), hops=2
    ),
}
STEPS = 2


@pytest.fixture(scope="module")
def tasks():
    log = synthetic.simulate(synthetic.make_config("tiny"), seed=0)
    tasks = {}
    for task in ("ctr", "retrieval", "pairwise"):
        config = common.base("jit", task, dict(name=""))
        # SDM's session inputs (the other retrieval models ignore them).
        config.data.session_gap, config.data.max_session_length = 600, 50
        tasks[task] = loop.build_task(config, log)
    return tasks


def _kind(cls) -> str:
    if issubclass(cls, RetrievalModel):
        return "retrieval"
    return "pairwise" if issubclass(cls, PairwiseModel) else "ctr"


def _train(model, task, jit_compile, steps=STEPS):
    """Losses of `steps` training steps of 32 examples (lazy Adam): eagerly, or
    compiled by XLA (the model keeps `jit_compile=True`)."""
    if isinstance(model, PairwiseModel):
        sampler = pairwise.NegativeSampler(task)
        dataset = pairwise.train_dataset(task, sampler, 32, shuffle=False)
    else:
        if isinstance(model, RetrievalModel):
            features, labels = task.train.features(), task.train.targets
        else:
            features, labels = task.train.features, task.train.labels
        dataset = make_dataset(features, labels, batch_size=32)
    model.compile(
        optimizer=get_optimizer("lazy_adam", 0.01),
        jit_compile=jit_compile,
        run_eagerly=not jit_compile,
    )
    dataset = dataset.take(steps)
    losses = []
    model.fit(
        dataset,
        verbose=0,
        shuffle=False,
        callbacks=[
            keras.callbacks.LambdaCallback(
                on_train_batch_end=lambda batch, logs: losses.append(logs["loss"])
            )
        ],
    )
    assert model.jit_compile == jit_compile
    return np.asarray(losses)


def _build(model, task):
    """Calls `model` eagerly on two validation examples (its weights then exist)."""
    part = task.validation
    features = part.features() if callable(part.features) else part.features
    model({k: v[:2] for k, v in features.items()})


def _pair(tasks, name, **hparams):
    """The losses of the same model trained eagerly and with XLA."""
    cls = MODELS[name]
    task = tasks[_kind(cls)]
    losses = []
    for jit_compile in (False, True):
        testing.set_seed()
        model = cls.from_task(task, **{**SMALL.get(name, {}), **hparams})
        _build(model, task)  # as the trainer does before fit
        losses.append(_train(model, task, jit_compile))
    return losses


# Every registered model; YouTube DNN with each candidate sampler (TensorFlow's
# samplers have no XLA kernel: the candidates are drawn outside the compiled step)
# and with the full softmax. The behaviour-sequence models (SequenceCTRModel) need
# the ctr_sequence task's batches: each model's own test file compares its XLA and
# eager training (e.g. tests/models/test_dien.py).
CASES = (
    [
        (name, {})
        for name in sorted(MODELS)
        if name != "youtube_dnn" and not issubclass(MODELS[name], SequenceCTRModel)
    ]
    + [("youtube_dnn", dict(sampler=sampler, seed=5)) for sampler in SAMPLERS]
    + [("youtube_dnn", dict(num_sampled=0))]
)


# HPMN and BINN unroll their recurrences over the sequence: XLA compiles for
# minutes on 2 cores; SDM (LSTM + two attentions) and Caser (a convolution per
# height) compile for 15-30 s. `make test-slow` runs them; SASRec keeps the
# sequential retrieval models' XLA path in `make test` (GRU4Rec and NARM, GRUs, in
# `make test-slow`; DIEN's unrolled GRU and AUGRU compile in `make test`, in
# tests/models/test_sequence_ctr_checks.py).
# NeuMF is MF-MLP with one branch: MF-MLP's compile stays. Every candidate sampler
# draws outside the compiled step: `make test` compiles YouTube DNN with its
# config's (unigram), the other two samplers are in `make test-slow`.
SLOW = ("hpmn", "binn", "sdm", "caser", "narm", "gru4rec", "neumf")
SLOW_SAMPLERS = ("log_uniform", "uniform")


def _slow(name, hparams) -> bool:
    return name in SLOW or hparams.get("sampler") in SLOW_SAMPLERS


@pytest.mark.parametrize(
    "name, hparams",
    [
        pytest.param(n, h, marks=[pytest.mark.slow] if _slow(n, h) else [])
        for n, h in CASES
    ],
    ids=[f"{n}-{'-'.join(map(str, h.values()))}" for n, h in CASES],
)
def test_every_registered_model_trains_with_xla(tasks, name, hparams):
    cls = MODELS[name]
    task = tasks[_kind(cls)]
    testing.set_seed()
    model = cls.from_task(task, **{**SMALL.get(name, {}), **hparams})
    _build(model, task)
    if not model.trainable_weights:  # nothing to train (popularity): XLA scoring
        model.compile(jit_compile=True)
        features = task.validation.features()
        assert np.isfinite(model.predict(features, batch_size=64, verbose=0)).all()
        return
    # Same seeds, hence the same sampled candidates: the same losses with XLA.
    plain, xla = _pair(tasks, name, **hparams)
    assert np.isfinite(xla).all() and len(xla) == STEPS
    np.testing.assert_allclose(xla, plain, rtol=1e-4)
