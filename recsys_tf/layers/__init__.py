"""Keras layers of the suite (one public layer per file; backend-agnostic keras.ops)."""

from recsys_tf.layers.activation_unit import ActivationUnit
from recsys_tf.layers.augru import AUGRU
from recsys_tf.layers.bias_encoding import BiasEncoding
from recsys_tf.layers.caser_convolution import CaserConvolution
from recsys_tf.layers.causal_additive_attention import CausalAdditiveAttention
from recsys_tf.layers.causal_transformer_block import CausalTransformerBlock
from recsys_tf.layers.contextual_lstm import ContextualLSTM
from recsys_tf.layers.cross_network import CrossNetwork
from recsys_tf.layers.dice import Dice
from recsys_tf.layers.factorization_machine import FactorizationMachine
from recsys_tf.layers.field_embedding import FieldEmbedding
from recsys_tf.layers.gated_fusion import GatedFusion
from recsys_tf.layers.hierarchical_periodic_memory import HierarchicalPeriodicMemory
from recsys_tf.layers.inner_product import InnerProduct
from recsys_tf.layers.interacting_layer import InteractingLayer
from recsys_tf.layers.masked_mean_pooling import MaskedMeanPooling
from recsys_tf.layers.mlp import MLP
from recsys_tf.layers.multi_head_interaction import MultiHeadInteraction
from recsys_tf.layers.multi_hop_memory_read import MultiHopMemoryRead
from recsys_tf.layers.ntm_memory import NTMMemory
from recsys_tf.layers.orthogonal_projection import OrthogonalProjection
from recsys_tf.layers.outer_product import OuterProduct
from recsys_tf.layers.pair_gate import PAIRGate
from recsys_tf.layers.session_lstm import SessionLSTM
from recsys_tf.layers.target_attention import TargetAttention
from recsys_tf.layers.transformer_block import TransformerBlock
from recsys_tf.layers.user_attention import UserAttention
from recsys_tf.layers.user_attention_pooling import UserAttentionPooling
from recsys_tf.layers.user_memory_network import UserMemoryNetwork

__all__ = [
    "AUGRU",
    "MLP",
    "ActivationUnit",
    "BiasEncoding",
    "CaserConvolution",
    "CausalAdditiveAttention",
    "CausalTransformerBlock",
    "ContextualLSTM",
    "CrossNetwork",
    "Dice",
    "FactorizationMachine",
    "FieldEmbedding",
    "GatedFusion",
    "HierarchicalPeriodicMemory",
    "InnerProduct",
    "InteractingLayer",
    "MaskedMeanPooling",
    "MultiHeadInteraction",
    "MultiHopMemoryRead",
    "NTMMemory",
    "OrthogonalProjection",
    "OuterProduct",
    "PAIRGate",
    "SessionLSTM",
    "TargetAttention",
    "TransformerBlock",
    "UserAttention",
    "UserAttentionPooling",
    "UserMemoryNetwork",
]
