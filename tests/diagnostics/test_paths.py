"""One name per layer: diagnose and the LSUV report key rows by path."""

import keras
import numpy as np
import pytest

import keras_initplus
from keras_initplus import LSUV, lsuv_init
from keras_initplus.gradients.norms import layer_key

LONG = "a_rather_long_value_projection_name"


class _Attention(keras.layers.Layer):
    # Sublayers named alike in every block, as in keras-hub.
    def __init__(self, seed, **kwargs):
        super().__init__(**kwargs)
        self.query = keras.layers.Dense(
            8, name="query", kernel_initializer=LSUV(seed=seed)
        )
        self.value = keras.layers.Dense(
            8, name=LONG, kernel_initializer=LSUV(seed=seed + 1)
        )
        self.act = keras.layers.Activation("tanh", name="act")

    def call(self, x):
        return self.act(self.query(x)) + self.value(x)


def _model():
    inputs = keras.Input((8,))
    h = inputs
    for i in range(2):
        h = _Attention(seed=2 * i, name=f"block_{i}")(h)
    outputs = keras.layers.Dense(3, name="head")(h)
    return keras.Model(inputs, outputs)


def _x():
    return np.random.default_rng(0).normal(size=(64, 8)).astype("float32")


def test_diagnose_rows_carry_the_path_the_callback_uses():
    model = _model()
    report = keras_initplus.diagnose(model, _x())
    assert [row["path"] for row in report.layers] == [
        "block_0/query",
        "block_0/act",
        f"block_0/{LONG}",
        "block_1/query",
        "block_1/act",
        f"block_1/{LONG}",
        "head",
    ]
    assert [row["layer"] for row in report.layers][:3] == [
        "query",
        "act",
        LONG,
    ]
    # GradientHealthCallback names a layer by its variables' path.
    block = model.get_layer("block_1")
    assert report["block_1/query"]["path"] == layer_key(block.query.kernel)
    assert report["block_1/query"]["grad_norm"] > 0
    assert report["head"] is report[-1]
    assert report[f"block_0/{LONG}"]["layer"] == LONG
    with pytest.raises(
        KeyError,
        match=r"'query' is the name of 2 layers.*"
        r"'block_0/query', 'block_1/query'",
    ):
        report["query"]
    with pytest.raises(KeyError, match=r"'nope'.*'block_0/query'"):
        report["nope"]
    assert report.to_dict()["layers"]["path"][0] == "block_0/query"


def test_the_table_prints_whole_paths_and_names():
    text = str(keras_initplus.diagnose(_model(), _x()))
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["path", "layer", "act"]
    row = next(line for line in lines if line.startswith(f"block_1/{LONG}"))
    assert row.split()[:3] == [f"block_1/{LONG}", LONG, "linear"]
    # Columns line up below a long path.
    assert len({len(line) for line in lines[:2]}) == 1
    assert lines[2].index("linear") == lines[0].index("act")


def test_a_layer_called_twice_gets_one_path_per_call():
    dense = keras.layers.Dense(8, activation="tanh", name="shared")
    inputs = keras.Input((8,))
    model = keras.Model(inputs, dense(dense(inputs)))
    report = keras_initplus.diagnose(model, _x())
    assert [row["path"] for row in report.layers] == ["shared", "shared#2"]
    assert report["shared"] is report[0]


def test_lsuv_report_rows_carry_the_path():
    model = _model()
    report = lsuv_init(model, _x(), verbose=0)
    assert [row.path for row in report] == [
        "block_0/query",
        f"block_0/{LONG}",
        "block_1/query",
        f"block_1/{LONG}",
    ]
    assert report["block_1/query"] is report[2]
    assert report["block_1/query"].name == "query"
    with pytest.raises(
        KeyError, match=r"'query' is the name of 2 layers.*'block_1/query'"
    ):
        report["query"]
    assert report.as_dicts()[3]["path"] == f"block_1/{LONG}"
    lines = str(report).splitlines()
    assert lines[0].split()[:3] == ["path", "layer", "type"]
    assert lines[5].split()[:3] == [f"block_1/{LONG}", LONG, "Dense"]


@pytest.mark.slow
def test_keras_hub_bert_layers_are_told_apart():
    keras_hub = pytest.importorskip("keras_hub")
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=50,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=8,
    )
    rng = np.random.default_rng(0)
    x = {
        "token_ids": rng.integers(0, 50, (8, 8)),
        "segment_ids": np.zeros((8, 8), "int32"),
        "padding_mask": np.ones((8, 8), "int32"),
    }
    path = "transformer_layer_1/self_attention_layer/query"
    report = keras_initplus.diagnose(backbone, x)
    assert report[path]["layer"] == "query"
    with pytest.raises(KeyError, match="transformer_layer_0/self_attention"):
        report["query"]
    lsuv = lsuv_init(backbone, x, layers="all", verbose=0)
    assert lsuv[path].name == "query"
    assert (
        lsuv[path] is not lsuv["transformer_layer_0/self_attention_layer/query"]
    )
