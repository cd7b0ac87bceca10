"""DFN (Xie et al. 2020) on the behaviour-sequence CTR task.

Table: DUMN Table 1, row DFN: AUC 0.6368 on Alibaba (Taobao display ads) and
0.7884 on DUMN's Industrial data (not public); issue 19's `make
reproduce-ctr-sequence` table on the simulator and KuaiRand-Pure (no paper number).
DFN reads the click, unclick and dislike sequences (T = 100 as DUMN, Sec. 4.1.3).
The Taobao display-ad data has no dislike: there run with
`--config.model.sequence_types="('click','unclick')"` (the external interaction then has
only click -> unclick). Settings from the authors' code (github.com/qqxiaochongqq/DFN,
model.py): 4 heads, Deep part 32-16; embedding 16 as DUMN. The learning rate is
the suite's default until a sweep on validation chooses it.
Command: python -m experiments.train --config=experiments/configs/dfn.py
  --workdir=runs/dfn_synthetic/seed0
Expected time on a 2-core CPU: not measured end to end (the task module was not in
main yet). One training step at batch 1024 (three sequences of T = 100, d_model
32) took 21.5 s without XLA (what `train.jit_compile = "auto"` gives on a CPU-only
machine) and 8.2 s with it, on the shared 2-core machine at a load of about 15
(`train_on_batch` on random inputs of the task's shapes, vocabularies 1000 / 5000 /
50, after two warm-up steps): about 5.5 hours per epoch of the small simulator's
~940 steps on that loaded machine (2 hours with XLA, which the config cannot ask
for yet: `train.jit_compile` is typed as a string).
"""

from experiments.configs import common


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
            l2=0.0,
        ),
    )
    config.data.max_length = 100  # T, as DUMN
    return common.with_preset(config, arg)
