import math

import keras
import numpy as np
import pytest
import scipy.optimize

import keras_initplus

SHAPE = (300, 500)


@pytest.mark.parametrize(
    "activation,variance",
    [
        ("relu", 2 / 300),
        (keras.activations.gelu, 2 / 300),
        ("tanh", 2 / 800),
        (None, 2 / 800),
        ("sigmoid", 2 / 800),
        ("selu", 1 / 300),
    ],
)
def test_variance_follows_the_family(activation, variance):
    init = keras_initplus.initializer_for(activation, seed=2)
    w = np.asarray(init(SHAPE), np.float64)
    se = variance * math.sqrt(2 / w.size)
    assert abs(w.var() - variance) < 5 * se


def test_families_and_distributions():
    assert keras_initplus.initializer_for("relu").get_config() == {
        "scale": 2.0,
        "mode": "fan_in",
        "distribution": "truncated_normal",
        "seed": None,
    }
    assert keras_initplus.initializer_for("tanh").distribution == "uniform"


@pytest.mark.parametrize(
    "activation,kind,gain",
    [
        ("relu", "LooksLinear", 1.0),
        (keras.activations.gelu, "LooksLinear", 1.0),
        ("silu", "LooksLinear", 1.0),
        ("leaky_relu", "LooksLinear", 1 / 1.2),
        ("tanh", "Orthogonal", math.sqrt(1 + 1 / math.sqrt(20))),
        (None, "Orthogonal", 1.0),
        ("softsign", "Orthogonal", 1.0),
    ],
)
def test_depth_changes_the_answer(activation, kind, gain):
    shallow = keras_initplus.initializer_for(activation, depth=10, seed=1)
    assert type(shallow) is keras_initplus.VarianceScaling
    assert (
        shallow.get_config()
        == keras_initplus.initializer_for(activation, seed=1).get_config()
    )
    deep = keras_initplus.initializer_for(activation, depth=20, seed=1)
    assert type(deep).__qualname__ == kind
    assert deep.get_config()["gain"] == pytest.approx(gain)
    assert deep.seed == 1


def test_leaky_relu_gain_keeps_the_deep_signal():
    # Keras's leaky_relu (slope 0.2) with the looks-linear gain 1/1.2
    # keeps the norm through 200 layers; gain 1 would grow it 1.2**200.
    init = keras_initplus.initializer_for("leaky_relu", depth=200)
    model = keras.Sequential(
        [keras.Input((32,))]
        + [
            keras.layers.Dense(
                32, activation="leaky_relu", kernel_initializer=init
            )
            for _ in range(200)
        ]
    )
    x = np.random.default_rng(0).standard_normal((4, 32)).astype("float32")
    y = np.asarray(model(x))
    ratio = np.linalg.norm(y, axis=1) / np.linalg.norm(x, axis=1)
    assert np.all((ratio > 0.05) & (ratio < 2.0))


def test_tailored_activation_gets_unit_gain_orthogonal():
    act = keras_initplus.TailoredLeakyReLU(depth=40)
    init = keras_initplus.initializer_for(act, depth=40, seed=2)
    assert type(init) is keras_initplus.Orthogonal
    assert init.get_config() == {"gain": 1.0, "seed": 2}


def test_no_deep_answer_warns_and_keeps_the_shallow_one():
    with pytest.warns(UserWarning, match="'selu', depth=50"):
        init = keras_initplus.initializer_for("selu", depth=50)
    assert init.get_config()["mode"] == "fan_in"
    assert init.get_config()["scale"] == 1.0


@pytest.mark.parametrize("depth", [0, -3, 2.5, True, "10"])
def test_bad_depth(depth):
    with pytest.raises(ValueError) as info:
        keras_initplus.initializer_for("relu", depth=depth)
    assert "`depth`" in str(info.value)
    assert f"depth={depth!r}" in str(info.value)


def _tanh_moments(q, gain):
    # E[tanh(sqrt(q) z)^2] and E[tanh'(sqrt(q) z)^2] for z ~ N(0, 1), by
    # Gauss-Hermite quadrature (exact to ~1e-12 for these smooth maps).
    z, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()
    t = np.tanh(np.sqrt(q) * z)
    return gain**2 * np.sum(w * t**2), gain**2 * np.sum(w * (1 - t**2) ** 2)


@pytest.mark.parametrize("depth", [50, 300, 1000])
def test_tanh_gain_has_a_fixed_point_and_a_balanced_backward_gain(depth):
    gain = keras_initplus.initializers.saturating_gain(depth)
    q = scipy.optimize.brentq(
        lambda q: _tanh_moments(q, gain)[0] - q, 1e-6, 1.0, xtol=1e-14
    )
    _, chi = _tanh_moments(q, gain)
    eps = 1 / math.sqrt(depth)
    # The docstring's claims: q* ~ eps / 2, chi**depth in [1.29, 1.37].
    assert q == pytest.approx(eps / 2, rel=0.06)
    assert 1.28 <= chi**depth <= 1.38
    # Gain 1 has no fixed point: q keeps shrinking as 1 / (2 l).
    q1 = 1.0
    for _ in range(depth):
        q1, _ = _tanh_moments(q1, 1.0)
    assert q1 == pytest.approx(1 / (2 * depth), rel=0.05)
    # Hence q* / q_L ~ depth * eps = sqrt(depth): 17x at depth 300.
    assert q / q1 == pytest.approx(math.sqrt(depth), rel=0.06)


def test_deep_tanh_net_keeps_its_signal_at_the_fixed_point():
    # 300 tanh layers of width 256 from initializer_for: the last
    # pre-activations have second moment near q* = 0.030 (gain 1 would
    # give 0.0017). Width-256 layers average over 256 units and 64 rows,
    # so the sample moment is within a few percent.
    depth, width = 300, 256
    rng = np.random.default_rng(0)
    h = rng.standard_normal((64, width)).astype("float32")
    for i in range(depth):
        init = keras_initplus.initializer_for("tanh", depth=depth, seed=i)
        pre = h @ np.asarray(init((width, width)))
        h = np.tanh(pre)
    assert np.mean(pre**2) == pytest.approx(0.0295, rel=0.25)


def test_position_reaches_looks_linear_and_is_checked():
    first = keras_initplus.initializer_for(
        "relu", depth=50, seed=3, position="first"
    )
    assert first.get_config()["position"] == "first"
    w = np.asarray(first((64, 64)))
    # [A, -A]: the two halves of the output are exact negatives.
    np.testing.assert_array_equal(w[:, :32], -w[:, 32:])
    assert np.linalg.matrix_rank(w[:, :32]) == 32
    # Kernels that do not depend on the position ignore it.
    tanh = keras_initplus.initializer_for("tanh", depth=50, position="last")
    assert type(tanh) is keras_initplus.Orthogonal
    with pytest.raises(ValueError) as info:
        keras_initplus.initializer_for("relu", depth=50, position="middle")
    assert "`position`" in str(info.value)
    assert "position='middle'" in str(info.value)
    assert "'first'" in str(info.value)
