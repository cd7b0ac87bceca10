"""DCN (Wang et al. 2017; `model.cross="v2"`: DCN-v2) on any CTR dataset.

Table: AutoDenoise Table 1, "w/o" row of DCN on MovieLens-1M: AUC 0.8092,
logloss 0.5235 (preset `autodenoise_ml1m`). Layer sizes are pytorch-fm's DCN
example (embedding 16, 3 cross layers, MLP 16-16, dropout 0.2), whose code
AutoDenoise builds on; the paper gives none.
Command: python -m experiments.train --config=experiments/configs/dcn.py:autodenoise_ml1m
  --workdir=runs/dcn_ml1m_all/seed0 (DCN-v2: add --config.model.cross=v2)
Expected time on a 2-core CPU (ML-1M preset, 800k training ratings, batch 1024):
6-9 s per epoch (measured, 2 epochs, 144k examples/s), about 2 minutes per seed
for the 10 epochs of common.py, evaluation included.
"""

from ml_collections import config_dict

from experiments.configs import common


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
            l2=0.0,
            cross="v1",
            projection_dim=config_dict.placeholder(int),  # DCN-v2 low rank r
        ),
    )
    return common.with_preset(config, arg)
