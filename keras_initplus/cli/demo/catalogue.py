"""Named initializers compared by the demo (and the convergence
benchmarks, which reuse it)."""

import keras

from keras_initplus.initializers import (
    HeAvgFanNormal,
    Orthogonal,
    initializer_for,
)

# `initializer_for(activation, depth=...)`, the deep-network answer.
DEEP = "initializer_for_depth"


def make_initializer(name, activation, seed, depth=None, position="hidden"):
    """Returns `(kernel_initializer, needs_lsuv_pass)` for a catalogue name.

    `activation` picks the gain for `orthogonal_gain` and the family for
    `initializer_for`; `depth` and `position` are what
    `initializer_for_depth` passes on.
    """
    if name == "small_normal":
        return keras.initializers.RandomNormal(0.0, 0.01, seed=seed), False
    if name == "large_normal":
        return keras.initializers.RandomNormal(0.0, 1.0, seed=seed), False
    if name == "keras_glorot_uniform":
        return keras.initializers.GlorotUniform(seed=seed), False
    if name == "keras_he_normal":
        return keras.initializers.HeNormal(seed=seed), False
    if name == "keras_orthogonal":
        return keras.initializers.Orthogonal(seed=seed), False
    if name == "he_avg_fan_normal":
        return HeAvgFanNormal(seed=seed), False
    if name == "orthogonal_gain":
        return Orthogonal(gain=activation, seed=seed), False
    if name == "initializer_for":
        return initializer_for(activation, seed=seed), False
    if name == DEEP:
        init = initializer_for(
            activation, depth=depth, seed=seed, position=position
        )
        return init, False
    if name == "lsuv":
        from keras_initplus.lsuv import LSUV

        return LSUV(seed=seed), True
    raise ValueError(f"Unknown initializer name: {name!r}")
