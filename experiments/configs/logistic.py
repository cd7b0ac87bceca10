"""Logistic regression with a user x category cross (CTR); the baseline Wide&Deep must beat.

Table: README "Foundation: CTR on the simulator", row LR (run `logistic_synthetic`);
on real data (`--config.data.name=ml1m` / `kuairand`, runs `logistic_<dataset>`) the
README's CTR tables of those datasets.
Command: make reproduce-foundation (simulator), make reproduce-real-data (real data)
Expected time on a 2-core CPU: about 10 seconds per seed on the small simulator.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base("logistic", "ctr", dict(name="logistic_regression", l2=0.0))
    config.data.crosses = (("user_id", "category"),)
    config.train.batch_size = 4096
    config.train.learning_rate = 1e-2
    return common.with_preset(config, arg)
