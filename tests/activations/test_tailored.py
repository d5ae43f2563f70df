import math

import keras
import numpy as np
import pytest
from scipy import integrate, stats

import keras_initplus
from keras_initplus.activations import (
    TailoredLeakyReLU,
    leaky_relu_c_map,
    network_c_map_at_zero,
    tat_negative_slope,
)
from tests.helpers import assert_config_roundtrip, assert_keras_file_loads


def _phi(z, slope):
    return math.sqrt(2 / (1 + slope**2)) * np.where(z > 0, z, slope * z)


def _c_map_by_quadrature(c, slope):
    """E[phi(u) phi(v)] for unit Gaussians with correlation c."""
    s = math.sqrt(1 - c * c)

    def f(w, u):
        v = c * u + s * w
        return float(_phi(u, slope) * _phi(v, slope)) * (
            stats.norm.pdf(u) * stats.norm.pdf(w)
        )

    value, _ = integrate.dblquad(f, -9, 9, -9, 9, epsabs=1e-9)
    return value


@pytest.mark.parametrize(
    "slope,c", [(0.0, 0.4), (0.3, -0.7), (0.3, 0.0), (0.85, 0.95)]
)
def test_c_map_is_the_kernel_of_the_scaled_leaky_relu(slope, c):
    assert leaky_relu_c_map(c, slope) == pytest.approx(
        _c_map_by_quadrature(c, slope), abs=2e-6
    )


def test_unit_second_moment_and_fixed_point():
    for slope in (0.0, 0.2, 0.9):
        assert leaky_relu_c_map(1.0, slope) == pytest.approx(1.0, abs=1e-15)
    # Slope 1 is linear: the map is the identity.
    assert leaky_relu_c_map(0.3, 1.0) == 0.3


@pytest.mark.parametrize("depth", [20, 50, 100, 300, 1000])
@pytest.mark.parametrize("eta", [0.9, 0.5])
def test_slope_meets_the_condition(depth, eta):
    slope = tat_negative_slope(depth, eta)
    assert 0 <= slope < 1
    assert network_c_map_at_zero(slope, depth) == pytest.approx(eta, abs=1e-9)
    # The solution is the crossing: slightly less linear overshoots eta,
    # slightly more linear falls short.
    assert network_c_map_at_zero(slope - 1e-3, depth) > eta
    assert network_c_map_at_zero(slope + 1e-3, depth) < eta


def test_deeper_networks_need_more_linear_units():
    slopes = [tat_negative_slope(d) for d in (20, 50, 100, 300, 1000)]
    assert slopes == sorted(slopes)
    assert tat_negative_slope(100, 0.9) == pytest.approx(0.57044, abs=1e-4)


def test_activation_values_and_second_moment():
    act = TailoredLeakyReLU(depth=50)
    s = act.negative_slope
    x = np.linspace(-3, 3, 13).astype("float32")
    np.testing.assert_allclose(np.asarray(act(x)), _phi(x, s), rtol=1e-6)
    z = np.random.default_rng(0).standard_normal(400_000)
    second = _phi(z, s) ** 2
    se = second.std() / math.sqrt(z.size)
    assert abs(second.mean() - 1.0) < 4 * se


def test_a_deep_network_at_init_has_the_predicted_correlation():
    # Two orthogonal inputs, 20 wide layers of the activation with
    # unit-gain orthogonal kernels: the output correlation is C_f(0) =
    # eta, up to finite-width fluctuations (width 1024: a few percent).
    depth = 20
    act = TailoredLeakyReLU(depth=depth, eta=0.9)
    width = 1024
    layers = [keras.Input((width,))] + [
        keras.layers.Dense(
            width,
            activation=act,
            kernel_initializer=keras_initplus.initializer_for(act, seed=i),
        )
        for i in range(depth)
    ]
    model = keras.Sequential(layers)
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((width, 2)))
    x = (q.T * math.sqrt(width)).astype("float32")
    y = np.asarray(model(x), np.float64)
    corr = y[0] @ y[1] / np.linalg.norm(y[0]) / np.linalg.norm(y[1])
    assert corr == pytest.approx(0.9, abs=0.04)
    # A plain ReLU network of the same depth squeezes them far closer.
    relu = network_c_map_at_zero(0.0, depth)
    assert relu > 0.94


def test_config_and_keras_file_in_a_fresh_process(tmp_path):
    act = TailoredLeakyReLU(depth=30, eta=0.8)
    restored = assert_config_roundtrip(act)
    assert restored.negative_slope == act.negative_slope
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(
                8,
                activation=act,
                kernel_initializer=keras_initplus.initializer_for(act, seed=1),
            ),
            keras.layers.Dense(4, kernel_initializer="looks_linear"),
        ]
    )
    x = np.random.default_rng(2).standard_normal((3, 6)).astype("float32")
    out = assert_keras_file_loads(
        model,
        x,
        tmp_path,
        """
        act = m.layers[0].activation
        assert type(act).__name__ == "TailoredLeakyReLU", act
        assert (act.depth, act.eta) == (30, 0.8), act
        init = m.layers[1].kernel_initializer
        assert type(init).__qualname__ == "LooksLinear", init
        print("OK", act.negative_slope)
        """,
    )
    assert f"OK {act.negative_slope}" in out


@pytest.mark.parametrize(
    "make,fragments",
    [
        (lambda: TailoredLeakyReLU(depth=0), ["`depth`", "depth=0"]),
        (lambda: TailoredLeakyReLU(depth=2.5), ["`depth`", "depth=2.5"]),
        (
            lambda: TailoredLeakyReLU(depth=10, eta=1.0),
            ["`eta`", "eta=1.0", "(0, 1)"],
        ),
        (
            lambda: TailoredLeakyReLU(depth=5, eta=0.9),
            ["`eta`", "at most 0.7359", "depth=5", "eta=0.9"],
        ),
        (
            # The default eta (0.7) is out of reach at depth 3.
            lambda: TailoredLeakyReLU(depth=3),
            ["`eta`", "at most 0.6048", "depth=3", "eta=0.7"],
        ),
    ],
)
def test_bad_input(make, fragments):
    with pytest.raises(ValueError) as info:
        make()
    for fragment in fragments:
        assert fragment in str(info.value)
