"""The warnings on the kinds of model issue 22 found them wrong on:
transformer stacks with embeddings and LayerNormalization, and a
MobileNet-like CNN with BatchNormalization, depthwise convolutions and
squeeze-excite gates. Healthy runs stay silent; a dead block and a
learning rate far too high are still named."""

import keras
import numpy as np
import pytest
from keras import layers as L

from keras_initplus import GradientHealthCallback

TOKENS, VOCAB, WIDTH = 12, 40, 32


def _tokens(n=512, seed=0):
    # The class (of 4) is the band of 10 tokens most of the sequence
    # comes from: learnable in a few epochs.
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    band = y[:, None] * 10 + rng.integers(0, 10, (n, TOKENS))
    noise = rng.integers(0, VOCAB, (n, TOKENS))
    x = np.where(rng.random((n, TOKENS)) < 0.7, band, noise)
    return x.astype("int32"), y.astype("int32")


def _encoder(depth, pre_ln, seed=0):
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((TOKENS,), dtype="int32")
    x = L.Embedding(VOCAB, WIDTH, name="tokens")(x)
    x = L.LayerNormalization(name="embeddings_ln")(x)
    for i in range(depth):
        norm1 = L.LayerNormalization(name=f"b{i}_ln1")
        norm2 = L.LayerNormalization(name=f"b{i}_ln2")
        attn = L.MultiHeadAttention(2, WIDTH // 2, name=f"b{i}_attn")
        up = L.Dense(2 * WIDTH, activation="gelu", name=f"b{i}_up")
        down = L.Dense(WIDTH, name=f"b{i}_down")
        if pre_ln:
            h = norm1(x)
            x = x + attn(h, h)
            x = x + down(up(norm2(x)))
        else:
            x = norm1(x + attn(x, x))
            x = norm2(x + down(up(x)))
    x = L.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, L.Dense(4, name="head")(x))


def _se_cnn(seed=0):
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((16, 16, 3))
    x = L.Conv2D(16, 3, strides=2, padding="same", name="stem")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU()(x)
    for i in range(3):
        h = L.Conv2D(32, 1, name=f"b{i}_expand")(x)
        h = L.ReLU()(L.BatchNormalization(name=f"b{i}_expand_bn")(h))
        h = L.DepthwiseConv2D(3, padding="same", name=f"b{i}_dw")(h)
        h = L.ReLU()(L.BatchNormalization(name=f"b{i}_dw_bn")(h))
        s = L.GlobalAveragePooling2D(keepdims=True)(h)
        s = L.Conv2D(8, 1, activation="relu", name=f"b{i}_se_reduce")(s)
        s = L.Conv2D(32, 1, activation="sigmoid", name=f"b{i}_se_expand")(s)
        h = L.Multiply()([h, s])
        h = L.Conv2D(16, 1, name=f"b{i}_project")(h)
        x = x + L.BatchNormalization(name=f"b{i}_project_bn")(h)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Dense(4, name="head")(x))


def _images(n=512, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(size=(n, 16, 16, 3)).astype("float32")
    # Each class brightens one quadrant.
    for c in range(4):
        r, q = divmod(c, 2)
        x[y == c, r * 8 : r * 8 + 8, q * 8 : q * 8 + 8, :] += 1.0
    return x, y.astype("int32")


def _fit(model, optimizer, x, y, epochs, steps=16, batch=32):
    model.compile(
        optimizer,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    cb = GradientHealthCallback()
    history = model.fit(
        x[: steps * batch],
        y[: steps * batch],
        batch_size=batch,
        epochs=epochs,
        verbose=0,
        shuffle=False,
        callbacks=[cb],
    )
    return cb.warnings, history.history


@pytest.mark.parametrize("pre_ln", [True, False], ids=["pre_ln", "post_ln"])
def test_a_healthy_transformer_stack_is_not_warned(pre_ln):
    # Issue 22: every TransformerEncoder stack, Keras's Glorot included,
    # was warned "vanishing" at every epoch: the embeddings'
    # LayerNormalization and the attention's query and key were
    # compared with the weight matrices.
    x, y = _tokens()
    found, h = _fit(_encoder(6, pre_ln), keras.optimizers.Adam(1e-3), x, y, 3)
    assert h["loss"][-1] < 0.8 * h["loss"][0]  # it trained
    assert found == []


def test_a_healthy_squeeze_excite_cnn_is_not_warned():
    # Issue 22: MobileNetV3Small and EfficientNetB0 were warned in 24-28
    # layers (BatchNormalization, depthwise and squeeze-excite).
    x, y = _images()
    found, h = _fit(_se_cnn(), keras.optimizers.Adam(1e-3), x, y, 3)
    assert h["loss"][-1] < 0.8 * h["loss"][0]
    assert found == []


def test_a_dead_feed_forward_block_is_named():
    x, y = _tokens()
    model = _encoder(2, pre_ln=True)
    up = model.get_layer("b0_up")
    up.bias.assign(np.full(up.bias.shape, -100.0, "float32"))
    found, _ = _fit(model, keras.optimizers.Adam(1e-3), x, y, 1, steps=8)
    (w,) = [w for w in found if w["kind"] == "vanishing"]
    # GELU(-100) passes no gradient: the block's two Dense layers and
    # the LayerNormalization that feeds only them get none, nothing
    # else is named.
    assert "b0_up" in w["layers"]
    assert set(w["layers"]) <= {"b0_up", "b0_down", "b0_ln2"}
    assert "no gradient at all" in w["message"]
    assert "bias or normalization shift" in w["message"]


def test_adam_with_a_learning_rate_far_too_high_is_exploding():
    # Issue 22: under Adam(1) the weights grow within a few steps, and
    # measured against the grown weights the steps looked small.
    x, y = _tokens()
    found, _ = _fit(_encoder(2, True), keras.optimizers.Adam(1.0), x, y, 1)
    (w,) = [w for w in found if w["kind"] == "exploding"]
    assert w["measure"] == "update_weight_ratio" and w["value"] > 10


def test_keras_hub_bert_with_its_own_init_is_not_warned():
    keras_hub = pytest.importorskip("keras_hub")
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCAB,
        num_layers=2,
        num_heads=2,
        hidden_dim=WIDTH,
        intermediate_dim=2 * WIDTH,
        max_sequence_length=TOKENS,
    )
    ids = keras.Input((TOKENS,), dtype="int32")
    pooled = backbone(
        {
            "token_ids": ids,
            "segment_ids": keras.ops.zeros_like(ids),
            "padding_mask": keras.ops.ones_like(ids),
        }
    )["pooled_output"]
    model = keras.Model(ids, L.Dense(4, name="head")(pooled))
    x, y = _tokens()
    found, h = _fit(model, keras.optimizers.Adam(1e-3), x, y, 3)
    assert h["loss"][-1] < 0.8 * h["loss"][0]
    assert found == []
