"""Clip arithmetic: the pure rules, and the update they give in `fit`."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_initplus.gradients import (
    AutoClip,
    GradientHealthCallback,
    ZClip,
    clip_by_global_norm,
    clip_by_layer_norm,
)
from tests.gradients.common import data, mlp, update_norm, weights


def grads(seed=0):
    rng = np.random.default_rng(seed)
    return [
        ops.convert_to_tensor(rng.normal(size=s).astype("float32"))
        for s in [(6, 8), (8,), (8, 1), (1,)]
    ]


def arr(t):
    return ops.convert_to_numpy(t)


def norm(gs):
    return float(
        np.sqrt(sum(np.sum(np.square(arr(g).astype("float64"))) for g in gs))
    )


@pytest.mark.parametrize("c", [0.1, 1.0, 100.0])
def test_global_clip_is_the_float64_reference(c):
    g = grads()
    ours = clip_by_global_norm(g, c)
    # tf.clip_by_global_norm's formula, in float64.
    scale = c / max(c, norm(g))
    for a, b in zip(ours, g):
        np.testing.assert_allclose(arr(a), arr(b) * scale, rtol=1e-6)
    assert norm(ours) == pytest.approx(min(c, norm(g)), rel=1e-6)


def test_global_clip_below_threshold_is_identity():
    g = grads()
    out = clip_by_global_norm(g, norm(g) * 1.01)
    for a, b in zip(out, g):
        np.testing.assert_array_equal(arr(a), arr(b))


def test_clipping_twice_changes_nothing():
    g = grads()
    once = clip_by_global_norm(g, 0.5)
    twice = clip_by_global_norm(once, 0.5)
    for a, b in zip(once, twice):
        np.testing.assert_allclose(arr(a), arr(b), rtol=1e-6)


def test_none_gradients_pass_through():
    g = grads()
    out = clip_by_global_norm([g[0], None, g[1]], 0.1)
    assert out[1] is None
    assert norm([out[0], out[2]]) == pytest.approx(0.1, rel=1e-6)


def test_layer_clip_scales_each_layer_to_at_most_c():
    g = grads()
    seg = [0, 0, 1, 1]
    ln = ops.convert_to_tensor([norm(g[:2]), norm(g[2:])], "float32")
    c = float(arr(ln).min()) * 1.5
    out = clip_by_layer_norm(g, seg, c, ln)
    assert norm(out[:2]) == pytest.approx(min(c, norm(g[:2])), rel=1e-6)
    assert norm(out[2:]) == pytest.approx(min(c, norm(g[2:])), rel=1e-6)


def test_autoclip_threshold_is_numpy_percentile():
    rule = AutoClip(percentile=25, history=8)
    state = {k: ops.convert_to_tensor(v) for k, v in rule.init().items()}
    rng = np.random.default_rng(3)
    seen = []
    for n in rng.uniform(0.5, 5.0, size=20).astype("float32"):
        thr, state = rule.update(state, ops.convert_to_tensor(n))
        seen.append(n)
        ref = np.percentile(np.array(seen[-8:], np.float64), 25)
        assert float(thr) == pytest.approx(ref, rel=1e-5)


def zclip_reference(norms, alpha, z_thresh, warmup):
    out, hist = [], []
    mean = var = 0.0
    for i, g in enumerate(norms):
        if i < warmup:
            thr = np.inf
            hist.append(g)
            mean, var = np.mean(hist), np.var(hist)
        else:
            std = np.sqrt(var)
            z = (g - mean) / std
            thr = mean + z_thresh**2 / z * std if z > z_thresh else np.inf
            gc = min(g, thr)
            mean = alpha * mean + (1 - alpha) * gc
            var = alpha * var + (1 - alpha) * (gc - mean) ** 2
        out.append(thr)
    return out


def test_zclip_matches_reference_and_clips_spikes():
    rule = ZClip(alpha=0.9, z_thresh=2.0, warmup_steps=5)
    state = {k: ops.convert_to_tensor(v) for k, v in rule.init().items()}
    rng = np.random.default_rng(4)
    norms = list(rng.uniform(1.0, 1.2, size=12)) + [10.0, 1.1, 1.05]
    ref = zclip_reference(norms, 0.9, 2.0, 5)
    for n, r in zip(norms, ref):
        thr, state = rule.update(state, ops.convert_to_tensor(n, "float32"))
        if np.isinf(r):
            assert np.isinf(float(thr))
        else:
            assert float(thr) == pytest.approx(r, rel=1e-4)
    assert np.isfinite(ref[12]) and ref[12] < 2.0


def one_step(model, x, y, cb):
    before = weights(model)
    h = model.fit(
        x,
        y,
        batch_size=len(x),
        epochs=1,
        verbose=0,
        callbacks=[cb],
        shuffle=False,
    )
    return before, weights(model), h.history


@pytest.mark.parametrize("jit", [False, True])
def test_sgd_update_norm_is_clip_norm_in_fit(jit):
    x, y = data(32)
    model = mlp(keras.optimizers.SGD(1.0), jit_compile=jit)
    before, after, hist = one_step(
        model, x, y, GradientHealthCallback(clip_norm=0.25)
    )
    assert hist["grad_norm"][0] > 0.25
    assert hist["grad_clipped"] == [1.0]
    assert update_norm(before, after) == pytest.approx(0.25, rel=1e-5)


def test_sgd_update_below_clip_norm_is_untouched():
    x, y = data(32)
    big = 1e6
    a = mlp(keras.optimizers.SGD(1.0))
    b = mlp(keras.optimizers.SGD(1.0))
    wa0, wa1, ha = one_step(a, x, y, GradientHealthCallback(clip_norm=big))
    wb0, wb1, hb = one_step(b, x, y, GradientHealthCallback(clip_norm=None))
    assert ha["grad_clipped"] == [0.0]
    for p, q in zip(wa0, wb0):
        np.testing.assert_array_equal(p, q)
    for p, q in zip(wa1, wb1):
        np.testing.assert_array_equal(p, q)
    # The update is the gradient itself, whose norm was logged.
    assert update_norm(wa0, wa1) == pytest.approx(ha["grad_norm"][0], rel=1e-5)


def test_layer_mode_in_fit_bounds_each_layer():
    x, y = data(32)
    model = mlp(keras.optimizers.SGD(1.0))
    before, after, _ = one_step(
        model, x, y, GradientHealthCallback(clip_norm=0.05, clip_mode="layer")
    )
    # Kernel and bias of each Dense layer form one layer.
    for i in (0, 2):
        n = update_norm(before[i : i + 2], after[i : i + 2])
        assert n == pytest.approx(0.05, rel=1e-5)


@pytest.mark.parametrize("rule", ["autoclip", "zclip"])
def test_adaptive_rules_run_in_fit(rule):
    x, y = data(256)
    model = mlp(keras.optimizers.SGD(0.01))
    h = model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[GradientHealthCallback(clip_norm=rule)],
    )
    clipped = h.history["grad_clipped"]
    assert all(0.0 <= c <= 1.0 for c in clipped)
    if rule == "autoclip":
        # Threshold at the 10th percentile: most steps are clipped.
        assert clipped[1] > 0.5
    assert np.all(
        np.isfinite(np.concatenate([w.ravel() for w in weights(model)]))
    )
