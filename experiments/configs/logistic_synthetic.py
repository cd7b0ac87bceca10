"""Logistic regression with a user x category cross on the simulator's CTR log.

Table: README "Foundation: CTR on the simulator", row LR (the baseline Wide&Deep must beat).
Command: make reproduce-foundation
Expected time on a 2-core CPU: about 10 seconds per seed at size small.
"""

from experiments.configs import common


def get_config():
    config = common.base(
        "logistic_synthetic", "ctr", dict(name="logistic_regression", l2=0.0)
    )
    config.data.crosses = (("user_id", "category"),)
    config.train.batch_size = 4096
    config.train.learning_rate = 1e-2
    return config
