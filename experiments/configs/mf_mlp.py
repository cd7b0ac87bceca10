"""MF + M-MLP, "our approach" of the multiple-implicit-feedback paper (issue 22).

Table: README "MF + M-MLP Table 4" (runs `mf_mlp_synthetic`,
`mf_mlp_taobao_userbehavior`); paper HR@10 0.2795, NDCG@10 0.1673 on its 19,576
Taobao users (not comparable with the 814 users held here). Defaults of Table 4's
"our approach": 4 factors for MF and M-MLP (l.390-393), 3 negatives per positive
from the supportive sampler (l.411-412), 2 layers per branch (l.420-421), Gaussian
init std 0.01 (l.382), BPR on the pre-sigmoid score (the paper trains pairwise,
l.166-168, and does not write the loss).
Seed instability on the simulator (README "Why"): from the N(0, 0.01) start the loss
stays at log 2 for 6-8 epochs and either MF or the M-MLP takes the score; when the
M-MLP collapses, MF against supportive negatives alone ranks untouched items badly.
Measured on the small simulator, seeds 0 / 1 / 2, test HR@10 (validation-selected
epoch): the paper's init std 0.01 (l2 1e-5) 0.690 / 0.242 / 0.226; with patience 30 instead
of 5, seed 1 stays on the log-2 plateau for all 30 epochs (0.242): stopping early
is not the cause; with batch 32 instead of 256 (8x the updates, nearer the paper's
batch of 1) seed 1 still stays (0.057) and seed 2 escapes (0.655); with
`--config.model.init_std=0.1` every seed leaves the plateau by epoch 5: 0.646 /
0.583 / 0.597 (0.609 +- 0.033), stable but below seed 0's 0.690 (these runs: l2 0,
before the sweeps below, whose stage 2 chose init std 0.03 over seeds); commands: `python -m experiments.train
--config=experiments/configs/mf_mlp.py --config.data.path=data/synthetic_small
--config.seed=<s> [--config.train.patience=30 | --config.train.batch_size=32 |
--config.model.init_std=0.1]`.
Command: make reproduce-mfmlp
Expected time on a 2-core CPU: about 1 minute per seed on the small simulator.
Sweep (issue 22), on validation HR@10 on the simulator (epochs still chosen on
validation NDCG@10), test read for the chosen trial only: `make sweep CONFIG=mf_mlp
GRID="train.learning_rate=1e-3,1e-2 model.l2=0,1e-5"` with
`--config.data.path=data/synthetic_small --metric=hr@10`. Results:
experiments/results/sweeps/mf_mlp_synthetic/stage1.json. Validation HR@10 (learning
rate / l2): 0.001 / 0: 0.6811, 0.001 / 1e-05: 0.6878, 0.01 / 0: 0.6733, 0.01 / 1e-05: 0.6878. Chosen: train.learning_rate=0.001,
model.l2=1e-05 (in TUNED below; its test HR@10 0.6900),
applied on Taobao too (not swept there). Two trials tie at 0.6878 (l2 1e-5 at either learning rate); the sweep keeps the first. One seed (seed 0, the one whose M-MLP escapes the initial plateau): the grid cannot show the seed instability.
Stage 2, the initialisation, chosen on the mean over seeds 0-2 (at the values
above): `make sweep CONFIG=mf_mlp GRID="model.init_std=0.01,0.03,0.1"
SWEEP_SEEDS=0,1,2 SWEEP_FLAGS="--metric=hr@10 --config.data.path=data/synthetic_small"`
(experiments/results/sweeps/mf_mlp_synthetic/stage2_init_seeds.json). Validation
HR@10 per seed (mean): std 0.01: 0.688 / 0.240 / 0.233 (0.387), two seeds never
leave the plateau; 0.03: 0.695 / 0.595 / 0.569 (0.620); 0.1: 0.654 / 0.581 / 0.594
(0.610). Chosen: init std 0.03 (test HR@10 0.691 / 0.589 / 0.568, mean 0.616), not
the paper's 0.01: every seed now escapes, though seeds 1-2 still end about 0.1
below seed 0. Applied on Taobao too (not swept there). Rerun with it (README Table 4,
each seed in a fresh process): test HR@10 0.691 / 0.589 / 0.583 (seed 2 differs from
the sweep's 0.568 because the sweep trains its trials in one process, where
TensorFlow's op-level seeds differ; a run trained alone twice is identical).
"""

from experiments.configs import common

# Values the sweep above chose, by preset ("": the config's own protocol).
TUNED = {
    "": {
        "train.learning_rate": 0.001,
        "model.l2": 1e-05,
        "model.init_std": 0.03,
    },
}


def get_config(arg=None):
    config = common.pairwise_base(
        "mf_mlp",
        dict(
            name="mf_mlp",
            factors=4,
            num_layers=2,
            init_std=0.01,  # the paper's (l.382); TUNED: 0.03
            l2=0.0,
            branch_update="feedback",
            loss="bpr",
        ),
        negative_sampler="supportive",
        epochs=30,
    )
    return common.with_preset(config, arg, TUNED)
