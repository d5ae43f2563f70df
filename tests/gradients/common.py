"""Small models and data shared by the gradient-health tests."""

import textwrap

import keras
import numpy as np

from tests.helpers import run_fresh


def data(n=64, d=6, seed=1, scale=3.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32") * scale
    y = rng.normal(size=(n, 1)).astype("float32") * 5.0
    return x, y


def mlp(optimizer, d=6, seed=0, **compile_kwargs):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((d,)),
            keras.layers.Dense(8, activation="tanh", name="hidden"),
            keras.layers.Dense(1, name="out"),
        ],
        name="mlp",
    )
    model.compile(optimizer=optimizer, loss="mse", **compile_kwargs)
    return model


def gradients(model, x, y):
    """The compiled loss's gradients for every trainable variable, as
    numpy arrays, on any backend (what one unclipped step applies)."""
    from keras_initplus.diagnostics.backward import kernel_gradients

    grads = kernel_gradients(model, x, y, model.trainable_variables, None)
    return [keras.ops.convert_to_numpy(g) for g in grads]


def global_norm(arrays):
    return float(
        np.sqrt(sum(np.sum(np.asarray(a, np.float64) ** 2) for a in arrays))
    )


def weights(model):
    return [np.array(w) for w in model.get_weights()]


def slots(optimizer):
    return [np.array(v) for v in optimizer.variables]


def update_norm(before, after):
    return float(
        np.sqrt(
            sum(
                np.sum((a - b).astype("float64") ** 2)
                for a, b in zip(before, after)
            )
        )
    )


class Recorder(keras.callbacks.Callback):
    """Weights and optimizer variables after every batch."""

    def on_train_begin(self, logs=None):
        self.after = []

    def on_train_batch_end(self, batch, logs=None):
        self.after.append((weights(self.model), slots(self.model.optimizer)))


def load_without_the_package(path, then=""):
    """Loads the saved model at `path` in a fresh process that never
    imports keras_initplus, then runs `then` with the model as `m`.

    Returns the optimizer's class name, its `iterations`, and the lines
    that `then` printed.
    """
    load = textwrap.dedent(
        f"""
        import sys, keras, numpy as np
        m = keras.saving.load_model({path!r})
        assert not any(
            k.split(".")[0] == "keras_initplus" for k in sys.modules
        )
        print("LOADED", type(m.optimizer).__name__,
              int(m.optimizer.iterations.numpy()))
        """
    )
    out = run_fresh(load + textwrap.dedent(then))
    lines = out.splitlines()
    at = max(i for i, line in enumerate(lines) if line.startswith("LOADED"))
    _, name, iterations = lines[at].split()
    return name, int(iterations), lines[at + 1 :]
