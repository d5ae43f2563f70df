"""The package on every backend: what imports, and what says it cannot."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import REPO

# What Python does where TensorFlow is not installed: `import tensorflow`
# raises ModuleNotFoundError and find_spec("tensorflow") returns None.
_NO_TENSORFLOW = """
import sys
sys.modules["tensorflow"] = None
"""


def _run(backend, code, block_tensorflow=False):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    prelude = _NO_TENSORFLOW if block_tensorflow else ""
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": REPO}
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_whole_package_runs_without_tensorflow(backend):
    out = _run(
        backend,
        """
        import sys
        import numpy as np
        import keras
        import keras_initplus as k
        w = k.Orthogonal(seed=1)((64, 48))
        m = keras.ops.convert_to_numpy(w).astype("float64")
        print(abs(m.T @ m - np.eye(48)).max() < 1e-5)
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.1), "mse")
        cb = k.GradientHealthCallback(clip_norm=1e-3)
        x = np.ones((8, 4), "float32")
        h = model.fit(x, 10 * x[:, :1], verbose=0, callbacks=[cb])
        print(h.history["grad_norm"][0] > 1e-3, h.history["grad_clipped"])
        try:
            k.GradientHealthCallback(log_dir="logs")
        except ValueError as e:
            print("ValueError", e)
        print(sys.modules["tensorflow"] is None)
        """,
        block_tensorflow=True,
    )
    lines = out.splitlines()
    assert lines[0] == "True"
    assert lines[1] == "True [1.0]"
    assert lines[2].startswith("ValueError Argument `log_dir`")
    assert "Received: log_dir='logs'" in lines[2]
    # Nothing reached for TensorFlow, not even by accident.
    assert lines[3] == "True"


def test_a_backend_without_gradients_is_named():
    out = _run(
        "numpy",
        """
        import keras_initplus as k
        for make in (
            lambda: k.GradientHealthCallback(clip_norm=1.0),
            lambda: k.GradientHealth(clip_norm=1.0),
        ):
            try:
                make()
            except ValueError as e:
                print(e)
        """,
    )
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("`GradientHealthCallback` needs")
    assert "Received: backend='numpy'" in lines[0]
    assert "('tensorflow', 'jax', 'torch')" in lines[1]
