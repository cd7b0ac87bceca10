"""YouTube DNN with a sampled softmax (next-item retrieval), foundation issue.

Table: README "Foundation: retrieval on the simulator", row YouTube DNN (run
`youtube_dnn_synthetic`; no paper number); on real data (`--config.data.name=ml1m` /
`kuairand` / `taobao_userbehavior`, runs `youtube_dnn_<dataset>`) the README's
retrieval tables.
Command: make reproduce-foundation (simulator), make reproduce-real-data (real data)
Expected time on a 2-core CPU: about 1 minute per seed on the small simulator (early
stopping).
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base(
        "youtube_dnn",
        "retrieval",
        dict(
            name="youtube_dnn",
            embedding_dim=16,
            hidden_units=(256, 128, 64),
            dropout=0.0,
            l2=0.0,
            num_sampled=200,
            sampler="unigram",
            logq_correction=True,
            remove_accidental_hits=True,
        ),
    )
    config.train.batch_size = 512
    config.train.epochs = 20  # validation HR@50 still rises slowly after epoch 10
    return common.with_preset(config, arg)
