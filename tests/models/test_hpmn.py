"""HPMN as a next-item model, against NumPy: the memory after the t-th behaviour
read by the t-th behaviour, beside it (the shared sequential-model tests cover
causality, padding, losses and saving)."""

import numpy as np
import pytest

from recsys_tf.models import HPMN
from tests import testing
from tests.layers.test_hierarchical_periodic_memory import _numpy_memory
from tests.layers.test_multi_hop_memory_read import _numpy_read
from tests.models.test_sequential import NUM_ITEMS, _batch


@pytest.fixture(autouse=True)
def _seed():
    testing.set_seed()


def _numpy_users(model, x):
    """`u_t = [read(memory after the t-th step, e_t); e_t]` `[batch, T, units + d]`."""
    table = testing.to_numpy(model.item_embeddings).astype(np.float64)
    mask = x["history_mask"].astype(bool)
    items = table[x["history"]] * mask[..., None]
    memory = _numpy_memory(model.memory, items, mask)  # [B, T, slots, units]
    batch, steps = mask.shape
    users = np.zeros((batch, steps, model.units + model.embedding_dim))
    for t in range(steps):
        read, _ = _numpy_read(model.reader, memory[:, t], items[:, t])
        users[:, t] = np.concatenate([read, items[:, t]], axis=-1)
    return users


@pytest.mark.parametrize("periods", [(1, 2), (1, 2, 4)])
def test_queries_match_numpy(periods):
    x, _ = _batch(n=5)
    model = HPMN(
        NUM_ITEMS,
        embedding_dim=4,
        units=3,
        periods=periods,
        hops=2,
        attention_units=(5,),
        dropout=0.0,
    )
    model(x)
    table = model.item_embeddings
    table.assign(np.random.default_rng(2).normal(size=table.shape).astype("float32"))
    want = _numpy_users(model, x)
    real = x["history_mask"].astype(bool)
    got = testing.to_numpy(model.encode(x))
    np.testing.assert_allclose(got[real], want[real], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        testing.to_numpy(model(x)), want[:, -1], rtol=1e-4, atol=1e-5
    )
    # A shifted query or memory (e_{t-1}, or the memory before e_t) differs.
    assert np.abs(want[:, 1:][real[:, 1:]] - want[:, :-1][real[:, 1:]]).max() > 1e-3
