"""What the training loop asks of one kind of task (TFRS `tasks/`, STYLE.md Tasks).

A kind of task (CTR, next-item retrieval, ...) owns everything that depends on
it: building its splits from the event log, the model inputs and their tf.data
pipeline, the evaluation protocol and its per-run state (fixed negatives, ...),
the simulator's oracle, and the metric that selects the epoch. `loop.run` calls
these methods and never branches on the task's name; a new kind is a new module
registered in `recsys_tf.tasks.TASKS`.
"""

from __future__ import annotations

from recsys_tf.data.input import make_dataset


class Task:
    """One kind of task. Subclasses implement every method that raises here.

    `config` is a run's ConfigDict; `data` is what `build` returns (it has
    `.train`, `.validation`, `.test` and `.parts()`); a part is one of them.
    """

    name = ""
    # Whether `bucket_lengths` gives the rows a length (`train.bucket_batches`).
    buckets = False

    def build(self, config, log):
        """The task's examples from a validated event log (a builder's ValueError
        is turned into a ConfigError naming the config key by `loop.build_task`)."""
        raise NotImplementedError

    def inputs(self, config, part):
        """(features: name -> array [n, ...], labels or targets [n, ...]) of a part."""
        raise NotImplementedError

    def dataset(self, config, part, batch_size, shuffle=False, seed=0, epochs=None):
        """The batched `tf.data.Dataset` of a part (see `make_dataset` for the
        arguments); shuffled (training) batches are bucketed by `bucket_lengths`
        when `config.train.bucket_batches` k > 0 (chunks of k batches sorted by
        length), unshuffled ones keep the part's row order; kinds whose inputs
        are cut at batch time override it."""
        features, labels = self.inputs(config, part)
        bucket = int(config.train.get("bucket_batches", 0)) if shuffle else 0
        return make_dataset(
            features,
            labels,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            epochs=epochs,
            bucket_lengths=self.bucket_lengths(config, part) if bucket else None,
            bucket_batches=bucket,
        )

    def bucket_lengths(self, config, part):
        """A length per row of `part` (int [n]) by which `train.bucket_batches`
        batches similar rows together, or None: this kind's rows have no
        sequence, and `check_bucketing` refuses the setting for it."""
        return None

    def check_config(self, config) -> None:
        """Refuses config values this kind cannot use, before anything is read."""

    def evaluation(self, config, log, data) -> dict:
        """The per-run state of the evaluation (fixed negatives, ...), built once.

        Its "record" entry (a dict) goes into results.json.
        """
        return {"record": {}}

    def evaluate(self, config, model, name, part, state, outputs="") -> dict:
        """Metrics of `model` on the part `name` ("validation" / "test"); with
        `outputs` (a file path) also saves the per-example outputs that
        summarize's paired bootstrap reads."""
        raise NotImplementedError

    def oracle(self, config, log, data, state, outputs="") -> dict:
        """{"validation": metrics, "test": metrics} of the simulator's planted
        truth, scored as `evaluate` scores a model (the test outputs to `outputs`)."""
        raise NotImplementedError

    def monitor(self, config) -> str:
        """The validation metric `config.eval.monitor="auto"` resolves to."""
        raise NotImplementedError

    def metric_names(self, config) -> list[str]:
        """The validation metrics a run of `config` computes."""
        raise NotImplementedError


def check_bucketing(kind, config) -> str | None:
    """Why `config.train.bucket_batches` cannot be used with task kind `kind`
    (a negative value, or a positive one for a kind whose rows have no
    sequence), or None when it can."""
    bucket = config.train.get("bucket_batches", 0)
    if not isinstance(bucket, int) or bucket < 0:
        return (
            "config.train.bucket_batches must be an int >= 0 (0 = random batches). "
            f"Received: {bucket!r}"
        )
    if bucket and not kind.buckets:
        return (
            f"config.train.bucket_batches={bucket}: the {kind.name!r} task's rows "
            "have no sequence to bucket by; set it to 0"
        )
    return None
