"""DIN (Zhou et al. 2018) on the behaviour-sequence CTR task (issue 19).

Table: DUMN Table 1, row DIN, Alibaba (Taobao display ads): AUC 0.6330 (DUMN takes
it from the DSIN paper); ours on the simulator (size small) and KuaiRand-Pure
(`--config.data.name=kuairand`), runs `din_<dataset>` (the data differ from
Alibaba's: the numbers are not comparable, the ordering of the models is).
Settings: DUMN Sec. 4.1.3 for the shared ones (T = 100, embedding 16, Adam 0.005);
DIN's own: the activation unit's 80-40 network (official code), the MLP 200-80 with
Dice (paper), mini-batch aware regularisation off (`model.mba_l2`, not swept yet).
The learning rate is DUMN's; the sweep below kept it under the preset dumn_table1.
Command: python -m experiments.train --config=experiments/configs/din.py
  --config.data.path=data/synthetic_small --workdir=runs/din_synthetic/seed0
Expected time on a 2-core CPU: the training step alone (T = 100, batch 1024, two
item features, embedding 16; a bench on random inputs) measured 818 examples/s on
the 2-core machine shared with other jobs (load average 10; 466 at load 16):
about 20 minutes per epoch of the small simulator's 0.96 M training impressions at
that load, less on an idle machine; early stopping after 4-8 epochs.
Sweep (issues 19 and 21) under DUMN Table 1's protocol on the compact simulator (preset
`dumn_table1`), seed 0, on validation AUC: `make sweep CONFIG=din PRESET=dumn_table1
GRID="train.learning_rate=1e-3,5e-3"` (run with the preset's data.path and epochs as
flags, before the preset existed): 0.6772 (best epoch 4) / 0.6800 (best epoch 1).
Results: experiments/results/sweeps/din_dumn_table1/stage1.json. Chosen:
train.learning_rate=0.005, DUMN's (in TUNED; test AUC 0.6825).
Sweep on KuaiRand-Pure under the same protocol (preset `dumn_table1_kuairand`), seed 0:
`make sweep CONFIG=din PRESET=dumn_table1_kuairand GRID="train.learning_rate=1e-3,5e-3"`:
0.7059 (best epoch 3) / 0.7068 (best epoch 1). Results:
experiments/results/sweeps/din_dumn_table1_kuairand/stage1.json. Chosen:
train.learning_rate=0.005, the default (in TUNED; test AUC 0.7045).
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
}


def get_config(arg=None):
    config = common.base(
        "din",
        "ctr_sequence",
        dict(
            name="din",
            sequence_types=("click",),  # the sequence the target attends to
            embedding_dim=16,
            attention_units=(80, 40),
            hidden_units=(200, 80),
            activation="dice",  # or "prelu", "relu"
            dropout=0.0,
            mba_l2=0.0,  # mini-batch aware regularisation (lambda / batch size)
            l2=0.0,
        ),
    )
    config.data.max_length = 100  # T, DUMN Sec. 4.1.3
    config.train.learning_rate = 5e-3  # DUMN Sec. 4.1.3 (Adam)
    config.train.epochs = 20  # early stopping (patience 3) ends the run
    return common.with_preset(config, arg, TUNED)
