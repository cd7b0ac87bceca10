"""NARM (Li et al. 2017), next-item retrieval trained at every position.

Table: XDM Table 2 row NARM (Taobao / Tmall, not in this suite's data);
issue 20's Amazon Beauty calibration, beside the S3-Rec Table 2 rows of SASRec and
GRU4Rec (NARM itself has no published number on these Beauty files).
Command: python -m experiments.train --config=experiments/configs/narm.py:s3rec_beauty
    --workdir=runs/narm_amazon_beauty  (full ranking: add
    --config.eval.protocol=full)
Hyperparameters: the paper's (item embedding 50, GRU and attention size 100,
dropout 0.25 between the embeddings and the GRU and 0.5 before the bilinear
decoder, cross-entropy of the softmax over all items, Adam with learning rate
1e-3) and the authors' code's 30 epochs, here with early stopping on validation
(patience 10). Batch: 128 sequences, about 900 prefixes on Beauty (the paper's
batches are 512 prefixes; per-position training costs a [batch, 50, 50, 100]
attention intermediate, about 130 MB at 128 sequences).
Expected time on a 2-core CPU shared with other jobs (load about 12): 10-16 min per
epoch on Beauty (measured with --config.train.epochs=4: 2,332 s of training, 38
sequences/s, still improving at epoch 4; seed 0 test HR@10 0.4131, NDCG@10 0.2517
sampled). The full run (seed 0, `make reproduce-sequential`'s first NARM run): early
stopping after 27 epochs (best 17 on validation NDCG@10), 4,864 s of training beside
two to three other jobs (2-4 min per epoch); test HR@10 0.4765, NDCG@10 0.3208.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base(
        "narm",
        "retrieval",
        dict(
            name="narm",
            embedding_dim=50,
            units=100,
            embedding_dropout=0.25,
            dropout=0.5,
            loss="softmax",
            num_negatives=1,
            seed=0,
        ),
    )
    config.data.per_position = True
    config.train.optimizer = "adam"
    config.train.learning_rate = 1e-3
    config.train.batch_size = 128
    config.train.epochs = 30
    config.train.patience = 10
    return common.with_preset(config, arg)
