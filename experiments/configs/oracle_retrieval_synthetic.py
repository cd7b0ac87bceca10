"""The oracle on the simulator's next-click task: items ranked by the planted preference.

Table: README "Foundation: retrieval on the simulator", row Oracle (the ceiling).
Command: make reproduce-foundation
Expected time on a 2-core CPU: about 5 seconds.
"""

from experiments.configs import common


def get_config():
    config = common.base("oracle_retrieval_synthetic", "retrieval", dict(name="oracle"))
    config.data.max_eval_examples = 20000
    return config
