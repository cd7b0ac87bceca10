"""Evaluation helpers against brute-force references."""

import numpy as np

from recsys_tf.data.retrieval import RetrievalSplit, RetrievalTask
from recsys_tf.training import evaluation


def _split(users, history, mask, targets):
    n = len(users)
    return RetrievalSplit(
        user_ids=np.array(users),
        history=np.array(history),
        history_mask=np.array(mask),
        targets=np.array(targets),
        timestamps=np.arange(n),
        request_ids=-np.ones(n, int),
        user_features={},
    )


def test_user_items_and_sampled_negatives_avoid_them():
    train = _split([0, 1], [[0, 1], [0, 2]], [[False, True], [True, True]], [3, 4])
    test = _split([0, 1], [[1, 3], [2, 4]], [[True, True], [True, True]], [5, 6])
    task = RetrievalTask(train, test, test, 2, 30, {}, np.zeros(30, int))
    seen = evaluation.user_items(task)
    assert seen[0].tolist() == [1, 3, 5]
    assert seen[1].tolist() == [0, 2, 4, 6]
    negatives = evaluation.sampled_negatives(test, task.num_items, seen, 20, seed=0)
    assert negatives.shape == (2, 20)
    for row, user in enumerate(test.user_ids):
        assert not set(negatives[row]) & set(seen[user].tolist())
    np.testing.assert_array_equal(
        negatives, evaluation.sampled_negatives(test, task.num_items, seen, 20, seed=0)
    )
