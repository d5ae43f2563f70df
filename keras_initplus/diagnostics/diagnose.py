"""`diagnose(model, x, y=None)`: what the initialization does to signals."""

import keras
import numpy as np

from keras_initplus.diagnostics.backward import kernel_gradients
from keras_initplus.diagnostics.capture import recording
from keras_initplus.diagnostics.paths import unique_paths
from keras_initplus.diagnostics.report import DiagnosisReport
from keras_initplus.diagnostics.stats import forward_stats
from keras_initplus.introspection import layer_path, layer_paths
from keras_initplus.validation import check_batch, model_inputs

PROXY_SEED = 1234


def _proxy_loss(y_pred):
    # A fixed Gaussian probe of the outputs: dL/dy_pred = r / batch has
    # unit variance per output whatever the output scale, which is the
    # backward signal that He's and Glorot's analyses assume.
    total = 0.0
    for i, out in enumerate(keras.tree.flatten(y_pred)):
        r = keras.random.normal(
            keras.ops.shape(out), seed=PROXY_SEED + i, dtype=out.dtype
        )
        total += keras.ops.sum(out * r) / keras.ops.cast(
            keras.ops.shape(out)[0], out.dtype
        )
    return total


def _norm(tensor):
    array = keras.ops.convert_to_numpy(tensor)
    return float(np.linalg.norm(array.astype(np.float64)))


def diagnose(model, x, y=None, *, backward=True):
    """Measures, for one batch, how signals travel through `model`.

    Forward, for each layer with a kernel or an activation, in call order:
    mean and std of the pre-activation and the activation, the fraction of
    saturated units (|tanh| or sigmoid within 1% of a bound) and of dead
    units (ReLU output zero over the whole batch). Backward, for each
    kernel: its gradient norm and the ratio of that to the kernel norm.

    The gradients come from the compiled loss when `y` is given. Without
    `y` a proxy loss is used: `L = sum(f(x) * r) / batch` with a fixed
    standard-normal `r`, which sends a unit-variance signal backward from
    every output, so that what reaches each layer reflects only the
    network's Jacobians, which is what initialization controls.

    Works with Sequential, Functional and subclassed models, nested models
    included, by recording each leaf layer's call during one forward pass.
    The weights are not changed.

    Args:
        model: A Keras model; it is built by calling it on `x` if needed.
        x: A batch of inputs (a few hundred samples is plenty): an
            array or a nested list/tuple of numbers (read as `np.asarray`
            would, in the dtype of the model's input, float32 where that
            is unknown), or a list/dict of those for a multi-input model.
            Must be finite and non-empty.
        y: Optional targets; needs a compiled model.
        backward: Whether to measure gradients (TensorFlow, JAX and
            PyTorch backends).

    Returns:
        A `DiagnosisReport`: print it, `to_dict()` it, `plot(path)` it,
        and read `flags` for plain-language findings.

    Example:

    >>> report = keras_initplus.diagnose(model, x_train[:256])
    >>> print(report)
    >>> report.plot("init.png")
    """
    x = check_batch(x, model_inputs(model))
    if y is not None and getattr(model, "loss", None) is None:
        raise ValueError(
            "Argument `y` needs a compiled loss, but the model has none. "
            "Call model.compile(loss=...) first, or pass y=None to use the "
            "proxy loss. Received: y with shape "
            f"{np.shape(keras.tree.flatten(y)[0])}"
        )
    records = []
    with recording(model, records):
        model(x, training=False)
    loss_name = "none" if not backward else "proxy" if y is None else "compiled"
    kernels = {}
    for layer, *_ in records:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and id(layer) not in kernels:
            kernels[id(layer)] = kernel
    grads = {}
    if backward and kernels:
        # A second, unrecorded pass: the gradient is taken on each
        # backend's own terms (a tape, jax.grad, autograd).
        values = kernel_gradients(
            model, x, y, list(kernels.values()), _proxy_loss
        )
        grads = dict(zip(kernels, values))
    rng = np.random.default_rng(0)
    paths = layer_paths(model)
    rows, samples = [], []
    outputs = []  # (id(post), layer) of every call, to see what feeds what
    for layer, pre, post, activation in records:
        has_kernel = id(layer) in kernels
        source = _source(pre, outputs) if pre is not None else None
        outputs.append((post, layer))
        if pre is None and not has_kernel:
            continue
        stats = forward_stats(
            post if pre is None else pre, post, activation, rng
        )
        samples.append(stats.pop("sample"))
        grad = grads.get(id(layer))
        if grad is not None:
            gnorm = _norm(grad)
            wnorm = _norm(kernels[id(layer)])
            stats["grad_norm"] = gnorm
            stats["grad_ratio"] = gnorm / wnorm if wnorm > 0 else None
        else:
            stats["grad_norm"] = stats["grad_ratio"] = None
        kernel = kernels.get(id(layer))
        rows.append(
            {
                "path": paths.get(id(layer)) or layer_path(layer),
                "layer": layer.name,
                "class_name": type(layer).__name__,
                "initializer": _initializer_name(layer) if has_kernel else None,
                "kernel_shape": None if kernel is None else tuple(kernel.shape),
                "after_batchnorm": isinstance(
                    source, keras.layers.BatchNormalization
                ),
                **stats,
            }
        )
    for row, path in zip(rows, unique_paths([r["path"] for r in rows])):
        row["path"] = path
    residual = any(
        isinstance(layer, (keras.layers.Add, keras.layers.Average))
        for layer, *_ in records
    )
    return DiagnosisReport(rows, loss_name, samples, residual=residual)


def _source(tensor, outputs):
    """The layer whose recorded output is `tensor`, or None."""
    for post, layer in reversed(outputs):
        if post is tensor:
            return layer
    return None


def _initializer_name(layer):
    for attr in ("kernel_initializer", "depthwise_initializer"):
        init = getattr(layer, attr, None)
        if init is not None:
            return type(init).__name__
    return None
