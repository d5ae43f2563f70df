import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_initplus.cli import main
from tests.helpers import REPO


def _error(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,fragments",
    [
        (["demo", "--depth", "0"], ["--depth", "from 1 to 2000", "0"]),
        (
            ["demo", "--compare-depth", "201"],
            ["--compare-depth", "from 1 to 200", "201"],
        ),
        (["demo", "--deep-epochs", "0"], ["--deep-epochs", "0"]),
        (["demo", "--depth", "ten"], ["--depth", "'ten'"]),
        (["demo", "--epochs", "-3"], ["--epochs", "-3"]),
        (["demo", "--lr", "0"], ["--lr", "'0'"]),
        (
            ["demo", "--activation", "swoosh"],
            ["--activation", "'swoosh'", "relu"],
        ),
        (
            ["demo", "--data", "/nonexistent.npz"],
            ["not found", "/nonexistent.npz"],
        ),
        (["demo", "--bogus"], ["unrecognized", "--bogus"]),
    ],
)
def test_bad_flags_exit_2_with_a_message(capsys, argv, fragments):
    err = _error(capsys, argv)
    for fragment in fragments:
        assert fragment in err, err


def _npz(tmp_path, **arrays):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return str(path)


def test_bad_data_files(capsys, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 6)).astype("float32")
    y = rng.integers(0, 3, 50)
    nan_x = x.copy()
    nan_x[3, 2] = np.nan
    cases = [
        (dict(x=nan_x, y=y), "NaN or Inf"),
        (dict(x=x, y=y[:40]), "1-D array of 50 labels"),
        (dict(x=x, y=y + 0.5), "integer class labels"),
        (dict(x=x[:, 0], y=y), "shape (samples, features)"),
        (dict(x=x), "arrays 'x' and 'y'"),
        (dict(x=x, y=y, x_val=x), "both 'x_val' and 'y_val'"),
        (dict(x=x, y=y, x_val=x[:, :4], y_val=y), "as many features"),
        (dict(x=x, y=np.zeros(50, int)), "at least 2 classes"),
    ]
    for arrays, fragment in cases:
        err = _error(capsys, ["demo", "--data", _npz(tmp_path, **arrays)])
        assert fragment in err, (fragment, err)
    (tmp_path / "junk.npz").write_text("not a zip")
    err = _error(capsys, ["demo", "--data", str(tmp_path / "junk.npz")])
    assert "numpy.savez" in err


def test_help_describes_the_demo(capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for word in (
        "--depth",
        "--compare-depth",
        "--data",
        "classic",
        "digits",
        "--test-mode",
        "initializer_for",
    ):
        assert word in out


def _run_demo(out, *flags, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    proc = subprocess.run(
        [sys.executable, "-m", "keras_initplus", "demo", "--test-mode"]
        + list(flags)
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_demo_runs_end_to_end_in_test_mode(tmp_path):
    out = tmp_path / "out"
    # Without TF_CPP_MIN_LOG_LEVEL, as a user runs it: the command itself
    # keeps TensorFlow's start-up lines off the terminal.
    proc = _command("demo", "--test-mode", "--out", str(out), log_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert TEST_LOG_LINE not in proc.stderr
    for marker in ("oneDNN", "cpu_feature_guard", "XLA service", "absl"):
        assert marker not in proc.stderr
    for name in (
        "classic_hist.png",
        "learning_curves.png",
        "results.json",
        "results.txt",
    ):
        assert (out / name).stat().st_size > 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["classic"]) >= {"small_normal", "large_normal", "lsuv"}
    assert any(
        "vanishing" in f for f in results["classic"]["small_normal"]["flags"]
    )
    # At depth 4, initializer_for("relu", depth=4) is HeNormal, and so
    # is initializer_for("relu"): those rows draw the same kernels as
    # Keras's HeNormal and are trained once.
    assert list(results["training"]) == [
        "keras_glorot_uniform",
        "keras_he_normal",
        "he_avg_fan_normal",
        "orthogonal_gain",
        "lsuv",
        "keras_he_normal+clip",
    ]
    assert results["merged"] == {
        "initializer_for": "keras_he_normal",
        "initializer_for_depth": "keras_he_normal",
        "initializer_for_depth+clip": "keras_he_normal+clip",
    }
    for run in results["training"].values():
        assert len(run["val_accuracy"]) == 2
        assert run["best_accuracy"] == max(run["val_accuracy"])
    assert results["training"]["keras_he_normal+clip"]["clip_norm"] == 1.0
    assert "initializer_for draws the same kernels as keras_he_normal" in (
        proc.stdout
    )
    assert results["conclusion"] in proc.stdout
    assert (
        "initializer_for('relu', depth=4) with clip_norm=1.0"
        in (results["conclusion"])
    )
    assert list(results["deep"]) == ["keras_default", "initializer_for_depth"]
    for run in results["deep"].values():
        assert len(run["val_accuracy"]) == 1
    assert (out / "deep_curves.png").stat().st_size > 0
    assert "== 3. A 8-layer plain relu MLP" in proc.stdout
    assert "to 0.9   best  final  warnings" in proc.stdout
    assert "0.01 N(0,1)" in proc.stdout


def test_user_npz_is_used(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((120, 5)).astype("float32")
    y = (x[:, 0] > 0).astype(int)
    path = _npz(tmp_path, x=x, y=y, x_val=x[:30], y_val=y[:30])
    from keras_initplus.cli.demo.data import load_npz

    x_tr, y_tr, x_va, y_va = load_npz(path)
    assert x_tr.shape == (120, 5) and x_va.shape == (30, 5)
    np.testing.assert_allclose(x_tr.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_array_equal(y_va, y[:30])


@pytest.mark.slow
def test_demo_at_depth_1000_never_hits_the_recursion_limit(tmp_path):
    # Keras's functional graph recurses a few frames per layer; without
    # room on the stack a 1,000-layer Sequential raises RecursionError.
    proc = _run_demo(tmp_path, "--depth", "1000", timeout=1800)
    assert "RecursionError" not in proc.stderr
    assert "== 3. A 1000-layer plain relu MLP" in proc.stdout


# A line in TensorFlow's glog format that the test itself writes to file
# descriptor 2 as keras starts to import, so that the quiet-command checks
# do not depend on which start-up lines this CPU's TensorFlow build prints.
TEST_LOG_LINE = "I0000 00:00:1.000000 1 port.cc:153] initplus-test-made line"

_SITECUSTOMIZE = f"""
import os
import sys


class _LogOnKerasImport:
    def find_spec(self, name, path=None, target=None):
        if name == "keras":
            sys.meta_path.remove(self)
            os.write(2, {TEST_LOG_LINE + chr(10)!r}.encode())
        return None


sys.meta_path.insert(0, _LogOnKerasImport())
"""


def _command(*flags, log_dir=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = REPO
    if log_dir is not None:
        (log_dir / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        env["PYTHONPATH"] = os.pathsep.join([str(log_dir), REPO])
    return subprocess.run(
        [sys.executable, "-m", "keras_initplus", *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )


def test_quiet_command_filters_log_lines_and_verbose_keeps_them(tmp_path):
    quiet = _command("--version", log_dir=tmp_path)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert TEST_LOG_LINE not in quiet.stderr
    # The same line reaches the terminal with --verbose, so the check
    # above can fail.
    loud = _command("--verbose", "--version", log_dir=tmp_path)
    assert loud.returncode == 0, loud.stderr[-3000:]
    assert TEST_LOG_LINE in loud.stderr


def test_tensorflow_log_lines_are_told_from_others():
    from keras_initplus import _startup

    assert _startup.is_tensorflow_log_line(
        "I0000 00:00:1796283920.484825    3516 port.cc:153] oneDNN ..."
    )
    assert _startup.is_tensorflow_log_line(
        "WARNING: All log messages before absl::InitializeLog() is called"
    )
    assert not _startup.is_tensorflow_log_line("UserWarning: deprecated")
    assert not _startup.is_tensorflow_log_line("Traceback (most recent")
    assert _startup.invoked_as_command(["/venv/bin/keras-initplus"], [])
    assert _startup.invoked_as_command(
        ["-m"], ["python", "-u", "-m", "keras_initplus", "demo"]
    )
    assert not _startup.invoked_as_command(
        ["-m"], ["python", "-m", "pytest", "-m", "keras_initplus"]
    )
    assert not _startup.invoked_as_command(["train.py"], ["python", "x.py"])
