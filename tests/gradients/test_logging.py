"""What other callbacks and TensorBoard see of the statistics."""

import csv
import glob

import keras
import pytest
import tensorflow as tf

from keras_initplus.gradients import GradientHealthCallback
from tests.gradients.common import data, mlp

KEYS = ("grad_norm", "grad_norm_max", "grad_clipped", "grad_nonfinite")


def test_csv_logger_after_the_callback_records_the_statistics(tmp_path):
    x, y = data(64)
    model = mlp(keras.optimizers.SGD(0.01))
    path = tmp_path / "log.csv"
    h = model.fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        verbose=0,
        callbacks=[
            GradientHealthCallback(clip_norm=1.0),
            keras.callbacks.CSVLogger(str(path)),
        ],
    )
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for key in KEYS:
        for row, value in zip(rows, h.history[key]):
            assert float(row[key]) == pytest.approx(value, rel=1e-6)


def scalars_by_tag(log_dir):
    out = {}
    for path in glob.glob(f"{log_dir}/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            for v in event.summary.value:
                value = float(tf.make_ndarray(v.tensor))
                out.setdefault(v.tag, []).append((event.step, value))
    return out


def test_log_dir_writes_global_and_per_layer_scalars(tmp_path):
    x, y = data(64)
    model = mlp(keras.optimizers.SGD(0.01))
    cb = GradientHealthCallback(clip_norm=1.0, log_dir=tmp_path)
    h = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[cb])
    tags = scalars_by_tag(tmp_path)
    for key in KEYS:
        assert [s for s, _ in tags[key]] == [0, 1, 2]
        values = [v for _, v in tags[key]]
        assert values == pytest.approx(h.history[key], rel=1e-6)
    table = cb.table_dict()
    for layer in ("mlp/hidden", "mlp/out"):
        for key in ("grad_norm", "grad_weight_ratio"):
            logged = [v for _, v in tags[f"{key}/{layer}"]]
            expected = [
                value
                for name, value in zip(table["layer"], table[key])
                if name == layer
            ]
            assert logged == pytest.approx(expected, rel=1e-6)
