import keras
import numpy as np
import pytest

import keras_initplus
from keras_initplus import LooksLinear
from tests.helpers import assert_config_roundtrip, assert_same_draw

RNG = np.random.default_rng(0)


def _positions(n, position_aware):
    if not position_aware:
        return ["hidden"] * n
    return ["first"] + ["hidden"] * (n - 2) + ["last"]


def _dense_stack(n_in, widths, activation, position_aware, gain=1.0):
    """Dense layers, each with its own LooksLinear; the last is linear."""
    layers = [keras.Input((n_in,))]
    for i, (width, position) in enumerate(
        zip(widths, _positions(len(widths), position_aware))
    ):
        last = i == len(widths) - 1
        layers.append(
            keras.layers.Dense(
                width,
                activation=None if last else activation,
                kernel_initializer=LooksLinear(
                    gain=gain, position=position, seed=i
                ),
            )
        )
    return keras.Sequential(layers)


def _as_linear(model, build):
    """The same network, weights copied, with every activation removed."""
    linear = build(None)
    linear.set_weights(model.get_weights())
    return linear


@pytest.mark.parametrize("position_aware", [False, True])
@pytest.mark.parametrize(
    "activation,slope",
    [
        ("relu", 0.0),
        ("gelu", 0.0),
        (keras.activations.silu, 0.0),
        (keras.layers.LeakyReLU(0.2), 0.2),
    ],
)
def test_deep_dense_network_is_its_linear_network(
    activation, slope, position_aware
):
    # 40 layers with odd and even widths: the odd-size rule must keep
    # the identity exact too.
    widths = [64] * 20 + [33, 17, 64, 65, 65, 40] + [48] * 13 + [10]
    gain = 1.0 / (1.0 + slope)

    def build(act):
        return _dense_stack(13, widths, act, position_aware, gain)

    model = build(activation)
    linear = _as_linear(model, build)
    x = RNG.standard_normal((16, 13)).astype("float32")
    # phi(z) - phi(-z) = (1 + slope) z, where the linear net has 2 z.
    factor = ((1.0 + slope) / 2.0) ** (len(widths) - 1)
    got = np.asarray(model(x), np.float64)
    want = np.asarray(linear(x), np.float64) * factor
    scale = np.abs(want).max()
    assert 0.05 < scale < 20  # neither vanished nor exploded
    np.testing.assert_allclose(got, want, atol=2e-5 * scale, rtol=0)


def test_linear_map_is_the_product_of_the_orthogonal_blocks():
    # position-aware, square: x -> x A B_2 ... B_{L-1} C, every factor
    # orthogonal, so the norm of each input is kept exactly.
    widths = [64] * 30
    model = _dense_stack(32, widths, "relu", position_aware=True)
    x = RNG.standard_normal((8, 32)).astype("float32")
    y = np.asarray(model(x), np.float64)
    np.testing.assert_allclose(
        np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), rtol=1e-4
    )


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_deep_conv_network_is_its_linear_network(padding):
    channels = [16] * 10 + [9, 16, 16] + [12] * 6 + [10]

    def build(act):
        # "valid" with (3, 1) kernels: the centre tap still lines up.
        size = (12, 12, 3) if padding == "same" else (48, 5, 3)
        layers = [keras.Input(size)]
        for i, ch in enumerate(channels):
            last = i == len(channels) - 1
            layers.append(
                keras.layers.Conv2D(
                    ch,
                    3 if padding == "same" else (3, 1),
                    padding=padding,
                    activation=None if last else act,
                    kernel_initializer=LooksLinear(seed=100 + i),
                )
            )
        return keras.Sequential(layers)

    model = build("relu")
    linear = _as_linear(model, build)
    shape = model.input_shape[1:]
    x = RNG.standard_normal((2, *shape)).astype("float32")
    got = np.asarray(model(x), np.float64)
    want = np.asarray(linear(x), np.float64) * 0.5 ** (len(channels) - 1)
    scale = np.abs(want).max()
    assert 0.05 < scale < 20
    np.testing.assert_allclose(got, want, atol=2e-5 * scale, rtol=0)


def test_one_unseeded_instance_for_every_layer_is_enough():
    init = LooksLinear()
    layers = [keras.Input((20,))] + [
        keras.layers.Dense(24, activation="relu", kernel_initializer=init)
        for _ in range(25)
    ]
    model = keras.Sequential(layers)
    kernels = [layer.kernel.numpy() for layer in model.layers]
    assert not np.allclose(kernels[3], kernels[4])  # fresh draws
    linear = keras.Sequential(
        [keras.Input((20,))] + [keras.layers.Dense(24) for _ in range(25)]
    )
    linear.set_weights(model.get_weights())
    x = RNG.standard_normal((4, 20)).astype("float32")
    # The last Dense has relu too: compare its mirrored pre-activation
    # by undoing relu with the pairing, relu(z) - relu(-z) = z.
    y = np.asarray(model(x))
    z = y[:, :12] - y[:, 12:]
    want = np.asarray(linear(x))[:, :12] * 0.5**24
    np.testing.assert_allclose(z, want, atol=2e-5 * np.abs(want).max())


@pytest.mark.parametrize(
    "shape",
    [(8, 12), (12, 8), (9, 12), (8, 13), (9, 13), (3, 3, 9, 13), (2, 2)],
)
def test_hidden_block_algebra(shape):
    w = np.asarray(LooksLinear(seed=4)(shape), np.float64)
    n_in, n_out = shape[-2:]
    if len(shape) > 2:
        centre = w[tuple(k // 2 for k in shape[:-2])]
        off = w.copy()
        off[tuple(k // 2 for k in shape[:-2])] = 0
        assert not off.any()  # every other tap is zero
        w = centre
    p, q = n_in // 2, n_out // 2
    b = w[:p, :q]
    np.testing.assert_array_equal(w[:p, q : 2 * q], -b)
    np.testing.assert_array_equal(w[p : 2 * p, :q], -b)
    np.testing.assert_array_equal(w[p : 2 * p, q : 2 * q], b)
    if n_out % 2:
        np.testing.assert_array_equal(w[p : 2 * p, -1], -w[:p, -1])
        b = w[:p, np.r_[0:q, 2 * q]]  # the unpaired column joins B
    if n_in % 2:
        assert not w[-1].any()
    gram = b @ b.T if b.shape[0] <= b.shape[1] else b.T @ b
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=2e-6)


def test_first_and_last_blocks():
    w = np.asarray(LooksLinear(position="first", seed=1)((13, 21)))
    np.testing.assert_array_equal(w[:, 10:20], -w[:, :10])
    a = np.asarray(w[:, np.r_[0:10, 20]], np.float64)
    np.testing.assert_allclose(a.T @ a, np.eye(11), atol=2e-6)
    w = np.asarray(LooksLinear(position="last", seed=1)((21, 10)), np.float64)
    np.testing.assert_array_equal(w[10:20], -w[:10])
    assert not w[20].any()
    np.testing.assert_allclose(w[:10] @ w[:10].T, np.eye(10), atol=2e-6)


def test_gain_scales_the_blocks():
    one = np.asarray(LooksLinear(seed=5)((16, 16)))
    half = np.asarray(LooksLinear(gain=0.5, seed=5)((16, 16)))
    np.testing.assert_allclose(half, 0.5 * one, rtol=1e-6)
    relu = np.asarray(LooksLinear(gain="relu", seed=5)((16, 16)))
    np.testing.assert_allclose(relu, np.sqrt(2) * one, rtol=1e-6)


def test_seeds_and_config():
    assert_same_draw(LooksLinear(seed=3), LooksLinear(seed=3), (10, 12))
    fresh = LooksLinear()
    assert not np.allclose(fresh((10, 12)), fresh((10, 12)))
    for init in [
        LooksLinear(seed=3),
        LooksLinear(gain="relu", position="last"),
        LooksLinear(gain=0.8, position="first", seed=9),
    ]:
        restored = assert_config_roundtrip(init)
        if init.seed is not None:
            assert_same_draw(init, restored, (6, 8))
    assert LooksLinear().get_config() == {
        "gain": 1.0,
        "position": "hidden",
        "seed": None,
    }
    layer = keras.layers.Dense(8, kernel_initializer="looks_linear")
    assert isinstance(layer.kernel_initializer, LooksLinear)
    assert keras_initplus.STRING_IDS["looks_linear"] is LooksLinear


@pytest.mark.parametrize(
    "make,error,fragments",
    [
        (
            lambda: LooksLinear(position="middle"),
            ValueError,
            ["`position`", "position='middle'", "'hidden'", "'first'"],
        ),
        (lambda: LooksLinear(gain=-1), ValueError, ["`gain`", "gain=-1"]),
        (lambda: LooksLinear(seed=-3), ValueError, ["`seed`", "seed=-3"]),
        (
            lambda: LooksLinear()((5,)),
            ValueError,
            ["`shape`", "between 2 and 5", "(5,)"],
        ),
        (
            lambda: LooksLinear(position="last")((1, 8)),
            ValueError,
            ["`shape`", "in >= 2", "position='first'", "(1, 8)"],
        ),
        (
            lambda: LooksLinear()((4, 4), dtype="int32"),
            ValueError,
            ["`dtype`", "'int32'", "float32"],
        ),
    ],
)
def test_bad_input(make, error, fragments):
    with pytest.raises(error) as info:
        make()
    for fragment in fragments:
        assert fragment in str(info.value)


def test_single_units_take_the_first_or_last_form():
    assert LooksLinear(position="first")((1, 8)).shape == (1, 8)
    assert LooksLinear(position="last")((8, 1)).shape == (8, 1)
    for shape, position in [((1, 8), "first"), ((8, 1), "last")]:
        np.testing.assert_array_equal(
            LooksLinear(seed=2)(shape),
            LooksLinear(position=position, seed=2)(shape),
        )
    # A grayscale image's first convolution: [A, -A] over the whole
    # 3x3 patch, A with orthonormal columns.
    w = np.asarray(LooksLinear(seed=3)((3, 3, 1, 8)), np.float64)
    np.testing.assert_array_equal(w[..., 4:], -w[..., :4])
    a = w[..., :4].reshape(9, 4)
    np.testing.assert_allclose(a.T @ a, np.eye(4), atol=2e-6)


def test_deep_grayscale_cnn_is_its_linear_network():
    def build(act):
        return keras.Sequential(
            [keras.Input((8, 8, 1))]
            + [
                keras.layers.Conv2D(
                    8,
                    3,
                    padding="same",
                    activation=act,
                    kernel_initializer=LooksLinear(seed=i),
                )
                for i in range(21)
            ]
        )

    model = build("relu")
    linear = _as_linear(model, build)
    x = RNG.standard_normal((2, 8, 8, 1)).astype("float32")
    y = np.asarray(model(x), np.float64)
    # Mirrored output: read it through the pairing, as the next layer would.
    z = y[..., :4] - y[..., 4:]
    want = np.asarray(linear(x), np.float64)[..., :4] * 0.5**20
    np.testing.assert_allclose(z, want, atol=2e-5 * np.abs(want).max())
