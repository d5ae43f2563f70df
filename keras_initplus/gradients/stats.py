"""Named gradient statistics: the per-step state and the epoch summary.

`GradientHealth` keeps its statistics on the device as one float32
vector, so that a step reads and writes its state once. This module is
the only place that knows the vector's layout: `unpack` names its
parts (`HealthStats`: `Running`, `StepStats`, `LayerStats`) and `pack`
flattens them again. Both work on backend tensors inside the step and
on numpy arrays on the host.

At an epoch's end `summarize` turns the host copy into one
`EpochSummary`, the means and counts that `fit`'s `logs`, the callback's
`table`, its TensorBoard scalars and `alerts.find_alerts` all read.
"""

import math
from typing import NamedTuple

import keras
import numpy as np
from keras import ops


class Running(NamedTuple):
    """What persists across epochs: the running mean of the global norm
    and the number of finite steps it has seen."""

    ema: object
    count: object


class StepStats(NamedTuple):
    """The epoch's scalar statistics, accumulated step by step."""

    steps: object  # finite steps applied
    norm_sum: object  # sum of pre-clip global norms over finite steps
    norm_max: object
    clipped: object  # steps whose gradient was scaled down
    nonfinite: object  # steps skipped
    spikes: object  # finite steps past `explode_factor` x the running mean
    over_cap: object  # finite steps past `explode_norm`
    jump_max: object  # largest global norm / running mean, after warm-up


class LayerStats(NamedTuple):
    """Per-layer statistics, each a vector with one entry per layer.

    `weight_norm` and `ema` persist across epochs; the others are the
    epoch's and are reset at its start.
    """

    norm_sum: object
    norm_max: object
    ratio_sum: object  # sum of ||g_l|| / ||w_l|| over finite steps
    update_sum: object  # ||clipped g_l|| / ||w_l at the epoch start||
    low_steps: object  # steps below `vanishing_threshold` x the largest
    spike_steps: object
    nonfinite_steps: object
    weight_norm: object  # ||w_l|| at the last finite step
    ema: object  # running mean of the layer's gradient norm
    weight_norm_start: object  # ||w_l|| at the epoch's first finite step


PERSISTENT_LAYER_FIELDS = ("weight_norm", "ema")


class HealthStats(NamedTuple):
    """The whole state vector, named."""

    running: Running
    scalars: StepStats
    layers: LayerStats


_HEAD = len(Running._fields) + len(StepStats._fields)


def size(num_layers):
    """The length of the state vector for `num_layers` layers."""
    return _HEAD + len(LayerStats._fields) * num_layers


def unpack(flat, num_layers):
    """`HealthStats` of views into `flat` (a tensor or a numpy array)."""
    n_run = len(Running._fields)
    running = Running(*(flat[i] for i in range(n_run)))
    scalars = StepStats(
        *(flat[n_run + i] for i in range(len(StepStats._fields)))
    )
    n = num_layers
    layers = LayerStats(
        *(
            flat[_HEAD + i * n : _HEAD + (i + 1) * n]
            for i in range(len(LayerStats._fields))
        )
    )
    return HealthStats(running, scalars, layers)


def pack(stats):
    """The state vector of `stats` (backend tensors), as `unpack` reads
    it."""
    return ops.concatenate(
        [
            ops.stack(list(stats.running)),
            ops.stack(list(stats.scalars)),
            *stats.layers,
        ],
        axis=0,
    )


def upgrade(flat, num_layers):
    """`flat` in this version's layout: a state saved before
    `weight_norm_start` existed gets that field as zeros (the next
    step fills it). Other lengths are returned as they are."""
    flat = np.asarray(flat)
    old = size(num_layers) - num_layers
    if flat.shape == (old,):
        flat = np.concatenate([flat, np.zeros((num_layers,), flat.dtype)])
    return flat


def reset_epoch(flat, num_layers):
    """A numpy copy of `flat` with the per-epoch statistics zeroed."""
    flat = np.array(flat)
    stats = unpack(flat, num_layers)
    flat[len(Running._fields) : _HEAD] = 0.0
    for name, row in zip(LayerStats._fields, stats.layers):
        if name not in PERSISTENT_LAYER_FIELDS:
            row[:] = 0.0  # a view: writes into `flat`
    return flat


# Optimizers whose first steps move each weight by about the learning
# rate, whatever the gradient's scale: Adam's m/sqrt(v) and RMSprop's
# g/sqrt(v) start near +-1, and Lion's sign update is exactly +-1.
_PER_ELEMENT = tuple(
    getattr(keras.optimizers, name)
    for name in (
        "Adam",
        "AdamW",
        "Adamax",
        "Nadam",
        "RMSprop",
        "Adagrad",
        "Lion",
    )
    if hasattr(keras.optimizers, name)
)


def update_ratios(optimizer, mean_update, weight_norm, sizes, start=None):
    """Per-layer estimates of `||update_l|| / ||w_l||` for one step.

    For SGD, `lr * ||clipped g_l|| / ||w_l||` (`mean_update`, the
    epoch's mean, with `w_l` the weights at the epoch's start), divided
    by `sqrt(1 - momentum^2)` (the steady-state gain of heavy-ball
    momentum on uncorrelated gradients). For
    Adam-like optimizers (Adam, AdamW, Adamax, Nadam, RMSprop, Adagrad,
    Lion), whose early steps move each
    weight by about `lr`, `lr / rms(w_l)`, with `w_l` the weights at the
    epoch's start (`start`, else `weight_norm`): a learning rate far
    too high grows the weights within a few steps, and against those
    grown weights its steps would look small. None for other
    optimizers, or when the learning rate cannot be read. Layers whose
    weights are all zero get 0: any step is "larger" than them, which
    says nothing.
    """
    try:
        lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return None
    w = np.asarray(weight_norm)
    if isinstance(optimizer, keras.optimizers.SGD):
        momentum = float(getattr(optimizer, "momentum", 0.0) or 0.0)
        # The velocity's steady-state norm is ||g|| / (1 - m) only for
        # gradients that keep their direction, and ||g|| / sqrt(1 - m^2)
        # for uncorrelated ones. Early gradients are mostly noise, and
        # the larger gain (10 against 2.3 at m = 0.9) warned on runs
        # whose updates stayed small; this estimate is the lower one.
        gain = lr / np.sqrt(max(1.0 - momentum**2, 1e-6))
        est = gain * np.asarray(mean_update)
    elif isinstance(optimizer, _PER_ELEMENT):
        w = w if start is None else np.asarray(start)
        safe_w = np.where(w > 0, w, 1.0)
        rms = safe_w / np.sqrt(np.maximum(np.asarray(sizes, float), 1.0))
        est = lr / rms
    else:
        return None
    return np.where(w > 0, est, 0.0)


class EpochSummary(NamedTuple):
    """One epoch's gradient statistics, computed once at its end.

    Scalars are floats; per-layer fields are numpy vectors in the order
    of `layers`. Means are over the epoch's applied (finite) steps.
    `update` is None when the optimizer's update cannot be estimated
    (see `update_ratios`).
    """

    epoch: int
    steps: float
    grad_norm: float  # mean pre-clip global norm; NaN without a step
    grad_norm_max: float
    grad_clipped: float  # fraction of applied steps that were clipped
    grad_nonfinite: float  # steps skipped
    spikes: float
    over_cap: float
    jump_max: float
    layers: tuple
    layer_norm: np.ndarray  # mean per-layer gradient norm
    layer_norm_max: np.ndarray
    ratio: np.ndarray  # mean gradient-to-weight ratio
    update: object  # estimated update-to-weight ratio, or None
    low_steps: np.ndarray
    spike_steps: np.ndarray
    nonfinite_steps: np.ndarray

    def logs(self):
        """The `grad_*` keys `fit` adds to the epoch's `logs`."""
        return {
            "grad_norm": self.grad_norm,
            "grad_norm_max": self.grad_norm_max,
            "grad_clipped": self.grad_clipped,
            "grad_nonfinite": self.grad_nonfinite,
        }

    def rows(self):
        """One dict per layer: the callback's `table` rows."""
        nan = float("nan")
        return [
            {
                "epoch": self.epoch,
                "layer": name,
                "grad_norm": float(self.layer_norm[j]),
                "grad_norm_max": float(self.layer_norm_max[j]),
                "grad_weight_ratio": float(self.ratio[j]),
                "update_weight_ratio": (
                    nan if self.update is None else float(self.update[j])
                ),
                "vanishing_steps": int(self.low_steps[j]),
                "spike_steps": int(self.spike_steps[j]),
                "nonfinite_steps": int(self.nonfinite_steps[j]),
            }
            for j, name in enumerate(self.layers)
        ]


def summarize(stats, layers, sizes, epoch=0, optimizer=None):
    """The `EpochSummary` of `stats` (a numpy `HealthStats`).

    Args:
        stats: the host copy, from `GradientHealth.stats()`.
        layers: the layer names, in model order.
        sizes: the number of weights in each layer.
        epoch: the epoch's index.
        optimizer: the optimizer that applies the updates (for
            `update`), or None.
    """
    s, rows = stats.scalars, stats.layers
    steps = float(s.steps)
    div = max(steps, 1.0)
    update = None
    if optimizer is not None and steps > 0:
        update = update_ratios(
            optimizer,
            rows.update_sum / steps,
            rows.weight_norm,
            sizes,
            start=rows.weight_norm_start,
        )
    return EpochSummary(
        epoch=epoch,
        steps=steps,
        grad_norm=float(s.norm_sum) / steps if steps else math.nan,
        grad_norm_max=float(s.norm_max),
        grad_clipped=float(s.clipped) / steps if steps else 0.0,
        grad_nonfinite=float(s.nonfinite),
        spikes=float(s.spikes),
        over_cap=float(s.over_cap),
        jump_max=float(s.jump_max),
        layers=tuple(layers),
        layer_norm=np.asarray(rows.norm_sum) / div,
        layer_norm_max=np.asarray(rows.norm_max),
        ratio=np.asarray(rows.ratio_sum) / div,
        update=update,
        low_steps=np.asarray(rows.low_steps),
        spike_steps=np.asarray(rows.spike_steps),
        nonfinite_steps=np.asarray(rows.nonfinite_steps),
    )
