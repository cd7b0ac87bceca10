"""Wide & Deep on the simulator's CTR log (foundation issue).

Table: README "Foundation: CTR on the simulator", row Wide&Deep. No paper number:
the simulator has none; the oracle row is the ceiling.
Command: make reproduce-foundation (or python -m experiments.train
  --config=experiments/configs/wide_deep_synthetic.py --workdir=runs/wide_deep_synthetic/seed0)
Expected time on a 2-core CPU: about 40 seconds per seed at size small.
"""

from experiments.configs import common


def get_config():
    config = common.base(
        "wide_deep_synthetic",
        "ctr",
        dict(
            name="wide_deep",
            embedding_dim=16,
            hidden_units=(256, 128, 64),
            dropout=0.0,
            l2=0.0,
        ),
    )
    config.data.crosses = (("user_id", "category"),)
    config.train.batch_size = 4096
    return config
