"""MFPR (implicit part) baseline of the MF + M-MLP paper's Table 4 (issue 22).

Table: README "MF + M-MLP Table 4", row MFPR (paper HR@10 0.2426, NDCG@10 0.1568).
All four feedback types (l.355-357): BPR-MF over target > supportive-only >
untouched (see `recsys_tf.models.baselines.mfpr`), 4 factors.
Command: make reproduce-mfmlp
Expected time on a 2-core CPU: under 1 minute per seed on the small simulator.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.pairwise_base(
        "mfpr",
        dict(name="mfpr", factors=4, init_std=0.01, l2=0.0),
        negative_sampler="supportive",
        epochs=30,
    )
    return common.with_preset(config, arg)
