"""NCF (NeuMF) baseline of the MF + M-MLP paper's Table 4 (issue 22).

Table: README "MF + M-MLP Table 4", row NCF (paper HR@10 0.2500, NDCG@10 0.1670).
Purchases only (l.355-357): random negatives, 3 per positive; NCF's pointwise log
loss (He et al. 2017 Eq. 7); 4 factors and 2 MLP layers as "our approach".
Command: make reproduce-mfmlp
Expected time on a 2-core CPU: under 1 minute per seed on the small simulator.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.pairwise_base(
        "neumf",
        dict(name="neumf", factors=4, num_layers=2, init_std=0.01, l2=0.0),
        negative_sampler="random",
        epochs=30,
    )
    return common.with_preset(config, arg)
