"""GRU4Rec (Hidasi et al. 2016), next-item retrieval trained at every position.

Table: issue 20's Amazon Beauty calibration, S3-Rec (Zhou et al. CIKM 2020) Table 2
row GRU4Rec: HR@10 0.4106, NDCG@10 0.2584 (99 sampled negatives); its full-ranking
table: HR@10 0.0283, NDCG@10 0.0137.
Command: python -m experiments.train --config=experiments/configs/gru4rec.py:s3rec_beauty
    --workdir=runs/gru4rec_amazon_beauty  (full ranking: the preset
    s3rec_beauty_full)
Hyperparameters: embedding and GRU size 64, one layer, dropout 0.25 on the hidden
state, cross-entropy at every position over the target and 1,000 uniformly sampled
candidates shared by the batch (the sampled cross-entropy of GRU4Rec's later version,
Hidasi & Karatzoglou 2018; `--config.model.loss=softmax` takes the whole catalogue,
about 10x slower on Beauty), Adam with learning rate 1e-3, batch 256; up to 200
epochs with early stopping on validation (patience 20).
Expected time on a 2-core CPU shared with other jobs: 30-200 s per epoch on Beauty
(measured: 53 epochs, early stopped at best epoch 43, 2,235 s of training, 530
sequences/s; seed 0 test HR@10 0.4228, NDCG@10 0.2758 sampled; the same checkpoint
under full ranking HR@10 0.0532, NDCG@10 0.0290). Rerun 2026-12-04 (AMD EPYC, 2 cores,
make reproduce-sequential's commands, seed 0): 99 negatives, best epoch 43 of 63, 884 s,
test HR@10 0.4236, NDCG@10 0.2773; full ranking (preset s3rec_beauty_full), best 59 of
69, 924 s, test 0.0550 / 0.0308. With --config.train.bucket_batches=50 the same seed
fell to 0.3971 / 0.2570 and 0.0481 / 0.0269 (validation HR@10 0.4454 vs 0.4732): do
not bucket GRU4Rec.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base(
        "gru4rec",
        "retrieval",
        dict(
            name="gru4rec",
            embedding_dim=64,
            units=64,
            num_layers=1,
            dropout=0.25,
            loss="sampled_softmax",
            num_negatives=1000,
            seed=0,
        ),
    )
    config.data.per_position = True
    config.train.optimizer = "adam"
    config.train.batch_size = 256
    config.train.epochs = 200
    config.train.patience = 20
    return common.with_preset(config, arg)
