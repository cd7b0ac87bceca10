"""Two-replica check of the behaviour-sequence CTR models, in a fresh process.

As `tests/models/test_mirrored.py` does for the other models (logical devices
must be set before TensorFlow starts): `check(name)` fits the model two epochs
under `MirroredStrategy` on two logical CPUs, then compares the loss and the
gradients summed over the replicas with those of a single-device copy with the
same weights on the same global batch. `training` chooses the pass compared:
False (Dice then uses its moving averages) or True (DIEN's auxiliary loss is only
added in training; the model must then have no batch statistics, e.g. PReLU).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402

from recsys_tf.models.baselines.dien import DIEN  # noqa: E402
from recsys_tf.models.baselines.din import DIN  # noqa: E402
from tests import testing  # noqa: E402

NAME, TRAINING = sys.argv[1], sys.argv[2] == "1"
VOCAB = {"user_id": 10, "item_id": 150, "category": 5}
FIELDS = tuple(VOCAB)
BUILDS = {
    # l2 on looked-up rows / MBA so that regularisation is in the compared loss.
    "din": lambda: DIN(
        FIELDS, [VOCAB[f] for f in FIELDS], item_features=("item_id", "category"),
        embedding_dim=4, attention_units=(6,), hidden_units=(8,), mba_l2=0.05,
    ),
    "din_prelu": lambda: DIN(
        FIELDS, [VOCAB[f] for f in FIELDS], item_features=("item_id", "category"),
        embedding_dim=4, attention_units=(6,), hidden_units=(8,), mba_l2=0.05,
        activation="prelu",
    ),
    "dien": lambda: DIEN(
        FIELDS, [VOCAB[f] for f in FIELDS], item_features=("item_id", "category"),
        embedding_dim=4, hidden_units=(8,), l2=0.05,
    ),
    "dien_prelu": lambda: DIEN(
        FIELDS, [VOCAB[f] for f in FIELDS], item_features=("item_id", "category"),
        embedding_dim=4, hidden_units=(8,), l2=0.05, activation="prelu",
    ),
}
build = BUILDS[NAME]

keras.utils.set_random_seed(0)
devices = [d.name for d in tf.config.list_logical_devices("CPU")]
strategy = tf.distribute.MirroredStrategy(devices)
assert strategy.num_replicas_in_sync == 2, devices
rng = np.random.default_rng(0)
N, BATCH = 128, 64
x, y = testing.sequence_ctr_batch(VOCAB, n=N, length=6, seed=0)

with strategy.scope():
    model = build()
    model.compile(optimizer="adam")
history = model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)

# Same weights on both sides, large enough that regularisation matters.
weights = [w + rng.normal(0, 0.3, w.shape).astype(w.dtype) for w in model.get_weights()]
model.set_weights(weights)
if hasattr(model, "feature_counts"):
    model.feature_counts.assign(rng.integers(1, 5, model.feature_counts.shape).astype("float32"))
    weights = model.get_weights()
single = build()
single(x)
single.set_weights(weights)


def loss_and_gradients(model, x, y):
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x, y, model(x, training=TRAINING), training=TRAINING)
    grads = tape.gradient(loss, model.trainable_variables)
    return loss, [tf.convert_to_tensor(g) for g in grads]


xb = {k: v[:BATCH] for k, v in x.items()}
yb = y[:BATCH]
single_loss, single_grads = loss_and_gradients(single, xb, yb)
single(xb, training=TRAINING)
penalty = float(tf.add_n(single.losses)) if single.losses else 0.0
dataset = tf.data.Dataset.from_tensor_slices((xb, yb)).batch(BATCH)
batch = next(iter(strategy.experimental_distribute_dataset(dataset)))


@tf.function
def distributed(bx, by):
    loss, grads = strategy.run(loss_and_gradients, args=(model, bx, by))

    def total(t):
        return strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None)

    return total(loss), [total(g) for g in grads]


dist_loss, dist_grads = distributed(*batch)
grad_diff = max(
    float(np.max(np.abs(a.numpy() - b.numpy()))) for a, b in zip(dist_grads, single_grads)
)
grad_scale = max(float(np.max(np.abs(b.numpy()))) for b in single_grads)
print("RESULTS " + json.dumps({
    "fit_losses": [float(v) for v in history.history["loss"]],
    "dist_loss": float(dist_loss),
    "single_loss": float(single_loss),
    "penalty": penalty,
    "grad_diff": grad_diff,
    "grad_scale": grad_scale,
    "num_variables": len(single_grads),
}))
"""


def check(name: str, training: bool, tmp_path) -> dict:
    """Runs the two-replica comparison of `name` (a key of the script's BUILDS)."""
    script = Path(tmp_path) / "sequence_mirrored_check.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, str(script), name, "1" if training else "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULTS ")]
    assert proc.returncode == 0 and lines, (
        f"script failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    )
    return json.loads(lines[-1][len("RESULTS ") :])
