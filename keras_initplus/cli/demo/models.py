"""The demo's model builders (the benchmarks reuse them)."""

import keras
import numpy as np

from keras_initplus.activations import TailoredLeakyReLU
from keras_initplus.cli.demo.catalogue import make_initializer
from keras_initplus.recursion_limit import recursion_room

# The activation name that stands for TAT's leaky ReLU tailored to the
# model's depth.
TAILORED = "tat"


def funnel(depth, wide=256, narrow=32):
    """`depth` widths narrowing geometrically from `wide` to `narrow`, so
    that fan_in != fan_out in every layer."""
    ratios = np.linspace(0.0, 1.0, depth)
    return [int(round(wide * (narrow / wide) ** r)) for r in ratios]


def layer_initializer(name, activation, seed, index, depth):
    """`(kernel_initializer, needs_lsuv_pass)` for layer `index` of a
    `depth`-layer stack built under the catalogue name `name`."""
    # Each layer gets its own seed, so seeded runs stay reproducible while
    # no two layers share a kernel. The first layer reads the input, which
    # is not mirrored, so a looks-linear kernel there takes all of it.
    position = "first" if index == 0 else "hidden"
    return make_initializer(
        name, activation, seed * 1000 + index, depth, position
    )


def resolve_activation(activation, depth):
    """The activation to build with: `"tat"` becomes a
    `TailoredLeakyReLU` for `depth` layers; anything else is kept."""
    if activation == TAILORED:
        return TailoredLeakyReLU(depth=depth)
    return activation


def build_mlp(input_dim, n_classes, widths, activation, init_name, seed):
    """An MLP with hidden `widths`, every hidden kernel from `init_name`.

    Returns `(model, needs_lsuv_pass)`. The output layer uses Keras's
    default initializer in every variant, so only the hidden stack differs.
    Hidden layers are named `h1`, `h2`, ..., the output layer `out`.
    `activation="tat"` uses TAT's leaky ReLU tailored to `len(widths)`.
    """
    activation = resolve_activation(activation, len(widths))
    layers = [keras.Input((input_dim,))]
    needs_lsuv = False
    for i, width in enumerate(widths):
        init, lsuv = layer_initializer(
            init_name, activation, seed, i, len(widths)
        )
        needs_lsuv |= lsuv
        layers.append(
            keras.layers.Dense(
                width,
                activation=activation,
                kernel_initializer=init,
                name=f"h{i + 1}",
            )
        )
    layers.append(
        keras.layers.Dense(
            n_classes,
            activation="softmax",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            name="out",
        )
    )
    with recursion_room(len(layers)):
        return keras.Sequential(layers, name="mlp"), needs_lsuv
