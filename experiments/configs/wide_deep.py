"""Wide & Deep (CTR), foundation issue.

Table: README "Foundation: CTR on the simulator", row Wide&Deep (run
`wide_deep_synthetic`; no paper number: the simulator has none, the oracle row is the
ceiling); on real data (`--config.data.name=ml1m` / `kuairand`, runs
`wide_deep_<dataset>`) the README's CTR tables of those datasets.
Command: make reproduce-foundation (or python -m experiments.train
  --config=experiments/configs/wide_deep.py --config.data.path=data/synthetic_small
  --workdir=runs/wide_deep_synthetic/seed0), make reproduce-real-data (real data)
Expected time on a 2-core CPU: about 40 seconds per seed on the small simulator.
Sweep (issue 18), on validation AUC under the preset (with AutoDenoise's code settings,
CODE below), test read for the chosen trial only: stage 1 `make sweep CONFIG=wide_deep
PRESET=autodenoise_ml1m GRID="train.learning_rate=1e-3,3e-3 model.l2=0,1e-5"` (validation
AUC 0.8016 / 0.8027 / 0.8037 / 0.8045, 3e-3 with 1e-5 best), then, at that edge, stage 2
over learning_rate=3e-3,1e-2 x l2=1e-5,1e-4 (0.8045 / 0.8044 / 0.8054 / 0.8046). Results:
experiments/results/sweeps/wide_deep_autodenoise_ml1m/stage{1,2}.json. Chosen:
train.learning_rate=0.01, model.l2=1e-05 (validation AUC 0.8054; in TUNED below); the
learning rate sits at the edge of the grid, as IPNN's and DeepFM's do.
Sweep (issues 19 and 21) under DUMN Table 1's protocol on the compact simulator (preset
`dumn_table1`), on the mean validation AUC over seeds 0-2: `make sweep CONFIG=wide_deep
PRESET=dumn_table1 GRID="train.learning_rate=3e-4,1e-3,5e-3,1e-2,2e-2,5e-2"
SWEEP_SEEDS=0,1,2` (run with the preset's data.path and epochs as flags, before the
preset existed): 0.6857 / 0.6890 / 0.6893 / 0.6897 / 0.6898 / 0.6874, flat from 5e-3
to 2e-2. Results: experiments/results/sweeps/wide_deep_dumn_table1/stage1.json. Chosen:
train.learning_rate=0.02 (in TUNED; the chosen trial's mean test AUC 0.6999).
Sweep on KuaiRand-Pure under the same protocol (preset `dumn_table1_kuairand`), on the
mean validation AUC over seeds 0-2: `make sweep CONFIG=wide_deep PRESET=dumn_table1_kuairand
GRID="train.learning_rate=1e-3,5e-3,1e-2" SWEEP_SEEDS=0,1,2`: 0.7006 / 0.7034 / 0.7032. Results:
experiments/results/sweeps/wide_deep_dumn_table1_kuairand/stage1.json. Chosen:
train.learning_rate=0.005 (in TUNED; the chosen trial's mean test AUC 0.7032).
"""

from experiments.configs import common

# AutoDenoise's code trains its Wide&Deep as its other backbones (embedding 16, MLP 16-16,
# dropout 0.2, batch 2048, early stopping after 2 epochs without a validation AUC gain, at
# most 100 epochs; its batch normalisation is not reproduced): applied under its preset,
# before the swept values.
CODE = {
    "autodenoise_ml1m": {
        "model.hidden_units": (16, 16),
        "model.dropout": 0.2,
        "train.batch_size": 2048,
        "train.epochs": 100,
        "train.patience": 2,
    },
}

# Values the sweep above chose, by preset.
TUNED = {
    "dumn_table1_kuairand": {
        "train.learning_rate": 0.005,
    },
    "dumn_table1": {
        "train.learning_rate": 0.02,
    },
    "autodenoise_ml1m": {
        "train.learning_rate": 0.01,
        "model.l2": 1e-05,
    },
}


def get_config(arg=None):
    config = common.base(
        "wide_deep",
        "ctr",
        dict(
            name="wide_deep",
            embedding_dim=16,
            hidden_units=(256, 128, 64),
            dropout=0.0,
            l2=0.0,
        ),
    )
    config.data.crosses = (("user_id", "category"),)
    config.train.batch_size = 4096
    # A preset's code settings apply whether or not a sweep ran under it.
    tuned = {p: {**CODE.get(p, {}), **TUNED.get(p, {})} for p in {*CODE, *TUNED}}
    return common.with_preset(config, arg, tuned)
