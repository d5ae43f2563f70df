"""What a release needs: one version, a license, a changelog, and a wheel
that works without the source tree."""

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile

import pytest

import keras_initplus
from keras_initplus.cli import main
from tests.helpers import REPO
from tests.helpers import read_repo_file as _read


def test_version_flag_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == (
        f"keras-initplus {keras_initplus.__version__}"
    )


def test_the_version_lives_in_one_place():
    cfg = _read("setup.cfg")
    assert "version = attr: keras_initplus.__version__" in cfg
    sources = [
        path
        for path in ("setup.cfg", "pyproject.toml")
        if keras_initplus.__version__ in _read(path)
    ]
    assert not sources, sources


def test_changelog_has_the_released_version():
    changelog = _read("CHANGELOG.md")
    assert f"## [{keras_initplus.__version__}] - " in changelog
    assert changelog.index("## [Unreleased]") < changelog.index(
        f"## [{keras_initplus.__version__}]"
    )


def test_license_is_the_declared_apache_2():
    assert "license = Apache-2.0" in _read("setup.cfg")
    text = _read("LICENSE")
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def _wheel(tmp_path):
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", REPO, "--no-deps"]
        + ["-q", "-w", str(out)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = out.glob("keras_initplus-*.whl")
    return wheel


def _fresh_venv(tmp_path):
    """A new virtualenv that sees this one's dependencies but not its
    editable keras_initplus: a .pth line adds the site-packages folder to
    the path without running the .pth hooks inside it, which is where
    the editable install lives."""
    root = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(root)
    bindir = root / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    purelib = subprocess.run(
        [
            str(python),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = sysconfig.get_paths()["purelib"]
    with open(os.path.join(purelib, "deps.pth"), "w") as f:
        f.write(deps + "\n")
    return bindir, purelib


@pytest.mark.slow
def test_built_wheel_installs_and_runs_the_demo(tmp_path):
    wheel = _wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith("licenses/LICENSE") for n in names), names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    bindir, purelib = _fresh_venv(tmp_path)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(bindir / "python")]
        + ["install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    work = tmp_path / "work"
    work.mkdir()

    def run(*argv):
        proc = subprocess.run(
            [str(a) for a in argv],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            cwd=work,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    code = (
        "import keras_initplus as k\n"
        "print(k.__file__)\n"
        "from keras_initplus import *\n"
        "missing = [n for n in k.__all__ if n not in globals()]\n"
        "assert not missing, missing\n"
        "print(len(k.__all__))\n"
    )
    where, count = run(bindir / "python", "-c", code).split()
    assert where.startswith(purelib), where
    assert int(count) == len(keras_initplus.__all__)
    version = run(bindir / "keras-initplus", "--version")
    assert version.strip().endswith(keras_initplus.__version__)
    out = run(bindir / "keras-initplus", "demo", "--test-mode", "--out", "o")
    assert "== 3. A 8-layer plain relu MLP" in out
    assert (work / "o" / "results.json").stat().st_size > 0
