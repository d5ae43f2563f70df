"""JAX's DataParallel on 2 host CPU devices: the clipped update is one
device's, and an Inf in one shard skips the step on both."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO

SCRIPT = os.path.join(os.path.dirname(__file__), "jax_data_parallel_script.py")

pytestmark = pytest.mark.distributed


@pytest.fixture(scope="module")
def result():
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_two_devices_replicate_the_weights(result):
    assert result["devices"] == 2
    assert result["replicated"]


def test_clipped_update_equals_one_device(result):
    single, parallel = result["history_single"], result["history_parallel"]
    # Two steps, both clipped: the norm is of the global batch's
    # gradient, not of a shard's.
    assert single["grad_clipped"] == parallel["grad_clipped"] == [1.0]
    assert parallel["grad_norm"][0] == pytest.approx(
        single["grad_norm"][0], rel=1e-5
    )
    assert parallel["grad_norm"][0] > 0.5
    assert result["max_diff"] < 1e-6


def test_an_inf_in_one_shard_skips_the_step_everywhere(result):
    for bad in (result["bad_single"], result["bad_parallel"]):
        assert bad["grad_nonfinite"] == [1.0]
    assert result["bad_step_changed_nothing"]
