"""Pieces only the convergence benchmarks use; the rest of their harness
is the demo's (`keras_initplus.cli.demo`), so that both train alike."""

import keras
import numpy as np

from keras_initplus import recursion_room
from keras_initplus.cli.demo.models import (
    layer_initializer,
    resolve_activation,
)

KERAS_BASELINES = (
    "keras_glorot_uniform",
    "keras_he_normal",
    "keras_orthogonal",
)
OURS = ("he_avg_fan_normal", "orthogonal_gain", "lsuv", "initializer_for")


def build_cnn(input_shape, n_classes, activation, init_name, seed, depth=6):
    """A small all-conv network for 8x8 images: `depth` 3x3 convolutions of
    32 channels, global average pooling, softmax."""
    activation = resolve_activation(activation, depth)
    layers = [keras.Input(input_shape)]
    needs_lsuv = False
    for i in range(depth):
        init, lsuv = layer_initializer(init_name, activation, seed, i, depth)
        needs_lsuv |= lsuv
        layers.append(
            keras.layers.Conv2D(
                32,
                3,
                padding="same",
                activation=activation,
                kernel_initializer=init,
            )
        )
    layers += [
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(
            n_classes,
            activation="softmax",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        ),
    ]
    with recursion_room(len(layers)):
        return keras.Sequential(layers), needs_lsuv


def median_or_none(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None
