"""SHAN (Ying et al. 2018), next-item retrieval trained at every position.

Table: DMAN Table 3 row SHAN and XDM Table 2 row SHAN (datasets not in this suite);
issue 20's Amazon Beauty calibration, beside the S3-Rec Table 2 rows of SASRec and
GRU4Rec (SHAN itself has no published number on these Beauty files).
Command: python -m experiments.train --config=experiments/configs/shan.py:s3rec_beauty
    --workdir=runs/shan_amazon_beauty  (full ranking: add
    --config.eval.protocol=full)
Hyperparameters: user and item embeddings of 64, short-term set of the last 2
items (RecBole's defaults: the paper's short-term set is a day's session, and the
S3-Rec Beauty files have no times), the paper's BPR loss (Eq. (8)) with one
uniform negative per position (`model.loss="softmax"`: the cross-entropy of the
softmax over all items, the loss of the earlier runs), no L2 (the paper's
lambda_uv and lambda_a were chosen on Tmall and Gowalla; sweep them with
GRID="model.embeddings_l2=... model.attention_l2=..."),
Adam with learning rate 1e-3, batch 256; up to 200 epochs with early stopping on
validation (patience 20).
Expected time on a 2-core CPU shared with other jobs (load about 12): 4.7 min per
epoch on Beauty (measured with the softmax loss and --config.train.epochs=6: 1,705 s
of training, 79 sequences/s, still improving at epoch 6; seed 0 test HR@10 0.4314,
NDCG@10 0.2693 sampled). With the default BPR loss, beside one other job: 23 s per
epoch; seed 0 stopped early after 80 epochs (best 60), 1,789 s of training, test
HR@10 0.4552, NDCG@10 0.2895 (99 sampled negatives).
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base(
        "shan",
        "retrieval",
        dict(
            name="shan",
            embedding_dim=64,
            short_term_length=2,
            embeddings_l2=0.0,
            attention_l2=0.0,
            loss="bpr",  # Eq. (8)
            num_negatives=1,
            seed=0,
        ),
    )
    config.data.per_position = True
    config.train.optimizer = "adam"
    config.train.learning_rate = 1e-3
    config.train.batch_size = 256
    config.train.epochs = 200
    config.train.patience = 20
    return common.with_preset(config, arg)
