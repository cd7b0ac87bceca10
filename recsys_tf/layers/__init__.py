"""Keras layers of the suite (one public layer per file; backend-agnostic keras.ops)."""

from recsys_tf.layers.cross_network import CrossNetwork
from recsys_tf.layers.field_embedding import FieldEmbedding
from recsys_tf.layers.interacting_layer import InteractingLayer
from recsys_tf.layers.masked_mean_pooling import MaskedMeanPooling
from recsys_tf.layers.mlp import MLP

__all__ = [
    "MLP",
    "CrossNetwork",
    "FieldEmbedding",
    "InteractingLayer",
    "MaskedMeanPooling",
]
