"""The report's table and lookups, and progress output."""

import keras
import numpy as np
import pytest

from keras_initplus import LSUV, LSUVReport, lsuv_init
from keras_initplus.lsuv.report import LayerResult

L = keras.layers


def _model(depth=3):
    return keras.Sequential(
        [keras.Input((8,))]
        + [
            L.Dense(
                8,
                activation="relu",
                kernel_initializer=LSUV(seed=i),
                name=f"d{i}",
            )
            for i in range(depth)
        ]
    )


def _x():
    return np.random.default_rng(0).normal(size=(32, 8)).astype("float32")


def test_table_lists_every_layer():
    report = lsuv_init(_model(), _x(), verbose=0)
    text = str(report)
    lines = text.splitlines()
    assert lines[0].split() == [
        "path",
        "layer",
        "type",
        "scaled",
        "var",
        "before",
        "var",
        "after",
        "iters",
        "converged",
        "note",
    ]
    for i, row in enumerate(report):
        assert lines[i + 2].split()[:4] == [
            row.path,
            f"d{i}",
            "Dense",
            "kernel",
        ]
        assert row.path.endswith(f"/d{i}")
        assert f"{row.var_before:.4g}" in lines[i + 2]
    assert lines[-1] == (
        "LSUV: 3/3 scaled layers converged to variance 1 +/- 0.1; 0 skipped."
    )
    assert report["d1"] is report[1]
    assert report[report[1].path] is report[1]
    with pytest.raises(KeyError, match="'nope'.*/d0'"):
        report["nope"]
    assert report.as_dicts()[0]["name"] == "d0"


def test_skipped_rows_print_as_skipped():
    rows = [
        LayerResult("a", "Dense", "kernel", 0.5, 1.0, 1, True),
        LayerResult("b", "Foo", status="skipped", note="not supported"),
    ]
    text = str(LSUVReport(rows, 1.0, 0.1))
    assert text.splitlines()[3].split() == [
        "b",
        "b",
        "Foo",
        "-",
        "-",
        "-",
        "0",
        "skipped",
        "not",
        "supported",
    ]
    assert text.endswith(
        "1/1 scaled layers converged to variance 1 +/- 0.1; 1 skipped."
    )


def test_progress_bar_and_lines(capsys):
    lsuv_init(_model(), _x(), verbose=1)
    out = capsys.readouterr().out
    assert "3/3" in out and "layer" in out
    lsuv_init(_model(), _x(), verbose=2)
    out = capsys.readouterr().out
    assert out.count("LSUV d") == 3
    lsuv_init(_model(), _x(), verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_goes_to_logging_when_interactive_logging_is_off(caplog):
    keras.config.disable_interactive_logging()
    try:
        # Keras logs through absl; TensorFlow's SavedModel code can raise
        # the absl logger's level, so set it here rather than rely on it.
        with caplog.at_level("INFO", logger="absl"):
            lsuv_init(_model(), _x(), verbose=2)
    finally:
        keras.config.enable_interactive_logging()
    assert sum("LSUV d" in r.getMessage() for r in caplog.records) == 3
