"""The base class: seed handling that never hands two layers one kernel."""

import random

import keras

from keras_initplus.initializers.validation import check_seed


class SeededInitializer(keras.initializers.Initializer):
    """Base class whose unseeded instances draw fresh values on every call.

    Keras 3 fixes the seed of an unseeded initializer when it is built, so
    one instance shared by two layers gives both the same kernel. Here
    `seed=None` draws a new seed from Python's `random` module on each call:
    fresh values every time, yet still reproducible after
    `keras.utils.set_random_seed`. An int seed gives identical values on
    every call and in every process; a `keras.random.SeedGenerator` advances
    its state on each call.
    """

    def __init__(self, seed=None):
        self.seed = check_seed(seed)

    def _call_seed(self):
        if self.seed is None:
            return random.randint(1, 2**31 - 1)
        return self.seed

    def get_config(self):
        return {"seed": keras.saving.serialize_keras_object(self.seed)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("seed"), dict):
            config["seed"] = keras.saving.deserialize_keras_object(
                config["seed"]
            )
        return cls(**config)
