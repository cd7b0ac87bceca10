"""WMF baseline of the MF + M-MLP paper's Table 4 (issue 22).

Table: README "MF + M-MLP Table 4", row WMF (paper HR@10 0.2315, NDCG@10 0.1485).
Purchases only (l.355-357). Hu et al.'s weighted square loss trained by mini-batch
Adam on each bought pair (confidence 1 + alpha = 2) and 3 sampled unbought items
(confidence 1), not by alternating least squares over the full matrix.
Command: make reproduce-mfmlp
Expected time on a 2-core CPU: under 1 minute per seed on the small simulator.
Sweep (issue 22), on validation HR@10 on the simulator (epochs still chosen on
validation NDCG@10), test read for the chosen trial only: `make sweep CONFIG=wmf
GRID="train.learning_rate=1e-3,1e-2 model.l2=0,1e-5"` with
`--config.data.path=data/synthetic_small --metric=hr@10`. Results:
experiments/results/sweeps/wmf_synthetic/stage1.json. Validation HR@10 (learning
rate / l2): 0.001 / 0: 0.6099, 0.001 / 1e-05: 0.6093, 0.01 / 0: 0.6010, 0.01 / 1e-05: 0.6055. Chosen: train.learning_rate=0.001,
model.l2=0 (in TUNED below; its test HR@10 0.5876),
applied on Taobao too (not swept there). Both chosen values are the grid's lower edge (all four within 0.009).
"""

from experiments.configs import common

# Values the sweep above chose, by preset ("": the config's own protocol).
TUNED = {
    "": {
        "train.learning_rate": 0.001,
        "model.l2": 0.0,
    },
}


def get_config(arg=None):
    config = common.pairwise_base(
        "wmf",
        dict(name="wmf", factors=4, init_std=0.01, l2=0.0, positive_weight=2.0),
        negative_sampler="random",
        epochs=30,
    )
    return common.with_preset(config, arg, TUNED)
