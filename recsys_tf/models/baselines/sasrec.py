"""SASRec: self-attentive sequential recommendation (Kang & McAuley, 2018)."""

from __future__ import annotations

import keras
from keras import ops

from recsys_tf.layers import CausalTransformerBlock, TransformerBlock
from recsys_tf.models.base import SequentialRetrievalModel, require_positive

BLOCKS = ("sasrec", "bert")
_BERT_STDDEV = 0.02  # S3-Rec's initializer_range (run_finetune_full.py)
_BERT_EPSILON = 1e-12  # its LayerNorm epsilon (modules.py, models.py)


@keras.saving.register_keras_serializable(package="recsys_tf")
class SASRec(SequentialRetrievalModel):
    """Causal self-attention over the history; the item embeddings score the output.

    SASRec Sec. III: Eq. (1) the input `E^_t = M_{s_t} sqrt(d) + P_t` (item
    embedding `M`, scaled by sqrt(d) as in the authors' code, plus a learned
    position embedding `P`), dropout, then `num_blocks` `CausalTransformerBlock`s
    (Eq. (2)-(7)) and a final layer normalisation give `F_t`; Eq. (8)-(9) the
    score of item i after position t is `r_{i,t} = F_t . M_i` with the input
    item embeddings shared with the output. Positions are counted from the left
    of the `max_length` window (the history is left-padded, as in the authors'
    code), so the last position always has `P_{max_length}`. Trained per
    position (`per_position`) with one sampled negative and the binary
    cross-entropy (Eq. (10)) by default; `loss` switches to a (sampled) softmax.

    `block="bert"` is the SASRec of S3-Rec (Zhou et al. CIKM 2020, its
    `run_finetune_full.py` without a pre-trained checkpoint;
    github.com/RUCAIBox/CIKM2020-S3Rec):
    - input `E_t = Dropout(LN(M_{s_t} + P_t))`, no sqrt(d) scaling, LayerNorm
      epsilon 1e-12 (`models.py` `add_position_embedding`; positions 0..n-1
      from the left of the left-padded window, as here);
    - `num_blocks` BERT layers (`modules.py` `Layer`), `TransformerBlock` with
      `causal=True`, `activation="gelu"` (erf form), `use_bias=True`, epsilon
      1e-12: `Z = LN(x + Dropout(MultiHead(x) W^O + b^O))`,
      `F = LN(Z + Dropout(GELU(Z W_1 + b_1) W_2 + b_2))`, `W_1` of 4d units,
      dropout `dropout` on the attention weights too;
    - attention mask: causal and padded keys (`models.py` `finetune`, an
      additive -10000; -1e9 here, both give a weight of exactly 0 in float32);
    - no final LayerNorm: the last layer's output scores the items through the
      shared item embeddings (`trainers.py` `predict_full`, `cross_entropy`);
    - every Linear kernel and both tables drawn from N(0, 0.02), biases 0,
      LayerNorm gamma 1, beta 0 (`models.py` `init_weights`).
    One choice of ours: S3-Rec's key bias is left out (the softmax cancels it;
    its gradient is zero), see `TransformerBlock`.

    Inputs: `history` int `[batch, seq_len]` (`seq_len <= max_length`),
    `history_mask` bool `[batch, seq_len]`.
    Output: the last position's query `[batch, embedding_dim]`, or in
    per-position training every position's `[batch, seq_len, embedding_dim]`.

    Args:
        num_items: catalogue size.
        max_length: n, the longest history (the position table's size).
        embedding_dim: d.
        num_blocks: b, the self-attention blocks (2 in the paper).
        num_heads: heads of each block (1 in the paper).
        dropout: dropout rate (0.5 on the sparse Amazon data, 0.2 on MovieLens).
        block: "sasrec" (the authors' block, above) or "bert" (S3-Rec's).
        loss, num_negatives, per_position, seed: see `SequentialRetrievalModel`.

    Example:
        >>> model = SASRec(num_items=100, max_length=10, embedding_dim=8)
        >>> model({"history": keras.ops.ones((2, 10), "int32"),
        ...        "history_mask": keras.ops.ones((2, 10), "bool")}).shape
        (2, 8)

    Reference: W.-C. Kang and J. McAuley, "Self-Attentive Sequential
    Recommendation", ICDM 2018; code github.com/kang205/SASRec.
    """

    padding_invariant = True

    def __init__(
        self,
        num_items,
        max_length=50,
        embedding_dim=50,
        num_blocks=2,
        num_heads=1,
        dropout=0.5,
        block="sasrec",
        loss="bce",
        num_negatives=1,
        per_position=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            num_items,
            loss=loss,
            num_negatives=num_negatives,
            per_position=per_position,
            seed=seed,
            **kwargs,
        )
        require_positive(
            max_length=max_length, embedding_dim=embedding_dim, num_blocks=num_blocks
        )
        if block not in BLOCKS:
            raise ValueError(
                f"`block` must be one of {BLOCKS}. Received: block={block!r}"
            )
        self.max_length = int(max_length)
        self.embedding_dim = int(embedding_dim)
        self.num_blocks = int(num_blocks)
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.block = block
        bert = block == "bert"

        # Glorot-uniform tables, as the authors' tf.get_variable defaults; BERT's
        # N(0, 0.02) in S3-Rec.
        def initializer():
            if bert:
                return keras.initializers.RandomNormal(stddev=_BERT_STDDEV)
            return "glorot_uniform"

        self.item_embeddings = self.add_weight(
            name="item_embeddings",
            shape=(self.num_items, self.embedding_dim),
            initializer=initializer(),
        )
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_length, self.embedding_dim),
            initializer=initializer(),
        )
        self.input_dropout = keras.layers.Dropout(self.dropout)
        if bert:
            self.input_norm = keras.layers.LayerNormalization(
                epsilon=_BERT_EPSILON, name="input_norm"
            )
            self.blocks = [
                TransformerBlock(
                    num_heads=self.num_heads,
                    dropout=self.dropout,
                    epsilon=_BERT_EPSILON,
                    causal=True,
                    activation="gelu",
                    use_bias=True,
                    kernel_initializer=initializer(),
                    name=f"block_{i}",
                )
                for i in range(self.num_blocks)
            ]
        else:
            self.blocks = [
                CausalTransformerBlock(
                    num_heads=self.num_heads, dropout=self.dropout, name=f"block_{i}"
                )
                for i in range(self.num_blocks)
            ]
            self.output_norm = keras.layers.LayerNormalization(
                epsilon=1e-8, name="output_norm"
            )

    @classmethod
    def from_task(cls, task, **kwargs):
        """Builds the model for a `RetrievalTask`; `max_length` is its history length."""
        kwargs.setdefault("max_length", task.train.history.shape[1])
        return super().from_task(task, **kwargs)

    def encode(self, inputs, training=False):
        history = ops.cast(inputs["history"], "int32")
        mask = ops.cast(inputs["history_mask"], "bool")
        length = ops.shape(history)[1]
        if isinstance(length, int) and length > self.max_length:
            raise ValueError(
                f"`history` has {length} positions, more than max_length="
                f"{self.max_length}"
            )
        positions = self.position_embeddings[self.max_length - length :]
        x = ops.take(self.item_embeddings, history, 0)
        if self.block == "bert":
            x = self.input_norm(x + positions[None])
        else:
            x = x * self.embedding_dim**0.5 + positions[None]
        x = self.input_dropout(x, training=training)
        x = x * ops.cast(mask, x.dtype)[..., None]
        for block in self.blocks:
            x = block(x, mask=mask, training=training)
        return x if self.block == "bert" else self.output_norm(x)

    def output_table(self):
        return self.item_embeddings, None

    def projector_embeddings(self):
        """The item embeddings `M`, for TensorBoard."""
        return {"item": ops.convert_to_numpy(self.item_embeddings)}

    def get_config(self):
        config = super().get_config()
        config.update(
            max_length=self.max_length,
            embedding_dim=self.embedding_dim,
            num_blocks=self.num_blocks,
            num_heads=self.num_heads,
            dropout=self.dropout,
            block=self.block,
        )
        return config
