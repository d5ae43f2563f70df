"""Which parts of the package run on which Keras backend.

The initializers, LSUV and `diagnose` are written with `keras.ops` and
run on every backend. The gradient half (`GradientHealth`, its callback,
optimizer and clipping rules) is built on TensorFlow's distribution and
tracing machinery, so it needs the TensorFlow backend.
"""

import importlib.util

import keras

GRADIENT_BACKENDS = ("tensorflow", "jax", "torch")


def tensorflow_installed():
    return importlib.util.find_spec("tensorflow") is not None


def import_error_for(what):
    """The ImportError for a gradient-half name without TensorFlow."""
    return ImportError(
        f"`{what}` needs TensorFlow, which is not installed (Keras backend: "
        f"{keras.backend.backend()!r}). The gradient half of keras_initplus "
        f"runs on the backends {GRADIENT_BACKENDS}; install it with "
        "`pip install tensorflow-cpu` (or `tensorflow`) and set "
        "KERAS_BACKEND=tensorflow. The initializers, LSUV and diagnose "
        "work on every backend without it."
    )


def check_gradient_backend(what):
    """Raises unless the Keras backend can run the gradient half."""
    backend = keras.backend.backend()
    if backend not in GRADIENT_BACKENDS:
        raise ValueError(
            f"`{what}` needs the Keras backend to be one of "
            f"{GRADIENT_BACKENDS}. Received: backend={backend!r}. Set "
            "KERAS_BACKEND=tensorflow before importing keras; the "
            "initializers, LSUV and diagnose work on every backend."
        )
