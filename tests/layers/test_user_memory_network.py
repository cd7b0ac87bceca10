"""Tests of `UserMemoryNetwork` (DUMN Eq. (8)-(14)) against the NumPy equations."""

import numpy as np
import pytest

from recsys_tf.layers import UserMemoryNetwork
from tests import testing
from tests.layers.test_ntm_memory import M, Z, _numpy_memory
from tests.layers.test_pair_gate import _numpy_pair

B, K, D, U, UNITS = 3, 2, 4, 5, 7  # M, Z: those _numpy_memory reads


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _data(seed=1):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(B, K, D)).astype(np.float32),
        rng.normal(size=(B, U)).astype(np.float32),
    )


def _layer(**kwargs):
    return UserMemoryNetwork(
        K, num_slots=M, slot_dim=Z, controller_units=UNITS, **kwargs
    )


@pytest.mark.parametrize(
    "fusion, memory_options",
    [
        ("gate", {}),
        ("cross", {}),
        ("gate", {"key_strength": 10.0, "write_content": "key"}),
    ],
)
def test_shapes_config_gradients_and_saving(fusion, memory_options, tmp_path):
    short, user = _data()
    width = D + Z if fusion == "gate" else 3 * D
    testing.run_layer_test(
        UserMemoryNetwork,
        dict(
            num_types=K,
            num_slots=M,
            slot_dim=Z,
            controller_units=UNITS,
            fusion=fusion,
            **memory_options,
        ),
        short,
        (B, K * width),
        call_kwargs=dict(user_embedding=user),
        save_dir=tmp_path,
    )


@pytest.mark.parametrize("shared", [False, True])
def test_matches_numpy_memories_then_pair(shared):
    """Eq. (8)-(12) per type (one memory per type, or one memory all types read
    before its one write), then Eq. (13)-(14), all in NumPy."""
    short, user = _data()
    layer = _layer(shared=shared)
    layer(short, user)
    states = [testing.to_numpy(m.memory).copy() for m in layer.memories]
    assert len(states) == (1 if shared else K)
    got = testing.to_numpy(layer(short, user, training=True))

    if shared:
        # Every type reads the state before the batch; one write of the K x B
        # rows stacked.
        read, _, _, _, states[0] = _numpy_memory(
            layer.memories[0],
            np.concatenate([short[:, k] for k in range(K)]),
            np.concatenate([user] * K),
            states[0],
        )
        reads = np.split(read, K)
    else:
        reads = []
        for k in range(K):
            read, _, _, _, states[k] = _numpy_memory(
                layer.memories[k], short[:, k], user, states[k]
            )
            reads.append(read)
    want = _numpy_pair(layer.pair, short, np.stack(reads, axis=1))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    for memory, state in zip(layer.memories, states):
        np.testing.assert_allclose(
            testing.to_numpy(memory.memory), state, rtol=1e-4, atol=1e-6
        )


def test_inference_reads_without_writing():
    short, user = _data()
    layer = _layer()
    first = testing.to_numpy(layer(short, user))
    np.testing.assert_array_equal(testing.to_numpy(layer(short, user)), first)
    layer(short, user, training=True)
    assert np.abs(testing.to_numpy(layer(short, user)) - first).max() > 1e-6


def test_bad_arguments_and_inputs_raise():
    short, user = _data()
    with pytest.raises(ValueError, match="num_types"):
        UserMemoryNetwork(0)
    with pytest.raises(ValueError, match="fusion"):
        UserMemoryNetwork(K, fusion="sum")
    with pytest.raises(ValueError, match="num_types=3"):
        UserMemoryNetwork(3, num_slots=M, slot_dim=Z)(short, user)
    with pytest.raises(ValueError, match="user_embedding"):
        _layer()(short, user[:, None, :])


def test_anchors_of_the_anchored_types_only():
    """`anchor_dim` + `anchored`: the anchor q (Eq. (18)) of the memories named,
    None for the others; kept by the config."""
    short, user = _data()
    layer = _layer(anchor_dim=3, anchored=[1])
    output, anchors = layer(short, user, training=True, return_anchors=True)
    assert anchors[0] is None and tuple(anchors[1].shape) == (B, 3)
    assert layer.memories[0].anchor_dim is None
    assert tuple(output.shape) == (B, layer.compute_output_shape(short.shape)[1])
    again = UserMemoryNetwork.from_config(layer.get_config())
    assert again.anchored == (1,) and again.anchor_dim == 3
    with pytest.raises(ValueError, match="needs the layer's `anchor_dim`"):
        _layer()(short, user, return_anchors=True)
