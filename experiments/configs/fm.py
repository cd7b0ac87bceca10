"""Factorization machine (Rendle 2010), one of AutoDenoise's backbones.

Table: AutoDenoise Table 1 (and Table 3 "Normal"), backbone FM, MovieLens1M "w/o":
AUC 0.8080, logloss 0.5334. The default dataset is the simulator; AutoDenoise's
protocol (ML-1M, all ratings, label rating > 3, fields user id and movie id, seeded
random 80/10/10 split) is the preset `autodenoise_ml1m` of the command below.
Hyper-parameters from AutoDenoise's public code (main.py, a fork of pytorch-fm):
embedding 16, Adam 1e-3, batch 2048, early stopping after 2 epochs without a
validation AUC gain (at most 100 epochs). Not reproduced: the code's dense Adam
(here the suite's lazy Adam), its Adam weight_decay=1e-6 on every parameter (`l2`,
on looked-up rows, stays 0 until a sweep on validation chooses it).
Command: python -m experiments.train --config=experiments/configs/fm.py:autodenoise_ml1m
  --workdir=runs/fm_ml1m_all/seed0
Expected time on a 2-core CPU: about 2 minutes per seed on ML-1M (measured 115 s, 20
epochs, with other jobs loading the machine).
Sweep (issue 18), on validation AUC under the preset, test read for the chosen trial
only: stage 1 `make sweep CONFIG=fm PRESET=autodenoise_ml1m
GRID="train.learning_rate=1e-3,3e-3 model.l2=0,1e-5"`, then, where it chose an edge,
stage 2 over learning_rate=3e-3,1e-2 x l2=1e-5,1e-4. Results: experiments/results/sweeps/fm_autodenoise_ml1m/stage{1,2}.json. Chosen: train.learning_rate=0.003, model.l2=0.0001 (validation AUC 0.8138; in TUNED below).
l2 chose the edge of its grid again (1e-4 vs 1e-5: 0.8138 vs 0.8137, flat).
"""

from experiments.configs import common

# Values the sweep above chose, by preset.
TUNED = {
    "autodenoise_ml1m": {
        "train.learning_rate": 0.003,
        "model.l2": 0.0001,
    },
}


def get_config(arg=None):
    config = common.base(
        "fm",
        "ctr",
        dict(name="fm", embedding_dim=16, l2=0.0),
    )
    config.train.batch_size = 2048
    config.train.learning_rate = 1e-3
    config.train.epochs = 100
    config.train.patience = 2
    return common.with_preset(config, arg, TUNED)
