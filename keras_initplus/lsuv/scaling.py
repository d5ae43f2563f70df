"""The inner loop of LSUV: rescale one layer on its cached input."""

import math
import warnings

from keras import ops


def _variance(tensor):
    tensor = ops.cast(tensor, "float32")
    return float(ops.convert_to_numpy(ops.var(tensor)))


def _usable(tensor):
    # An all-zero kernel would make every later measurement zero, and a
    # non-finite one would poison the model: both are refused.
    finite = ops.all(ops.isfinite(tensor))
    nonzero = ops.any(ops.not_equal(tensor, 0))
    return bool(ops.convert_to_numpy(ops.logical_and(finite, nonzero)))


def scale_layer(result, rule, call, args, kwargs, target, tol, max_iter):
    """Rescales `rule.variable` until the pre-activation variance is on
    target, filling in `result` (a `LayerResult`).

    Each iteration measures v = Var(B), the variance of the layer's
    pre-activation output B over all its entries on the cached inputs
    `args, kwargs`, and, unless |v - target| < tol, sets

        W <- W * sqrt(target / v),

    which for target 1 is Algorithm 1's W / sqrt(Var(B)). Only the layer
    itself is evaluated, never the network.

    A variance that is zero or not finite cannot be corrected by a scale
    factor: the layer is then skipped with a warning naming it, and its
    variable is restored to its value on entry, so it is never divided by
    zero and never becomes NaN or Inf.
    """
    variable = rule.variable
    entry_value = ops.convert_to_tensor(variable)

    def measure():
        return _variance(rule.pre_activation(call, args, kwargs))

    def skip(why):
        variable.assign(entry_value)
        result.status = "skipped"
        result.converged = False
        result.iterations = 0
        result.note = why
        warnings.warn(
            f"LSUV skipped layer '{result.name}' ({result.class_name}): "
            f"{why}. Its weights are left unchanged.",
            RuntimeWarning,
            stacklevel=2,
        )

    var = measure()
    result.var_before = var
    while True:
        if not math.isfinite(var) or var <= 0.0:
            what = "zero" if var == 0.0 else f"not usable ({var})"
            skip(
                f"pre-activation variance on the batch is {what}, e.g. "
                "dead units or a constant input"
            )
            return result
        if abs(var - target) < tol:
            result.converged = True
            break
        if result.iterations >= max_iter:
            break
        factor = math.sqrt(target / var)
        scaled = ops.multiply(
            ops.convert_to_tensor(variable),
            ops.cast(factor, variable.dtype),
        )
        if not _usable(scaled):
            skip(
                f"rescaling {result.variable} by {factor:.3g} would make it "
                f"zero or non-finite in {variable.dtype}"
            )
            return result
        variable.assign(scaled)
        result.iterations += 1
        var = measure()
    result.var_after = var
    return result
