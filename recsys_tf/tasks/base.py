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

    def build(self, config, log):
        """The task's examples from a validated event log (a builder's ValueError
        is turned into a ConfigError naming the config key by `loop.build_task`)."""
        raise NotImplementedError

    def inputs(self, config, part):
        """(features: name -> array [n, ...], labels or targets [n, ...]) of a part."""
        raise NotImplementedError

    def dataset(self, config, part, batch_size, shuffle=False, seed=0, epochs=None):
        """The batched `tf.data.Dataset` of a part (see `make_dataset` for the
        arguments); kinds whose inputs are cut at batch time override it."""
        features, labels = self.inputs(config, part)
        return make_dataset(
            features,
            labels,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            epochs=epochs,
        )

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
