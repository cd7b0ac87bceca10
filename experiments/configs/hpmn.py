"""HPMN (Ren et al. SIGIR 2019) as a next-item recommender, trained at every position.

Table: a baseline of DMAN (Tan et al. AAAI 2021) Table 3, row HPMN (MovieLens HR@10
22.84, HR@50 50.54, NDCG@100 19.77; Taobao HR@50 19.98, HR@100 24.37, NDCG@100 9.66;
JD.com HR@10 39.14, HR@50 53.22, NDCG@100 32.24, in %) and Table 4 (XLong Recall@200
0.118, Recall@500 0.136); run here on issue 20's Amazon Beauty calibration, where no
HPMN number is published.
Command: python -m experiments.train --config=experiments/configs/hpmn.py:s3rec_beauty
    --workdir=runs/hpmn_amazon_beauty
Hyperparameters: the authors' Amazon setting where it applies (3 memory layers with
periods 1, 2, 4; 3 reading hops; scoring network (80, 40)); embedding and slot size
64; binary cross-entropy against 5 sampled negatives per position (DMAN trains every
baseline with 5 samples); covariance regularisation 7.68e-3 (the code's 1e-5
summed over batches of 128 is 1.28e-3 per log-loss term, and a position here sums
six terms); dropout 0.2 on the user vector (ours); Adam with learning rate 1e-3,
batch 256; up to 200 epochs with early stopping on validation (patience 20).
Expected time on a 2-core CPU: not measured on Beauty yet.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base(
        "hpmn",
        "retrieval",
        dict(
            name="hpmn",
            embedding_dim=64,
            units=64,
            periods=(1, 2, 4),
            hops=3,
            attention_units=(80, 40),
            memory_l2=7.68e-3,  # 1.28e-3 per log-loss term x (1 + 5)
            dropout=0.2,
            loss="bce",
            num_negatives=5,
            seed=0,
        ),
    )
    config.data.per_position = True
    config.train.optimizer = "adam"
    config.train.batch_size = 256
    config.train.epochs = 200
    config.train.patience = 20
    return common.with_preset(config, arg)
