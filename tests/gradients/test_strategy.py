"""MirroredStrategy on 2 logical CPU devices, in a fresh process."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO

SCRIPT = os.path.join(os.path.dirname(__file__), "strategy_script.py")

# Each starts processes or logical devices and trains: run in the slow pass.
pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def run(which):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (REPO, env.get("PYTHONPATH")) if p
    )
    proc = subprocess.run(
        [sys.executable, SCRIPT, which],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_clipped_training_matches_one_device():
    r = run("clip")
    for mode in ("global", "layer"):
        res = r[mode]
        # 12 clipped SGD-momentum steps: float32 rounding only.
        assert res["max_abs_diff"] <= 1e-6 * max(res["scale"], 1.0), mode
        m, s = res["history_mirrored"], res["history_single"]
        assert m["grad_clipped"] == [1.0, 1.0]
        for a, b in zip(m["grad_norm"], s["grad_norm"]):
            assert a == pytest.approx(b, rel=1e-6)
    # Monitoring alone reports the same norms as one device.
    m, s = r["monitor"]["history_mirrored"], r["monitor"]["history_single"]
    assert m["grad_clipped"] == [0.0, 0.0]
    assert m["grad_norm"][0] == pytest.approx(s["grad_norm"][0], rel=1e-6)
    # The reason this exists: Keras clips per replica, before the sum,
    # and lands far from the single-device weights.
    assert r["keras_global_clipnorm"]["max_abs_diff"] > 1e-3


def test_embedding_clipped_training_matches_one_device():
    # The embedding's gradient is sparse; summed across replicas, rows
    # repeated within and across replicas must clip as on one device.
    res = run("sparse")
    assert res["max_abs_diff"] <= 1e-6 * max(res["scale"], 1.0)
    m, s = res["history_mirrored"], res["history_single"]
    assert m["grad_clipped"] == s["grad_clipped"] == [1.0, 1.0]
    for a, b in zip(m["grad_norm"], s["grad_norm"]):
        assert a == pytest.approx(b, rel=1e-5)


def test_nonfinite_on_one_replica_skips_everywhere():
    r = run("nonfinite")
    for case, res in r.items():
        assert res["weights_unchanged"], case
        assert res["slots_unchanged"], case
        assert res["trained_after"], case
        assert res["finite_after"], case
        assert res["grad_nonfinite"] == [1.0], case
        # 4 batches, one skipped: the optimizer stepped 3 times.
        assert res["iterations"] == 3, case
        assert res["nonfinite_layers"], case


def test_mixed_precision_inf_on_one_replica_skips_everywhere():
    r = run("mixed")
    for case in ("inf_replica1", "inf_replica0"):
        res = r[case]
        assert res["dtype"] == "float16", case
        assert res["weights_unchanged"], case
        assert res["slots_unchanged"], case
        assert res["trained_after"], case
        assert res["finite_after"], case
        # Every replica's copy of every weight and slot, after each batch.
        assert res["replicas_agree"] == [True] * 4, case
        assert res["iterations"] == 3, case
    # An Inf on replica 1 only: the LossScaleOptimizer saw replica 0's
    # finite gradients and kept its scale; our sum caught it.
    assert r["inf_replica1"]["loss_scale"] == 16.0
    # On replica 0 the LossScaleOptimizer sees it and halves its scale.
    assert r["inf_replica0"]["loss_scale"] == 8.0
    # Keras alone (measured with Keras 3.15): NaN reaches the weights
    # and the replicas' copies part ways. If Keras fixes this, this
    # line fails, not ours.
    keras_alone = r["keras_alone_inf_replica1"]
    assert not keras_alone["finite_after"]
    assert keras_alone["replicas_agree"][2:] == [False, False]
