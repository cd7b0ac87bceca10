"""BPR-MF baseline of the MF + M-MLP paper's Table 4 (issue 22).

Table: README "MF + M-MLP Table 4", row BPR (paper HR@10 0.2296, NDCG@10 0.1505).
Purchases only (l.355-357): random negatives (items the user never bought). 4
factors as "our approach" (the paper tuned its baselines by cross-validation,
l.452-454; not done here).
Command: make reproduce-mfmlp
Expected time on a 2-core CPU: under 1 minute per seed on the small simulator.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.pairwise_base(
        "bpr",
        dict(name="bpr", factors=4, init_std=0.01, l2=0.0),
        negative_sampler="random",
        epochs=30,
    )
    return common.with_preset(config, arg)
