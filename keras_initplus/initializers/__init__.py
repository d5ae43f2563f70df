"""Initializers: He average-fan, orthogonal, delta-orthogonal, presets."""

from keras_initplus.initializers.delta_orthogonal import DeltaOrthogonal
from keras_initplus.initializers.fans import compute_fans
from keras_initplus.initializers.gain import calculate_gain
from keras_initplus.initializers.he_avg_fan import (
    HeAvgFanNormal,
    HeAvgFanUniform,
)
from keras_initplus.initializers.looks_linear import LooksLinear
from keras_initplus.initializers.orthogonal import Orthogonal
from keras_initplus.initializers.recommend import (
    initializer_for,
    saturating_gain,
)
from keras_initplus.initializers.variance_scaling import VarianceScaling

# Snake-case ids for `kernel_initializer="he_avg_fan_normal"`.
STRING_IDS = {
    "he_avg_fan_normal": HeAvgFanNormal,
    "he_avg_fan_uniform": HeAvgFanUniform,
    "orthogonal_gain": Orthogonal,
    "delta_orthogonal": DeltaOrthogonal,
    "looks_linear": LooksLinear,
}

__all__ = [
    "DeltaOrthogonal",
    "HeAvgFanNormal",
    "HeAvgFanUniform",
    "LooksLinear",
    "Orthogonal",
    "STRING_IDS",
    "VarianceScaling",
    "calculate_gain",
    "compute_fans",
    "initializer_for",
    "saturating_gain",
]
