"""One training run with learning curves, for the demo (the benchmarks
reuse it)."""

import contextlib
import logging
import math
import time

import keras

from keras_initplus.recursion_limit import recursion_room

OPTIMIZERS = ("sgd", "adam")


def make_optimizer(name, learning_rate=None):
    """SGD with momentum 0.9 (default lr 0.01) or Adam (default 1e-3)."""
    if name == "sgd":
        lr = 0.01 if learning_rate is None else learning_rate
        return keras.optimizers.SGD(lr, momentum=0.9)
    if name == "adam":
        return keras.optimizers.Adam(
            1e-3 if learning_rate is None else learning_rate
        )
    raise ValueError(
        f"Argument `optimizer` must be one of {OPTIMIZERS}. "
        f"Received: optimizer={name!r}"
    )


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def collected_warnings(logger_name="keras_initplus"):
    """Collects the WARNING records the package logs inside the block."""
    handler = _Collect()
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


class EpochProgress(keras.callbacks.Callback):
    """Prints one short line per epoch: run label, epoch, val accuracy."""

    def __init__(self, label, epochs, stream):
        super().__init__()
        self.label, self.epochs, self.stream = label, epochs, stream

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        last = epoch + 1 == self.epochs
        tty = getattr(self.stream, "isatty", lambda: False)()
        # A terminal gets one line rewritten in place; a log file gets a
        # line every 10 epochs rather than a wall of carriage returns.
        if not tty and not last and (epoch + 1) % 10:
            return
        start = "\r" if tty else ""
        end = "\n" if last or not tty else ""
        self.stream.write(
            f"{start}  {self.label:<22} epoch "
            f"{epoch + 1:>3}/{self.epochs} "
            f"loss {logs.get('loss', math.nan):8.4f} "
            f"val_acc {logs.get('val_accuracy', math.nan):.3f}"
            f"{end}"
        )
        self.stream.flush()


def epochs_to_target(curve, target):
    """1-based first epoch whose value reaches `target`, else None."""
    for i, value in enumerate(curve):
        if value >= target:
            return i + 1
    return None


def train_run(
    model,
    needs_lsuv,
    data,
    *,
    epochs,
    batch_size=64,
    learning_rate=None,
    target=0.9,
    health=True,
    progress=None,
    seed=0,
    optimizer="sgd",
    clip_norm=None,
):
    """Compiles and trains `model`; returns curves and summary numbers.

    All runs share one recipe: SGD with momentum 0.9 (or Adam) at
    `learning_rate` (default 0.01 for SGD, 1e-3 for Adam), sparse
    categorical cross-entropy, fixed batch size, no schedule, so that the
    initializer is the only difference. With
    `needs_lsuv`, the LSUV data-driven pass runs on the first 256 training
    rows first. With `health`, a `GradientHealthCallback` is attached and
    its warnings are returned (`warnings`, the logged lines; `alerts`,
    every warning with its epoch, kind and layers); with `clip_norm`, it
    also clips the gradient to that global L2 norm.
    """
    x_train, y_train, x_val, y_val = data
    keras.utils.set_random_seed(seed)
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if progress is not None:
        callbacks.append(progress)
    with collected_warnings() as warnings:
        if needs_lsuv:
            from keras_initplus.lsuv import lsuv_init

            lsuv_init(model, x_train[:256], verbose=0)
        cb = None
        if health or clip_norm is not None:
            from keras_initplus.gradients import GradientHealthCallback

            cb = GradientHealthCallback(clip_norm=clip_norm)
            callbacks.append(cb)
        with recursion_room(len(model.layers)):
            history = model.fit(
                x_train,
                y_train,
                validation_data=(x_val, y_val),
                epochs=epochs,
                batch_size=batch_size,
                shuffle=True,
                verbose=0,
                callbacks=callbacks,
            )
    h = history.history
    loss = [float(v) for v in h["loss"]]
    val_acc = [float(v) for v in h.get("val_accuracy", [])]
    diverged = not all(math.isfinite(v) for v in loss) or len(loss) < epochs
    return {
        "loss": loss,
        "val_accuracy": val_acc,
        "epochs_to_target": epochs_to_target(val_acc, target),
        "final_accuracy": val_acc[-1] if val_acc else float("nan"),
        "diverged": bool(diverged),
        "warnings": list(warnings),
        "seconds": time.perf_counter() - start,
        "grad_norm": [float(v) for v in h.get("grad_norm", [])],
        # The callback's warnings, logged or rate-limited, with their
        # 0-based epoch, kind and layers.
        "alerts": [
            {k: w[k] for k in ("epoch", "epochs", "kind", "measure", "layers")}
            for w in (cb.warnings if cb is not None else [])
        ],
    }
