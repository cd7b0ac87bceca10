"""DMT (Gu et al. 2020), CTR objective only, on the behaviour-sequence CTR task.

Table: DUMN Table 1, row DMT: AUC 0.6378 on Alibaba (Taobao display ads) and
0.8039 on DUMN's Industrial data (not public); issue 19's `make
reproduce-ctr-sequence` table on the simulator and KuaiRand-Pure (no paper number).
DUMN uses DMT for CTR only: no MMoE over a conversion task, no position-bias
network. One Transformer per behaviour sequence the data has
(`model.sequence_types=()`: all of them; the paper's click, cart, order), T = 100 as
DUMN. Settings from the authors' code (github.com/guyulongcs/CIKM2020_DMT,
conf/settings/dmt.conf): 4 heads, FFN 4 d_model, one encoder and one decoder
layer, learned positions, shared bottom 512-256-128; embedding 16 as DUMN. The
learning rate is the suite's default until a sweep on validation chooses it.
Command: python -m experiments.train --config=experiments/configs/dmt.py
  --workdir=runs/dmt_synthetic/seed0
Expected time on a 2-core CPU: not measured end to end (the task module was not in
main yet). One training step at batch 1024 (four sequences of T = 100, d_model 32)
took 12.5 s without XLA (what `train.jit_compile = "auto"` gives on a CPU-only
machine) and 12.2 s with it, on the shared 2-core machine at a load of about 15
(`train_on_batch` on random inputs of the task's shapes, vocabularies 1000 / 5000 /
50, after two warm-up steps): about 3.3 hours per epoch of the small simulator's
~940 steps on that loaded machine.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base(
        "dmt",
        "ctr_sequence",
        dict(
            name="dmt",
            sequence_types=(),  # () = every type the data has
            embedding_dim=16,
            num_heads=4,
            ffn_units=None,  # 4 d_model
            num_encoder_layers=1,
            num_decoder_layers=1,
            hidden_units=(512, 256, 128),
            dropout=0.0,
            l2=0.0,
        ),
    )
    config.data.max_length = 100  # T, as DUMN
    return common.with_preset(config, arg)
