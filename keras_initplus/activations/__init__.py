"""Activations shaped for depth: Tailored Activation Transformation."""

from keras_initplus.activations.tailored import (
    TailoredLeakyReLU,
    leaky_relu_c_map,
    network_c_map_at_zero,
    tat_negative_slope,
)

__all__ = [
    "TailoredLeakyReLU",
    "leaky_relu_c_map",
    "network_c_map_at_zero",
    "tat_negative_slope",
]
