"""DeepFM (Guo et al. 2017), one of AutoDenoise's backbones and a DUMN baseline.

Tables: AutoDenoise Table 1 (and Table 2 "w/o"), backbone DeepFM, MovieLens1M "w/o":
AUC 0.8048, logloss 0.5306; DUMN Table 1, DeepFM: AUC 0.6347 (Alibaba) and 0.7612
(Industrial, not public). The default dataset is the simulator; AutoDenoise's
protocol (ML-1M, all ratings, label rating > 3, fields user id and movie id, seeded
random 80/10/10 split) is the preset `autodenoise_ml1m` of the command below.
Hyper-parameters from AutoDenoise's public code (main.py, a fork of pytorch-fm):
embedding 16, MLP 16-16, dropout 0.2, Adam 1e-3, batch 2048, early stopping after 2
epochs without a validation AUC gain (at most 100 epochs). Not reproduced: the
code's dense Adam (here the suite's lazy Adam), its Adam weight_decay=1e-6 on every
parameter (`l2`, on looked-up rows, stays 0 until a sweep on validation chooses it),
batch normalisation after each hidden layer. DUMN does not give its DeepFM settings.
Command: python -m experiments.train --config=experiments/configs/deepfm.py:autodenoise_ml1m
  --workdir=runs/deepfm_ml1m_all/seed0
Expected time on a 2-core CPU: about 2 minutes per seed on ML-1M (measured 125 s, 14
epochs, the first-use conversion of ML-1M included, with other jobs loading the
machine).
Sweep (issue 18), on validation AUC under the preset, test read for the chosen trial
only: stage 1 `make sweep CONFIG=deepfm PRESET=autodenoise_ml1m
GRID="train.learning_rate=1e-3,3e-3 model.l2=0,1e-5"`, then, where it chose an edge,
stage 2 over learning_rate=3e-3,1e-2 x l2=1e-5. Results: experiments/results/sweeps/deepfm_autodenoise_ml1m/stage{1,2}.json. Chosen: train.learning_rate=0.01, model.l2=1e-05 (validation AUC 0.8057; in TUNED below).
The learning rate chose the edge of its grid again (1e-2).
Sweep (issues 19 and 21) under DUMN Table 1's protocol on the compact simulator (preset
`dumn_table1`), on the mean validation AUC over seeds 0-2: `make sweep CONFIG=deepfm
PRESET=dumn_table1 GRID="train.learning_rate=3e-4,1e-3,5e-3,1e-2" SWEEP_SEEDS=0,1,2`
(run with the preset's data.path and epochs as flags, before the preset existed):
0.6827 / 0.6862 / 0.6889 / 0.6865 (seed 0 alone preferred 1e-3: 0.6908 against
0.6873). Results: experiments/results/sweeps/deepfm_dumn_table1/stage1.json. Chosen:
train.learning_rate=0.005 (in TUNED; the chosen trial's mean test AUC 0.6970).
Sweep on KuaiRand-Pure under the same protocol (preset `dumn_table1_kuairand`), on the
mean validation AUC over seeds 0-2: `make sweep CONFIG=deepfm PRESET=dumn_table1_kuairand
GRID="train.learning_rate=1e-3,5e-3,1e-2" SWEEP_SEEDS=0,1,2`: 0.7041 / 0.7018 / 0.6958. Results:
experiments/results/sweeps/deepfm_dumn_table1_kuairand/stage1.json. Chosen:
train.learning_rate=0.001 (in TUNED; the chosen trial's mean test AUC 0.7031).
"""

from experiments.configs import common

# Values the sweep above chose, by preset.
TUNED = {
    "dumn_table1_kuairand": {
        "train.learning_rate": 0.001,
    },
    "dumn_table1": {
        "train.learning_rate": 0.005,
    },
    "autodenoise_ml1m": {
        "train.learning_rate": 0.01,
        "model.l2": 1e-05,
    },
}


def get_config(arg=None):
    config = common.base(
        "deepfm",
        "ctr",
        dict(
            name="deepfm",
            embedding_dim=16,
            hidden_units=(16, 16),
            dropout=0.2,
            l2=0.0,
        ),
    )
    config.train.batch_size = 2048
    config.train.learning_rate = 1e-3
    config.train.epochs = 100
    config.train.patience = 2
    return common.with_preset(config, arg, TUNED)
