"""The oracle on the simulator's CTR log: the planted true preference as the score.

Table: README "Foundation: CTR on the simulator", row Oracle (the ceiling; accidental and
missed clicks keep it below 1).
Command: make reproduce-foundation
Expected time on a 2-core CPU: seconds.
"""

from experiments.configs import common


def get_config():
    config = common.base("oracle_ctr_synthetic", "ctr", dict(name="oracle"))
    config.data.crosses = (("user_id", "category"),)
    return config
