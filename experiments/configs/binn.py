"""BINN (Li et al. KDD 2018), next-item retrieval, every prefix an example.

Table: a baseline of XDM (Lv et al. CIKM 2019) Table 2, row BINN (Taobao HR@50
36.24%, MRR@50 8.70%, R@50 1.73%, F1@50 1.38%, HR@80 43.30%; Tmall HR@50 37.20%,
MRR@50 9.17%, R@50 2.04%, F1@50 1.54%, HR@80 45.10%); run here on issue 20's Amazon
Beauty calibration, where no BINN number is published.
Command: python -m experiments.train --config=experiments/configs/binn.py:s3rec_beauty
    --workdir=runs/binn_amazon_beauty
Hyperparameters (the paper's are not known here; chosen): item embedding and CLSTM
size 64, session of the latest 5 behaviours, Bi-CLSTM preference encoder (so every
prefix is an example of its own: data.per_position=False), no behaviour vector
(Amazon Beauty has one behaviour type and no timestamps), dropout 0.2 on the user
vector, cross-entropy over the target and 1,000 uniformly sampled candidates shared
by the batch (`--config.model.loss=softmax`: the full softmax; the paper's own loss, a squared
error against pre-trained item vectors per a reading note, is not implemented), Adam
with learning rate 1e-3, batch 256; up to 200 epochs with early stopping on
validation (patience 20).
Expected time on a 2-core CPU: not measured on Beauty yet.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base(
        "binn",
        "retrieval",
        dict(
            name="binn",
            embedding_dim=64,
            units=64,
            session_length=5,
            bidirectional=True,
            num_behaviours=0,
            behaviour_dim=8,
            dropout=0.2,
            loss="sampled_softmax",
            num_negatives=1000,
            seed=0,
        ),
    )
    config.data.per_position = False
    config.train.optimizer = "adam"
    config.train.batch_size = 256
    config.train.epochs = 200
    config.train.patience = 20
    return common.with_preset(config, arg)
