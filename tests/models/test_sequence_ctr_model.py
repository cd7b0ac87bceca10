"""SequenceCTRModel: the shared embedding space of targets and behaviours, the
check of the data's feedback types, and the inputs it declares."""

import types

import keras
import numpy as np
import pytest

from recsys_tf.models import SequenceCTRModel

FIELDS = ("user_id", "item_id", "category")
SIZES = (5, 7, 3)


class _Pooled(SequenceCTRModel):
    """Target . mean of the click behaviours: enough to exercise the base."""

    def call(self, inputs, training=False):
        items, mask = self.embed_sequence(inputs, "click")
        weights = keras.ops.cast(mask, items.dtype)[..., None]
        pooled = keras.ops.sum(items * weights, 1) / keras.ops.maximum(
            keras.ops.sum(weights, 1), 1.0
        )
        return keras.ops.sum(pooled * self.embed_target(inputs), -1)


def _task(types_=("click", "unclick")):
    return types.SimpleNamespace(
        fields=FIELDS,
        vocabulary_sizes=dict(zip(FIELDS, SIZES)),
        sequence_types=types_,
        item_features=("item_id", "category"),
        dataset="tiny",
    )


def _inputs():
    return {
        "user_id": np.array([0, 4]),
        "item_id": np.array([6, 1]),
        "category": np.array([2, 0]),
        "click_item_id": np.array([[0, 3, 5], [0, 0, 2]]),
        "click_category": np.array([[0, 1, 2], [0, 0, 1]]),
        "click_mask": np.array([[0, 1, 1], [0, 0, 1]], np.int8),
    }


def test_behaviours_and_target_share_the_field_rows():
    model = _Pooled.from_task(_task(), embedding_dim=4)
    x = _inputs()
    logits = keras.ops.convert_to_numpy(model(x))
    table = keras.ops.convert_to_numpy(model.embedding.embeddings)
    item = lambda i: table[SIZES[0] + i]  # noqa: E731
    category = lambda c: table[SIZES[0] + SIZES[1] + c]  # noqa: E731
    expected = []
    for row in range(2):
        target = np.concatenate([item(x["item_id"][row]), category(x["category"][row])])
        kept = x["click_mask"][row].astype(bool)
        seq = [
            np.concatenate([item(i), category(c)])
            for i, c in zip(
                x["click_item_id"][row][kept], x["click_category"][row][kept]
            )
        ]
        expected.append(np.mean(seq, 0) @ target)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)
    assert model.item_dim == 8


def test_padding_codes_do_not_matter():
    model = _Pooled.from_task(_task(), embedding_dim=4)
    x = _inputs()
    y = dict(x, click_item_id=np.where(x["click_mask"], x["click_item_id"], 6))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(model(y))
    )


def test_a_type_the_data_lacks_names_it_and_the_dataset():
    with pytest.raises(
        ValueError, match=r"\['dislike'\].*dataset 'tiny'.*sequence_types"
    ):
        _Pooled.from_task(_task(), sequence_types=("click", "dislike"))
    assert _Pooled.from_task(_task()).sequence_types == ("click",)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="sequence_types"):
        _Pooled(FIELDS, SIZES, sequence_types=("clicks",))
    with pytest.raises(ValueError, match="item_features"):
        _Pooled(FIELDS, SIZES, item_features=("category",))
    with pytest.raises(ValueError, match="item_features"):
        _Pooled(
            ("user_id", "item_id"), SIZES[:2], item_features=("item_id", "category")
        )


def test_input_fields_and_config_round_trip():
    model = _Pooled.from_task(_task(), sequence_types=("click", "unclick"))
    fields = model.input_fields()
    assert fields["click_item_id"] == 7 and fields["unclick_category"] == 3
    assert fields["click_mask"] is None and "session_mask" not in fields
    clone = _Pooled.from_config(model.get_config())
    assert clone.sequence_types == ("click", "unclick")
    assert clone.item_features == ("item_id", "category")
