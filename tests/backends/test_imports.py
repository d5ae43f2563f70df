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
def test_imports_without_tensorflow(backend):
    out = _run(
        backend,
        """
        import sys
        import numpy as np
        import keras
        import keras_initplus as k
        assert sys.modules["tensorflow"] is None
        w = k.Orthogonal(seed=1)((64, 48))
        m = keras.ops.convert_to_numpy(w).astype("float64")
        print(abs(m.T @ m - np.eye(48)).max() < 1e-5)
        print(sorted(set(k.__all__) & {"GradientHealthCallback"}))
        try:
            k.GradientHealthCallback
        except ImportError as e:
            print("ImportError", e)
        """,
        block_tensorflow=True,
    )
    lines = out.splitlines()
    assert lines[0] == "True"
    # `from keras_initplus import *` must not reach for TensorFlow.
    assert lines[1] == "[]"
    assert lines[2].startswith("ImportError `keras_initplus.")
    assert f"backend: '{backend}'" in lines[2]
    assert "pip install tensorflow-cpu" in lines[2]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_gradient_half_names_the_backend(backend):
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed")
    out = _run(
        backend,
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
    assert f"Received: backend={backend!r}" in lines[0]
    assert "('tensorflow',)" in lines[1]
