"""The behaviour-sequence CTR models train under `MirroredStrategy` on two CPUs.

The same check as `test_mirrored.py` (its script's `check`: two epochs of fit,
then loss and gradients summed over the two replicas against a single-device copy
with the same weights), in a fresh interpreter, on batches with click / unclick /
like / dislike sequences and DSIN's sessions (int8 masks, as the input pipeline
feeds them); DIN and DIEN with Dice (inference pass) and with PReLU (training pass).
For DUMN, whose fit also writes its memories (MEAN-aggregated) and adds the triplet
term, the two replicas' copies of every memory must also agree after fit, and have
moved.
"""

import math

import numpy as np
import pytest

from tests.models.test_mirrored import SCRIPT as MIRRORED_SCRIPT
from tests.models.test_mirrored import run_results_script

# The shared part of test_mirrored's script: strategy, `check`, builders.
SHARED = MIRRORED_SCRIPT.split("\nCHECKS = {")[0]

SCRIPT = (
    SHARED
    + r"""
from recsys_tf.models import DFN, DIEN, DIN, DMT, DSIN, DUMN  # noqa: E402
from tests import testing  # noqa: E402

SEQ_VOCAB = {"user_id": 4, "item_id": 32, "category": 5}
SEQ_FIELDS = tuple(SEQ_VOCAB)
SEQ_SIZES = list(SEQ_VOCAB.values())
SEQ_COMMON = dict(
    item_features=("item_id", "category"), embedding_dim=4, hidden_units=(8,),
    l2=0.05,
)


DIN_VOCAB = {"user_id": 10, "item_id": 150, "category": 5}
DIN_FIELDS = tuple(DIN_VOCAB)
DIN_SIZES = list(DIN_VOCAB.values())


def din_data():
    # Click and unclick sequences of 6 (DIEN's auxiliary loss reads unclick).
    return testing.sequence_ctr_batch(DIN_VOCAB, n=N, length=6, seed=0)


def build_din(**kwargs):
    # Mini-batch aware regularisation, so that it is in the compared penalty.
    return DIN(
        DIN_FIELDS, DIN_SIZES, item_features=("item_id", "category"),
        embedding_dim=4, attention_units=(6,), hidden_units=(8,), mba_l2=0.05,
        **kwargs,
    )


def build_dien(**kwargs):
    return DIEN(
        DIN_FIELDS, DIN_SIZES, item_features=("item_id", "category"),
        embedding_dim=4, hidden_units=(8,), l2=0.05, **kwargs,
    )


def sequence_data():
    # N rows from batches of 32 (the item vocabulary's size).
    parts = [
        testing.add_sessions(
            testing.sequence_ctr_batch(
                SEQ_VOCAB, sequence_types=("click", "unclick", "like", "dislike"), n=32,
                length=4, seed=seed,
            )[0],
            SEQ_VOCAB, 3, 3, seed=seed,
        )
        for seed in range(N // 32)
    ]
    x = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return x, rng.integers(0, 2, N).astype("float32")



def build_dumn(triplet_weight=0.0):
    # `check` compares inference passes, which add no triplet term: without it
    # the anchor maps (its only users) do not exist. The fit of
    # `dumn_memory_replicas` trains with it.
    return DUMN(
        SEQ_FIELDS, SEQ_SIZES, num_slots=8, slot_dim=6, controller_units=8, seed=0,
        triplet_weight=triplet_weight, **SEQ_COMMON,
    )


def dumn_memory_replicas():
    # The largest difference between the replicas' copies of a memory after a
    # fit, and the smallest change of a memory during it.
    x, y = sequence_data()
    with strategy.scope():
        model = build_dumn(triplet_weight=1.0)
        model.compile(optimizer="adam")
        model(x)
    memories = [v for v in model.non_trainable_weights if v.path.endswith("/memory")]
    before = [v.numpy() for v in memories]
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    copies = [[c.numpy() for c in v.value.values] for v in memories]
    return {
        "count": len(memories),
        "replica_diff": max(float(np.max(np.abs(c[0] - c[1]))) for c in copies),
        "moved": min(float(np.max(np.abs(c[0] - b))) for c, b in zip(copies, before)),
    }


results = {
    "replicas": strategy.num_replicas_in_sync,
    "dumn": check(build_dumn, sequence_data),
    "dumn_memory": dumn_memory_replicas(),
    "dsin": check(lambda: DSIN(SEQ_FIELDS, SEQ_SIZES, **SEQ_COMMON), sequence_data),
    "dfn": check(
        lambda: DFN(
            SEQ_FIELDS, SEQ_SIZES, sequence_types=("click", "unclick", "dislike"),
            **SEQ_COMMON,
        ),
        sequence_data,
    ),
    "dmt": check(
        lambda: DMT(
            SEQ_FIELDS, SEQ_SIZES, sequence_types=("click", "unclick"), max_length=4,
            **SEQ_COMMON,
        ),
        sequence_data,
    ),
    # Dice's batch statistics are per replica in training (as batch
    # normalisation's): with Dice the inference pass is compared, the training
    # pass (DIN's mini-batch aware penalty, DIEN's auxiliary loss) with PReLU.
    "din": check(build_din, din_data),
    "din_prelu": check(lambda: build_din(activation="prelu"), din_data, True),
    "dien": check(build_dien, din_data),
    "dien_prelu": check(lambda: build_dien(activation="prelu"), din_data, True),
}
print("RESULTS " + json.dumps(results))
"""
)

CHECKED = ["dsin", "dfn", "dmt", "dumn", "din", "din_prelu", "dien", "dien_prelu"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return run_results_script(tmp_path_factory, "mirrored_sequence_check", SCRIPT, 1800)


@pytest.mark.slow
def test_two_replicas_in_sync(results):
    assert results["replicas"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("model", CHECKED)
def test_fits_two_epochs_with_finite_loss(results, model):
    losses = results[model]["fit_losses"]
    assert len(losses) == 2
    assert all(math.isfinite(v) and v > 0 for v in losses)


@pytest.mark.slow
@pytest.mark.parametrize("model", CHECKED)
def test_replica_loss_and_gradients_equal_single_device(results, model):
    r = results[model]
    assert r["penalty"] > 0.05 * r["single_loss"]
    np.testing.assert_allclose(r["dist_loss"], r["single_loss"], rtol=1e-5)
    assert r["num_variables"] > 0
    assert r["grad_diff"] <= 1e-5 * max(1.0, r["grad_scale"]), r


@pytest.mark.slow
@pytest.mark.parametrize("model", CHECKED)
def test_evaluate_reports_the_same_loss(results, model):
    r = results[model]
    np.testing.assert_allclose(r["eval_dist"], r["eval_single"], rtol=1e-5)


@pytest.mark.slow
def test_dumn_memories_stay_equal_across_replicas(results):
    r = results["dumn_memory"]
    assert r["count"] == 4
    assert r["moved"] > 1e-4
    assert r["replica_diff"] <= 1e-6, r
