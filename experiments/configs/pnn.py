"""Product-based Neural Network (Qu et al. 2016): IPNN, OPNN or PNN* by `product`.

Tables: AutoDenoise Table 1 (and Table 3 "Normal"), backbone IPNN, MovieLens1M
"w/o": AUC 0.8023, logloss 0.5433; DUMN Table 1, PNN: AUC 0.6328 (Alibaba) and
0.7602 (Industrial, not public). The default dataset is the simulator; AutoDenoise's
protocol (ML-1M, all ratings, label rating > 3, fields user id and movie id, seeded
random 80/10/10 split) is the preset `autodenoise_ml1m` of the command below.
OPNN: --config.model.product=outer; PNN*: --config.model.product=both.
Hyper-parameters from AutoDenoise's public code (main.py, a fork of pytorch-fm):
IPNN with embedding 16, one hidden layer of 16 units, dropout 0.2, Adam 1e-3, batch
2048, early stopping after 2 epochs without a validation AUC gain (at most 100
epochs). Not reproduced: the code's dense Adam (here the suite's lazy Adam), its
Adam weight_decay=1e-6 on every parameter (`l2`, on looked-up rows, stays 0 until a
sweep on validation chooses it), batch normalisation after each hidden layer. The
PNN paper's own MLP is wider (three layers); DUMN does not give its PNN settings.
Command: python -m experiments.train --config=experiments/configs/pnn.py:autodenoise_ml1m
  --workdir=runs/pnn_ml1m_all/seed0
Expected time on a 2-core CPU: about 2 minutes per seed on ML-1M (IPNN measured 112
s, 12 epochs, with other jobs loading the machine).
Sweep (issue 18), on validation AUC under the preset, test read for the chosen trial
only: stage 1 `make sweep CONFIG=pnn PRESET=autodenoise_ml1m
GRID="train.learning_rate=1e-3,3e-3 model.l2=0,1e-5"`, then, where it chose an edge,
stage 2 over learning_rate=3e-3,1e-2 x l2=0. Results: experiments/results/sweeps/pnn_autodenoise_ml1m/stage{1,2}.json. Chosen: train.learning_rate=0.01, model.l2=0 (validation AUC 0.8049; in TUNED below).
The learning rate chose the edge of its grid again (1e-2).
Sweep (issues 19 and 21) under DUMN Table 1's protocol on the compact simulator (preset
`dumn_table1`), on the mean validation AUC over seeds 0-2: `make sweep CONFIG=pnn
PRESET=dumn_table1 GRID="train.learning_rate=3e-4,1e-3,5e-3,1e-2" SWEEP_SEEDS=0,1,2`
(run with the preset's data.path and epochs as flags, before the preset existed):
0.6819 / 0.6822 / 0.6858 / 0.6851. Results:
experiments/results/sweeps/pnn_dumn_table1/stage1.json. Chosen:
train.learning_rate=0.005 (in TUNED; the chosen trial's mean test AUC 0.6937).
Sweep on KuaiRand-Pure under the same protocol (preset `dumn_table1_kuairand`), on the
mean validation AUC over seeds 0-2: `make sweep CONFIG=pnn PRESET=dumn_table1_kuairand
GRID="train.learning_rate=1e-3,5e-3,1e-2" SWEEP_SEEDS=0,1,2`: 0.7030 / 0.7033 / 0.7015. Results:
experiments/results/sweeps/pnn_dumn_table1_kuairand/stage1.json. Chosen:
train.learning_rate=0.005 (in TUNED; the chosen trial's mean test AUC 0.7016).
"""

from experiments.configs import common

# Values the sweep above chose, by preset.
TUNED = {
    "dumn_table1_kuairand": {
        "train.learning_rate": 0.005,
    },
    "dumn_table1": {
        "train.learning_rate": 0.005,
    },
    "autodenoise_ml1m": {
        "train.learning_rate": 0.01,
        "model.l2": 0.0,
    },
}


def get_config(arg=None):
    config = common.base(
        "pnn",
        "ctr",
        dict(
            name="pnn",
            embedding_dim=16,
            hidden_units=(16,),
            product="inner",
            kernel_type="mat",
            dropout=0.2,
            l2=0.0,
        ),
    )
    config.train.batch_size = 2048
    config.train.learning_rate = 1e-3
    config.train.epochs = 100
    config.train.patience = 2
    return common.with_preset(config, arg, TUNED)
