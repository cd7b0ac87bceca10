"""The task kinds: one registry, and a loop that never branches on a task's name."""

import inspect

import ml_collections
import pytest

from recsys_tf.tasks import TASKS, Task, get_task
from recsys_tf.training import loop
from recsys_tf.training.errors import ConfigError


def test_every_kind_is_a_task_registered_under_its_name():
    for name, kind in TASKS.items():
        assert isinstance(kind, Task) and kind.name == name


def test_the_loop_names_no_task_kind():
    source = inspect.getsource(loop)
    for name in TASKS:
        assert f'"{name}"' not in source, f"loop.py branches on task {name!r}"


def test_an_unknown_task_is_a_config_error_listing_the_kinds():
    config = ml_collections.ConfigDict({"task": "ranking"})
    with pytest.raises(ConfigError, match=r"config.task must be one of \['ctr'"):
        get_task(config)
