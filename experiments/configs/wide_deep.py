"""Wide & Deep (CTR), foundation issue.

Table: README "Foundation: CTR on the simulator", row Wide&Deep (run
`wide_deep_synthetic`; no paper number: the simulator has none, the oracle row is the
ceiling); on real data (`--config.data.name=ml1m` / `kuairand`, runs
`wide_deep_<dataset>`) the README's CTR tables of those datasets.
Command: make reproduce-foundation (or python -m experiments.train
  --config=experiments/configs/wide_deep.py --config.data.path=data/synthetic_small
  --workdir=runs/wide_deep_synthetic/seed0), make reproduce-real-data (real data)
Expected time on a 2-core CPU: about 40 seconds per seed on the small simulator.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base(
        "wide_deep",
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
    return common.with_preset(config, arg)
