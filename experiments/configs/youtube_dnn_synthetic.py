"""YouTube DNN with a sampled softmax on the simulator's next-click task (foundation issue).

Table: README "Foundation: retrieval on the simulator", row YouTube DNN. No paper number.
Command: make reproduce-foundation
Expected time on a 2-core CPU: about 1 minute per seed at size small (early stopping).
"""

from experiments.configs import common


def get_config():
    config = common.base(
        "youtube_dnn_synthetic",
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
    config.data.max_eval_examples = 20000
    return config
