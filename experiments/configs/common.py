"""Shared defaults of every experiment config.

Every key a run may override on the command line (`--config.train.learning_rate=0.01`)
exists here, so a misspelt key is an error rather than a silent no-op.
"""

import ml_collections

# Named protocols: `--config=experiments/configs/<model>.py:<preset>` applies these
# overrides to any model's config (see `get_config(arg)` in each config).
PRESETS = {
    # AutoDenoise Table 1 on ML-1M, as pytorch-fm's MovieLens dataset that its code
    # uses: all 1,000,209 ratings, label rating > 3 (the builder's label is
    # value >= rating_threshold: 4 on integer stars), user and movie id only,
    # seeded random 80/10/10 split (the seed is config.seed).
    "autodenoise_ml1m": {
        "data.name": "ml1m_all",
        "data.label": "rating",
        "data.rating_threshold": 4.0,
        "data.fields": ("user_id", "item_id"),
        "data.crosses": (),  # no crossed fields (pytorch-fm's models have none)
        "data.split": "random",
        "data.fractions": (0.8, 0.1, 0.1),
    },
    # S3-Rec's protocol on its Amazon Beauty files (Zhou et al. CIKM 2020, Table 2):
    # leave-one-out (last item test, second last validation), the last 50 items as
    # history, 99 negatives per user drawn uniformly from the items the user never
    # touched, one list shared by validation and test. Its full-ranking table:
    # `--config.eval.protocol=full` (the user's earlier items excluded, "auto").
    "s3rec_beauty": {
        "data.name": "amazon_beauty",
        "data.split": "leave_one_out",
        "data.max_length": 50,
        "eval.protocol": "sampled",
        "eval.num_negatives": 99,
        "eval.shared_negatives": True,
        "eval.ks": (1, 5, 10, 20, 50),
    },
    # S3-Rec's full-ranking protocol, on any dataset given by --config.data.name
    # (make reproduce-sequential's ML-1M runs): leave-one-out, the last 50 items as
    # history, every item ranked with the user's earlier items out of the candidates
    # (S3-Rec sets their scores to 0), HR / NDCG @5, 10, 20, 50, the epoch chosen on
    # validation NDCG@20 with early stopping after 10 epochs without a gain, up to
    # 200 epochs. A model's values tuned for Beauty (TUNED / PROTOCOL under
    # s3rec_beauty_full) do not follow it to other data.
    "loo_full": {
        "data.split": "leave_one_out",
        "data.max_length": 50,
        "eval.protocol": "full",
        "eval.exclude_history": "true",
        "eval.ks": (5, 10, 20, 50),
        "eval.monitor": "ndcg@20",
        "train.epochs": 200,
        "train.patience": 10,
    },
    # DUMN Table 1's protocol on the compact simulator (`make reproduce-dumn`, and
    # its ablations): `data_prep.synthetic --size=compact`, at most 20 epochs with
    # early stopping. The learning rates chosen under it sit in each config's TUNED.
    "dumn_table1": {
        "data.path": "data/synthetic_compact",
        "train.epochs": 20,
    },
    # The same protocol on KuaiRand-Pure (`make reproduce-dumn DATASET=kuairand`):
    # its own learning rates, chosen on KuaiRand's validation split, in TUNED.
    "dumn_table1_kuairand": {
        "data.name": "kuairand",
        "train.epochs": 20,
    },
}

# S3-Rec's full-ranking table: loo_full on its Amazon Beauty files, as its
# run_finetune_full.py (github.com/RUCAIBox/CIKM2020-S3Rec).
PRESETS["s3rec_beauty_full"] = {"data.name": "amazon_beauty", **PRESETS["loo_full"]}


def split_arg(arg, variants=()) -> tuple[str, str]:
    """The argument of a config's `get_config` as (variant, protocol): one of the
    config's own `variants` (e.g. DUMN's ablations), a protocol of PRESETS, or
    both joined by "+" ("umn+dumn_table1"); "" for a part not given. An unknown
    or repeated part is a ValueError naming it and what is known."""
    variant = protocol = ""
    for part in arg.split("+") if arg else []:
        if part in variants and not variant:
            variant = part
        elif part in PRESETS and not protocol:
            protocol = part
        else:
            raise ValueError(
                f"unknown or repeated preset {part!r} in {arg!r}; this config's "
                f"variants: {sorted(variants)}, protocols: {sorted(PRESETS)}"
            )
    return variant, protocol


def override(config: ml_collections.ConfigDict, key: str, value) -> None:
    """Sets the dotted `key` ("train.learning_rate") of `config`; the key must exist."""
    *path, leaf = key.split(".")
    node = config
    for part in path:
        node = node.get(part) if hasattr(node, "get") else None
    if not hasattr(node, "get") or leaf not in node:
        raise KeyError(f"config has no key {key!r}")
    node[leaf] = value


def with_preset(
    config: ml_collections.ConfigDict, preset: str | None, tuned: dict | None = None
) -> ml_collections.ConfigDict:
    """`config` with the overrides of the named protocol `preset` (None / "" = none),
    then the model's values a sweep chose under that protocol (`tuned`: preset ->
    {dotted key: value}, kept in the model's config beside the sweep command; the
    key "" holds the values chosen under the config's own default protocol)."""
    preset = preset or ""
    if preset and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known presets: {sorted(PRESETS)}")
    for key, value in PRESETS.get(preset, {}).items():
        override(config, key, value)
    for key, value in (tuned or {}).get(preset, {}).items():
        override(config, key, value)
    return config


def base(name: str, task: str, model: dict) -> ml_collections.ConfigDict:
    """The default config of model config `name` for `task` ("ctr" / "retrieval").

    A run is named `<name>_<dataset>` (results.json `run`; the workdir and results
    folder of the Makefile), the dataset being `data.name`, or the name in the
    `meta.json` of `data.path` ("synthetic" for the simulator, whatever its size).
    """
    config = ml_collections.ConfigDict()
    config.name = name  # the model config's name, e.g. "youtube_dnn"
    config.seed = 0
    config.task = task

    config.data = ml_collections.ConfigDict()
    # "synthetic" (the simulator) or a real dataset of recsys_tf.data.datasets.REAL
    # (ml1m, ml1m_all, kuairand, taobao_userbehavior), converted on first use.
    config.data.name = "synthetic"
    config.data.path = ""  # a folder in the canonical schema; wins over name/size
    config.data.root = "data"  # where generated and converted datasets are written
    # Folder of the original real-data files ("" = $RECSYS_TF_DATASETS, else
    # ../shared/datasets beside the repository).
    config.data.source_root = ""
    config.data.size = "small"  # simulator size: tiny / small / large
    config.data.simulator_seed = 0
    config.data.disable = ()  # simulator mechanisms switched off for a control run
    # "time" (global time quantiles), "random" (seeded; CTR only) or
    # "leave_one_out" (each user's last target to test, second last to validation;
    # retrieval only).
    config.data.split = "time"
    config.data.fractions = (0.8, 0.1, 0.1)
    # CTR tasks.
    config.data.label = "auto"  # "click" when the log has impressions, else "rating"
    config.data.rating_threshold = 4.0
    config.data.crosses = ()
    config.data.fields = ()  # fields the model gets (crosses as a_x_b); () = all
    # Retrieval tasks.
    config.data.positive_events = ()  # () = ("click",) if the log has clicks, else ("rating",)
    config.data.max_length = 50  # history length L: the last L earlier positives
    config.data.min_history = 1
    # Behaviour-sequence CTR tasks ("ctr_sequence"; data/ctr_sequence.py); their
    # T is data.max_length (the last T earlier events of each type).
    # Feedback types of ("click", "unclick", "like", "dislike", "cart", "fav",
    # "buy"); () = every type the data has (a type it lacks is an error).
    config.data.sequence_types = ()
    # Item fields given beside each sequence item's id (() = the id only).
    config.data.item_features = ("category",)
    config.data.num_sessions = 0  # DSIN: the last S click sessions (0 = none)
    config.data.session_length = 10  # DSIN: the last L items of each session
    # DUMN_AF: the types merged into one time-ordered sequence, read as the
    # sequence type "all" (needs "all" in sequence_types; () = none).
    config.data.merged_types = ()
    # One training row per user with a target at every position (SASRec's
    # examples) instead of one row per target; for models that encode the
    # history causally (`SequentialRetrievalModel`).
    config.data.per_position = False
    # Retrieval sessions (SDM, Lv et al. 2019 Sec. 3.1): a gap of more than
    # session_gap seconds or max_session_length items starts a new session; the
    # long-term behaviours are the items before a session within
    # long_term_seconds of it (0 = all in the history window). Sessions are built
    # when session_gap or max_session_length is > 0.
    config.data.session_gap = 0
    config.data.max_session_length = 0
    config.data.long_term_seconds = 0
    # 0 = evaluate every validation / test example (the default); k > 0 keeps a
    # seeded sample of k per part, recorded as results.json `eval_subsampled`.
    config.data.max_eval_examples = 0
    # Pairwise-ranking tasks (MF + M-MLP, issue 22): leave-one-out on the target
    # type; users with fewer than min_target_events of it are dropped (counted).
    config.data.target_event = "buy"
    config.data.supportive_events = ("click", "cart", "fav")  # Taobao's pv = click
    config.data.min_target_events = 3
    # Training negatives per positive (the paper's ng-x), redrawn every epoch:
    # "supportive" = items the user touched only through supportive feedback
    # (random for a user without any, counted), "random" = items the user never
    # gave the target feedback.
    config.data.negative_sampler = "supportive"
    config.data.num_negatives = 3

    config.model = ml_collections.ConfigDict(model)

    config.train = ml_collections.ConfigDict()
    config.train.epochs = 10
    config.train.batch_size = 1024
    config.train.optimizer = (
        "lazy_adam"  # Adam; embedding tables updated on looked-up rows only
    )
    config.train.learning_rate = 1e-3
    config.train.patience = 3  # epochs without validation improvement (0 = off)
    # Epoch checkpoints kept: "best" (the best and the last epoch's) or "all"
    # (every epoch's, for inspection over training: DUMN Figure 5).
    config.train.keep_checkpoints = "best"
    # XLA: "auto" (Keras: on where a GPU is), "true" or "false", in any case
    # (`loop.jit_compile_setting`; a string, so that the command line can set it).
    config.train.jit_compile = "auto"
    config.train.steps_per_execution = 1
    # Training batches of the sequence tasks (retrieval: history length;
    # ctr_sequence: the rows' events summed over their sequences): 0 = random
    # batches; k > 0 = each epoch's shuffled rows sorted by length within chunks
    # of k batches, the batches then shuffled (other batches; a model whose
    # outputs ignore the padding's width, e.g. SASRec, GRU4Rec, DUMN, has each
    # batch cut to the columns its rows use, so less padding). A task without
    # sequences (ctr, pairwise) refuses k > 0.
    config.train.bucket_batches = 0
    config.train.log_every_steps = 100
    config.train.histogram_freq = 1
    config.train.verbose = (
        1  # 1 = Keras progress bar, 2 = one line per epoch, 0 = silent
    )

    config.eval = ml_collections.ConfigDict()
    # The validation metric that selects the epoch; "auto" = auc for CTR, hr@50
    # for full-ranking retrieval, ndcg@10 for the sampled protocol.
    config.eval.monitor = "auto"
    config.eval.ks = (10, 50, 100)
    # Evaluation batch (inference only: it changes no number). The behaviour-sequence
    # CTR models hold [batch, heads, T, T] attention tensors per sequence type, so
    # their batch is the training one: DUMN's validation pass on KuaiRand-Pure (T =
    # 100, 22,288 instances) peaked at 6.5 GB of resident memory at 8192 and 1.9 GB
    # at 1024, and took 25 s instead of 82 (peak RSS by getrusage around one
    # validation pass of an untrained DUMN, beside a training run).
    config.eval.batch_size = 1024 if task == "ctr_sequence" else 8192
    # Retrieval: "full" ranks the whole catalogue; "sampled" ranks the target among
    # num_negatives items drawn once with negatives_seed, none of them the user's
    # (every k of eval.ks must then be < num_negatives + 1, the candidate count).
    config.eval.protocol = "full"
    config.eval.num_negatives = 100
    config.eval.negatives_seed = 0
    # Full ranking: remove each user's items from positive events before the
    # target (never the target) from its candidates. "auto" = True when no
    # (user, item) pair repeats among the positive events (ML-1M, Amazon Beauty),
    # False on repeat-consumption data (simulator, Taobao, KuaiRand).
    config.eval.exclude_history = "auto"
    # Sampled protocol: one negative list per user for validation and test
    # (S3-Rec's protocol) instead of one per row and part.
    config.eval.shared_negatives = False
    # Sampled protocol: a published list, one line per user "user_id neg1 neg2 ..."
    # in the dataset's original ids (S3-Rec's format); wins over drawing.
    config.eval.negatives_file = ""
    return config


def pairwise_base(name: str, model: dict, negative_sampler: str, epochs: int):
    """The default config of a model of the MF + M-MLP paper's Table 4 (issue 22).

    Leave-one-out on each user's latest purchase, 99 sampled items the user never
    interacted with, HR@10 / NDCG@10 (l.366-378); the second latest purchase
    selects the epoch (NDCG@10). Adam, learning rate 0.001 (l.384-385); the
    paper's batch size of 1 is impractical here: mini-batches of 256.
    """
    config = base(name, "pairwise", model)
    config.data.split = "leave_one_out"
    config.data.negative_sampler = negative_sampler
    config.train.optimizer = "adam"
    config.train.learning_rate = 1e-3
    config.train.batch_size = 256
    config.train.epochs = epochs
    config.train.patience = 5
    # No weight histograms: a tiny model's per-epoch TensorBoard histograms cost
    # about as much as its training epoch (profiled, issue 22).
    config.train.histogram_freq = 0
    config.eval.protocol = "sampled"
    config.eval.num_negatives = 99
    config.eval.ks = (10,)
    # Validation scores 100 pairs per user every epoch (179,700 on the simulator):
    # in few large batches it costs half the CPU time of batches of 8,192.
    config.eval.batch_size = 65536
    return config
