"""Epoch-level gradient alerts: pure rules over one epoch's statistics.

`GradientHealth` accumulates per-layer sums on the device; at an epoch's
end `find_alerts` turns their means into at most one `Alert` per kind. Every
signal here exists from the first step and needs no history, so a fit
of four steps is judged as well as one of four thousand:

- vanishing: a weight matrix's gradient-to-weight ratio
  `||g_l|| / ||w_l||` is far below the largest matrix's in most steps
  (depth-relative, so it holds whatever the loss scale or learning
  rate), or a layer of another kind (normalization, embedding, gate;
  see `roles`) gets no gradient at all in most steps;
- exploding: the ratio itself is huge, or the update it implies (from
  the optimizer's learning rate, after clipping) is larger than the
  weights, or the global norm jumps far above its running mean;
- non-finite: some step had a NaN or Inf gradient (and was skipped).

Both read the one `stats.EpochSummary` the callback makes per epoch.
One rule needs the run's history, and is judged by `find_collapse`
from one `EpochRecord` per epoch:

- collapse: a run that was learning turns unstable. Its training loss
  had fallen to at most half its first epoch's, and now is far above
  that best (3 x, a quarter of the progress lost; or 2 x and a tenth
  lost while the global gradient norm or the largest update ratio is
  3 x its value at the best epoch); or, with validation data, the
  validation accuracy is more than 0.2 below its best. A loss that
  wobbles around a falling trend meets none of these.
"""

import dataclasses
import math

import numpy as np

from keras_initplus.gradients import roles as roles_lib

KINDS = ("vanishing", "exploding", "nonfinite", "collapse")
SHOWN_LAYERS = 3

_TITLE = {
    "vanishing": "Vanishing gradients",
    "exploding": "Exploding gradients",
    "nonfinite": "Non-finite gradients",
    "collapse": "Training collapsed; gradient-to-weight ratios rose most",
}
_INIT_ADVICE = (
    "HeAvgFanNormal, Orthogonal(gain=...), LSUV or "
    "initializer_for(activation, depth=...)"
)
_DEAD_ADVICE = (
    "looking upstream of them for a dead unit (a bias or normalization "
    "shift far below zero before a ReLU or GELU, a gate saturated at "
    "zero) or a branch cut off from the loss"
)


@dataclasses.dataclass(frozen=True)
class Alert:
    """One warning: what, where, how much, and what to try.

    `value` is the measured quantity named by `measure` and `threshold`
    the limit it crossed; `layers` are in model order.
    """

    kind: str
    measure: str
    layers: tuple
    value: float
    threshold: float
    detail: str
    advice: str

    @property
    def key(self):
        """What the rate limit compares: the same kind, measure and first
        layer is the same warning, even if the list grew by one."""
        return (self.kind, self.measure, self.layers[:1])

    def message(self):
        """The one-line warning, naming at most `SHOWN_LAYERS` layers."""
        n = len(self.layers)
        shown = ", ".join(self.layers[:SHOWN_LAYERS]) or "(none identified)"
        if n > SHOWN_LAYERS:
            shown += f" and {n - SHOWN_LAYERS} more"
        where = _count(n, "layer") if n else "layers"
        return (
            f"{_TITLE[self.kind]} in {where}: {shown}. {self.detail}. "
            f"Try {self.advice}."
        )

    def as_dict(self):
        return {
            "kind": self.kind,
            "measure": self.measure,
            "layers": list(self.layers),
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message(),
        }


def _count(n, noun):
    return f"{n} {noun}{'s' if n != 1 else ''}"


def find_alerts(summary, health):
    """The epoch's alerts, at most one per kind, in `KINDS` order.

    Args:
        summary: the epoch's `stats.EpochSummary`.
        health: the `GradientHealth` whose thresholds apply.
    """
    names = np.asarray(summary.layers, dtype=object)
    steps = summary.steps
    clip_tip = (
        "a lower learning rate or a smaller clip_norm"
        if health.clip_rule.clips
        else "clip_norm=1.0 in GradientHealthCallback or a lower learning rate"
    )
    alerts = []
    if steps > 0:
        low = summary.low_steps >= max(1.0, health.vanishing_fraction * steps)
        exploding = _exploding(summary, names, health, clip_tip)
        # Next to a layer whose ratio explodes every other layer looks
        # small: that is the explosion, not a second problem.
        if exploding is not None and exploding.measure == "grad_weight_ratio":
            low[:] = False
        vanishing = _vanishing(summary, names, health, low)
        if vanishing is not None:
            alerts.append(vanishing)
        if exploding is not None:
            alerts.append(exploding)
    if summary.grad_nonfinite > 0:
        bad = summary.nonfinite_steps > 0
        n = int(summary.grad_nonfinite)
        alerts.append(
            Alert(
                "nonfinite",
                "nonfinite_steps",
                tuple(names[bad]),
                float(n),
                0.0,
                f"{_count(n, 'step')} had NaN or Inf gradients "
                "and were skipped on every replica",
                f"checking the inputs and the loss, {clip_tip}",
            )
        )
    return alerts


def _vanishing(summary, names, health, low):
    """One "vanishing" alert for the `low` layers: weight matrices far
    below the reference, and other layers with no gradient at all."""
    if not low.any():
        return None
    roles = np.asarray(health.layer_roles, dtype=object)
    if roles.shape != low.shape:
        roles = np.full(low.shape, roles_lib.MATRIX, dtype=object)
    ratio = summary.ratio
    reference = roles == roles_lib.MATRIX
    best = ratio[reference].max() if reference.any() else 0.0
    slow = low & (roles != roles_lib.ZERO_ONLY) & (ratio > 0)
    if not best > 0:
        slow[:] = False
    dead = low & ~slow
    parts, advice = [], []
    value, threshold, measure = 0.0, 0.0, "zero_gradient"
    if slow.any():
        rel = ratio[slow] / best
        value, threshold = float(rel.min()), health.matrix_threshold
        measure = "relative_ratio"
        n = int(slow.sum())
        which = "1 weight matrix" if n == 1 else f"{n} weight matrices"
        parts.append(
            f"the gradient-to-weight ratio of {which} was below "
            f"{health.matrix_threshold:g} x the largest matrix's "
            f"(lowest mean: {rel.min():.2g} x)"
        )
        advice.append(_INIT_ADVICE)
    if dead.any():
        parts.append(
            f"{_count(int(dead.sum()), 'layer')} got no gradient at all"
        )
        advice.append(_DEAD_ADVICE)
    detail = (
        f"In at least {health.vanishing_fraction:.0%} of "
        f"{int(summary.steps)} steps, " + "; and ".join(parts)
    )
    return Alert(
        "vanishing",
        measure,
        tuple(names[slow | dead]),
        value,
        threshold,
        detail,
        ", or ".join(advice),
    )


def _exploding(summary, names, health, clip_tip):
    steps = int(summary.steps)
    ratio, update = summary.ratio, summary.update
    big = ratio > health.explode_ratio
    if big.any():
        return Alert(
            "exploding",
            "grad_weight_ratio",
            tuple(names[big]),
            float(ratio.max()),
            health.explode_ratio,
            f"Their mean gradient-to-weight ratio reached {ratio.max():.3g}, "
            f"above {health.explode_ratio:g}, over {steps} steps",
            f"a smaller initial scale ({_INIT_ADVICE}), {clip_tip}",
        )
    if update is not None:
        big = update > health.explode_update
        if big.any():
            return Alert(
                "exploding",
                "update_weight_ratio",
                tuple(names[big]),
                float(update.max()),
                health.explode_update,
                f"Each step's update was an estimated {update.max():.3g} x "
                f"the weights, above {health.explode_update:g}",
                clip_tip,
            )
    if summary.spikes > summary.over_cap:
        named = summary.spike_steps > 0
        if not named.any():
            named = np.argsort(-summary.layer_norm_max)[:SHOWN_LAYERS]
        n = int(summary.spikes - summary.over_cap)
        return Alert(
            "exploding",
            "jump",
            tuple(names[named]),
            float(summary.jump_max),
            health.explode_factor,
            f"In {_count(n, 'step')} the global gradient norm "
            f"jumped to {summary.jump_max:.3g} x its running mean, above "
            f"{health.explode_factor:g} x",
            "clip_norm=1.0 (or 'zclip') or a lower learning rate",
        )
    if summary.over_cap > 0:
        n = int(summary.over_cap)
        top = np.argsort(-summary.layer_norm_max)[:SHOWN_LAYERS]
        return Alert(
            "exploding",
            "global_norm",
            tuple(names[np.sort(top)]),
            float(summary.grad_norm_max),
            health.explode_norm,
            f"In {_count(n, 'step')} the global gradient norm "
            f"exceeded explode_norm={health.explode_norm:g} (max "
            f"{summary.grad_norm_max:.4g})",
            clip_tip,
        )
    return None


# The collapse rule's thresholds (see the module docstring).
LEARNED = 0.5  # the best loss is at most this x the first epoch's
COLLAPSE_RISE = 3.0  # the loss is this x its best ...
COLLAPSE_LOST = 0.25  # ... and has lost this fraction of the progress
SOFT_RISE = 2.0  # or this x its best and this fraction lost ...
SOFT_LOST = 0.1
GRAD_RISE = 3.0  # ... while the gradient norm or update ratio rose this x
VAL_DROP = 0.2  # or the validation accuracy is this far below its best
LAYER_RISE = 3.0  # layers whose ratio rose this x since the best are named


@dataclasses.dataclass(frozen=True)
class EpochRecord:
    """What `find_collapse` reads about one finished epoch.

    `loss` is the epoch's mean training loss; `val_accuracy` the
    validation accuracy or None; `grad_norm` the mean global gradient
    norm; `ratio` the per-layer mean gradient-to-weight ratios and
    `update` the per-layer update ratios (or None), in model order.
    """

    epoch: int
    loss: float
    val_accuracy: object
    grad_norm: float
    ratio: np.ndarray
    update: object = None


def _finite(v):
    return v is not None and math.isfinite(v)


def find_collapse(history, names, clipped=False):
    """An `Alert` of kind "collapse" if the last epoch of `history` (a
    list of `EpochRecord`, oldest first) shows a run that was learning
    turned unstable, else None.

    Fires when the training loss, after falling to at most `LEARNED` x
    its first epoch's, is `COLLAPSE_RISE` x its best so far and has lost
    `COLLAPSE_LOST` of the progress made (or `SOFT_RISE` x and
    `SOFT_LOST` while the global gradient norm or the largest update
    ratio is `GRAD_RISE` x its value at the best epoch); or when the
    validation accuracy is more than `VAL_DROP` below its best. Names
    the layers whose gradient-to-weight ratio rose `LAYER_RISE` x since
    the best epoch (else the three that rose most).
    """
    if len(history) < 2:
        return None
    names = np.asarray(names, dtype=object)
    now, before = history[-1], history[:-1]
    losses = [r.loss for r in before if _finite(r.loss)]
    first = before[0].loss
    loss_fact = val_fact = None
    best_rec = None
    if losses and _finite(first):
        best_rec = min(
            (r for r in before if _finite(r.loss)), key=lambda r: r.loss
        )
        best = best_rec.loss
        learned = best <= LEARNED * first and first > best
        if learned:
            cur = now.loss if _finite(now.loss) else math.inf
            rise = cur / best if best > 0 else math.inf
            lost = (cur - best) / (first - best)
            grads = _rise(now.grad_norm, best_rec.grad_norm)
            ups = _rise(_top(now.update), _top(best_rec.update))
            strong = rise >= COLLAPSE_RISE and lost >= COLLAPSE_LOST
            soft = (
                rise >= SOFT_RISE
                and lost >= SOFT_LOST
                and max(grads, ups) >= GRAD_RISE
            )
            if strong or soft:
                loss_fact = (cur, rise, best, best_rec.epoch, grads, ups)
    vals = [
        (r.val_accuracy, r.epoch) for r in before if _finite(r.val_accuracy)
    ]
    if vals and _finite(now.val_accuracy):
        top, at = max(vals, key=lambda v: v[0])
        if top - now.val_accuracy > VAL_DROP:
            val_fact = (now.val_accuracy, top, at)
    if loss_fact is None and val_fact is None:
        return None
    if best_rec is None:
        best_rec = before[0]
    ref = best_rec
    if val_fact is not None and loss_fact is None:
        ref = next(r for r in before if r.epoch == val_fact[2])
    layers = _risen(now.ratio, ref.ratio)
    parts = []
    if loss_fact is not None:
        cur, rise, best, at, _, _ = loss_fact
        parts.append(
            f"the training loss was {cur:.3g}, {rise:.3g} x its best "
            f"({best:.3g}, epoch {at + 1})"
        )
    if val_fact is not None:
        cur_val, top, at = val_fact
        parts.append(
            f"the validation accuracy was {cur_val:.3f}, "
            f"{top - cur_val:.3f} below its best ({top:.3f}, epoch {at + 1})"
        )
    grads = _rise(now.grad_norm, ref.grad_norm)
    ups = _rise(_top(now.update), _top(ref.update))
    rises = []
    if math.isfinite(grads):
        rises.append(f"the gradient norm {grads:.3g} x")
    if math.isfinite(ups):
        rises.append(f"the largest update ratio {ups:.3g} x")
    if rises:
        whose = "its value" if len(rises) == 1 else "their values"
        parts.append(" and ".join(rises) + f" {whose} at epoch {ref.epoch + 1}")
    detail = f"At epoch {now.epoch + 1}, " + "; ".join(parts)
    if loss_fact is not None:
        measure, value, threshold = "loss_rise", loss_fact[1], COLLAPSE_RISE
    else:
        measure = "val_drop"
        value, threshold = val_fact[1] - val_fact[0], VAL_DROP
    advice = (
        "a lower learning rate or a smaller clip_norm"
        if clipped
        else "clip_norm=1.0 in GradientHealthCallback or a lower learning rate"
    )
    return Alert(
        "collapse",
        measure,
        tuple(names[layers]),
        float(value),
        float(threshold),
        detail,
        advice,
    )


def _top(update):
    if update is None or not np.size(update):
        return math.nan
    return float(np.max(update))


def _rise(now, then):
    if not (_finite(now) and _finite(then)) or then <= 0:
        return math.nan
    return now / then


def _risen(now, then):
    """Indices, in model order, of the layers whose ratio rose
    `LAYER_RISE` x from `then` to `now`, else of the three that rose
    most."""
    now = np.asarray(now, dtype=float)
    then = np.asarray(then, dtype=float)
    if now.shape != then.shape or not now.size:
        return np.zeros(0, dtype=int)
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.where(then > 0, now / then, np.where(now > 0, np.inf, 1.0))
    rise = np.nan_to_num(rise, nan=0.0, posinf=np.finfo(float).max)
    big = np.flatnonzero(rise >= LAYER_RISE)
    if big.size:
        return big
    return np.sort(np.argsort(-rise, kind="stable")[:SHOWN_LAYERS])
