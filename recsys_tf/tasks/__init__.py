"""The kinds of task a run can train, by `config.task` (STYLE.md Tasks)."""

from recsys_tf.tasks.base import Task
from recsys_tf.tasks.ctr import CTR
from recsys_tf.tasks.ctr_sequence import CTRSequence
from recsys_tf.tasks.retrieval import Retrieval
from recsys_tf.training.errors import ConfigError

TASKS = {"ctr": CTR(), "ctr_sequence": CTRSequence(), "retrieval": Retrieval()}


def get_task(config) -> Task:
    """The task kind named by `config.task`."""
    if config.task not in TASKS:
        raise ConfigError(
            f"config.task must be one of {sorted(TASKS)}. Received: {config.task!r}"
        )
    return TASKS[config.task]


__all__ = ["TASKS", "CTR", "CTRSequence", "Retrieval", "Task", "get_task"]
