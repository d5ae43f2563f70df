"""What the rest of `fit` sees while the callback is installed: the
user's optimizer, in checkpoints and in other callbacks."""

import os

import keras
import numpy as np
import pytest

from keras_initplus.gradients import GradientHealthCallback
from tests.gradients.common import (
    data,
    load_without_the_package,
    mlp,
    update_norm,
    weights,
)


class SeesOptimizer(keras.callbacks.Callback):
    def __init__(self, expected, fail_at_epoch=None):
        super().__init__()
        self.expected = expected
        self.fail_at_epoch = fail_at_epoch
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(self.model.optimizer is self.expected)

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(self.model.optimizer is self.expected)
        if epoch == self.fail_at_epoch:
            raise RuntimeError("epoch-end callback failed")


def test_other_callbacks_see_the_users_optimizer():
    x, y = data(32)
    opt = keras.optimizers.Adam(0.01)
    model = mlp(opt)
    probe = SeesOptimizer(opt)
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[GradientHealthCallback(clip_norm=1.0), probe],
    )
    assert len(probe.seen) == 10 and all(probe.seen)


def test_a_callback_raising_at_epoch_end_leaves_the_users_optimizer():
    x, y = data(32)
    opt = keras.optimizers.SGD(1.0)
    model = mlp(opt)
    with pytest.raises(RuntimeError, match="epoch-end callback failed"):
        model.fit(
            x,
            y,
            batch_size=32,
            epochs=3,
            verbose=0,
            callbacks=[
                GradientHealthCallback(clip_norm=1e-3),
                SeesOptimizer(opt, fail_at_epoch=0),
            ],
        )
    assert model.optimizer is opt
    # The next plain fit takes the user's unclipped step.
    w0 = weights(model)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert update_norm(w0, weights(model)) > 1e-2


def test_checkpoint_written_during_fit_loads_without_the_package(tmp_path):
    x, y = data(32)
    model = mlp(keras.optimizers.Adam(0.01))
    path = os.path.join(tmp_path, "ckpt_{epoch}.keras")
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[
            GradientHealthCallback(clip_norm=1.0),
            keras.callbacks.ModelCheckpoint(path),
        ],
    )
    first = os.path.join(tmp_path, "ckpt_1.keras")
    xpath = os.path.join(tmp_path, "x.npy")
    np.save(xpath, x)
    name, at_save, printed = load_without_the_package(
        first,
        f"""
        m.fit(np.load({xpath!r}), np.zeros((32, 1)), verbose=0)
        print(int(m.optimizer.iterations.numpy()))
        """,
    )
    assert name == "Adam"
    assert at_save == 4  # one epoch of 4 steps
    assert printed == ["5"]
