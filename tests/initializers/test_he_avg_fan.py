import math

import keras
import numpy as np
import pytest
from scipy import stats

import keras_initplus
from tests.helpers import assert_config_roundtrip

# (fan_in, fan_out) differ so that the wrong fan mode moves the variance
# by 20% or more; 240k-600k draws put one standard error near 0.3%.
SHAPES = [(400, 600), (3, 3, 64, 96), (5, 96, 200)]


def _fans(shape):
    rf = math.prod(shape[:-2])
    return shape[-2] * rf, shape[-1] * rf


@pytest.mark.parametrize("cls", ["HeAvgFanNormal", "HeAvgFanUniform"])
@pytest.mark.parametrize("shape", SHAPES)
def test_variance_is_four_over_fan_sum(cls, shape):
    w = np.asarray(getattr(keras_initplus, cls)(seed=7)(shape), np.float64)
    fan_in, fan_out = _fans(shape)
    target = 4.0 / (fan_in + fan_out)
    n = w.size
    # Standard error of a sample variance: var * sqrt((kurtosis - 1) / n);
    # the excess kurtosis of both shapes is negative, so sqrt(2/n) bounds it.
    se = target * math.sqrt(2.0 / n)
    assert abs(w.var() - target) < 5 * se
    assert abs(w.mean()) < 5 * math.sqrt(target / n)
    # The wrong fan mode, or a factor of 2, lies far outside the band.
    for wrong in (2.0 / fan_in, 2.0 / fan_out, 2 * target, target / 2):
        assert abs(w.var() - wrong) > 10 * se


def test_normal_shape_is_two_sigma_truncated_normal():
    shape = (500, 700)
    w = np.asarray(keras_initplus.HeAvgFanNormal(seed=3)(shape), np.float64)
    sigma = math.sqrt(4.0 / 1200) / 0.87962566103423978
    assert np.abs(w).max() <= 2 * sigma * (1 + 1e-6)
    sample = w.ravel()[::7]
    result = stats.kstest(sample / sigma, stats.truncnorm(-2, 2).cdf)
    assert result.pvalue > 1e-3
    # An untruncated normal of the same variance is rejected.
    plain = stats.norm(scale=math.sqrt(4.0 / 1200) / sigma)
    assert stats.kstest(sample / sigma, plain.cdf).pvalue < 1e-6


def test_uniform_shape_and_limit():
    shape = (300, 500)
    w = np.asarray(keras_initplus.HeAvgFanUniform(seed=4)(shape), np.float64)
    limit = math.sqrt(12.0 / 800)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.999 * limit
    dist = stats.uniform(-limit, 2 * limit)
    assert stats.kstest(w.ravel()[::5], dist.cdf).pvalue > 1e-3


def test_square_kernel_matches_keras_he_normal_variance():
    ours = np.asarray(keras_initplus.HeAvgFanNormal(seed=1)((512, 512)))
    keras_w = np.asarray(keras.initializers.HeNormal(seed=1)((512, 512)))
    se = (2 / 512) * math.sqrt(2 / ours.size)
    assert abs(ours.var() - keras_w.var()) < 8 * se


def test_string_ids_resolve_in_layers():
    for name, cls in [
        ("he_avg_fan_normal", keras_initplus.HeAvgFanNormal),
        ("he_avg_fan_uniform", keras_initplus.HeAvgFanUniform),
    ]:
        layer = keras.layers.Dense(8, kernel_initializer=name)
        layer.build((4,))
        assert isinstance(layer.kernel_initializer, cls)


@pytest.mark.parametrize("cls", ["HeAvgFanNormal", "HeAvgFanUniform"])
def test_config_holds_only_the_seed(cls):
    init = getattr(keras_initplus, cls)(seed=5)
    assert init.get_config() == {"seed": 5}
    restored = assert_config_roundtrip(init)
    np.testing.assert_array_equal(
        np.asarray(init((6, 7))), np.asarray(restored((6, 7)))
    )


@pytest.mark.parametrize(
    "dtype",
    ["float16", "bfloat16", pytest.param("float64", marks=pytest.mark.float64)],
)
def test_dtypes(dtype):
    w = keras_initplus.HeAvgFanNormal(seed=1)((64, 64), dtype=dtype)
    assert keras.backend.standardize_dtype(w.dtype) == dtype
