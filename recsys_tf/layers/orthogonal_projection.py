"""The feature orthogonal mapping of DUMN (Bian et al., 2021)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_tf")
class OrthogonalProjection(keras.layers.Layer):
    """Removes from `x` its projection on `basis`: the orthogonal part is kept.

    DUMN Eq. (6)-(7), with `inputs` the implicit representation (f_c or f_u) and
    `basis` the explicit one (f_d or f_l):

    - Eq. (6): `f^p = project(f, b) = (f . b / |b|) b / |b| = (f . b / |b|^2) b`;
    - Eq. (7): `f^o = f - f^p`.

    `f^o . b = 0` for every b; the output is computed with `|b|^2` floored at
    `epsilon`, so a zero basis gives `f^o = f` exactly (f . b = 0), without NaN
    in the output or the gradient (no square root is taken). The paper does not
    say what a zero basis (a user without dislikes) should give; here the input
    passes unchanged.

    Inputs: `inputs` `[batch, ..., dim]`, `basis` of the same shape. Output: the
    same shape; with `return_projection=True` also f^p.

    Args:
        epsilon: floor of `|b|^2`.

    Example:
        >>> layer = OrthogonalProjection()
        >>> layer(keras.ops.ones((2, 3)), keras.ops.zeros((2, 3))).shape
        (2, 3)

    Reference: Z. Bian et al., "Denoising User-aware Memory Network for
    Recommendation", arXiv:2107.05474, Section 3.3.2.
    """

    def __init__(self, epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        if not float(epsilon) > 0:
            raise ValueError(f"`epsilon` must be > 0. Received: epsilon={epsilon}")
        self.epsilon = float(epsilon)

    def build(self, inputs_shape, basis_shape=None):
        if basis_shape is None or tuple(inputs_shape)[1:] != tuple(basis_shape)[1:]:
            raise ValueError(
                "`inputs` and `basis` must have the same shape [batch, ..., dim]. "
                f"Received: {inputs_shape} and {basis_shape}"
            )

    def call(self, inputs, basis, return_projection=False):
        basis = ops.cast(basis, inputs.dtype)
        dot = ops.sum(inputs * basis, axis=-1, keepdims=True)
        squared_norm = ops.maximum(
            ops.sum(basis * basis, axis=-1, keepdims=True), self.epsilon
        )
        projection = dot / squared_norm * basis  # Eq. (6)
        orthogonal = inputs - projection  # Eq. (7)
        if return_projection:
            return orthogonal, projection
        return orthogonal

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon)
        return config
