"""keras_initplus: initializers and gradient health for Keras 3.

Importing the package registers every initializer with Keras, so that
saved models load and string ids such as `"he_avg_fan_normal"` resolve.
"""

# Before keras: see _startup's docstring.
from keras_initplus import _startup  # noqa: F401

# isort: split
import keras

from keras_initplus import backend_support
from keras_initplus.activations import (
    TailoredLeakyReLU,
    tat_negative_slope,
)
from keras_initplus.diagnostics import DiagnosisReport, diagnose
from keras_initplus.initializers import (
    STRING_IDS,
    DeltaOrthogonal,
    HeAvgFanNormal,
    HeAvgFanUniform,
    LooksLinear,
    Orthogonal,
    VarianceScaling,
    calculate_gain,
    compute_fans,
    initializer_for,
)
from keras_initplus.lsuv import (
    LSUV,
    LSUVCallback,
    LSUVReport,
    lsuv_init,
)

__version__ = "0.1.0"

keras.saving.get_custom_objects().update(STRING_IDS)
keras.saving.get_custom_objects().update({"lsuv": LSUV})

# The gradient half is built on TensorFlow's distribution and tracing
# machinery, so it is imported on first use: the initializers, LSUV and
# `diagnose` then work on every backend with only keras and numpy.
_GRADIENTS = (
    "AutoClip",
    "GradientHealth",
    "GradientHealthCallback",
    "GradientHealthOptimizer",
    "ZClip",
)


def __getattr__(name):
    if name != "gradients" and name not in _GRADIENTS:
        raise AttributeError(
            f"module 'keras_initplus' has no attribute {name!r}"
        )
    if not backend_support.tensorflow_installed():
        raise backend_support.import_error_for(f"keras_initplus.{name}")
    import importlib

    gradients = importlib.import_module("keras_initplus.gradients")
    return gradients if name == "gradients" else getattr(gradients, name)


def __dir__():
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "TailoredLeakyReLU",
    "tat_negative_slope",
    *(_GRADIENTS if backend_support.tensorflow_installed() else ()),
    "LSUV",
    "LSUVCallback",
    "LSUVReport",
    "lsuv_init",
    "DiagnosisReport",
    "diagnose",
    "DeltaOrthogonal",
    "HeAvgFanNormal",
    "HeAvgFanUniform",
    "LooksLinear",
    "Orthogonal",
    "VarianceScaling",
    "calculate_gain",
    "compute_fans",
    "initializer_for",
]
