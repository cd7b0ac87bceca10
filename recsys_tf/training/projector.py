"""Embeddings for the TensorBoard projector, with metadata."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from tensorboard.plugins import projector


def write(logdir: str, embeddings: dict, log, user_ids=None) -> None:
    """Writes `embeddings` ("item" / "user" -> [n, dim]) for the projector.

    Item rows get the metadata item_id / category / brand; user rows user_id and
    the user features (row i of "user" is user `user_ids[i]`, or user i when
    `user_ids` is None).
    """
    embeddings = {
        k: np.asarray(v, np.float32) for k, v in embeddings.items() if v is not None
    }
    if not embeddings:
        return
    os.makedirs(logdir, exist_ok=True)
    variables = {}
    config = projector.ProjectorConfig()
    for name, values in embeddings.items():
        if values.ndim != 2 or values.shape[1] < 2:
            continue
        if name == "item":
            table = log.items.iloc[: len(values)]
        else:
            ids = np.arange(len(values)) if user_ids is None else np.asarray(user_ids)
            table = log.users.set_index("user_id").loc[ids].reset_index()
        columns = [c for c in table.columns if not c.startswith("truth_")]
        metadata = f"{name}_metadata.tsv"
        table[columns].to_csv(os.path.join(logdir, metadata), sep="\t", index=False)
        variables[name] = tf.Variable(values, name=f"{name}_embedding")
        entry = config.embeddings.add()
        entry.tensor_name = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
        entry.metadata_path = metadata
    if not variables:
        return
    tf.train.Checkpoint(**variables).save(os.path.join(logdir, "embeddings.ckpt"))
    projector.visualize_embeddings(logdir, config)
    # TensorBoard lists a folder as a run (and so finds its projector config)
    # only when it holds an event file.
    writer = tf.summary.create_file_writer(logdir)
    with writer.as_default():
        summary = ", ".join(
            f"{k}: {v.shape[0]} x {v.shape[1]}" for k, v in variables.items()
        )
        tf.summary.text("embeddings", summary, step=0)
    writer.close()
