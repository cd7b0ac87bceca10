"""Most-popular items on the simulator's next-click task (the baseline YouTube DNN must beat).

Table: README "Foundation: retrieval on the simulator", row Popularity.
Command: make reproduce-foundation
Expected time on a 2-core CPU: seconds.
"""

from experiments.configs import common


def get_config():
    config = common.base("popularity_synthetic", "retrieval", dict(name="popularity"))
    config.data.max_eval_examples = 20000
    return config
