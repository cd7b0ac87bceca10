"""WMF baseline of the MF + M-MLP paper's Table 4 (issue 22).

Table: README "MF + M-MLP Table 4", row WMF (paper HR@10 0.2315, NDCG@10 0.1485).
Purchases only (l.355-357). Hu et al.'s weighted square loss trained by mini-batch
Adam on each bought pair (confidence 1 + alpha = 2) and 3 sampled unbought items
(confidence 1), not by alternating least squares over the full matrix.
Command: make reproduce-mfmlp
Expected time on a 2-core CPU: under 1 minute per seed on the small simulator.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.pairwise_base(
        "wmf",
        dict(name="wmf", factors=4, init_std=0.01, l2=0.0, positive_weight=2.0),
        negative_sampler="random",
        epochs=30,
    )
    return common.with_preset(config, arg)
