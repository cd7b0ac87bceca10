"""The oracle on the simulator's CTR log: the planted true preference as the score.

Table: README "Foundation: CTR on the simulator", row Oracle (run `oracle_ctr_synthetic`;
the ceiling; accidental and missed clicks keep it below 1). Simulated data only.
Command: make reproduce-foundation
Expected time on a 2-core CPU: seconds.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base("oracle_ctr", "ctr", dict(name="oracle"))
    config.data.crosses = (("user_id", "category"),)
    return common.with_preset(config, arg)
