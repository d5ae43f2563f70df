"""`GradientHealthOptimizer` step by step, on every backend: `apply`
(TensorFlow, PyTorch) and the pure `stateless_apply` JAX's step runs,
with gradients given exactly."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_initplus.gradients import GradientHealth, GradientHealthOptimizer


def setup(clip_norm=1.0):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, name="d")], name="m"
    )
    variables = model.trainable_variables
    opt = GradientHealthOptimizer(
        keras.optimizers.SGD(0.5, momentum=0.9), GradientHealth(clip_norm)
    )
    opt.build(variables)
    return variables, opt


def grads(scale, bad=False):
    rng = np.random.default_rng(1)
    g = [
        rng.normal(size=(3, 2)).astype("float32"),
        rng.normal(size=(2,)).astype("float32"),
    ]
    norm = np.sqrt(sum(np.sum(a.astype("float64") ** 2) for a in g))
    g = [a * np.float32(scale / norm) for a in g]
    if bad:
        g[1][0] = np.inf
    return g


def values(vs):
    return [np.array(ops.convert_to_numpy(v)) for v in vs]


def stateless_step(opt, variables, g):
    new_w, new_opt = opt.stateless_apply(
        [v.value for v in opt.variables],
        [ops.convert_to_tensor(a) for a in g],
        [v.value for v in variables],
    )
    for v, value in zip(variables, new_w):
        v.assign(value)
    for v, value in zip(opt.variables, new_opt):
        v.assign(value)


def apply_step(opt, variables, g):
    opt.apply([ops.convert_to_tensor(a) for a in g], variables)


_STEPS = [apply_step]
if keras.backend.backend() != "tensorflow":
    _STEPS.append(stateless_step)


@pytest.mark.parametrize("step", _STEPS)
def test_clipped_then_skipped_then_untouched(step):
    variables, opt = setup(clip_norm=1.0)
    w0 = values(variables)
    # Norm 4 is clipped to 1: plain SGD's first step is -lr * g / 4.
    step(opt, variables, grads(4.0))
    g = grads(4.0)
    for w, before, a in zip(values(variables), w0, g):
        np.testing.assert_allclose(w, before - 0.5 * a / 4.0, atol=1e-6)
    # A non-finite step changes no weight and no optimizer value.
    w1 = values(variables)
    inner = values(opt.inner_optimizer.variables)
    step(opt, variables, grads(4.0, bad=True))
    for a, b in zip(values(variables), w1):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(values(opt.inner_optimizer.variables), inner):
        np.testing.assert_array_equal(a, b)
    assert int(ops.convert_to_numpy(opt.iterations)) == 1
    # Below the threshold the gradient is applied as given.
    step(opt, variables, grads(0.5))
    g = grads(0.5)
    momentum = [-0.5 * a / 4.0 for a in grads(4.0)]
    for w, before, a, m in zip(values(variables), w1, g, momentum):
        np.testing.assert_allclose(w, before + 0.9 * m - 0.5 * a, atol=1e-6)
    s = opt.health.stats().scalars._asdict()
    assert (s["steps"], s["nonfinite"], s["clipped"]) == (2.0, 1.0, 1.0)
    assert s["norm_sum"] == pytest.approx(4.5, rel=1e-5)


def test_health_state_is_among_the_variables():
    # On every backend, as LossScaleOptimizer's state is: the wrapper
    # makes it with `add_variable`, after the inner optimizer's.
    variables, opt = setup()
    names = [v.name for v in opt.variables]
    assert names[-1] == "grad_health"
    assert len(opt.variables) == len(opt.inner_optimizer.variables) + 1
    assert opt.variables[-1] is opt.health.state


def test_a_health_built_before_is_adopted():
    variables, _ = setup()
    health = GradientHealth(clip_norm="autoclip")
    health.build(variables)
    wrapper = GradientHealthOptimizer(keras.optimizers.SGD(0.1), health)
    wrapper.build(variables)
    own = wrapper.variables[len(wrapper.inner_optimizer.variables) :]
    assert [id(v) for v in own] == [id(v) for v in health.variables]


def test_stateless_apply_refuses_the_wrong_number_of_values():
    variables, opt = setup()
    match = (
        "call `apply`"
        if keras.backend.backend() == "tensorflow"
        else ("optimizer_variables")
    )
    with pytest.raises(ValueError, match=match):
        opt.stateless_apply(
            [v.value for v in opt.inner_optimizer.variables][:1],
            [ops.convert_to_tensor(a) for a in grads(1.0)],
            [v.value for v in variables],
        )
