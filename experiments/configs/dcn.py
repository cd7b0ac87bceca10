"""DCN (Wang et al. 2017; `model.cross="v2"`: DCN-v2) on any CTR dataset.

Table: AutoDenoise Table 1, "w/o" row of DCN on MovieLens-1M: AUC 0.8092,
logloss 0.5235 (preset `autodenoise_ml1m`). Layer sizes are pytorch-fm's DCN
example (embedding 16, 3 cross layers, MLP 16-16, dropout 0.2), whose code
AutoDenoise builds on; the paper gives none.
Command: python -m experiments.train --config=experiments/configs/dcn.py:autodenoise_ml1m
  --workdir=runs/dcn_ml1m_all/seed0 (DCN-v2: add --config.model.cross=v2)
Learning rate and l2 chosen on ML-1M validation AUC by
  python -m experiments.sweep --config=experiments/configs/dcn.py:autodenoise_ml1m
    --grid=train.learning_rate=1e-3,3e-3 --grid=model.l2=0,1e-5
    --workdir=runs/sweeps/dcn_autodenoise_ml1m
  (seed 0, up to 30 epochs, early stopping: validation AUC 0.8070 / 0.8072 at 1e-3
  with l2 0 / 1e-5, 0.8086 / 0.8071 at 3e-3; the chosen trial's test AUC 0.8060,
  logloss 0.5293; about 11 minutes for the four trials).
Expected time on a 2-core CPU (ML-1M preset, 800k training ratings, batch 1024):
about 7.5 s per epoch (98 s for the chosen trial's 13 epochs, measured on a shared
machine), about 2.5 minutes per seed with evaluation.
Sweep (issue 18), on validation AUC under the preset, test read for the chosen trial
only: stage 1 `make sweep CONFIG=dcn PRESET=autodenoise_ml1m
GRID="train.learning_rate=1e-3,3e-3 model.l2=0,1e-5"`, then, where it chose an edge,
stage 2 over learning_rate=3e-3,1e-2 x l2=0. Results: experiments/results/sweeps/dcn_autodenoise_ml1m/stage{1,2}.json. Chosen: train.learning_rate=0.003, model.l2=0 (validation AUC 0.8086; in TUNED below).
"""

from ml_collections import config_dict

from experiments.configs import common

# Values the sweep above chose, by preset.
TUNED = {
    "autodenoise_ml1m": {
        "train.learning_rate": 0.003,
        "model.l2": 0.0,
    },
}


def get_config(arg=None):
    config = common.base(
        "dcn",
        "ctr",
        dict(
            name="dcn",
            embedding_dim=16,
            num_cross_layers=3,
            hidden_units=(16, 16),
            dropout=0.2,
            l2=0.0,  # chosen by the sweep above
            cross="v1",
            projection_dim=config_dict.placeholder(int),  # DCN-v2 low rank r
        ),
    )
    config.train.learning_rate = 3e-3  # chosen by the sweep above
    # On ML-1M validation AUC still rises at epoch 10; early stopping ends the run.
    config.train.epochs = 30
    return common.with_preset(config, arg, TUNED)
