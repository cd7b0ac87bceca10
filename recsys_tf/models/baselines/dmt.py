"""DMT (Gu et al., 2020): Deep Multifaceted Transformers, for CTR only."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import MLP, TransformerBlock
from recsys_tf.models.base import SequenceCTRModel


@keras.saving.register_keras_serializable(package="recsys_tf")
class DMT(SequenceCTRModel):
    """One Transformer per behaviour sequence, each read by the target item.

    DMT, its model section (by the paper's layer names), with the single CTR
    objective:

    - Embedding layer: a behaviour is the concatenation of its item
      features' embeddings (the paper: item, category, brand, shop), from the
      same table as the target item's.
    - Deep Multifaceted Transformers layer: for each behaviour sequence (the
      paper: click, cart, order; here `sequence_types`, the ones the data has), a
      Transformer encoder (`num_encoder_layers` self-attention layers,
      `TransformerBlock`) over the sequence plus a learned position embedding,
      and a decoder (`num_decoder_layers` layers) whose query is the target item's
      embedding and whose keys and values are the encoder's outputs; the
      decoder's output is that sequence's interest vector. Each sequence has its
      own Transformer.
    - The interest vectors and the embeddings of the CTR fields are concatenated
      into an MLP with a logit output.

    Only the CTR objective, as DUMN uses DMT (DUMN Sec. 4.1.2, Table 1): the
    paper's Multi-gate Mixture-of-Experts over CTR and conversion with
    a single task reduces to one gated mixture, here replaced by the MLP (the
    shared bottom of the authors' code, 512-256-128); the Bias Deep Neural
    Network for position and neighbouring bias needs the impression's
    position, which the data do not have. Choices where the paper is silent:
    learned positions (the authors' config `position_learn`), counted from the
    most recent behaviour (the sequences are left-padded, most recent last);
    inputs are not scaled by sqrt(d_model).

    Inputs: dict with the CTR fields (int `[batch]`) and, for every type t of
    `sequence_types`, `t_<feat>` (int `[batch, T]`) for every item feature and
    `t_mask` (int8 `[batch, T]`). Output: logits `[batch]`.

    Args:
        fields: names of the CTR fields embedded for the MLP.
        vocabulary_sizes: their vocabulary sizes.
        sequence_types: the behaviour sequences read, one Transformer each
            (`from_task`: every type the data has, unless given).
        item_features: the item feature fields that describe a behaviour (the
            first is "item_id").
        max_length: T, the sequence length (the size of the position table).
        embedding_dim: size of each field embedding.
        num_heads: attention heads of every Transformer layer.
        ffn_units: inner size of their FFN (None = 4 d_model).
        num_encoder_layers: encoder layers per sequence.
        num_decoder_layers: decoder layers per sequence.
        hidden_units: the MLP's hidden layers (a logit unit follows).
        dropout: dropout of the MLP and the Transformers.
        l2: L2 factor on looked-up embedding rows and MLP kernels.

    Reference: Y. Gu et al., "Deep Multifaceted Transformers for Multi-objective
    Ranking in Large-Scale E-commerce Recommender Systems", CIKM 2020.
    """

    default_sequence_types = None  # every type the data has
    # Masked attention / recurrence over left padding: the task may cut each
    # batch to the columns its rows use (tests/models/test_sequence_ctr_checks.py).
    padding_invariant = True

    def __init__(
        self,
        fields,
        vocabulary_sizes,
        sequence_types=("click",),
        item_features=("item_id",),
        max_length=50,
        embedding_dim=16,
        num_heads=4,
        ffn_units=None,
        num_encoder_layers=1,
        num_decoder_layers=1,
        hidden_units=(512, 256, 128),
        dropout=0.0,
        l2=0.0,
        **kwargs,
    ):
        super().__init__(
            fields,
            vocabulary_sizes,
            sequence_types=sequence_types,
            item_features=item_features,
            embedding_dim=embedding_dim,
            l2=l2,
            **kwargs,
        )
        for name, value in (
            ("max_length", max_length),
            ("num_encoder_layers", num_encoder_layers),
            ("num_decoder_layers", num_decoder_layers),
        ):
            if int(value) < 1:
                raise ValueError(f"`{name}` must be > 0. Received: {name}={value}")
        self.max_length = int(max_length)
        self.num_heads = int(num_heads)
        self.ffn_units = None if ffn_units is None else int(ffn_units)
        self.num_encoder_layers = int(num_encoder_layers)
        self.num_decoder_layers = int(num_decoder_layers)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.dropout = dropout
        self.positions = {}
        self.encoders = {}
        self.decoders = {}
        for t in self.sequence_types:
            self.positions[t] = self.add_weight(
                name=f"{t}_positions",
                shape=(self.max_length, self.item_dim),
                initializer="random_normal",
            )

            def block(role, i, t=t):
                return TransformerBlock(
                    self.num_heads,
                    ffn_units=self.ffn_units,
                    dropout=dropout,
                    name=f"{t}_{role}_{i}",
                )

            self.encoders[t] = [block("encoder", i) for i in range(num_encoder_layers)]
            self.decoders[t] = [block("decoder", i) for i in range(num_decoder_layers)]
        self.mlp = MLP(
            self.hidden_units + (1,),
            output_activation=None,
            dropout=dropout,
            kernel_regularizer=l2,
            name="mlp",
        )

    @classmethod
    def from_task(cls, task, fields=None, sequence_types=None, **kwargs):
        """Builds the model for a behaviour-sequence CTR task (T = its max_length)."""
        kwargs.setdefault("max_length", task.max_length)
        return super().from_task(
            task, fields=fields, sequence_types=sequence_types, **kwargs
        )

    def interest(self, inputs, t, target, training=False):
        """The decoder output for sequence type `t`: `[batch, d_model]`."""
        sequence, mask = self.embed_sequence(inputs, t)
        if sequence.shape[1] is not None and sequence.shape[1] > self.max_length:
            raise ValueError(
                f"input {t}_item_id has {sequence.shape[1]} positions; the model "
                f"was built for max_length={self.max_length}"
            )
        # Positions count from the most recent behaviour (the last column): a
        # batch cut to its last L columns takes the last L rows of the table.
        length = ops.shape(sequence)[1]
        positions = ops.cast(self.positions[t], sequence.dtype)
        encoded = sequence + positions[self.max_length - length :][None]
        for layer in self.encoders[t]:
            encoded = layer(encoded, mask=mask, training=training)
        decoded = target[:, None, :]
        for layer in self.decoders[t]:
            decoded = layer(
                decoded, context=encoded, context_mask=mask, training=training
            )
        return decoded[:, 0]

    def call(self, inputs, training=False):
        _, embedded = self.embed(inputs)
        target = self.embed_target(inputs)
        interests = [
            self.interest(inputs, t, target, training) for t in self.sequence_types
        ]
        flat_fields = ops.reshape(embedded, (-1, len(self.fields) * self.embedding_dim))
        features = ops.concatenate([flat_fields, *interests], axis=-1)
        return ops.squeeze(self.mlp(features, training=training), -1)

    def get_config(self):
        config = super().get_config()
        config.update(
            max_length=self.max_length,
            num_heads=self.num_heads,
            ffn_units=self.ffn_units,
            num_encoder_layers=self.num_encoder_layers,
            num_decoder_layers=self.num_decoder_layers,
            hidden_units=self.hidden_units,
            dropout=self.dropout,
        )
        return config
