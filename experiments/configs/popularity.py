"""Most-popular items (next-item retrieval): the baseline YouTube DNN must beat.

Table: README "Foundation: retrieval on the simulator", row Popularity (run
`popularity_synthetic`); on real data (`--config.data.name=ml1m` / `kuairand` /
`taobao_userbehavior`, runs `popularity_<dataset>`) the README's retrieval tables.
Command: make reproduce-foundation (simulator), make reproduce-real-data (real data)
Expected time on a 2-core CPU: seconds.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base("popularity", "retrieval", dict(name="popularity"))
    return common.with_preset(config, arg)
