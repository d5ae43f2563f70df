import math

import keras
import numpy as np
import pytest

from keras_initplus import initialize_model

L = keras.layers


def _numpy(v):
    return keras.ops.convert_to_numpy(v)


def _residual_mlp(blocks, width=32, classes=4):
    inputs = keras.Input((16,))
    h = L.Dense(width, "relu", name="stem")(inputs)
    for i in range(blocks):
        b = L.Dense(width, "relu", name=f"b{i}_in")(h)
        b = L.Dense(width, name=f"b{i}_out")(b)
        h = L.Add(name=f"add{i}")([h, b])
    outputs = L.Dense(classes, "softmax", name="head")(h)
    return keras.Model(inputs, outputs)


def _transformer(blocks, width=32):
    inputs = keras.Input((8, width))
    h = inputs
    for i in range(blocks):
        a = L.LayerNormalization()(h)
        a = L.MultiHeadAttention(4, 8, name=f"attn{i}")(a, a)
        h = L.Add()([h, a])
        f = L.LayerNormalization()(h)
        f = L.Dense(2 * width, "gelu", name=f"ffn{i}_in")(f)
        f = L.Dense(width, name=f"ffn{i}_out")(f)
        h = L.Add()([h, f])
    return keras.Model(inputs, h)


def test_plain_stack_gets_the_depth_recipe():
    depth = 24
    model = keras.Sequential(
        [keras.Input((16,))]
        + [L.Dense(32, "relu") for _ in range(depth)]
        + [L.Dense(10, "softmax")]
    )
    report = initialize_model(model, seed=0)
    assert report.residual_branches == 0
    rows = list(report)
    assert [r.role for r in rows] == ["plain"] * (depth + 1)
    assert rows[0].action == "LooksLinear(first)"
    assert rows[1].action == "LooksLinear(hidden)"
    assert rows[-1].activation == "softmax"
    w = _numpy(model.layers[5].kernel)
    # Mirrored: [[B, -B], [-B, B]] with B orthonormal.
    np.testing.assert_array_equal(w[:16], -w[16:])
    np.testing.assert_array_equal(w[:, :16], -w[:, 16:])
    np.testing.assert_allclose(
        w[:16, :16].T @ w[:16, :16], np.eye(16), atol=1e-5
    )


def test_residual_branches_start_at_zero_with_fixup_scaling():
    blocks = 16
    model = _residual_mlp(blocks)
    report = initialize_model(model, seed=1, branch_end="zero")
    assert report.residual_branches == blocks
    for i in range(blocks):
        assert report[f"b{i}_out"].role == "branch_end"
        assert not np.any(_numpy(model.get_layer(f"b{i}_out").kernel))
        assert report[f"b{i}_in"].role == "branch"
    assert report["stem"].role == "plain"
    # Inner kernels: He (2 / fan_in) times Fixup's n ** (-1 / (2m - 2)),
    # here 16 ** -0.5; pooled over the blocks, 16 * 32 * 32 draws.
    inner = np.concatenate(
        [
            _numpy(model.get_layer(f"b{i}_in").kernel).ravel()
            for i in range(blocks)
        ]
    )
    want = 2.0 / 32 * (blocks ** (-1.0 / 2)) ** 2
    ratio = float(np.mean(inner.astype("float64") ** 2)) / want
    assert abs(ratio - 1) < 5 * math.sqrt(2 / inner.size), ratio
    # So at initialization the network is its plain path.
    x = np.random.default_rng(0).standard_normal((8, 16)).astype("float32")
    stem = _numpy(model.get_layer("stem")(x))
    head = model.get_layer("head")
    np.testing.assert_allclose(
        _numpy(model(x)), _numpy(head(stem)), rtol=1e-5, atol=1e-6
    )


@pytest.mark.slow
def test_deep_residual_mlp_trains_at_adam_default():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 16)).astype("float32")
    y = (x[:, :4] @ rng.standard_normal((4, 4))).argmax(1)
    model = _residual_mlp(50)
    initialize_model(model, seed=2)
    model.compile(
        keras.optimizers.Adam(1e-3),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    hist = model.fit(x, y, epochs=6, batch_size=64, verbose=0)
    losses = hist.history["loss"]
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0], losses
    assert hist.history["accuracy"][-1] > 0.8, hist.history["accuracy"]


def test_hand_built_transformer_blocks():
    model = _transformer(3)
    x = np.random.default_rng(1).standard_normal((4, 8, 32))
    report = initialize_model(
        model, x.astype("float32"), seed=3, branch_end="zero"
    )
    assert report.residual_branches == 6
    for i in range(3):
        attn = model.get_layer(f"attn{i}")
        assert not np.any(_numpy(attn.output_dense.kernel))
        assert np.std(_numpy(attn.query_dense.kernel)) > 0.05
        assert report[f"attn{i}/attention_output/kernel"].role == ("branch_end")
        assert report[f"attn{i}/query/kernel"].role == "branch"
        assert not np.any(_numpy(model.get_layer(f"ffn{i}_out").kernel))
    # No plain-path kernels here, so the data-driven pass had none.
    assert report.lsuv is None
    y = _numpy(model(x.astype("float32")))
    np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-5)


def test_data_driven_pass_gives_unit_variance_on_the_plain_path():
    model = keras.Sequential(
        [keras.Input((16,))]
        + [L.Dense(32, "tanh", name=f"d{i}") for i in range(6)]
    )
    x = np.random.default_rng(2).standard_normal((256, 16)).astype("float32")
    report = initialize_model(model, x, seed=4)
    assert report.lsuv is not None
    h = x
    for layer in model.layers:
        pre = h @ _numpy(layer.kernel) + _numpy(layer.bias)
        assert abs(np.var(pre) - 1.0) < 0.1, layer.name
        h = np.tanh(pre)


def test_frozen_and_unknown_layers_are_left_alone_and_named():
    inputs = keras.Input((5,), dtype="int32")
    h = L.Embedding(50, 16, name="emb")(inputs)
    h = L.LSTM(16, name="rnn")(h)
    h = L.Dense(16, "relu", name="frozen")(h)
    outputs = L.Dense(3, name="out")(h)
    model = keras.Model(inputs, outputs)
    model.get_layer("frozen").trainable = False
    before = _numpy(model.get_layer("frozen").kernel).copy()
    report = initialize_model(model, seed=5)
    np.testing.assert_array_equal(
        _numpy(model.get_layer("frozen").kernel), before
    )
    assert report["frozen"].role == "frozen"
    assert "include_frozen" in report["frozen"].action
    assert {r.layer for r in report.left_alone} == {"emb", "rnn", "frozen"}
    assert report["out"].role == "plain"
    initialize_model(model, seed=5, include_frozen=True)
    assert not np.array_equal(_numpy(model.get_layer("frozen").kernel), before)


@pytest.mark.parametrize(
    "kwargs,error,fragments",
    [
        ({"model": "resnet"}, TypeError, ["`model`", "'resnet'"]),
        ({"include_frozen": "yes"}, TypeError, ["`include_frozen`", "'yes'"]),
        ({"seed": -1}, ValueError, ["`seed`", "-1"]),
        ({"seed": 1.5}, TypeError, ["`seed`", "1.5"]),
    ],
)
def test_bad_arguments(kwargs, error, fragments):
    args = {"model": _residual_mlp(2), **kwargs}
    model = args.pop("model")
    with pytest.raises(error) as info:
        initialize_model(model, **args)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_unbuilt_model_without_x_is_refused():
    model = keras.Sequential([L.Dense(4)])
    with pytest.raises(ValueError, match="not built.*x=None"):
        initialize_model(model)


def test_a_failure_midway_leaves_every_weight_as_it_was():
    model = keras.Sequential(
        [keras.Input((16,))] + [L.Dense(16, "relu") for _ in range(3)]
    )
    before = [w.copy() for w in model.get_weights()]
    bad_x = np.full((8, 16), np.nan, "float32")
    with pytest.raises(Exception):  # noqa: B017 - lsuv_init's own error
        initialize_model(model, bad_x)
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)


def test_report_lookup_by_path_and_unique_name():
    model = _transformer(2)
    report = initialize_model(model, seed=0)
    row = report["attn1/value/kernel"]
    assert row.layer == "attn1"
    with pytest.raises(KeyError, match="not unique"):
        report["attn1"]
    with pytest.raises(KeyError, match="No kernel"):
        report["nope"]
    assert "residual branches" in str(report)


@pytest.mark.slow
def test_keras_applications_model():
    model = keras.applications.ResNet50V2(
        weights=None, input_shape=(32, 32, 3), classes=10
    )
    report = initialize_model(model, seed=0, branch_end="zero")
    assert report.residual_branches == 16
    ends = [r for r in report if r.role == "branch_end"]
    assert len(ends) == 16
    for r in ends:
        layer = model.get_layer(r.layer)
        assert not np.any(_numpy(layer.kernel))
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 3))
    y = _numpy(model(x.astype("float32")))
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y.sum(1), 1.0, rtol=1e-5)


def test_an_int_seed_gives_the_same_kernels_every_time():
    def weights():
        model = _residual_mlp(3)
        initialize_model(model, seed=11)
        return model.get_weights()

    for a, b in zip(weights(), weights()):
        np.testing.assert_array_equal(a, b)


def test_include_frozen_reaches_the_data_driven_pass():
    model = keras.Sequential(
        [keras.Input((16,))]
        + [L.Dense(32, "tanh", name=f"d{i}") for i in range(3)]
    )
    model.get_layer("d1").trainable = False
    x = np.random.default_rng(3).standard_normal((256, 16)).astype("float32")
    report = initialize_model(model, x, include_frozen=True, seed=0)
    assert report["d1"].role == "plain"
    h = np.tanh(x @ _numpy(model.get_layer("d0").kernel))
    pre = h @ _numpy(model.get_layer("d1").kernel)
    assert abs(np.var(pre) - 1.0) < 0.1


def test_scaled_branch_ends():
    blocks = 16
    model = _residual_mlp(blocks)
    report = initialize_model(model, seed=1, branch_end="scaled")
    ends = np.concatenate(
        [
            _numpy(model.get_layer(f"b{i}_out").kernel).ravel()
            for i in range(blocks)
        ]
    )
    # The linear end's Glorot draw, 2 / (32 + 32), times 1 / blocks.
    want = 2.0 / 64 / blocks
    ratio = float(np.mean(ends.astype("float64") ** 2)) / want
    assert abs(ratio - 1) < 5 * math.sqrt(2 / ends.size), ratio
    assert report["b3_out"].role == "branch_end"
    with pytest.raises(ValueError, match="`branch_end`.*'zeros'"):
        initialize_model(model, branch_end="zeros")
