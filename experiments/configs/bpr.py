"""BPR-MF baseline of the MF + M-MLP paper's Table 4 (issue 22).

Table: README "MF + M-MLP Table 4", row BPR (paper HR@10 0.2296, NDCG@10 0.1505).
Purchases only (l.355-357): random negatives (items the user never bought). 4
factors as "our approach" (the paper tuned its baselines by cross-validation,
l.452-454; not done here).
Command: make reproduce-mfmlp
Expected time on a 2-core CPU: under 1 minute per seed on the small simulator.
Sweep (issue 22), on validation HR@10 on the simulator (epochs still chosen on
validation NDCG@10), test read for the chosen trial only: `make sweep CONFIG=bpr
GRID="train.learning_rate=1e-3,1e-2 model.l2=0,1e-5"` with
`--config.data.path=data/synthetic_small --metric=hr@10`. Results:
experiments/results/sweeps/bpr_synthetic/stage1.json. Validation HR@10 (learning
rate / l2): 0.001 / 0: 0.6828, 0.001 / 1e-05: 0.6605, 0.01 / 0: 0.6767, 0.01 / 1e-05: 0.6678. Chosen: train.learning_rate=0.001,
model.l2=0 (in TUNED below; its test HR@10 0.6672),
applied on Taobao too (not swept there). Both chosen values are the grid's lower edge; at 1e-3 the best epoch is the last (30).
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
        "bpr",
        dict(name="bpr", factors=4, init_std=0.01, l2=0.0),
        negative_sampler="random",
        epochs=30,
    )
    return common.with_preset(config, arg, TUNED)
