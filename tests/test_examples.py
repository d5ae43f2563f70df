"""The quickstart example runs as a user would run it."""

import os
import subprocess
import sys

from tests.helpers import REPO


def test_quickstart_trains_saves_and_reloads():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (REPO, env.get("PYTHONPATH")) if p
    )
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.endswith("reload identical: True"), last
    accuracy = float(last.split()[2].rstrip(";"))
    assert accuracy > 0.9
