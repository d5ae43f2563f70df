"""Which layers the vanishing rule compares: roles from variables, gates
from the model, and the per-step count each role gets."""

import keras
import numpy as np
from keras import layers as L

from keras_initplus import GradientHealth
from keras_initplus.gradients import norms, roles, stats


def _roles(model, with_gates=True):
    variables = model.trainable_variables
    names, seg = norms.group_by_layer(variables)
    gates = roles.zero_only_variables(model) if with_gates else ()
    return dict(zip(names, roles.layer_roles(variables, names, seg, gates)))


def _se_cnn():
    x = inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(8, 3, padding="same", name="stem")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = L.SeparableConv2D(8, 3, padding="same", name="sep")(x)
    s = L.GlobalAveragePooling2D(keepdims=True, name="pool")(x)
    s = L.Conv2D(2, 1, activation="relu", name="se_reduce")(s)
    s = L.Conv2D(8, 1, name="se_expand")(s)
    s = L.Activation("sigmoid", name="gate")(s)
    x = L.Multiply(name="excite")([x, s])
    x = L.Conv2D(8, 1, name="project")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Dense(3, name="head")(x))


def test_roles_of_a_convolutional_net_with_squeeze_excite():
    got = _roles(_se_cnn())
    assert got == {
        "stem": roles.STEM,
        "stem_bn": roles.ZERO_ONLY,
        "dw": roles.ZERO_ONLY,  # a depthwise kernel: fan k*k, not k*k*c
        "sep": roles.MATRIX,  # its pointwise kernel is a matrix
        "se_reduce": roles.ZERO_ONLY,
        "se_expand": roles.ZERO_ONLY,
        "project": roles.MATRIX,
        "head": roles.MATRIX,
    }
    # Without the model the gates are not known: they are matrices.
    plain = _roles(_se_cnn(), with_gates=False)
    assert plain["se_reduce"] == plain["se_expand"] == roles.MATRIX


def test_roles_of_a_transformer_block():
    x = inputs = keras.Input((6,), dtype="int32")
    x = L.Embedding(20, 16, name="tokens")(x)
    x = L.LayerNormalization(name="ln")(x)
    x = L.MultiHeadAttention(2, 8, name="attn")(x, x)
    x = L.Dense(16, activation="gelu", name="ffn")(x)
    model = keras.Model(inputs, L.Dense(3, name="head")(x))
    got = _roles(model)
    assert got == {
        "tokens": roles.ZERO_ONLY,
        "ln": roles.ZERO_ONLY,
        "attn/query": roles.ZERO_ONLY,
        "attn/key": roles.ZERO_ONLY,
        "attn/value": roles.STEM,  # the first matrix
        "attn/attention_output": roles.MATRIX,
        "ffn": roles.MATRIX,
        "head": roles.MATRIX,
    }
    # An attention layer renamed by a subclass is still found from the
    # model; by variable names alone, `query` and `key` are.
    assert _roles(model, with_gates=False) == got


def _one_step(kinds, scales):
    """The per-layer statistics after one step of a stack of standalone
    layers (`"dense"` or `"norm"`), all weights one, whose gradients are
    `scale` x one."""
    made = []
    for i, kind in enumerate(kinds):
        if kind == "dense":
            layer = L.Dense(4, name=f"l{i}")
        else:
            layer = L.LayerNormalization(name=f"l{i}")
        layer.build((None, 4))
        made.append(layer)
    variables, grads = [], []
    for layer, scale in zip(made, scales):
        for v in layer.trainable_variables:
            v.assign(np.ones(v.shape, "float32"))
            variables.append(v)
            grads.append(keras.ops.full(v.shape, scale))
    health = GradientHealth()
    health.build(variables)
    health.apply(grads, variables)
    return health.layer_roles, health.stats().layers.low_steps


def test_with_normalization_the_stem_does_not_set_the_reference():
    # The stem's ratio (1e3) does not set the reference: the body's
    # largest matrix does (1.0). With normalization the threshold is a
    # fifth of 5e-3: 8e-4 of it is slow; 1.2e-3 is not.
    found, low = _one_step(
        ["dense", "norm", "dense", "dense", "dense"],
        [1e3, 1.0, 1.0, 1.2e-3, 8e-4],
    )
    assert found[0] == roles.STEM and found[2:] == (roles.MATRIX,) * 3
    np.testing.assert_array_equal(low, [0, 0, 0, 0, 1])


def test_with_normalization_the_matrix_threshold_is_a_fifth():
    # Healthy kernels of normalized keras.applications and keras-hub
    # models sat down to 3.3e-3 x the largest (docs/real_model_matrix):
    # slow in a plain network, not in a normalized one.
    plain = GradientHealth()
    plain.build([keras.Variable(np.ones((4, 4), "float32"), name="kernel")])
    assert plain.matrix_threshold == 5e-3
    _, low_plain = _one_step(["dense"] * 3, [1.0, 1.0, 3.3e-3])
    _, low_norm = _one_step(
        ["dense", "norm", "dense", "dense"], [1.0] * 3 + [3.3e-3]
    )
    np.testing.assert_array_equal(low_plain, [0, 0, 1])
    np.testing.assert_array_equal(low_norm, [0, 0, 0, 0])


def test_without_normalization_the_stem_sets_the_reference():
    # A saturated plain network: the stem may be the one layer whose
    # gradient is still healthy. 1e-3 x the stem's ratio is slow.
    found, low = _one_step(["dense"] * 4, [1.0, 0.05, 6e-3, 1e-3])
    assert found == (roles.MATRIX,) * 4
    np.testing.assert_array_equal(low, [0, 0, 0, 1])


def test_other_weights_count_only_with_no_gradient_at_all():
    found, low = _one_step(
        ["dense", "dense", "norm", "norm", "dense"], [1.0, 1.0, 1e-9, 0, 0]
    )
    assert found[2:4] == (roles.ZERO_ONLY, roles.ZERO_ONLY)
    # A tiny gradient on a normalization layer is not vanishing; none
    # at all is, and so is a matrix with none.
    np.testing.assert_array_equal(low, [0, 0, 0, 1, 1])


def test_weight_norm_at_the_epochs_first_step_is_kept():
    health = GradientHealth()
    v = keras.Variable(np.full((2, 2), 3.0, "float32"), name="w")
    health.build([v])
    g = keras.ops.ones((2, 2))
    health.apply([g], [v])
    v.assign(np.full((2, 2), 30.0, "float32"))
    health.apply([g], [v])
    rows = health.stats().layers
    np.testing.assert_allclose(rows.weight_norm_start, [6.0])
    np.testing.assert_allclose(rows.weight_norm, [60.0])
    # The update is measured against the epoch-start weights, so weights
    # a rate far too high has grown do not make its steps look small:
    # ||g|| = 2 over ||w_start|| = 6 on both steps, not 2/6 + 2/60.
    np.testing.assert_allclose(rows.update_sum, [2.0 / 6.0 * 2], rtol=1e-6)
    np.testing.assert_allclose(rows.ratio_sum, [2.0 / 6 + 2.0 / 60], rtol=1e-6)
    health.reset_epoch()
    health.apply([g], [v])
    np.testing.assert_allclose(health.stats().layers.weight_norm_start, [60.0])


def test_adam_update_is_estimated_from_the_weights_at_the_epochs_start():
    # Adam at lr 1 moves each weight by about 1 a step; weights of rms
    # 0.05 are then moved 20 x their size, however large a few such
    # steps have made them by the epoch's end.
    est = stats.update_ratios(
        keras.optimizers.Adam(1.0),
        mean_update=np.array([0.0]),
        weight_norm=np.array([400.0]),
        sizes=[400],
        start=np.array([0.05 * 20.0]),
    )
    np.testing.assert_allclose(est, [20.0])
    sgd = stats.update_ratios(
        keras.optimizers.SGD(0.1),
        mean_update=np.array([2.0]),
        weight_norm=np.array([1.0]),
        sizes=[4],
        start=np.array([0.0]),
    )
    np.testing.assert_allclose(sgd, [0.2])  # SGD reads the gradient ratio


def test_sgd_momentum_gain_is_the_one_for_uncorrelated_gradients():
    # Velocity v = m v + lr g: for independent g its steady norm is
    # lr ||g|| / sqrt(1 - m^2), 2.29 x lr ||g|| at m = 0.9 (not 10 x).
    est = stats.update_ratios(
        keras.optimizers.SGD(0.1, momentum=0.9),
        mean_update=np.array([2.0, 0.5]),
        weight_norm=np.array([1.0, 0.0]),
        sizes=[4, 4],
    )
    np.testing.assert_allclose(est, [0.2 / np.sqrt(0.19), 0.0], rtol=1e-6)
    rng = np.random.default_rng(0)
    v = np.zeros(1000)
    norms = []
    for _ in range(400):
        v = 0.9 * v + 0.1 * rng.normal(size=1000) / np.sqrt(1000)
        norms.append(np.linalg.norm(v))
    np.testing.assert_allclose(
        np.mean(norms[100:]), 0.1 / np.sqrt(0.19), rtol=0.05
    )


def test_a_state_saved_before_the_start_norm_existed_loads():
    health = GradientHealth()
    v = keras.Variable(np.ones((2, 2), "float32"), name="w")
    health.build([v])
    health.apply([keras.ops.ones((2, 2))], [v])
    new = health.state_values()
    n = len(health.layer_names)
    old = [new[0][: stats.size(n) - n], *new[1:]]
    other = GradientHealth()
    other.build([v])
    other.load_state_values(old)
    got = other.state_values()[0]
    np.testing.assert_array_equal(got[: stats.size(n) - n], old[0])
    np.testing.assert_array_equal(got[stats.size(n) - n :], np.zeros(n))
