"""Gradient health during training: in-graph monitoring and clipping."""

from keras_initplus.gradients.callback import GradientHealthCallback
from keras_initplus.gradients.clipping import (
    AutoClip,
    ZClip,
    clip_by_global_norm,
    clip_by_layer_norm,
)
from keras_initplus.gradients.health import GradientHealth
from keras_initplus.gradients.optimizer import GradientHealthOptimizer

__all__ = [
    "AutoClip",
    "GradientHealth",
    "GradientHealthCallback",
    "GradientHealthOptimizer",
    "ZClip",
    "clip_by_global_norm",
    "clip_by_layer_norm",
]
