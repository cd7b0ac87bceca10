"""MF + M-MLP's per-branch update rule (Section 3.3) under `MirroredStrategy`.

A supportive branch learns only from pairs that carry its feedback type; a batch
without any such pair leaves its weights unchanged. Under two replicas each sees
part of the global batch, and the rule is the global batch's: a batch without cart
pairs leaves the cart branch unchanged, and a batch whose only cart pairs are in its
second half trains the model exactly as a single device does (checked after four
steps against a single-device copy with the same weights). In a fresh interpreter
(logical devices must be set before TensorFlow starts), as `test_mirrored.py`.
"""

import pytest

from tests.models.test_mirrored import run_results_script

SCRIPT = r"""
import json

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402

from recsys_tf.models import MFMLP  # noqa: E402
from tests.models.pairwise_batch import (  # noqa: E402
    NUM_ITEMS, NUM_USERS, TYPES, batch, pairs,
)

keras.utils.set_random_seed(0)
devices = [d.name for d in tf.config.list_logical_devices("CPU")]
strategy = tf.distribute.MirroredStrategy(devices)
assert strategy.num_replicas_in_sync == 2, devices
CART = TYPES.index("cart")


def build():
    model = MFMLP(NUM_USERS, NUM_ITEMS, TYPES, factors=3, init_std=0.5)
    # Plain SGD: Adam's first steps (lr * sign(g)) would turn float rounding of
    # near-zero gradients into whole steps and hide what is compared here.
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model


def batches():
    full, y = batch(seed=1)
    without, _ = batch(seed=2, without=("cart",))
    # Cart pairs only in the second half of the global batch (replica 1's).
    second, _ = batch(seed=3)
    second["feedback"][:6, CART] = 0
    second["negative_feedback"][:6, :, CART] = 0
    assert second["feedback"][6:, CART].any()
    return [("full", full), ("full", full), ("without", without), ("second", second)], y


def cart_weights(model):
    return [v.numpy().copy() for v in model.branches[CART].trainable_variables]


steps, y = batches()
with strategy.scope():
    mirrored = build()
    mirrored(pairs(steps[0][1]))
single = build()
single(pairs(steps[0][1]))
single.set_weights(mirrored.get_weights())
changes = {}
for name, x in steps:
    before = cart_weights(mirrored)
    mirrored.train_on_batch(x, y)
    single.train_on_batch(x, y)
    changes[name] = max(
        float(np.max(np.abs(a - b))) for a, b in zip(cart_weights(mirrored), before)
    )
diff = max(
    float(np.max(np.abs(a - b)))
    for a, b in zip(mirrored.get_weights(), single.get_weights())
)
print("RESULTS " + json.dumps({"changes": changes, "mirrored_vs_single": diff}))
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return run_results_script(tmp_path_factory, "mirrored_mf_mlp_check", SCRIPT, 900)


@pytest.mark.slow
def test_a_global_batch_without_cart_pairs_leaves_the_cart_branch_unchanged(results):
    assert results["changes"]["full"] > 0.0
    assert results["changes"]["without"] == 0.0


@pytest.mark.slow
def test_cart_pairs_in_one_replica_train_the_branch_as_one_device(results):
    assert results["changes"]["second"] > 0.0
    assert results["mirrored_vs_single"] < 1e-5, results
