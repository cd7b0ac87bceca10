"""DFN (Xie et al. 2020) on the behaviour-sequence CTR task.

Table: DUMN Table 1, row DFN: AUC 0.6368 on Alibaba (Taobao display ads) and
0.7884 on DUMN's Industrial data (not public); issue 19's `make
reproduce-ctr-sequence` table on the simulator and KuaiRand-Pure (no paper number).
DFN reads the click, unclick and dislike sequences (T = 100 as DUMN, Sec. 4.1.3).
The Taobao display-ad data has no dislike: there run with
`--config.model.sequence_types="('click','unclick')"` (the external interaction then has
only click -> unclick). Settings from the authors' code (github.com/qqxiaochongqq/DFN,
model.py): 4 heads, Deep part 32-16; embedding 16 as DUMN. Learning rate under
the preset dumn_table1 (DUMN Table 1 on the compact simulator; seed 0, validation
AUC): 0.001 0.6847 (best epoch 6 of 9, the Table 1 run of `make reproduce-dumn
SEEDS=0 DUMN_MODELS=dfn`; test 0.6903) against 0.005
0.6843 (best epoch 2 of 5; test 0.6927; run `python -m experiments.train
--config=experiments/configs/dfn.py:dumn_table1 --config.train.learning_rate=0.005`)
-> 0.001, the default (in TUNED). On KuaiRand-Pure (preset dumn_table1_kuairand),
seed 0, validation AUC: 0.001 0.7102 (best epoch 2 of 5; the Table 1 run, test 0.7100)
against 0.005 0.7060 (best epoch 1 of 4; test 0.7035; `python -m experiments.train
--config=experiments/configs/dfn.py:dumn_table1_kuairand --config.name=dfn_table1
--config.train.learning_rate=0.005`, 716 s beside one other job; its results in
experiments/results/sweeps/dfn_dumn_table1_kuairand/) -> 0.001, the default
(in TUNED). Elsewhere the suite's default, not swept.
Preset `dislike` (DUMN Table 7, DFN row: AUC 0.7609 on Alibaba-dislike): the label is
whether the user marks the shown item as dislike (`data.label="dislike"`).
Preset `umn` (DUMN Table 3, DFN+UMN: AUC 0.6437 on Alibaba, DFN 0.6368): DUMN's user
memory network and PAIR over DFN's internal features (`model.user_memory=True`; m =
256, Z = 64, memory FFN 512 as DUMN), run `dfn_umn_<dataset>`.
Command: python -m experiments.train --config=experiments/configs/dfn.py
  --workdir=runs/dfn_synthetic/seed0
Expected time on a 2-core CPU: not measured end to end. Before the change below, one
training step (lazy Adam, no XLA) took 1.24 s wall at a load of 1.2 (DIN 0.30 s in
the same process), 2.28 CPU-seconds at a load of 19 (DIN 0.49): about 20 minutes per
epoch of the small simulator's ~940 steps on an idle machine. The step is 38 GFLOP
(3 x the forward FLOPs TensorFlow's profiler counts; DIN's 8.8), three Transformer
layers whose [batch, heads, T, T] attention tensors (167 MB each) make it memory-
bound: DFN's ~4x DIN is its FLOP ratio. The earlier 21.5 s was the machine's load
(about 15), not the model.
After TransformerBlock's attention became two batched matmuls with an additive
key mask (instead of Keras' MultiHeadAttention with a mask select), the step
went from 2.42 to 1.87 CPU-seconds (9.1 to 6.2 s wall; DIN 0.47 CPU-s, 1.5 s
wall; all back to back in one process at a load of 8-16): 4.0x DIN, its FLOP
ratio. The rest of the cost is in the [batch, heads, T, T] tensors themselves.
Measured with a scratch script (not in the repository): `train_on_batch` of the
model in a tf.function, batch 1024, T = 100, item_id + category (d_model 32),
vocabularies 1000 / 5000 / 50, random inputs, after two warm-up steps, several
models timed back to back in one process; CPU seconds (time.process_time) beside
wall seconds, since the shared machine's load swings from 1 to 35. Through the
trainer's input pipeline: python -m experiments.bench --models= --data_sizes=
--conversion_rows= --sequence_models=NAME --sequence_lengths=100.
"""

from experiments.configs import common

TUNED = {
    "dumn_table1": {"train.learning_rate": 0.001},
    "dumn_table1_kuairand": {"train.learning_rate": 0.001},
}


def get_config(arg=None):
    config = common.base(
        "dfn",
        "ctr_sequence",
        dict(
            name="dfn",
            sequence_types=("click", "unclick", "dislike"),
            embedding_dim=16,
            num_heads=4,
            ffn_units=None,  # 4 d_model
            hidden_units=(32, 16),
            dropout=0.0,
            layer_norm=False,  # the authors' code (see DFN's docstring)
            user_memory=False,  # True: DFN+UMN (DUMN Table 3)
            num_slots=256,  # DFN+UMN's m, Z and memory FFN (DUMN Sec. 4.1.3)
            slot_dim=64,
            controller_units=512,
            # DUMN's memory as chosen for DUMN (configs/dumn.py, stage 3; 1 and
            # "add" are Eq. (9) and (12) as written, whose slots collapse).
            key_strength=10.0,
            write_content="key",
            fusion="gate",  # PAIR
            l2=0.0,
        ),
    )
    config.data.max_length = 100  # T, as DUMN
    variant, protocol = common.split_arg(arg, ("dislike", "umn"))
    if variant == "dislike":  # DUMN Table 7: does the user mark the shown item dislike?
        config.name = "dfn_dislike"
        config.data.label = "dislike"
    if variant == "umn":  # DUMN Table 3: DFN+UMN
        config.name = "dfn_umn"
        config.model.user_memory = True
        # DUMN's triplet loss with the memories (the introduction's UMN,
        # l.76-78; 0 = the memory network alone, Table 3's other reading).
        config.model.triplet_weight = 1.0
        config.model.triplet_margin = 0.5  # DUMN's (experiments/configs/dumn.py)
        config.model.triplet_sampling = "hardest"
        config.model.triplet_samples = "history"  # DUMN Sec. 3.5
        config.model.seed = 0
        config.data.history_samples = True
    return common.with_preset(config, protocol, TUNED)
