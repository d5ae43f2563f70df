"""Argument checks shared by the whole package: numbers, flags and
batches of model inputs.

Each raises `ValueError` or `TypeError` with a message that names the
argument, says what is allowed and echoes the value received, so a typo
in a config is found where the object is built, not inside a training
step.
"""

import math
import numbers

import keras
import numpy as np
from keras import tree


def is_real(value):
    """A real number that is not a bool (numpy scalars included)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_float(
    value,
    name,
    *,
    low=0.0,
    high=math.inf,
    low_closed=False,
    high_closed=False,
    allow_none=False,
):
    """Returns `value` as a float if it lies in the interval from `low`
    to `high` (open at both ends unless told), else raises. With
    `allow_none`, None passes through."""
    if value is None and allow_none:
        return None
    ok = is_real(value) and math.isfinite(value)
    if ok:
        above = value >= low if low_closed else value > low
        below = value <= high if high_closed else value < high
        ok = above and below
    if not ok:
        allowed = _describe(low, high, low_closed, high_closed)
        if allow_none:
            allowed += " or None"
        raise ValueError(
            f"Argument `{name}` must be {allowed}. Received: {name}={value!r}"
        )
    return float(value)


def check_int(value, name, low):
    """Returns `value` as an int if it is an integer >= `low`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
    ):
        raise ValueError(
            f"Argument `{name}` must be an int >= {low}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def _describe(low, high, low_closed, high_closed):
    if high == math.inf:
        if low == 0.0 and not low_closed:
            return "a positive finite float"
        return f"a finite float {'>=' if low_closed else '>'} {low:g}"
    left = "[" if low_closed else "("
    right = "]" if high_closed else ")"
    return f"a float in {left}{low:g}, {high:g}{right}"


def check_bool(value, name):
    """Returns `value` as a bool if it is True or False (numpy's too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"Argument `{name}` must be True or False. "
            f"Received: {name}={value!r}"
        )
    return bool(value)


# What a batch may be, said by every refusal of one.
_BATCH = (
    "an array or a nested list/tuple of numbers (a list/dict of those "
    "for a multi-input model)"
)


def model_inputs(model):
    """The symbolic inputs of a Functional or Sequential model, or None.

    Subclassed and unbuilt models have none; their batches default to
    float32.
    """
    try:
        inputs = model.inputs
    except Exception:  # Sequential raises until it knows its input.
        return None
    if not isinstance(inputs, (list, tuple)) or not all(
        hasattr(t, "dtype") and hasattr(t, "name") for t in inputs
    ):
        return None
    return list(inputs)


def _is_scalar(value):
    return value is None or isinstance(
        value, (numbers.Number, str, bytes, np.generic)
    )


def _all_scalars(seq):
    """Whether a list/tuple holds only Python or numpy scalars, nested
    in lists/tuples to any depth: what `np.asarray` turns into one
    array, rather than a structure of arrays for several inputs."""
    stack = [seq]
    while stack:
        value = stack.pop()
        if isinstance(value, (list, tuple)):
            stack.extend(value)
        elif not _is_scalar(value):
            return False
    return True


def _dtype_name(ref):
    if ref is None:
        return None
    return keras.backend.standardize_dtype(ref.dtype)


def _is_float(dtype):
    # ml_dtypes' bfloat16 and float8 types have kind "V".
    return dtype.kind == "f" or "float" in dtype.name


def _from_list(seq, ref, name, origins):
    try:
        array = np.asarray(seq)
    except ValueError as e:
        raise ValueError(
            f"Argument `{name}` must be {_BATCH}, with the same length "
            f"along each axis. Received: {name}={type(seq).__name__} of "
            f"length {len(seq)} that is ragged ({e})"
        ) from None
    want = _dtype_name(ref) or "float32"
    target = None
    if array.dtype.kind in "iu":
        target = want if want.startswith(("int", "uint", "float")) else None
    elif array.dtype.kind == "f" and want.startswith("float"):
        target = want
    # A float list for an integer input stays float, so that the input
    # check refuses it instead of truncating it here.
    if target is not None:
        try:
            array = array.astype(target)
        except TypeError:  # A dtype numpy lacks, such as bfloat16.
            array = array.astype("float32")
    origins[id(array)] = type(seq).__name__
    return array


def _lists_to_arrays(x, refs, name, origins, top):
    """Replaces every list/tuple of scalars in `x` by an array, of the
    dtype of the model input it feeds (`refs`) where that is known."""
    if isinstance(x, dict):
        by_name = {t.name: t for t in refs or ()}
        items = {
            k: _lists_to_arrays(v, [by_name.get(k)], name, origins, False)
            for k, v in x.items()
        }
        if all(items[k] is x[k] for k in x):
            return x
        return items
    if not isinstance(x, (list, tuple)):
        return x
    refs = list(refs or ())
    # A multi-input model's batch is one list per input, which would
    # otherwise read as a single array with a leading axis of inputs.
    split = top and len(refs) > 1 and len(x) == len(refs)
    if not split and _all_scalars(x):
        return _from_list(x, refs[0] if len(refs) == 1 else None, name, origins)
    items = [
        _lists_to_arrays(v, [r] if split else None, name, origins, False)
        for v, r in zip(x, refs if split else [None] * len(x))
    ]
    if all(a is b for a, b in zip(items, x)):
        return x
    if hasattr(x, "_fields"):  # A namedtuple takes its fields apart.
        return type(x)(*items)
    return type(x)(items)


def _leaf_to_numpy(leaf, origins):
    if isinstance(leaf, np.ndarray):
        return leaf
    try:
        array = np.asarray(keras.ops.convert_to_numpy(leaf))
    except Exception:
        array = np.asarray(leaf)
    if not hasattr(leaf, "shape"):
        # A bare scalar or string: say what it was, not what it became.
        origins[id(array)] = type(leaf).__name__
    return array


def _wanted_dtypes(leaves, refs):
    """The dtype each leaf's model input asks for, None where unknown."""
    flat = tree.flatten(leaves)
    if not refs:
        return [None] * len(flat)
    if isinstance(leaves, dict):
        by_name = {t.name: _dtype_name(t) for t in refs}
        keys = tree.flatten({k: k for k in leaves})
        if len(keys) == len(flat):
            return [by_name.get(k) for k in keys]
        return [None] * len(flat)
    if len(flat) == len(refs):
        return [_dtype_name(t) for t in refs]
    return [None] * len(flat)


def check_batch(x, inputs=None, name="x"):
    """Returns the batch `x` with its leaves as numpy arrays, or raises.

    `x` is an array or tensor, a nested list/tuple of numbers (read as
    `np.asarray` would, in the dtype of the model input it feeds, float32
    where that is unknown), or a list/dict of those for a multi-input
    model, whose symbolic `inputs` (see `model_inputs`) give the dtypes.
    Refuses datasets, ragged lists, non-numeric values (strings too,
    unless the input's dtype is string), empty batches and non-finite
    values, with a message naming `name`.
    """
    if x is None:
        raise ValueError(
            f"Argument `{name}` must be a batch of model inputs (an array, "
            "or a list/dict of arrays for a multi-input model). "
            f"Received: {name}=None"
        )
    if hasattr(x, "element_spec") or hasattr(x, "__next__"):
        raise TypeError(
            f"Argument `{name}` must be one batch of inputs, not a dataset "
            "or an iterator; pass e.g. `next(iter(dataset))[0]`. "
            f"Received: {name}={x!r}"
        )
    origins = {}
    x = _lists_to_arrays(x, inputs, name, origins, top=True)
    try:
        leaves = tree.map_structure(lambda a: _leaf_to_numpy(a, origins), x)
    except Exception as e:
        raise TypeError(
            f"Argument `{name}` must be {_BATCH}. Received: {name} of type "
            f"{type(x).__name__}: {e}"
        ) from e
    flat = tree.flatten(leaves)
    for leaf, want in zip(flat, _wanted_dtypes(leaves, inputs)):
        source = origins.get(id(leaf), "array")
        desc = f"{source} of shape {tuple(leaf.shape)} and dtype {leaf.dtype}"
        if want == "string" and leaf.dtype.kind in "US":
            pass
        elif leaf.dtype.kind not in "iu" and not _is_float(leaf.dtype):
            raise ValueError(
                f"Argument `{name}` must hold integers or floats. "
                f"Received: {name}={desc}"
            )
        if leaf.ndim == 0 or leaf.shape[0] == 0 or leaf.size == 0:
            raise ValueError(
                f"Argument `{name}` must be a non-empty batch (a leading "
                "batch axis of size >= 1 and no empty axes). "
                f"Received: {name}={desc}"
            )
        if _is_float(leaf.dtype) and not np.all(np.isfinite(leaf)):
            nan = int(np.count_nonzero(np.isnan(leaf)))
            bad = int(np.size(leaf) - np.count_nonzero(np.isfinite(leaf)))
            raise ValueError(
                f"Argument `{name}` must contain only finite values (no NaN "
                f"or Inf). Received: {name}={desc} with {bad} non-finite "
                f"values ({nan} NaN, {bad - nan} Inf)"
            )
    return leaves


def _describe_leaf(value):
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    return f"array of shape {tuple(shape)} and dtype {dtype}"


def check_batch_fits(x, inputs, name="x"):
    """Raises unless `x`, as `check_batch` returns it, has one leaf of
    the right rank, sizes and kind (int or float) for each of a model's
    symbolic `inputs`."""
    flat = tree.flatten(x)
    if isinstance(x, dict):
        names = [t.name for t in inputs]
        if set(x) >= set(names):
            flat = [x[n] for n in names]
    if len(flat) != len(inputs):
        raise ValueError(
            f"Argument `{name}` must provide {len(inputs)} input array(s), "
            f"one for each model input {[t.name for t in inputs]}. "
            f"Received: {len(flat)} array(s)"
        )
    for leaf, ref in zip(flat, inputs):
        expected = tuple(ref.shape)
        fits = len(leaf.shape) == len(expected) and all(
            e is None or e == d for e, d in zip(expected, leaf.shape)
        )
        if not fits:
            raise ValueError(
                f"Argument `{name}` does not fit model input '{ref.name}', "
                f"which expects shape {expected} (None: any size). "
                f"Received: {name}={_describe_leaf(leaf)}"
            )
        want = keras.backend.standardize_dtype(ref.dtype)
        if want.startswith(("int", "uint")) and leaf.dtype.kind == "f":
            raise ValueError(
                f"Argument `{name}` must hold integers for model input "
                f"'{ref.name}' of dtype {want}. "
                f"Received: {name}={_describe_leaf(leaf)}"
            )
