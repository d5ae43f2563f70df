"""The base class: seeds that never hand two layers one kernel, and the
axes Keras passes for kernels of any rank."""

import random

import keras

from keras_initplus.initializers.axes import check_axes
from keras_initplus.initializers.validation import check_seed

PACKAGE = "keras_initplus"


def register(cls):
    """Registers an initializer with Keras under `keras_initplus>Name`.

    The saved `class_name` becomes that registered name too. Keras looks
    an initializer's `class_name` up among its own classes before anything
    else, so a file saved with our `Orthogonal` or `VarianceScaling` and
    loaded without `import keras_initplus` would silently get Keras's
    class of the same name. With the package's name in it, the lookup
    fails instead, and Keras's message shows `keras_initplus`.
    """
    cls = keras.saving.register_keras_serializable(package=PACKAGE)(cls)
    cls.__name__ = f"{PACKAGE}>{cls.__qualname__}"
    return cls


# Keras 3's `EinsumDense.build` hands its `input_axes` and `output_axes`
# only to `keras.initializers.VarianceScaling` instances; every kernel
# initializer of the package is one, so that attention and other
# EinsumDense kernels get them. None of Keras's VarianceScaling code is
# used: subclasses define `__call__` and `get_config`.
class SeededInitializer(keras.initializers.VarianceScaling):
    """Base class whose unseeded instances draw fresh values on every call.

    Keras 3 fixes the seed of an unseeded initializer when it is built, so
    one instance shared by two layers gives both the same kernel. Here
    `seed=None` draws a new seed from Python's `random` module on each call:
    fresh values every time, yet still reproducible after
    `keras.utils.set_random_seed`. An int seed gives identical values on
    every call and in every process; a `keras.random.SeedGenerator` advances
    its state on each call.

    `input_axes` and `output_axes`, both or neither, say which kernel axes
    are read from the layer's input and which are written to its output;
    layers that know them (`EinsumDense`, hence `MultiHeadAttention`)
    pass them. Without them a kernel of rank 2 is `(in, out)` and one of
    rank 3 or more a convolution `(*spatial, in, out)`, as in Keras.
    """

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        self.seed = check_seed(seed)
        self.input_axes, self.output_axes = check_axes(input_axes, output_axes)

    @property
    def has_axes(self):
        return self.input_axes is not None

    def _call_seed(self):
        if self.seed is None:
            return random.randint(1, 2**31 - 1)
        return self.seed

    def _axes_config(self):
        # Left out when unset, so that configs saved before axes existed
        # and the usual layer configs stay as they were.
        if not self.has_axes:
            return {}
        return {
            "input_axes": list(self.input_axes),
            "output_axes": list(self.output_axes),
        }

    def get_config(self):
        return {
            "seed": keras.saving.serialize_keras_object(self.seed),
            **self._axes_config(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("seed"), dict):
            config["seed"] = keras.saving.deserialize_keras_object(
                config["seed"]
            )
        return cls(**config)
