"""`lsuv_init`: the data-driven pass of LSUV."""

import contextlib
import logging

import keras
from keras import ops, tree

from keras_initplus.backend_support import BACKEND, TENSORFLOW
from keras_initplus.introspection import graph_of, layer_path
from keras_initplus.lsuv import checks, targets
from keras_initplus.lsuv.capture import CallInterceptor
from keras_initplus.lsuv.graph import run_graph
from keras_initplus.lsuv.report import LayerResult, LSUVReport
from keras_initplus.validation import (
    check_batch,
    check_batch_fits,
    check_bool,
    check_float,
    check_int,
    model_inputs,
)


def _first_shape(x):
    return tuple(tree.flatten(x)[0].shape)


def _build(model, x):
    """Builds an unbuilt model from `x`, or raises naming `x`."""
    if model.built:
        return
    sequential = (
        isinstance(model, keras.Sequential)
        and type(model).call is keras.Sequential.call
        and len(tree.flatten(x)) == 1
    )
    shape = (None,) + _first_shape(x)[1:]
    try:
        if sequential:
            # Trial-build a clone first, so that a failure leaves the
            # user's layers unbuilt rather than half built.
            keras.models.clone_model(model).build(shape)
            model.build(shape)
        else:
            model(x, training=False)
    except Exception as e:
        raise ValueError(
            f"Argument `x` could not build model '{model.name}', which is "
            "not built yet; `x` must be a batch the model accepts. "
            f"Received: x of shape {_first_shape(x)}. Cause: "
            f"{type(e).__name__}: {e}"
        ) from e


def _no_autograd():
    # LSUV only measures. PyTorch would otherwise keep every activation
    # alive for a backward pass that never comes, undoing the graph
    # walk's early freeing.
    if BACKEND == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def _print_msg(message):
    # Where Keras sends its own progress lines: stdout while interactive
    # logging is on, otherwise the absl logger Keras logs through.
    if keras.config.is_interactive_logging_enabled():
        print(message, flush=True)
    else:
        logging.getLogger("absl").info(message)


class _Progress:
    def __init__(self, verbose, total):
        self.verbose = verbose
        self.count = 0
        self.bar = None
        if verbose == 1 and total:
            self.bar = keras.utils.Progbar(total, unit_name="layer")

    def __call__(self, result):
        self.count += 1
        if self.bar is not None:
            self.bar.update(self.count)
        elif self.verbose == 2:
            _print_msg(
                f"LSUV {result.name}: var {result.var_before:.4g} -> "
                f"{result.var_after:.4g} in {result.iterations} iteration(s)"
            )


def lsuv_init(
    model,
    x,
    *,
    target=1.0,
    tol=0.1,
    max_iter=10,
    layers=None,
    include_frozen=False,
    verbose="auto",
):
    """Layer-sequential unit-variance initialization (LSUV), step 2.

    From the input onwards, for each targeted layer L in the order the
    forward pass calls it, measures Var(B_L), the variance of L's output
    over all its entries on the batch `x`, before L's activation, and
    rescales L's kernel

        W_L <- W_L * sqrt(target / Var(B_L))

    until |Var(B_L) - target| < tol or `max_iter` rescalings. With
    `target=1` this is Algorithm 1 of Mishkin & Matas (2016); step 1, the
    orthonormal pre-initialization, is the `LSUV` initializer.

    Each layer is iterated on alone, on the input it received in a single
    forward pass of `x` (see `keras_initplus.lsuv.capture`), so the cost
    is one forward pass plus a few evaluations of each layer: linear in
    depth. Functional and Sequential graphs are walked so that each
    activation is freed as soon as its consumers have run.

    Which variable is scaled: `kernel` for Dense, EinsumDense and the
    convolutions, the depthwise `kernel` for DepthwiseConv, `pointwise_kernel`
    for SeparableConv, `embeddings` for Embedding, and the input kernel
    `cell.kernel` for LSTM, GRU and SimpleRNN (measured as `x_t @ W` over
    all steps, gates and units; the recurrent kernel stays orthogonal).
    Fused activations (`Dense(..., activation="relu")`) are switched off
    while measuring. Other layers are skipped with one warning. A layer
    whose output goes straight into a BatchNormalization is still
    rescaled, so that the normalization's initial moving statistics
    (mean 0, variance 1) match its input, and the report notes it: in
    training the BatchNormalization renormalizes that scale, so LSUV
    matters little there. A layer whose pre-activation variance is zero
    or not finite is skipped with a warning naming it, its weights
    untouched. Frozen layers (`trainable=False`, on the layer or on any
    layer or model that contains it) are left alone and listed in the
    report as skipped, unless `include_frozen=True`.

    The model runs with `training=False`, so Dropout and
    BatchNormalization are in inference mode and no moving statistic is
    updated. Only the scaled variables change. Arguments and `x` are
    checked before any weight is touched, and if anything fails midway
    every scaled variable is restored before the error propagates.

    Args:
        model: A `keras.Model`: Sequential, Functional (branches,
            residual additions, nested models) or subclassed. If it is
            not built yet, it is built from `x`.
        x: One batch of inputs: an array or a nested list/tuple of
            numbers (read as `np.asarray` would, in the dtype of the
            model's input, float32 where that is unknown), or a
            list/dict of those for a multi-input model. Must be finite
            and non-empty.
        target: Positive float, the target variance.
        tol: Positive float, the tolerance on the variance.
        max_iter: Positive int, the most rescalings per layer.
        layers: None (default) for the layers whose kernel initializer
            (or depthwise/pointwise/embeddings initializer) is
            `keras_initplus.LSUV`; `"all"` for every layer with a kernel;
            or a list of layer names or layer instances, nested layers
            included. If None selects nothing, a `UserWarning` and the
            report say so and point to `"all"`.
        include_frozen: Whether to scale frozen layers too; by default
            they keep their weights, as fine-tuning expects.
        verbose: `"auto"` or 1 for a Keras progress bar over the layers,
            2 for one line per layer, 0 for silence. Like Keras's, the
            output goes to `logging` when interactive logging is off
            (`keras.config.disable_interactive_logging()`).

    Returns:
        An `LSUVReport`: for each targeted layer its name, the variance
        before and after, the iterations used and whether it converged.
        `print(report)` shows a table.

    Example:

    >>> model = keras.Sequential([keras.Input((784,))] + [
    ...     keras.layers.Dense(256, activation="relu",
    ...                        kernel_initializer=keras_initplus.LSUV())
    ...     for _ in range(8)] + [keras.layers.Dense(10)])
    >>> report = keras_initplus.lsuv_init(model, x_train[:256])
    >>> print(report)

    Reference:
        - [Mishkin & Matas, 2016](https://arxiv.org/abs/1511.06422)
        - [Saxe et al., 2014](https://arxiv.org/abs/1312.6120)
    """
    model = checks.check_model(model)
    target = check_float(target, "target")
    tol = check_float(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", 1)
    verbose = checks.check_verbose(verbose)
    layers = checks.check_layers(layers)
    include_frozen = check_bool(include_frozen, "include_frozen")
    x = check_batch(x, model_inputs(model))

    _build(model, x)
    graph = graph_of(model)
    if graph is not None:
        check_batch_fits(x, graph.inputs)
    chosen, skipped, notes = targets.select(model, layers, include_frozen)

    variables = [rule.variable for _, rule in chosen]
    snapshot = [ops.convert_to_numpy(v).copy() for v in variables]
    progress = _Progress(verbose, len(chosen))
    settings = {"target": target, "tol": tol, "max_iter": max_iter}
    try:
        with (
            _no_autograd(),
            CallInterceptor(
                chosen, targets.batch_norms(model), settings, progress
            ) as interceptor,
        ):
            if graph is not None:
                run_graph(graph, x)
            else:
                model(x, training=False)
    except BaseException as e:
        for variable, value in zip(variables, snapshot):
            variable.assign(value)
        if isinstance(e, (ValueError, TypeError)) or _is_tf_error(e):
            raise ValueError(
                f"lsuv_init could not run model '{model.name}' on `x`; "
                "all weights were restored. `x` must be a batch the model "
                f"accepts. Received: x of shape {_first_shape(x)}. Cause: "
                f"{type(e).__name__}: {e}"
            ) from e
        raise

    done = interceptor.done
    missed = [
        LayerResult(
            name=layer.name,
            path=layer_path(layer),
            class_name=type(layer).__name__,
            variable=rule.variable_name,
            status="skipped",
            note="not called by the forward pass on x",
        )
        for layer, rule in chosen
        if id(layer) not in done
    ]
    return LSUVReport(
        interceptor.results + skipped + missed, target, tol, notes
    )


def _is_tf_error(e):
    if not TENSORFLOW:
        return False
    import tensorflow as tf

    return isinstance(e, tf.errors.OpError)
