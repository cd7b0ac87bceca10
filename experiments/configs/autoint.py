"""AutoInt (Song et al. 2019; `model.deep=True`: AutoInt+) on any CTR dataset.

Table: DUMN Table 1, row AutoInt, Alibaba (Taobao display ads): AUC 0.6360
(`--config.data.name=taobao_ad`); also the AutoDenoise ML-1M protocol (preset
`autodenoise_ml1m`, no paper number for AutoInt). Sizes as the AutoInt paper:
embedding 16, 3 interacting layers, 2 heads of 32, residual connections.
Command: python -m experiments.train --config=experiments/configs/autoint.py:autodenoise_ml1m
  --workdir=runs/autoint_ml1m_all/seed0
Learning rate chosen on ML-1M validation AUC by
  python -m experiments.sweep --config=experiments/configs/autoint.py:autodenoise_ml1m
    --grid=train.learning_rate=1e-3,3e-3 --workdir=runs/sweeps/autoint_autodenoise_ml1m
  (seed 0, up to 30 epochs, early stopping: validation AUC 0.8045 at 1e-3, 0.8063 at
  3e-3; the chosen trial's test AUC 0.8048, logloss 0.5256; 9 minutes in all).
Sweep (issues 19 and 21) under DUMN Table 1's protocol on the compact simulator (preset
`dumn_table1`), on the mean validation AUC over seeds 0-2: `make sweep CONFIG=autoint
PRESET=dumn_table1 GRID="train.learning_rate=3e-4,1e-3,3e-3,5e-3" SWEEP_SEEDS=0,1,2`
(run with the preset's data.path and epochs as flags, before the preset existed):
0.6825 / 0.6837 / 0.6844 / 0.6828 (seed 0 alone: 0.6826 / 0.6815 / 0.6822 / 0.6819).
Results: experiments/results/sweeps/autoint_dumn_table1/stage1.json. Chosen:
train.learning_rate=0.003, the default (in TUNED; mean test AUC 0.6854).
On KuaiRand-Pure (preset `dumn_table1_kuairand`), seed 0, validation AUC: 0.003 0.7056
(best epoch 2 of 5; the Table 1 run, test 0.7020) against 0.005 0.7054 (best epoch 2
of 5; test 0.7010; `python -m experiments.train
--config=experiments/configs/autoint.py:dumn_table1_kuairand --config.name=autoint_table1
--config.train.learning_rate=0.005`, 466 s beside one other job; its results in
experiments/results/sweeps/autoint_dumn_table1_kuairand/): level, 0.003 (the
default) kept (in TUNED).
Expected time on a 2-core CPU (ML-1M preset, 800k training ratings, batch 1024):
about 21-28 s per epoch (170 s for the chosen trial's 8 epochs, measured on a shared
machine), about 4 minutes per seed with evaluation.
"""

from experiments.configs import common

# Values the sweeps chose, by preset.
TUNED = {
    "dumn_table1": {
        "train.learning_rate": 0.003,
    },
    "dumn_table1_kuairand": {
        "train.learning_rate": 0.003,
    },
}


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
    config.train.learning_rate = 3e-3  # chosen by the sweep above
    config.train.epochs = 30  # early stopping (patience 3) ends the run
    return common.with_preset(config, arg, TUNED)
