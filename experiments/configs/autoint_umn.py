"""AutoInt+UMN (DUMN Table 3) on the behaviour-sequence CTR task.

Table: DUMN Table 3, row AutoInt+UMN: AUC 0.6396 on Alibaba (Taobao display ads;
AutoInt 0.6360) and 0.7802 on DUMN's Industrial data (not public). AutoInt's
interacting layers over the fields (sizes of experiments/configs/autoint.py: embedding
16, 3 layers, 2 heads of 32, residual), and DUMN's user memory network over the mean
of each feedback window (click, unclick, like, dislike; T = 100) with DUMN's memory
sizes (m = 256, Z = 64, memory FFN 512, PAIR), and DUMN's triplet loss for the
four memories (margin 0.5, hardest samples: the introduction's UMN, l.76-78;
`--config.model.triplet_weight=0` is the memory network alone). Like is DUMN's
like, fav, cart and buy events (`data.like_events`). The learning rate is AutoInt's
(3e-3, chosen on ML-1M validation), and under the preset dumn_table1 AutoInt's
choice there (autoint.TUNED; also 3e-3); not swept for AutoInt+UMN itself.
Command: python -m experiments.train --config=experiments/configs/autoint_umn.py
  --workdir=runs/autoint_umn_synthetic/seed0; in DUMN's ablations: `make
  reproduce-dumn-ablations` (run autoint_umn_table1_<dataset>).
Expected time on a 2-core CPU: not measured yet (its first runs are those of `make
reproduce-dumn-ablations`); its cost is AutoInt's plus four memory reads and writes.
Variant no_memory (ours, not the paper's): the control of AutoInt+UMN's gain, AutoInt
beside the same four window means with no memory network and no triplet term
(`autoint_umn.py:no_memory+dumn_table1`, run autoint_umn_no_memory_table1_<dataset>):
AutoInt reads no sequence, so AutoInt+UMN's gap over AutoInt mixes the windows and
the memory; this run splits them.
On data without dislike (Taobao display ads):
  --config.model.sequence_types="('click','unclick','like')" with the same
  data.sequence_types.
"""

from experiments.configs import autoint, common
from experiments.configs.dumn import LIKE_EVENTS


def get_config(arg=None):
    config = common.base(
        "autoint_umn",
        "ctr_sequence",
        dict(
            name="autoint_umn",
            sequence_types=("click", "unclick", "like", "dislike"),
            embedding_dim=16,
            num_layers=3,
            num_heads=2,
            head_dim=32,
            use_residual=True,
            num_slots=256,  # m
            slot_dim=64,  # Z
            controller_units=512,
            # DUMN's memory as chosen for DUMN (configs/dumn.py, stage 3; 1 and
            # "add" are Eq. (9) and (12) as written, whose slots collapse).
            key_strength=10.0,
            write_content="key",
            fusion="gate",  # PAIR
            memory=True,  # False: the control (variant no_memory)
            # DUMN's triplet loss with the memories (the introduction's UMN, l.76-78;
            # 0 = the memory network alone, Table 3's other reading)
            triplet_weight=1.0,
            triplet_margin=0.5,  # DUMN's (experiments/configs/dumn.py)
            triplet_sampling="hardest",
            triplet_samples="history",  # DUMN Sec. 3.5 (data.history_samples)
            seed=0,
            l2=0.0,
        ),
    )
    config.data.sequence_types = ("click", "unclick", "like", "dislike")
    config.data.like_events = LIKE_EVENTS  # DUMN's like: like, fav, cart, buy
    config.data.history_samples = True  # the triplet samples' whole histories
    config.data.max_length = 100  # T, as DUMN
    config.train.learning_rate = 3e-3  # AutoInt's (experiments/configs/autoint.py)
    config.train.epochs = 20  # early stopping (patience 3) ends the run
    variant, protocol = common.split_arg(arg, ("no_memory",))
    if variant == "no_memory":  # the control: window means, no memory, no triplet
        config.name = "autoint_umn_no_memory"
        config.model.memory = False
        config.model.triplet_weight = 0.0
        config.model.triplet_samples = "window"  # no triplet term: nothing drawn
        config.data.history_samples = False  # only the triplet term reads them
    # AutoInt's rates, by preset: the ablation runs on its backbone's.
    return common.with_preset(config, protocol, autoint.TUNED)
