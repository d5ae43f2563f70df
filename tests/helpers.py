"""Test helpers shared across the suite."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_repo_file(*parts):
    """The text of a file of the repository, by path parts from its root."""
    with open(os.path.join(REPO, *parts)) as f:
        return f.read()


def assert_config_roundtrip(obj):
    """get_config/from_config and JSON serialization give an equal object.

    Returns the object rebuilt through JSON, whose config must equal the
    original's.
    """
    config = obj.get_config()
    rebuilt = type(obj).from_config(config)
    assert rebuilt.get_config() == config
    blob = json.dumps(keras.saving.serialize_keras_object(obj))
    restored = keras.saving.deserialize_keras_object(json.loads(blob))
    assert type(restored) is type(obj)
    assert restored.get_config() == config
    return restored


def assert_same_draw(a, b, shape, dtype="float32"):
    np.testing.assert_array_equal(
        np.asarray(a(shape, dtype=dtype)), np.asarray(b(shape, dtype=dtype))
    )


def run_fresh(code, timeout=300):
    """Runs `code` in a fresh Python process; returns its stdout.

    The child gets the test environment but none of the test process's
    imports, which is what a user loading a saved model has.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (REPO, env.get("PYTHONPATH")) if p
    )
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def assert_keras_file_loads(model, x, tmp_path, check=""):
    """Saves `model` to a .keras file, loads it in a fresh process that
    imports keras_initplus, and checks its predictions on `x` equal the
    original's. `check` is more code run there, with the loaded model
    as `m`; it may print. Returns the child's stdout."""
    path = str(tmp_path / "model.keras")
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", keras.ops.convert_to_numpy(model(x)))
    code = f"""
import keras, numpy as np
import keras_initplus
m = keras.saving.load_model({path!r})
y = keras.ops.convert_to_numpy(m(np.load({str(tmp_path / "x.npy")!r})))
np.testing.assert_allclose(y, np.load({str(tmp_path / "y.npy")!r}),
                           rtol=1e-6, atol=1e-7)
"""
    return run_fresh(code + textwrap.dedent(check))
