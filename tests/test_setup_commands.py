import re

from tests.helpers import read_repo_file as _read


def test_ci_runs_the_readme_test_command_verbatim():
    block = re.search(r"```bash\n(.*?)```", _read("README.md"), re.S)
    commands = block.group(1).strip().splitlines()
    assert len(commands) == 2
    ci = [
        line
        for line in _read(".ci", "run").splitlines()
        if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci[0] == commands[1]
    assert "keras-initplus demo" in commands[0]
    assert "pytest" in commands[1]
    # After it, only the slow tests the README's command leaves out.
    assert ci[1:] == [
        ".venv/bin/python -m pytest -q -n 2 -m slow && KERAS_BACKEND=jax "
        ".venv/bin/python -m pytest -q -n 2 -m slow"
    ]


def test_default_run_leaves_out_only_slow_tests():
    cfg = _read("setup.cfg")
    assert 'addopts = -m "not slow"' in cfg
    assert "pytest-xdist" in cfg.split("test =")[1].split("\n\n")[0]


def test_tensorflow_is_an_extra_not_a_requirement():
    cfg = _read("setup.cfg")
    requires = cfg.split("install_requires =")[1].split("\n\n")[0]
    assert "tensorflow" not in requires
    assert "keras>=3" in requires and "numpy" in requires
    for extra in ("test =", "demo ="):
        assert "tensorflow-cpu" in cfg.split(extra)[1].split("\n\n")[0]
