import keras
import numpy as np
import pytest

import keras_initplus
from tests.helpers import assert_config_roundtrip


@pytest.mark.parametrize(
    "shape", [(3, 16, 32), (3, 3, 16, 16), (5, 4, 8, 24), (3, 3, 3, 4, 8)]
)
@pytest.mark.parametrize("gain", [1.0, "tanh"])
def test_only_the_centre_tap_is_nonzero_and_it_is_orthogonal(shape, gain):
    w = np.asarray(keras_initplus.DeltaOrthogonal(gain, seed=1)(shape))
    g = keras_initplus.calculate_gain(gain) if isinstance(gain, str) else gain
    centre = tuple(k // 2 for k in shape[:-2])
    tap = w[centre].astype(np.float64)
    np.testing.assert_allclose(tap @ tap.T, g**2 * np.eye(shape[-2]), atol=1e-5)
    rest = w.copy()
    rest[centre] = 0
    assert not rest.any()


def test_conv2d_preserves_the_norm_at_every_position():
    conv = keras.layers.Conv2D(
        24,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer=keras_initplus.DeltaOrthogonal(gain=1.0, seed=2),
    )
    x = np.random.default_rng(0).standard_normal((2, 9, 9, 16))
    x = x.astype("float32")
    y = np.asarray(conv(x))
    np.testing.assert_allclose(
        np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5
    )


def test_config_roundtrip():
    init = keras_initplus.DeltaOrthogonal(gain="relu", seed=3)
    restored = assert_config_roundtrip(init)
    np.testing.assert_array_equal(
        np.asarray(init((3, 3, 4, 8))), np.asarray(restored((3, 3, 4, 8)))
    )
