"""keras-hub's transformer layers. keras-hub is not in the test extras
(it pulls in tensorflow-text and a second TensorFlow), so these run where
it is installed: the documented run in docs/initialize_model.md."""

import keras
import numpy as np
import pytest

from keras_initplus import initialize_model

keras_hub = pytest.importorskip("keras_hub")


def _numpy(v):
    return keras.ops.convert_to_numpy(v)


@pytest.mark.parametrize("normalize_first", [True, False])
def test_transformer_encoder_stack(normalize_first):
    inputs = keras.Input((8, 32))
    h = inputs
    for i in range(4):
        h = keras_hub.layers.TransformerEncoder(
            64,
            4,
            activation="gelu",
            normalize_first=normalize_first,
            name=f"enc{i}",
        )(h)
    model = keras.Model(inputs, h)
    report = initialize_model(model, seed=0, branch_end="zero")
    assert report.residual_branches == 8
    for i in range(4):
        enc = model.get_layer(f"enc{i}")
        ends = [
            enc._self_attention_layer.output_dense.kernel,
            enc._feedforward_output_dense.kernel,
        ]
        assert all(not np.any(_numpy(k)) for k in ends)
        inner = _numpy(enc._feedforward_intermediate_dense.kernel)
        # He (2 / 32) times 8 ** -0.5 squared.
        assert (
            abs(np.mean(inner**2) / (2 / 32 / 8) - 1)
            < 5 * (2 / inner.size) ** 0.5
        )
    assert not report.left_alone
    x = np.random.default_rng(0).standard_normal((2, 8, 32))
    y = _numpy(model(x.astype("float32")))
    if normalize_first:
        np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-5)
    assert np.all(np.isfinite(y))


def test_bert_backbone_from_a_constructor():
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=100,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=16,
    )
    report = initialize_model(backbone, seed=0)
    assert report.residual_branches == 4
    assert {r.layer for r in report.left_alone} == {
        "token_embedding",
        "position_embedding",
        "segment_embedding",
    }
    row = report["transformer_layer_1/feedforward_intermediate_dense/kernel"]
    assert row.role == "branch" and row.activation == "gelu_approximate"
