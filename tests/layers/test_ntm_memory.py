"""Tests of `NTMMemory` against DUMN Eq. (8)-(12) and (18) written in NumPy loops."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_tf.layers import NTMMemory
from recsys_tf.layers.ntm_memory import batch_write
from tests import testing

REPO = Path(__file__).resolve().parents[2]
B, DF, DU, M, Z, UNITS = 4, 3, 5, 6, 4, 7


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _data(seed=1, batch=B):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(batch, DF)).astype(np.float32),
        rng.normal(size=(batch, DU)).astype(np.float32),
    )


def _layer(**kwargs):
    kwargs = dict(num_slots=M, slot_dim=Z, controller_units=UNITS, **kwargs)
    return NTMMemory(**kwargs)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_memory(layer, f, user, memory):
    """Eq. (8)-(12) and (18) example by example; returns read, anchor, w_r, w_w and
    the memory after the batch's averaged write."""
    wh, bh, wo, bo = (
        testing.to_numpy(w).astype(np.float64)
        for w in (
            layer.controller_kernel,
            layer.controller_bias,
            layer.head_kernel,
            layer.head_bias,
        )
    )
    memory = np.asarray(memory, np.float64)

    def address(key, strength=1.0):  # Eq. (9)-(10), NTM's key strength optional
        cosine = strength * np.array(
            [
                key @ slot / (np.linalg.norm(key) * np.linalg.norm(slot))
                for slot in memory
            ]
        )
        return np.exp(cosine) / np.exp(cosine).sum()

    reads, anchors, w_reads, w_writes, erases, adds = [], [], [], [], [], []
    for b in range(len(f)):
        hidden = np.maximum(np.concatenate([f[b], user[b]]) @ wh + bh, 0.0)  # Eq. (8)
        heads = hidden @ wo + bo
        read_key, write_key = heads[:Z], heads[Z : 2 * Z]
        erase = _sigmoid(heads[2 * Z : 3 * Z])
        if layer.write_content == "add":
            add, rest = np.tanh(heads[3 * Z : 4 * Z]), heads[4 * Z :]
        else:  # the write key is the content
            add, rest = np.tanh(write_key), heads[3 * Z :]
        beta_r = beta_w = layer.key_strength
        if layer.learn_key_strength:
            beta_r, beta_w = layer.key_strength + np.log1p(np.exp(rest))
        w_r, w_w = address(read_key, beta_r), address(write_key, beta_w)
        reads.append(sum(w_r[j] * memory[j] for j in range(M)))  # Eq. (11)
        own = memory * (1.0 - np.outer(w_w, erase)) + np.outer(w_w, add)  # Eq. (12)
        anchor = sum(w_w[j] * own[j] for j in range(M))  # Eq. (18)
        if layer.anchor_dim is not None:
            anchor = anchor @ testing.to_numpy(layer.anchor_kernel)
        anchors.append(anchor)
        w_reads.append(w_r)
        w_writes.append(w_w)
        erases.append(np.outer(w_w, erase))
        adds.append(np.outer(w_w, add))
    written = (1.0 - np.mean(erases, axis=0)) * memory + np.mean(adds, axis=0)
    return [np.array(v) for v in (reads, anchors, w_reads, w_writes)] + [written]


@pytest.mark.parametrize(
    "learn_key_strength, key_strength, write_content",
    [(False, 1.0, "add"), (True, 1.0, "add"), (True, 10.0, "key")],
)
def test_shapes_config_gradients_and_saving(
    learn_key_strength, key_strength, write_content, tmp_path
):
    f, user = _data()
    testing.run_layer_test(
        NTMMemory,
        dict(
            num_slots=M,
            slot_dim=Z,
            controller_units=UNITS,
            learn_key_strength=learn_key_strength,
            key_strength=key_strength,
            write_content=write_content,
        ),
        f,
        (B, Z),
        call_kwargs=dict(user_embedding=user),
        save_dir=tmp_path,
    )


@pytest.mark.parametrize(
    "anchor_dim, learn_key_strength, key_strength, write_content",
    [
        (None, False, 1.0, "add"),
        (2, False, 1.0, "add"),
        (None, True, 1.0, "add"),
        (2, False, 7.0, "key"),
        (None, True, 3.0, "key"),
    ],
)
def test_matches_numpy_equations(
    anchor_dim, learn_key_strength, key_strength, write_content
):
    f, user = _data()
    layer = _layer(
        anchor_dim=anchor_dim,
        learn_key_strength=learn_key_strength,
        key_strength=key_strength,
        write_content=write_content,
    )
    layer(f, user)
    memory = testing.to_numpy(layer.memory).copy()
    read, anchor, w_r, w_w = layer(
        f, user, training=True, return_anchor=True, return_weights=True
    )
    expected = _numpy_memory(layer, f, user, memory)
    for got, want in zip((read, anchor, w_r, w_w), expected):
        np.testing.assert_allclose(testing.to_numpy(got), want, rtol=1e-4, atol=1e-6)
    assert anchor.shape == (B, anchor_dim or Z)
    # Addressing weights are distributions over the slots.
    for w in (w_r, w_w):
        np.testing.assert_allclose(testing.to_numpy(w).sum(-1), 1.0, rtol=1e-6)
        assert np.all(testing.to_numpy(w) > 0)
    # The training call wrote the batch-averaged Eq. (12) into the state.
    np.testing.assert_allclose(
        testing.to_numpy(layer.memory), expected[4], rtol=1e-4, atol=1e-6
    )
    assert np.abs(testing.to_numpy(layer.memory) - memory).max() > 1e-3


@pytest.mark.parametrize("write_content", ["add", "key"])
def test_every_trainable_weight_gets_a_gradient_through_read_and_anchor(
    write_content,
):
    f, user = _data()
    layer = _layer(anchor_dim=2, learn_key_strength=True, write_content=write_content)
    layer(f, user)
    p_read = testing._random_projection((B, Z), seed=1)
    p_anchor = testing._random_projection((B, 2), seed=2)

    def loss():
        read, anchor = layer(f, user, return_anchor=True)
        return keras.ops.sum(read * p_read) + keras.ops.sum(anchor * p_anchor)

    testing.assert_trainable_gradients(layer, loss)
    # The erase and add columns of the controller's output are reached (through
    # the anchor's own write), not only the read key.
    with tf.GradientTape() as tape:
        value = loss()
    grad = testing.to_numpy(tape.gradient(value, layer.head_kernel))
    heads = 4 if write_content == "add" else 3  # "key": the write key is the add
    assert grad.shape[1] == heads * Z + 2
    for start in range(0, heads * Z, Z):
        assert np.abs(grad[:, start : start + Z]).max() > 1e-6, start
    for column in (heads * Z, heads * Z + 1):  # the read and write key strengths
        assert np.abs(grad[:, column]).max() > 1e-6, column
    assert [v.name for v in layer.non_trainable_variables] == ["memory"]


# With one slot Keras warns that the addressing softmax is constant: that is the point.
@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")
def test_erase_one_add_zero_empties_the_addressed_slot():
    rng = np.random.default_rng(0)
    memory = rng.normal(size=(M, Z)).astype(np.float32)
    weights = np.zeros((1, M), np.float32)
    weights[0, 2] = 1.0
    out = testing.to_numpy(
        batch_write(
            memory, weights, np.ones((1, Z), np.float32), np.zeros((1, Z), np.float32)
        )
    )
    np.testing.assert_array_equal(out[2], 0.0)
    np.testing.assert_array_equal(np.delete(out, 2, 0), np.delete(memory, 2, 0))

    # Through the layer: with one slot the address is that slot (weight 1);
    # erase -> sigmoid(+40) = 1 and add -> tanh(0) = 0 empty it.
    layer = NTMMemory(num_slots=1, slot_dim=Z, controller_units=UNITS)
    f, user = _data()
    layer(f, user)
    kernel = testing.to_numpy(layer.head_kernel)
    bias = testing.to_numpy(layer.head_bias)
    kernel[:, 2 * Z :] = 0.0
    bias[2 * Z : 3 * Z], bias[3 * Z :] = 40.0, 0.0
    layer.head_kernel.assign(kernel)
    layer.head_bias.assign(bias)
    _, anchor = layer(f, user, training=True, return_anchor=True)
    np.testing.assert_array_equal(testing.to_numpy(layer.memory), 0.0)
    np.testing.assert_array_equal(testing.to_numpy(anchor), 0.0)


def test_only_training_calls_write():
    f, user = _data()
    layer = _layer()
    inputs = keras.Input((DF,)), keras.Input((DU,))
    model = keras.Model(inputs, layer(*inputs))
    initial = testing.to_numpy(layer.memory).copy()
    layer(f, user)
    layer(f, user, training=False)
    model.predict([f, user], verbose=0)
    np.testing.assert_array_equal(testing.to_numpy(layer.memory), initial)
    model([f, user], training=True)
    assert np.abs(testing.to_numpy(layer.memory) - initial).max() > 1e-3


def test_zero_memory_and_zero_key_give_finite_outputs_and_gradients():
    f, user = _data()
    layer = _layer(memory_initializer="zeros")
    f_zero, user_zero = np.zeros_like(f), np.zeros_like(user)
    layer(f_zero, user_zero)
    layer.controller_bias.assign(np.zeros(UNITS, np.float32))
    layer.head_bias.assign(np.zeros(4 * Z, np.float32))
    with tf.GradientTape() as tape:
        read, anchor = layer(f_zero, user_zero, return_anchor=True)
        total = keras.ops.sum(read) + keras.ops.sum(anchor)
    grads = tape.gradient(total, layer.trainable_variables)
    assert np.all(np.isfinite(testing.to_numpy(read)))
    assert np.all(np.isfinite(testing.to_numpy(anchor)))
    present = [testing.to_numpy(g) for g in grads if g is not None]
    # The read and the anchor reach the head kernel and the anchor projection.
    assert len(present) >= 2
    assert all(np.all(np.isfinite(g)) for g in present)


def test_memory_state_survives_keras_save_and_weight_checkpoints(tmp_path):
    f, user = _data()
    inputs = keras.Input((DF,)), keras.Input((DU,))
    model = keras.Model(inputs, _layer(name="umn")(*inputs))
    for _ in range(3):
        model([f, user], training=True)
    state = testing.to_numpy(model.get_layer("umn").memory).copy()
    expected = testing.to_numpy(model([f, user]))

    path = os.path.join(tmp_path, "umn.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(
        testing.to_numpy(reloaded.get_layer("umn").memory), state
    )
    np.testing.assert_array_equal(testing.to_numpy(reloaded([f, user])), expected)

    # The trainer's checkpoints are `save_weights` / `load_weights` files.
    weights = os.path.join(tmp_path, "umn.weights.h5")
    model.save_weights(weights)
    fresh = keras.Model(inputs, _layer(name="umn")(*inputs))
    assert not np.array_equal(testing.to_numpy(fresh.get_layer("umn").memory), state)
    fresh.load_weights(weights)
    np.testing.assert_array_equal(
        testing.to_numpy(fresh.get_layer("umn").memory), state
    )
    np.testing.assert_array_equal(testing.to_numpy(fresh([f, user])), expected)

    # And a tf.train.Checkpoint of the model.
    checkpoint = tf.train.Checkpoint(model=model).save(os.path.join(tmp_path, "ckpt"))
    other = keras.Model(inputs, _layer(name="umn")(*inputs))
    tf.train.Checkpoint(model=other).restore(checkpoint).assert_consumed()
    np.testing.assert_array_equal(
        testing.to_numpy(other.get_layer("umn").memory), state
    )


def test_bad_arguments_and_inputs_raise():
    f, user = _data()
    for name in ("num_slots", "slot_dim", "controller_units", "anchor_dim"):
        with pytest.raises(ValueError, match=name):
            NTMMemory(**{name: 0})
    with pytest.raises(ValueError, match="epsilon"):
        NTMMemory(epsilon=0)
    with pytest.raises(ValueError, match="key_strength"):
        NTMMemory(key_strength=0)
    with pytest.raises(ValueError, match="write_content"):
        NTMMemory(write_content="value")
    with pytest.raises(ValueError, match="user_embedding"):
        _layer()(f, user[:, :, None])
    with pytest.raises(ValueError, match="inputs"):
        _layer()(f[:, :, None], user)


def test_slot_cosine_matches_numpy():
    layer = _layer()
    layer(*_data())
    memory = np.random.default_rng(3).normal(size=(M, Z))
    memory[0] = 10.0 * memory[1]  # cosine 1 with slot 1
    layer.memory.assign(memory.astype(np.float32))
    unit = memory / np.linalg.norm(memory, axis=1, keepdims=True)
    cosines = unit @ unit.T
    want = cosines[~np.eye(M, dtype=bool)].mean()
    assert layer.slot_cosine() == pytest.approx(want, rel=1e-5)
    layer.memory.assign(np.tile(memory[:1], (M, 1)).astype(np.float32))
    assert layer.slot_cosine() == pytest.approx(1.0, rel=1e-5)


def _written_memory(key_strength, write_content, steps=300):
    """An untrained memory written `steps` times by batches drawn from 8 clusters
    of inputs; returns (mean slot cosine, mean cosine between the 8 clusters'
    reads, the layer, the cluster centres, the initial memory)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(8, DF)).astype(np.float32)
    none = np.zeros((64, DU), np.float32)
    layer = NTMMemory(
        num_slots=32,
        slot_dim=8,
        controller_units=16,
        key_strength=key_strength,
        write_content=write_content,
    )
    layer(centers, none[:8])
    start = testing.to_numpy(layer.memory).copy()
    for _ in range(steps):
        x = centers[rng.integers(0, 8, size=64)]
        noise = 0.1 * rng.normal(size=x.shape).astype(np.float32)
        layer(x + noise, none, training=True)
    reads = testing.to_numpy(layer(centers, none[:8]))
    unit = reads / np.linalg.norm(reads, axis=1, keepdims=True)
    spread = (unit @ unit.T)[~np.eye(8, dtype=bool)].mean()
    return layer.slot_cosine(), spread, layer, centers, start


def test_eq9_and_eq12_as_written_collapse_the_memory_and_key_writes_do_not():
    # The defect the options address: with Eq. (9)'s unscaled cosines and
    # Eq. (12)'s own add head, the batch-mean writes pull every slot to one
    # vector, and every input reads the same r. Sharper addressing alone still
    # collapses; writing the key with a key strength keeps the slots apart.
    slots, reads, *_ = _written_memory(1.0, "add")
    assert slots > 0.95 and reads > 0.95
    slots, *_ = _written_memory(30.0, "add")
    assert slots > 0.8  # 0.88 after 300 writes, rising
    slots, *_ = _written_memory(1.0, "key")
    assert slots > 0.95  # key writes need the key strength too
    slots, reads, layer, centers, start = _written_memory(30.0, "key")
    assert slots < 0.2 and reads < 0.8
    # The writes did happen, and each cluster now has a slot that holds its
    # (squashed) write key: the slots are prototypes of the keys.
    memory = testing.to_numpy(layer.memory)
    assert np.abs(memory - start).max() > 0.1
    hidden = np.maximum(
        np.concatenate([centers, np.zeros((8, DU), np.float32)], 1)
        @ testing.to_numpy(layer.controller_kernel)
        + testing.to_numpy(layer.controller_bias),
        0.0,
    )
    heads = hidden @ testing.to_numpy(layer.head_kernel) + testing.to_numpy(
        layer.head_bias
    )
    keys = np.tanh(heads[:, 8:16])
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)
    slots_unit = memory / np.linalg.norm(memory, axis=1, keepdims=True)
    assert (keys @ slots_unit.T).max(axis=1).min() > 0.9


MIRRORED_SCRIPT = r"""
import json

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402

from recsys_tf.layers import NTMMemory  # noqa: E402

keras.utils.set_random_seed(0)
devices = [d.name for d in tf.config.list_logical_devices("CPU")]
strategy = tf.distribute.MirroredStrategy(devices)
rng = np.random.default_rng(0)
N, DF, DU = 8, 3, 5
f = rng.normal(size=(N, DF)).astype("float32")
user = rng.normal(size=(N, DU)).astype("float32")
y = rng.normal(size=(N, 4)).astype("float32")


def build():
    inputs = keras.Input((DF,)), keras.Input((DU,))
    return keras.Model(
        inputs, NTMMemory(num_slots=6, slot_dim=4, controller_units=7, name="umn")(*inputs)
    )


with strategy.scope():
    model = build()
single = build()
single.set_weights(model.get_weights())
initial = model.get_layer("umn").memory.numpy()

# One distributed training call on a global batch of 8 (4 per replica).
dataset = tf.data.Dataset.from_tensor_slices((f, user)).batch(N)
batch = next(iter(strategy.experimental_distribute_dataset(dataset)))


@tf.function
def step(bf, bu):
    return model([bf, bu], training=True)


strategy.run(step, args=batch)
variable = model.get_layer("umn").memory.value
replicas = [v.numpy() for v in strategy.experimental_local_results(variable)]
single([f, user], training=True)
expected = single.get_layer("umn").memory.numpy()

# fit under the strategy writes too and keeps the replicas equal.
with strategy.scope():
    model.compile(optimizer="adam", loss="mse")
model.fit((f, user), y, batch_size=N, epochs=2, verbose=0)
after_fit = [v.numpy() for v in strategy.experimental_local_results(variable)]
results = {
    "replicas": strategy.num_replicas_in_sync,
    "replica_diff": float(np.abs(replicas[0] - replicas[1]).max()),
    "single_diff": float(np.abs(replicas[0] - expected).max()),
    "moved": float(np.abs(replicas[0] - initial).max()),
    "fit_replica_diff": float(np.abs(after_fit[0] - after_fit[1]).max()),
    "fit_moved": float(np.abs(after_fit[0] - replicas[0]).max()),
}
print("RESULTS " + json.dumps(results))
"""


@pytest.mark.slow  # a fresh interpreter with two logical CPUs: ~35 s
def test_batch_write_under_mirrored_strategy(tmp_path):
    """Two replicas write their halves; both hold the single-device write of the
    whole batch (MEAN aggregation of equal halves), in a step and under fit."""
    script = tmp_path / "ntm_mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULTS ")]
    assert proc.returncode == 0 and lines, (
        f"script failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    )
    r = json.loads(lines[-1][len("RESULTS ") :])
    assert r["replicas"] == 2
    assert r["moved"] > 1e-3
    assert r["replica_diff"] == 0.0
    assert r["single_diff"] < 1e-6
    assert r["fit_moved"] > 1e-3
    assert r["fit_replica_diff"] == 0.0
