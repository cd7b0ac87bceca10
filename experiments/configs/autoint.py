"""AutoInt (Song et al. 2019; `model.deep=True`: AutoInt+) on any CTR dataset.

Table: DUMN Table 1, row AutoInt, Alibaba (Taobao display ads): AUC 0.6360
(`--config.data.name=taobao_ad`); also the AutoDenoise ML-1M protocol (preset
`autodenoise_ml1m`, no paper number for AutoInt). Sizes as the AutoInt paper:
embedding 16, 3 interacting layers, 2 heads of 32, residual connections.
Command: python -m experiments.train --config=experiments/configs/autoint.py:autodenoise_ml1m
  --workdir=runs/autoint_ml1m_all/seed0
Expected time on a 2-core CPU (ML-1M preset, 800k training ratings, batch 1024):
49 s for the first epoch (tracing included) and 24 s for the next (measured on a
shared machine, 24k examples/s), about 5 minutes per seed for 10 epochs.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base(
        "autoint",
        "ctr",
        dict(
            name="autoint",
            embedding_dim=16,
            num_layers=3,
            num_heads=2,
            head_dim=32,
            use_residual=True,
            deep=False,
            hidden_units=(256, 128, 64),  # AutoInt+ only (deep=True)
            dropout=0.0,
            l2=0.0,
        ),
    )
    return common.with_preset(config, arg)
