"""NCF (NeuMF) baseline of the MF + M-MLP paper's Table 4 (issue 22).

Table: README "MF + M-MLP Table 4", row NCF (paper HR@10 0.2500, NDCG@10 0.1670).
Purchases only (l.355-357): random negatives, 3 per positive; NCF's pointwise log
loss (He et al. 2017 Eq. 7); 4 factors and 2 MLP layers as "our approach".
Command: make reproduce-mfmlp
Expected time on a 2-core CPU: under 1 minute per seed on the small simulator.
Sweep (issue 22), on validation HR@10 on the simulator (epochs still chosen on
validation NDCG@10), test read for the chosen trial only: `make sweep CONFIG=neumf
GRID="train.learning_rate=1e-3,1e-2 model.l2=0,1e-5"` with
`--config.data.path=data/synthetic_small --metric=hr@10`. Results:
experiments/results/sweeps/neumf_synthetic/stage1.json. Validation HR@10 (learning
rate / l2): 0.001 / 0: 0.7145, 0.001 / 1e-05: 0.7140, 0.01 / 0: 0.6555, 0.01 / 1e-05: 0.7073. Chosen: train.learning_rate=0.001,
model.l2=0 (in TUNED below; its test HR@10 0.7151),
applied on Taobao too (not swept there). Both chosen values are the grid's lower edge.
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
        "neumf",
        dict(name="neumf", factors=4, num_layers=2, init_std=0.01, l2=0.0),
        negative_sampler="random",
        epochs=30,
    )
    return common.with_preset(config, arg, TUNED)
