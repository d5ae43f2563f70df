"""Two workers under MultiWorkerMirroredStrategy on localhost.

One pair of worker processes (TensorFlow is loaded once in each) runs
the custom loop with `GradientHealthOptimizer` and then tries `fit`;
`multi_worker_script.py` says what each worker does.
"""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import REPO

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "multi_worker_script.py")
TIMEOUT = 180.0  # seconds, for both workers together

# Each starts processes or logical devices and trains: run in the slow pass.
pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def free_ports(n):
    # Bound together so that the n ports differ; released just before
    # the workers bind them, a small race the OS rarely loses.
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def run_workers(script, args_for, out_dir, timeout=TIMEOUT):
    """Starts one process per entry of `args_for`; waits for all of them
    or kills all of them. Returns their exit codes and stderr tails."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (REPO, env.get("PYTHONPATH")) if p
    )
    env.pop("TF_CONFIG", None)
    procs, logs = [], []
    try:
        for i, args in enumerate(args_for):
            log = open(os.path.join(out_dir, f"stderr{i}.txt"), "w+")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [sys.executable, script, *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
        deadline = time.monotonic() + timeout
        while any(p.poll() is None for p in procs):
            if time.monotonic() > deadline:
                pytest.fail(f"workers still running after {timeout:.0f} s")
            # One worker failing leaves the other blocked in a
            # collective: stop waiting for it.
            if any(p.poll() not in (None, 0) for p in procs):
                break
            time.sleep(0.2)
        codes = [p.poll() for p in procs]
        tails = []
        for log in logs:
            log.seek(0)
            tails.append(log.read()[-3000:])
        return codes, tails
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for log in logs:
            log.close()


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp("multi_worker"))
    ports = ",".join(map(str, free_ports(2)))
    codes, tails = run_workers(
        SCRIPT, [[str(i), ports, out_dir] for i in range(2)], out_dir
    )
    assert codes == [0, 0], "\n\n".join(tails)
    results = []
    for i in range(2):
        with open(os.path.join(out_dir, f"worker{i}.json")) as f:
            out = json.load(f)
        with np.load(os.path.join(out_dir, f"worker{i}.npz")) as z:
            out["arrays"] = dict(z)
        results.append(out)
    return results


def script_module():
    sys.path.insert(0, HERE)
    try:
        import multi_worker_script
    finally:
        sys.path.remove(HERE)
    return multi_worker_script


def final_weights(res, prefix="weight"):
    return [res["arrays"][f"{prefix}{i}"] for i in range(res["n_weights"])]


def test_custom_loop_matches_one_process_and_clips(workers):
    mws = script_module()
    ref_weights, ref_norms = mws.reference()
    w0, w1 = (final_weights(r) for r in workers)
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)
    scale = max(float(np.max(np.abs(w))) for w in ref_weights)
    for a, b in zip(w0, ref_weights):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * max(scale, 1))
    good = [s for s in range(mws.STEPS) if s != mws.BAD_STEP]
    for res in workers:
        assert res["replicas"] == 2
        assert res["finite"]
        # The norm each worker measured is that of the summed gradient,
        # the single process's pre-clip norm, well above the clip norm:
        # every applied step was clipped.
        norms = [res["norms"][s] for s in good]
        np.testing.assert_allclose(norms, ref_norms, rtol=1e-5)
        assert min(norms) > 4 * mws.CLIP_NORM
        assert [res["clipped"][s] for s in good] == [1.0] * len(good)


def test_nonfinite_on_one_worker_skips_the_step_on_both(workers):
    mws = script_module()
    for res in workers:
        assert res["bad_step_weights_unchanged"]
        assert res["bad_step_slots_unchanged"]
        assert res["trained_after_bad_step"]
        expected = [0.0] * mws.STEPS
        expected[mws.BAD_STEP] = 1.0
        assert res["nonfinite"] == expected
        # `iterations` does not move on the skipped step.
        assert res["iterations"] == [1, 2, 2, 3, 4]


def test_fit_fails_in_keras_the_same_with_the_callback(workers):
    for res in workers:
        plain, ours = res["fit"], res["fit_callback"]
        assert ours["optimizer_is_users"]
        if plain["error_type"] is None:
            check_fit_worked(workers)
            return
        # keras#20585: `fit` fails in Keras's symbolic build, before any
        # callback runs. The callback must not hide or replace it.
        assert ours["error_type"] == plain["error_type"]
        assert ours["error_message"] == plain["error_message"]
        assert "PerReplica" in plain["error_message"]
        assert any("_maybe_symbolic_build" in f for f in ours["error_frames"])
        assert not any("keras_initplus" in f for f in ours["error_frames"])
        assert ours["update_norm"] == 0.0 and ours["finite"]
        assert ours["train_function_is_none"]


def check_fit_worked(workers):
    # If a later Keras fixes #20585, the run must still be right: both
    # workers agree, and the callback's clipping bounded each update.
    mws = script_module()
    for key in ("fit", "fit_callback"):
        a, b = (final_weights(r, f"{key}_weight") for r in workers)
        for p, q in zip(a, b):
            np.testing.assert_array_equal(p, q)
    for res in workers:
        ours = res["fit_callback"]
        assert ours["error_type"] is None, ours["error_message"]
        assert ours["finite"]
        assert ours["history"]["grad_clipped"] == [1.0]
        # At most STEPS batches of GLOBAL_BATCH / WORKERS rows per worker.
        bound = mws.LR * mws.CLIP_NORM * mws.STEPS
        assert ours["update_norm"] <= bound * (1 + 1e-5)


def test_example_runs_as_two_workers(tmp_path):
    example = os.path.join(REPO, "examples", "multi_worker.py")
    base = free_ports(1)[0]
    # The example takes ports base and base + 1; make sure both are free.
    while base + 1 > 65535 or not port_free(base + 1):
        base = free_ports(1)[0]
    args = ["--port-base", str(base), "--steps", "3"]
    codes, outputs = run_workers(
        example,
        [["--worker", str(i), *args] for i in range(2)],
        str(tmp_path),
    )
    assert codes == [0, 0], "\n\n".join(outputs)
    steps = [
        [line for line in out.splitlines() if line.startswith("step")]
        for out in outputs
    ]
    # Both workers report the same global norm at every step.
    assert len(steps[0]) == 3 and steps[0] == steps[1]
    assert all("clipped True" in line for line in steps[0])
    for i, out in enumerate(outputs):
        assert f"worker {i}: 3 steps applied, 3 clipped, 0 skipped" in out


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
