"""Shared test harness for the layers and models of recsys_tf.

`run_layer_test` is in the spirit of Keras' own layer test helper: it builds a
layer symbolically and eagerly, compares the shapes, rebuilds it from its config,
checks that every trainable weight receives a gradient, and saves / reloads it
inside a functional model. The model helpers check gradients through the model's
own `compute_loss`, `.keras` round trips and overfitting of one batch.
"""

from __future__ import annotations

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

SEED = 0
# A gradient whose largest entry is below this is rounding noise, not a signal
# (e.g. the bias gradient of a zero-initialised model on balanced labels).
NUMERICALLY_ZERO = 1e-6


def set_seed(seed: int = SEED) -> None:
    """Seeds Python, NumPy and the backend (Keras initialisers, dropout)."""
    keras.utils.set_random_seed(seed)


def to_numpy(x) -> np.ndarray:
    if isinstance(x, tf.IndexedSlices):
        x = tf.convert_to_tensor(x)
    return np.asarray(keras.ops.convert_to_numpy(x))


def json_round_trip(config: dict) -> dict:
    """What a config looks like after being written to disk (tuples -> lists)."""
    return json.loads(json.dumps(config))


# --- Independent NumPy references --------------------------------------------


def numpy_activation(name, x: np.ndarray) -> np.ndarray:
    if name is None or name == "linear":
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "silu":
        return x / (1.0 + np.exp(-x))
    if name == "gelu":  # the exact (erf) form
        return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    raise NotImplementedError(name)


def numpy_dense_stack(x: np.ndarray, params, activations) -> np.ndarray:
    """`h_{l+1} = act_l(h_l W_l + b_l)` for `params = [(W_0, b_0), ...]`."""
    assert len(params) == len(activations)
    h = np.asarray(x, np.float64)
    for (kernel, bias), activation in zip(params, activations):
        h = numpy_activation(activation, h @ np.asarray(kernel, np.float64) + bias)
    return h


def mlp_params(mlp) -> list[tuple[np.ndarray, np.ndarray]]:
    """The `(kernel, bias)` pairs of a `recsys_tf.layers.MLP`, first layer first."""
    return [(to_numpy(d.kernel), to_numpy(d.bias)) for d in mlp.dense_layers]


def numpy_bce_with_logits(labels, logits) -> np.ndarray:
    """Per-example `-y log sigmoid(z) - (1 - y) log(1 - sigmoid(z))`, stably."""
    z = np.asarray(logits, np.float64)
    y = np.asarray(labels, np.float64)
    return np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))


def numpy_softmax_cross_entropy(logits, labels) -> np.ndarray:
    """Per-example `logsumexp_j(s_j) - s_label`."""
    s = np.asarray(logits, np.float64)
    peak = s.max(axis=1, keepdims=True)
    lse = np.log(np.exp(s - peak).sum(axis=1)) + peak[:, 0]
    return lse - s[np.arange(len(s)), np.asarray(labels)]


def numpy_field_lookup(table, x: dict, fields, vocabulary_sizes) -> np.ndarray:
    """Rows `table[x[f] + offset_f]` of a `FieldEmbedding` table: `[n, F, dim]`."""
    offsets = np.cumsum((0,) + tuple(vocabulary_sizes)[:-1])
    return np.stack(
        [np.asarray(table)[x[f] + o] for f, o in zip(fields, offsets)], axis=1
    )


def numpy_kernel_products(e, kernel=None, kernel_type="num") -> np.ndarray:
    """`p_ij = e_i^T W_ij e_j` for the pairs i < j in row-major order, by a loop.

    `kernel[pair]` is a `[dim, dim]` matrix ("mat"), a diagonal ("vec") or a
    scalar ("num"); no kernel gives the inner products `<e_i, e_j>`.
    """
    e = np.asarray(e, np.float64)
    n, dim = e.shape[1], e.shape[2]
    out, pair = [], 0
    for i in range(n):
        for j in range(i + 1, n):
            if kernel is None:
                w = np.eye(dim)
            elif kernel_type == "mat":
                w = np.asarray(kernel[pair], np.float64)
            elif kernel_type == "vec":
                w = np.diag(kernel[pair])
            else:
                w = kernel[pair] * np.eye(dim)
            out.append(np.einsum("bd,de,be->b", e[:, i], w, e[:, j]))
            pair += 1
    return np.stack(out, axis=1)


def numpy_augru_step(layer, x_t, h, a_t):
    """One `recsys_tf.layers.AUGRU` step, DIEN Eq. (2)-(5), (11)-(12), gate by
    gate: `x_t` `[batch, in_dim]`, `h` `[batch, units]`, `a_t` `[batch]`."""
    n = layer.units
    w, u, b = (
        to_numpy(v).astype(np.float64)
        for v in (layer.kernel, layer.recurrent_kernel, layer.bias)
    )
    wu, wr, wh = w[:, :n], w[:, n : 2 * n], w[:, 2 * n :]
    uu, ur, uh = u[:, :n], u[:, n : 2 * n], u[:, 2 * n :]
    bu, br, bh = b[:n], b[n : 2 * n], b[2 * n :]
    update = numpy_activation("sigmoid", x_t @ wu + h @ uu + bu)  # Eq. (2)
    reset = numpy_activation("sigmoid", x_t @ wr + h @ ur + br)  # Eq. (3)
    candidate = np.tanh(x_t @ wh + reset * (h @ uh) + bh)  # Eq. (4)
    update = a_t[:, None] * update  # Eq. (11)
    return (1.0 - update) * h + update * candidate  # Eq. (12)


def numpy_augru(layer, x, attention, mask):
    """Every step of an AUGRU from a zero state; a masked step keeps the state.
    Returns (final state, states `[batch, T, units]`)."""
    h = np.zeros((len(x), layer.units))
    states = []
    for t in range(x.shape[1]):
        new = numpy_augru_step(layer, x[:, t].astype(np.float64), h, attention[:, t])
        h = np.where(mask[:, t, None], new, h)
        states.append(h)
    return h, np.stack(states, 1)


# --- Gradients ---------------------------------------------------------------


def memorisable_ctr_batch(user, item, num_users, num_items, n=32, seed=1):
    """A CTR batch with fields `user`, `item` and their cross `user_x_item`.

    `item` is a distinct code per example, so any labelling can be memorised.
    Labels are unbalanced (3/8 positive): with zero-initialised weights the bias
    gradient mean(sigmoid(0) - y) is then non-zero.
    """
    rng = np.random.default_rng(seed)
    users = rng.integers(0, num_users, n)
    items = rng.permutation(num_items)[:n]
    x = {user: users, item: items, f"{user}_x_{item}": users * num_items + items}
    x = {k: v.astype(np.int64) for k, v in x.items()}
    y = (np.arange(n) < 3 * n // 8).astype(np.float32)
    return x, rng.permutation(y)


def assert_trainable_gradients(target, loss_fn, variables=None):
    """Every trainable variable of `target` gets a finite, non-zero gradient.

    `loss_fn()` is evaluated under a `tf.GradientTape`; a variable without a
    gradient (a dead branch), with a non-finite one or a numerically zero one
    (every entry below `NUMERICALLY_ZERO`) fails.
    Returns the loss as a float.
    """
    with tf.GradientTape() as tape:
        loss = loss_fn()
    # Read after the call, which may have built the target.
    variables = list(target.trainable_variables if variables is None else variables)
    assert variables, f"{target.name} has no trainable variables"
    loss_value = float(to_numpy(loss))
    assert math.isfinite(loss_value), f"loss is not finite: {loss_value}"
    grads = tape.gradient(loss, variables)
    problems = []
    for variable, grad in zip(variables, grads):
        if grad is None:
            problems.append(f"{variable.path}: no gradient")
            continue
        values = to_numpy(grad)
        if not np.all(np.isfinite(values)):
            problems.append(f"{variable.path}: non-finite gradient")
        elif np.max(np.abs(values), initial=0.0) < NUMERICALLY_ZERO:
            problems.append(f"{variable.path}: all-zero gradient")
    if problems:
        raise AssertionError("Bad gradients:\n  " + "\n  ".join(problems))
    return loss_value


def _random_projection(shape, seed: int = SEED) -> np.ndarray:
    """Fixed random weights: `sum(out * w)` reaches every output coordinate."""
    return np.random.default_rng(seed).normal(size=tuple(shape)).astype(np.float32)


# --- Layers -----------------------------------------------------------------


def _symbolic_input(value: np.ndarray, name: str):
    return keras.Input(shape=value.shape[1:], dtype=str(value.dtype), name=name)


def run_layer_test(
    layer_cls,
    init_kwargs: dict,
    inputs: np.ndarray,
    expected_output_shape: tuple,
    call_kwargs: dict | None = None,
    expect_trainable_weights: bool = True,
    save_dir: str | os.PathLike | None = None,
) -> np.ndarray:
    """Shape, config, gradient and serialization checks of one layer.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        inputs: the first positional input, a NumPy array `[batch, ...]`.
        expected_output_shape: the eager output shape for `inputs`.
        call_kwargs: further tensor arguments of `call` (e.g. `mask`), arrays.
        expect_trainable_weights: False for weightless layers (checked).
        save_dir: if given, a functional model around the layer is saved there
            as `.keras` and reloaded.

    Returns:
        The eager output (NumPy).
    """
    call_kwargs = dict(call_kwargs or {})
    expected_output_shape = tuple(expected_output_shape)

    # Symbolic: keras.Input with an unknown batch size, and compute_output_shape.
    layer = layer_cls(**init_kwargs)
    symbolic = {"inputs": _symbolic_input(inputs, "inputs")}
    symbolic.update({k: _symbolic_input(v, k) for k, v in call_kwargs.items()})
    symbolic_kwargs = {k: symbolic[k] for k in call_kwargs}
    symbolic_output = layer(symbolic["inputs"], **symbolic_kwargs)
    assert tuple(symbolic_output.shape) == (None,) + expected_output_shape[1:], (
        f"symbolic shape {symbolic_output.shape} != {(None,) + expected_output_shape[1:]}"
    )
    assert tuple(layer.compute_output_shape(inputs.shape)) == expected_output_shape

    # Eager, with the weights created by the symbolic call.
    output = to_numpy(layer(inputs, **call_kwargs))
    assert output.shape == expected_output_shape, (
        f"eager shape {output.shape} != {expected_output_shape}"
    )
    assert np.all(np.isfinite(output))
    if expect_trainable_weights:
        assert layer.trainable_weights, f"{layer.name} has no trainable weights"
    else:
        assert not layer.weights, f"{layer.name} unexpectedly has weights"

    # The functional model around the layer computes the same thing.
    model = keras.Model(symbolic, symbolic_output)
    feed = {"inputs": inputs, **call_kwargs}
    np.testing.assert_allclose(to_numpy(model(feed)), output, rtol=1e-6, atol=1e-6)

    # get_config / from_config (through JSON) gives the same layer.
    config = json_round_trip(layer.get_config())
    clone = layer_cls.from_config(config)
    assert json_round_trip(clone.get_config()) == config
    clone(inputs, **call_kwargs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(to_numpy(clone(inputs, **call_kwargs)), output)

    # Every trainable weight is used.
    if expect_trainable_weights:
        projection = _random_projection(output.shape)
        assert_trainable_gradients(
            layer,
            lambda: keras.ops.sum(layer(inputs, **call_kwargs) * projection),
        )

    if save_dir is not None:
        path = os.path.join(os.fspath(save_dir), f"{layer.name}.keras")
        model.save(path)
        reloaded = keras.models.load_model(path)
        reloaded_layer = reloaded.get_layer(layer.name)
        assert type(reloaded_layer) is layer_cls
        np.testing.assert_array_equal(to_numpy(reloaded(feed)), output)
    return output


# --- Models -------------------------------------------------------------------


def model_loss(model, x, y, training=True, sample_weight=None):
    """The model's own objective: `compute_loss(y_pred=model(x, training))`."""
    y_pred = model(x, training=training)
    return model.compute_loss(
        x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
    )


def assert_model_gradients(model, x, y, training=True) -> float:
    """Finite loss, and a finite non-zero gradient for every trainable variable."""
    return assert_trainable_gradients(
        model, lambda: model_loss(model, x, y, training=training)
    )


def assert_one_train_step(model, x, y) -> float:
    """`compile(optimizer="adam")` + `train_on_batch`: finite loss, weights move."""
    model.compile(optimizer="adam")
    before = [to_numpy(v).copy() for v in model.trainable_variables]
    loss = float(np.asarray(model.train_on_batch(x, y)).reshape(-1)[0])
    assert math.isfinite(loss), f"train_on_batch loss is not finite: {loss}"
    after = [to_numpy(v) for v in model.trainable_variables]
    unchanged = [
        v.path
        for v, b, a in zip(model.trainable_variables, before, after)
        if np.array_equal(b, a)
    ]
    assert not unchanged, f"variables not updated by one Adam step: {unchanged}"
    return loss


def fit_one_batch(model, x, y, steps: int, learning_rate: float = 0.05) -> float:
    """Trains `steps` Adam steps on the same batch; returns the final loss.

    The loss returned is `compute_loss` of the trained model on the batch with
    `training=False` (for retrieval models, the full softmax), not Keras' epoch
    average of the training losses.
    """
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    data = tf.data.Dataset.from_tensors((x, y)).repeat(steps)
    model.fit(data, epochs=1, shuffle=False, verbose=0)
    return float(to_numpy(model_loss(model, x, y, training=False)))


def assert_config_round_trip(model, x) -> None:
    """`from_config(get_config())` (through JSON) with the same weights agrees."""
    config = json_round_trip(model.get_config())
    clone = type(model).from_config(config)
    assert json_round_trip(clone.get_config()) == config
    clone(x)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(to_numpy(clone(x)), to_numpy(model(x)))


def assert_save_reload(model, x, save_dir) -> keras.Model:
    """`.keras` save then `load_model` (no custom objects): identical predictions."""
    expected = to_numpy(model(x))
    expected_predict = np.asarray(model.predict(x, verbose=0))
    path = os.path.join(os.fspath(save_dir), f"{model.name}.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert type(reloaded) is type(model)
    assert json_round_trip(reloaded.get_config()) == json_round_trip(model.get_config())
    assert len(reloaded.weights) == len(model.weights)
    for a, b in zip(reloaded.weights, model.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=b.path)
    np.testing.assert_array_equal(to_numpy(reloaded(x)), expected)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), expected_predict)
    return reloaded


class FakeCTRTask:
    """Duck-typed CTR task: `.fields` and `.vocabulary_sizes`."""

    def __init__(self, vocabulary_sizes: dict):
        self.fields = tuple(vocabulary_sizes)
        self.vocabulary_sizes = dict(vocabulary_sizes)


class FakeSequenceCTRTask(FakeCTRTask):
    """Duck-typed behaviour-sequence CTR task (SESSION.md's attributes)."""

    def __init__(
        self,
        vocabulary_sizes: dict,
        sequence_types=("click", "unclick", "like", "dislike"),
        item_features=("item_id", "category"),
        max_length=5,
        num_sessions=3,
        session_length=3,
        dataset="fake",
    ):
        super().__init__(vocabulary_sizes)
        self.sequence_types = tuple(sequence_types)
        self.item_features = tuple(item_features)
        self.max_length = max_length
        self.num_sessions = num_sessions
        self.session_length = session_length
        self.dataset = dataset


def add_sessions(x: dict, vocabulary_sizes: dict, num_sessions=3, length=3, seed=1):
    """`x` (a `sequence_ctr_batch`) with DSIN's click sessions: `session_item_id`,
    `session_category` int `[n, num_sessions, length]` and `session_mask` int8,
    the most recent sessions last, each left-padded with code 0; rows with no
    session, some and all of them."""
    rng = np.random.default_rng(seed)
    n = len(x["item_id"])
    used = rng.integers(0, num_sessions + 1, n)
    used[:3] = (0, 1, num_sessions)
    counts = rng.integers(1, length + 1, (n, num_sessions))
    sessions = np.arange(num_sessions)[None, :] >= (num_sessions - used)[:, None]
    mask = (np.arange(length) >= (length - counts)[..., None]) & sessions[..., None]
    items = rng.integers(1, vocabulary_sizes["item_id"], mask.shape)
    out = dict(x, session_item_id=np.where(mask, items, 0).astype(np.int64))
    if "category" in vocabulary_sizes:
        categories = np.where(mask, items % vocabulary_sizes["category"], 0)
        out["session_category"] = categories.astype(np.int64)
    out["session_mask"] = mask.astype(np.int8)
    return out


class FakeRetrievalTask:
    """Duck-typed retrieval task: `.num_items`, `.user_vocabulary_sizes`, counts."""

    def __init__(self, num_items: int, user_vocabulary_sizes: dict, item_counts):
        self.num_items = num_items
        self.user_vocabulary_sizes = dict(user_vocabulary_sizes)
        self.item_counts = np.asarray(item_counts, np.int64)


def sequence_ctr_batch(
    vocabulary_sizes: dict,
    item_features=("item_id", "category"),
    sequence_types=("click", "unclick"),
    n=32,
    length=5,
    seed=1,
):
    """A behaviour-sequence CTR batch (SESSION.md's input contract).

    Fields as `memorisable_ctr_batch` (a distinct `item_id` per example, so any
    labelling can be memorised; 3/8 positive) with `category = item_id % size`;
    for every type `t`, `f"{t}_{feature}"` int `[n, length]` left-padded with
    code 0 and `f"{t}_mask"` int8, each row holding 0 to `length` events (rows
    with none, some and all of them).
    """
    rng = np.random.default_rng(seed)
    x, y = memorisable_ctr_batch(
        "user_id",
        "item_id",
        vocabulary_sizes["user_id"],
        vocabulary_sizes["item_id"],
        n,
        seed,
    )
    x = {"user_id": x["user_id"], "item_id": x["item_id"]}
    categories = vocabulary_sizes.get("category")
    if categories:
        x["category"] = x["item_id"] % categories
    for t in sequence_types:
        counts = rng.integers(0, length + 1, n)
        counts[:3] = (0, 1, length)
        mask = np.arange(length)[None, :] >= (length - counts)[:, None]
        items = rng.integers(1, vocabulary_sizes["item_id"], (n, length))
        x[f"{t}_item_id"] = np.where(mask, items, 0).astype(np.int64)
        if "category" in item_features:
            x[f"{t}_category"] = np.where(mask, items % categories, 0).astype(np.int64)
        x[f"{t}_mask"] = mask.astype(np.int8)
    return x, y


def widen_padding(x: dict, extra) -> dict:
    """`x` with more padding columns (code 0, mask 0) on the left of every
    `[batch, T]` sequence (sessions `[batch, S, L]` stay as they are): `extra`
    columns, or `extra[t]` for sequence type t (a dict; 0 for the others)."""
    out = dict(x)
    for key, mask in x.items():
        if not key.endswith("_mask") or np.ndim(mask) != 2:
            continue
        prefix = key[: -len("mask")]
        more = extra.get(prefix[:-1], 0) if isinstance(extra, dict) else extra
        for name in x:
            if name.startswith(prefix) and np.ndim(x[name]) == 2:
                out[name] = np.pad(np.asarray(x[name]), ((0, 0), (more, 0)))
    return out


def change_padding(x: dict, seed=7) -> dict:
    """`x` with every padded sequence position's codes replaced by other codes."""
    rng = np.random.default_rng(seed)
    out = dict(x)
    for key, mask in x.items():
        if not key.endswith("_mask"):
            continue
        prefix = key[: -len("mask")]
        for name in x:
            if name.startswith(prefix) and name != key:
                out[name] = np.where(mask == 1, x[name], rng.integers(1, 4, mask.shape))
    return out
