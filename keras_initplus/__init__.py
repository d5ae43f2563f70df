"""keras_initplus: initializers and gradient health for Keras 3.

Importing the package registers every initializer with Keras, so that
saved models load and string ids such as `"he_avg_fan_normal"` resolve.
"""

# Before keras: see _startup's docstring.
from keras_initplus import _startup  # noqa: F401

# isort: split
import keras

from keras_initplus.activations import (
    TailoredLeakyReLU,
    tat_negative_slope,
)
from keras_initplus.diagnostics import DiagnosisReport, diagnose
from keras_initplus.gradients import (
    AutoClip,
    GradientHealth,
    GradientHealthCallback,
    GradientHealthOptimizer,
    ZClip,
)
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
from keras_initplus.model_init import (
    KernelPlan,
    ModelInitReport,
    initialize_model,
)
from keras_initplus.recursion_limit import recursion_room

__version__ = "0.1.0"

keras.saving.get_custom_objects().update(STRING_IDS)
keras.saving.get_custom_objects().update({"lsuv": LSUV})

__all__ = [
    "TailoredLeakyReLU",
    "tat_negative_slope",
    "AutoClip",
    "GradientHealth",
    "GradientHealthCallback",
    "GradientHealthOptimizer",
    "ZClip",
    "LSUV",
    "LSUVCallback",
    "LSUVReport",
    "lsuv_init",
    "KernelPlan",
    "ModelInitReport",
    "initialize_model",
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
    "recursion_room",
]
