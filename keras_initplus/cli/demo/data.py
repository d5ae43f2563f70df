"""Datasets that ship offline: scikit-learn's digits, or a user's .npz."""

import os
import zipfile

import numpy as np


class DataError(ValueError):
    """A data file that cannot be used, with the reason."""


def _split(x, y, val_fraction, seed):
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(val_fraction * len(x))))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def _standardize(x_train, x_val):
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0
    return (x_train - mean) / std, (x_val - mean) / std


def load_digits(seed=0, val_fraction=0.2, image=False):
    """scikit-learn's bundled 8x8 digits (1797 images, 10 classes).

    Returns `(x_train, y_train, x_val, y_val)`, standardized with the
    training split's statistics. `image=True` keeps the (8, 8, 1) shape.
    """
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise ImportError(
            "The bundled digits data needs scikit-learn, an optional "
            "dependency. Install it with `pip install keras-initplus[data]`"
            ", or pass your own arrays with --data file.npz."
        ) from None
    digits = sk_load_digits()
    x = digits.data.astype("float32")
    y = digits.target.astype("int32")
    x_train, y_train, x_val, y_val = _split(x, y, val_fraction, seed)
    x_train, x_val = _standardize(x_train, x_val)
    if image:
        x_train = x_train.reshape(-1, 8, 8, 1)
        x_val = x_val.reshape(-1, 8, 8, 1)
    return x_train, y_train, x_val, y_val


def _labels(name, y, n):
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise DataError(
            f"`{name}` must be a 1-D array of {n} labels, one per row of the "
            f"matching x. Received: {name} with shape {y.shape}"
        )
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not np.all(y == np.round(y)):
            raise DataError(
                f"`{name}` must hold integer class labels. Received "
                "non-integer or non-finite values"
            )
    elif y.dtype.kind not in "iu":
        raise DataError(
            f"`{name}` must hold integer class labels. Received: dtype "
            f"{y.dtype}"
        )
    if len(y) and y.min() < 0:
        raise DataError(
            f"`{name}` must hold labels >= 0. Received: min {y.min()}"
        )
    return y.astype("int32")


def _features(name, x):
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" or x.ndim < 2 or len(x) < 2:
        raise DataError(
            f"`{name}` must be a numeric array of shape (samples, features) "
            f"with at least 2 samples. Received: {name} with shape "
            f"{x.shape} and dtype {x.dtype}"
        )
    x = x.astype("float32").reshape(len(x), -1)
    bad = int(np.sum(~np.isfinite(x)))
    if bad:
        raise DataError(
            f"`{name}` must be finite. Received: {bad} NaN or Inf values"
        )
    return x


def load_npz(path, seed=0, val_fraction=0.2):
    """Loads `x`, `y` and optionally `x_val`, `y_val` from a .npz file.

    Inputs are flattened to (samples, features) and standardized with the
    training split's statistics. Without `x_val`/`y_val`, a seeded
    `val_fraction` of the rows is held out.

    Raises:
        DataError: for a missing file or key, a wrong shape, NaN or Inf,
            or labels that do not match the inputs.
    """
    if not os.path.isfile(path):
        raise DataError(f"--data file not found. Received: {path!r}")
    try:
        data = np.load(path, allow_pickle=False)
        keys = set(data.files)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"--data must be a .npz file written by numpy.savez. "
            f"Received: {path!r} ({exc})"
        ) from None
    missing = {"x", "y"} - keys
    if missing:
        raise DataError(
            f"--data must contain arrays 'x' and 'y' (and optionally "
            f"'x_val', 'y_val'). Received keys: {sorted(keys)}"
        )
    if ("x_val" in keys) != ("y_val" in keys):
        raise DataError(
            "--data must contain both 'x_val' and 'y_val', or neither. "
            f"Received keys: {sorted(keys)}"
        )
    x = _features("x", data["x"])
    y = _labels("y", data["y"], len(x))
    if "x_val" in keys:
        x_val = _features("x_val", data["x_val"])
        if x_val.shape[1] != x.shape[1]:
            raise DataError(
                "`x_val` must have as many features as `x`. Received: "
                f"{x_val.shape[1]} features, x has {x.shape[1]}"
            )
        y_val = _labels("y_val", data["y_val"], len(x_val))
    else:
        x, y, x_val, y_val = _split(x, y, val_fraction, seed)
    if len(np.unique(y)) < 2:
        raise DataError(
            "`y` must contain at least 2 classes. Received: only "
            f"{np.unique(y).tolist()}"
        )
    unseen = sorted(set(np.unique(y_val)) - set(np.unique(y)))
    if unseen:
        raise DataError(
            f"`y_val` has labels that never occur in `y`: {unseen[:10]}"
        )
    x, x_val = _standardize(x, x_val)
    return x, y, x_val, y_val
