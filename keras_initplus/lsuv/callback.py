"""`LSUVCallback`: LSUV at the start of the first `fit`."""

import keras

from keras_initplus.lsuv import checks
from keras_initplus.lsuv.run import lsuv_init
from keras_initplus.validation import (
    check_batch,
    check_bool,
    check_float,
    check_int,
)


class LSUVCallback(keras.callbacks.Callback):
    """Runs `lsuv_init` once, when the first `model.fit` begins.

    Pass it in `callbacks=` and nothing else is needed: at
    `on_train_begin` of the first `fit` (the model is built by then) it
    rescales the model's LSUV layers on the batch `x`, so that every
    targeted layer's pre-activation variance is `target` within `tol`.
    Later calls to `fit` with the same callback do nothing. The report is
    kept in `callback.report`.

    Args:
        x: One batch of model inputs, as for `lsuv_init`.
        target: Positive float, the target variance.
        tol: Positive float, the tolerance.
        max_iter: Positive int, the most rescalings per layer.
        layers: None, `"all"` or a list of layer names, as for
            `lsuv_init`.
        include_frozen: Whether to scale frozen layers too, as for
            `lsuv_init`.
        verbose: `"auto"`, 0, 1 or 2, as for `lsuv_init`.

    Example:

    >>> model.fit(x_train, y_train, epochs=5,
    ...           callbacks=[keras_initplus.LSUVCallback(x_train[:256])])

    Reference:
        - [Mishkin & Matas, 2016](https://arxiv.org/abs/1511.06422)
    """

    def __init__(
        self,
        x,
        *,
        target=1.0,
        tol=0.1,
        max_iter=10,
        layers=None,
        include_frozen=False,
        verbose="auto",
    ):
        super().__init__()
        # Checked now, so that a typo fails at construction rather than
        # after `fit` has started.
        self.x = check_batch(x)
        # A nested list is converted again once the model is known, in
        # the dtype of its input; here, without it, it becomes float32.
        self._x_given = x
        self.target = check_float(target, "target")
        self.tol = check_float(tol, "tol")
        self.max_iter = check_int(max_iter, "max_iter", 1)
        self.layers = checks.check_layers(layers)
        self.include_frozen = check_bool(include_frozen, "include_frozen")
        checks.check_verbose(verbose)
        self.verbose = verbose
        self.report = None

    def on_train_begin(self, logs=None):
        if self.report is not None:
            return
        self.report = lsuv_init(
            self.model,
            self._x_given,
            target=self.target,
            tol=self.tol,
            max_iter=self.max_iter,
            layers=self.layers,
            include_frozen=self.include_frozen,
            verbose=self.verbose,
        )
