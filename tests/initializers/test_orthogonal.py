import math

import keras
import numpy as np
import pytest

import keras_initplus
from tests.helpers import assert_config_roundtrip

SHAPES = [
    (64, 64),  # square, small: the float64 block only
    (700, 700),  # square: block Gram-Schmidt, then float64
    (2048, 256),  # tall: one CholeskyQR pass
    (8192, 1024),  # tall, the benchmark's shape
    (3, 3, 128, 128),  # conv, rows/cols = 9: one pass
    (96, 1000),  # wide
    (3, 3, 32, 64),  # conv, rows 288 > cols 64
    (3, 3, 16, 300),  # conv, rows 144 < cols 300
    (5, 40, 40),  # conv1d, rows 200 > cols 40
    (1000, 999),  # nearly square, beyond the float64 block
]


def _gram(w):
    m = np.asarray(w, np.float64).reshape(-1, w.shape[-1])
    return m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_columns_or_rows_are_orthonormal_times_gain(shape, gain):
    w = keras_initplus.Orthogonal(gain=gain, seed=1)(shape)
    assert tuple(w.shape) == shape
    gram = _gram(w)
    eye = np.eye(gram.shape[0])
    assert np.abs(gram / gain**2 - eye).max() <= 1e-5


@pytest.mark.float64
@pytest.mark.parametrize("shape", [(300, 300), (2000, 100), (64, 512)])
def test_float64_is_orthonormal_to_double_precision(shape):
    w = keras_initplus.Orthogonal(seed=2)(shape, dtype="float64")
    assert keras.backend.standardize_dtype(w.dtype) == "float64"
    assert np.abs(_gram(w) - np.eye(min(shape))).max() <= 1e-12


@pytest.mark.parametrize("dtype,tol", [("float16", 4e-3), ("bfloat16", 3e-2)])
def test_half_precision_works_where_keras_qr_does_not(dtype, tol):
    w = keras_initplus.Orthogonal(seed=3)((256, 128), dtype=dtype)
    assert keras.backend.standardize_dtype(w.dtype) == dtype
    m = np.asarray(keras.ops.cast(w, "float32"), np.float64)
    assert np.abs(m.T @ m - np.eye(128)).max() <= tol


def test_gain_from_activation_name():
    init = keras_initplus.Orthogonal(gain="relu", seed=4)
    w = np.asarray(init((50, 50)), np.float64)
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(50), atol=1e-5)
    assert init.get_config()["gain"] == "relu"
    assert_config_roundtrip(init)
    assert_config_roundtrip(keras_initplus.Orthogonal(gain=1.5, seed=None))


def _trace_moments(n, k, samples, seed0):
    traces = []
    for s in range(samples):
        w = np.asarray(keras_initplus.Orthogonal(seed=seed0 + s)((n, k)))
        traces.append(np.trace(w[:k, :k].astype(np.float64)))
    return np.asarray(traces)


@pytest.mark.parametrize("n,k", [(8, 8), (300, 300), (40, 10)])
def test_distribution_is_haar(n, k):
    # For W Haar on O(n), tr(W) has mean 0 and variance 1 (Diaconis &
    # Shahshahani); for its first k columns, tr of the top k x k block has
    # variance k / n. A factorisation without the sign correction, or a
    # biased block step, shifts the mean by O(1) standard errors per
    # sample; 400 samples give a standard error of 0.05 sqrt(k/n).
    samples = 400 if n < 100 else 200
    t = _trace_moments(n, k, samples, seed0=1000)
    var = k / n
    se_mean = math.sqrt(var / samples)
    assert abs(t.mean()) < 4.5 * se_mean
    # Var of a sample variance of near-normal data: var * sqrt(2 / n).
    assert abs(t.var() - var) < 4.5 * var * math.sqrt(2.0 / samples)


def test_no_sign_correction_would_be_caught():
    # The check above has power: Householder QR without the sign fix
    # (numpy's, whose R diagonal is mostly negative) fails it.
    rng = np.random.default_rng(0)
    traces = [
        np.trace(np.linalg.qr(rng.standard_normal((8, 8)))[0])
        for _ in range(400)
    ]
    assert abs(np.mean(traces)) > 4.5 * math.sqrt(1 / 400)


def test_same_kernel_as_layer_weights():
    layer = keras.layers.Dense(
        32, kernel_initializer=keras_initplus.Orthogonal(gain="tanh", seed=9)
    )
    layer.build((64,))
    w = np.asarray(layer.kernel, np.float64)
    np.testing.assert_allclose(w.T @ w, (5 / 3) ** 2 * np.eye(32), atol=3e-5)


@pytest.fixture
def without_float64(monkeypatch):
    # The route JAX takes without x64, on any backend.
    from keras_initplus.initializers import orthonormal

    monkeypatch.setattr(orthonormal, "float64_available", lambda: False)


PRECISE_SHAPES = [(64, 64), (700, 700), (1000, 999), (3, 3, 16, 300)]


@pytest.mark.parametrize("shape", PRECISE_SHAPES)
def test_without_float64_still_orthonormal(without_float64, shape):
    import warnings

    with warnings.catch_warnings():
        # No "float64 truncated to float32" warning: it is not asked for.
        warnings.simplefilter("error")
        w = keras_initplus.Orthogonal(gain=2.0, seed=3)(shape)
    gram = _gram(w)
    assert np.abs(gram / 4.0 - np.eye(gram.shape[0])).max() <= 1e-5


@pytest.mark.float64
@pytest.mark.parametrize("shape", [(64, 64), (700, 700)])
def test_without_float64_same_kernel(monkeypatch, shape):
    # Both routes return the unique Q factor with a positive-diagonal R
    # of the same Gaussian draw, so they agree to float32 rounding.
    from keras_initplus.initializers import orthonormal

    reference = np.asarray(keras_initplus.Orthogonal(seed=5)(shape))
    monkeypatch.setattr(orthonormal, "float64_available", lambda: False)
    fallback = np.asarray(keras_initplus.Orthogonal(seed=5)(shape))
    np.testing.assert_allclose(fallback, reference, atol=2e-5)


@pytest.mark.parametrize("n,k", [(8, 8), (300, 300)])
def test_without_float64_still_haar(without_float64, n, k):
    samples = 400 if n < 100 else 200
    t = _trace_moments(n, k, samples, seed0=3000)
    var = k / n
    assert abs(t.mean()) < 4.5 * math.sqrt(var / samples)
    assert abs(t.var() - var) < 4.5 * var * math.sqrt(2.0 / samples)
