"""Caser (Tang & Wang 2018), next-item retrieval trained at every position.

Table: issue 20's Amazon Beauty calibration, S3-Rec (Zhou et al. CIKM 2020) Table 2
row Caser: HR@10 0.3942, NDCG@10 0.2512 (99 sampled negatives).
Command: python -m experiments.train --config=experiments/configs/caser.py:s3rec_beauty
    --workdir=runs/caser_amazon_beauty
Hyperparameters: the authors' code's defaults (L = 5, d = 50, 16 horizontal filters
per height, 4 vertical, dropout 0.5, 3 negatives per window, Adam with learning
rate 1e-3, batch 512); up to 200 epochs with early stopping (patience 20). Unlike
that code: one target per position (its T = 3 next items), no L2 (its 1e-6 weight
decay), the negatives' terms summed (its: averaged, as the targets'); README
"Sequential recommenders" reads them as the candidate causes of the gap to S3-Rec.
Variant `code` (`caser.py:code+s3rec_beauty`, run caser_code) trains as that code
does: `num_targets=3`, `l2=1e-6`, `loss="bce_mean"`. (Its negatives, drawn among
the items outside the user's training sequence, are ours too: a drawn item of the
row is left out.)
Expected time on a 2-core CPU: 1.2 min per epoch on Beauty alone, 2-2.5 min beside
another job (seed 0: 6,394 s for 91 epochs, best epoch 74 on validation NDCG@10;
stopped by hand at epoch 91, test HR@10 0.3776, NDCG@10 0.2375); about a minute on
the tiny simulator.
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base(
        "caser",
        "retrieval",
        dict(
            name="caser",
            window=5,
            embedding_dim=50,
            num_horizontal=16,
            num_vertical=4,
            dropout=0.5,
            loss="bce",
            num_negatives=3,
            seed=0,
        ),
    )
    config.data.per_position = True
    config.train.optimizer = "adam"
    config.train.batch_size = 512
    config.train.epochs = 200
    config.train.patience = 20
    variant, protocol = common.split_arg(arg, ("code",))
    if variant == "code":  # the authors' code's targets, penalty and loss
        config.name = "caser_code"
        # Keys of the variant only: runs of the default config keep their
        # config.json (the resume check compares it key by key).
        config.model.num_targets = 3
        config.model.l2 = 1e-6
        config.model.loss = "bce_mean"
    return common.with_preset(config, protocol)
