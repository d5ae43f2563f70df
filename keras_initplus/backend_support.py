"""Which parts of the package run on which Keras backend.

Everything runs on the TensorFlow, JAX and PyTorch backends. The gradient
half is written with `keras.ops` around one pure step; only TensorFlow's
`tf.distribute` replica sum, sparse `IndexedSlices` and gradient
accumulation take TensorFlow-only branches, and TensorBoard event files
(`log_dir=`) are written with TensorFlow when it is installed.
"""

import importlib.util

import keras

GRADIENT_BACKENDS = ("tensorflow", "jax", "torch")

# Keras fixes its backend when it is imported, so it is read once here
# rather than by each module that branches on it.
BACKEND = keras.backend.backend()
TENSORFLOW = BACKEND == "tensorflow"


def tensorflow_installed():
    return importlib.util.find_spec("tensorflow") is not None


def check_gradient_backend(what):
    """Raises unless the Keras backend can run the gradient half (it
    needs gradients, which the numpy and openvino backends lack)."""
    backend = keras.backend.backend()
    if backend not in GRADIENT_BACKENDS:
        raise ValueError(
            f"`{what}` needs the Keras backend to be one of "
            f"{GRADIENT_BACKENDS}. Received: backend={backend!r}. Set "
            "KERAS_BACKEND before importing keras; the initializers, "
            "LSUV and diagnose work on every backend."
        )
