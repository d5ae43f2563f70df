"""A model compiled with `GradientHealthOptimizer` saves and loads, on
every backend: its config, the inner optimizer's slots and the health
state (the running mean and an adaptive rule's history)."""

import copy

import keras
import numpy as np
import pytest

from keras_initplus.gradients import (
    AutoClip,
    GradientHealth,
    GradientHealthOptimizer,
    ZClip,
)
from tests.helpers import assert_config_roundtrip, run_fresh


@pytest.mark.parametrize(
    "clip_norm", [None, 0.5, "autoclip", ZClip(alpha=0.9, z_thresh=3.0)]
)
def test_health_config_roundtrip(clip_norm):
    health = GradientHealth(
        clip_norm, vanishing_threshold=0.05, warmup_steps=7, explode_norm=9.0
    )
    restored = assert_config_roundtrip(health)
    assert repr(restored.clip_norm) == repr(health.clip_norm)
    assert restored.warmup_steps == 7
    assert restored.explode_norm == 9.0


def test_optimizer_config_roundtrip():
    opt = GradientHealthOptimizer(
        keras.optimizers.Adam(0.003, beta_1=0.8),
        GradientHealth(0.25, clip_mode="layer"),
    )
    restored = assert_config_roundtrip(opt)
    assert isinstance(restored.inner_optimizer, keras.optimizers.Adam)
    assert restored.inner_optimizer.beta_1 == 0.8
    assert float(restored.learning_rate) == pytest.approx(0.003)
    assert restored.health.clip_norm == 0.25
    assert restored.health.clip_mode == "layer"


def test_keras_file_keeps_optimizer_and_health_state(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    opt = GradientHealthOptimizer(
        keras.optimizers.Adam(0.01),
        GradientHealth(AutoClip(percentile=50, history=16)),
    )
    model.compile(opt, "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = (x[:, :1] * 30.0).astype("float32")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    health = [v for v in opt.health.state_values()]
    assert float(health[2]) == 8.0  # the rule saw all 8 steps
    inner = [
        keras.ops.convert_to_numpy(v) for v in opt.inner_optimizer.variables
    ]
    path = str(tmp_path / "m.keras")
    model.save(path)
    np.savez(tmp_path / "saved.npz", *health)
    np.savez(tmp_path / "inner.npz", *inner)
    out = run_fresh(
        f"""
        import keras, numpy as np
        import keras_initplus
        m = keras.saving.load_model({path!r})
        opt = m.optimizer
        assert type(opt).__name__ == "GradientHealthOptimizer", type(opt)
        assert isinstance(opt.inner_optimizer, keras.optimizers.Adam)
        assert repr(opt.health.clip_norm) == (
            "AutoClip(percentile=50.0, history=16)"
        ), repr(opt.health.clip_norm)
        saved = np.load({str(tmp_path / "saved.npz")!r})
        for a, b in zip(opt.health.state_values(), saved.values()):
            np.testing.assert_array_equal(a, b)
        inner = np.load({str(tmp_path / "inner.npz")!r})
        got = [keras.ops.convert_to_numpy(v)
               for v in opt.inner_optimizer.variables]
        assert len(got) == len(inner)
        for a, b in zip(got, inner.values()):
            np.testing.assert_array_equal(a, b)
        print("ok", int(opt.iterations))
        """
    )
    assert out.split() == ["ok", "8"]


# What `serialize_keras_object` wrote for a wrapper with a ZClip before
# the clip rules shared one interface: saved models of that version
# must still load.
OLD_CONFIG = {
    "module": "keras_initplus.gradients.optimizer",
    "class_name": "GradientHealthOptimizer",
    "config": {
        "name": "gradient_health",
        "inner_optimizer": {
            "module": "keras.optimizers",
            "class_name": "SGD",
            "config": {"name": "sgd", "learning_rate": 0.1},
            "registered_name": None,
        },
        "health": {
            "module": "keras_initplus.gradients.health",
            "class_name": "GradientHealth",
            "config": {
                "clip_norm": {
                    "module": "keras_initplus.gradients.clipping",
                    "class_name": "ZClip",
                    "config": {
                        "alpha": 0.9,
                        "z_thresh": 2.5,
                        "warmup_steps": 25,
                    },
                    "registered_name": "keras_initplus>ZClip",
                },
                "clip_mode": "global",
                "vanishing_threshold": 0.01,
                "vanishing_fraction": 0.5,
                "explode_ratio": 1000.0,
                "explode_update": 1.0,
                "explode_factor": 100.0,
                "explode_norm": None,
                "warmup_steps": 25,
            },
            "registered_name": "keras_initplus>GradientHealth",
        },
    },
    "registered_name": "keras_initplus>GradientHealthOptimizer",
}


@pytest.mark.parametrize(
    "stored, expected", [(None, None), (0.5, 0.5), ("zclip", ZClip(alpha=0.9))]
)
def test_configs_of_the_previous_version_load(stored, expected):
    config = copy.deepcopy(OLD_CONFIG)
    health = config["config"]["health"]["config"]
    if stored != "zclip":
        health["clip_norm"] = stored
    stored = copy.deepcopy(health["clip_norm"])
    opt = keras.saving.deserialize_keras_object(config)
    assert repr(opt.health.clip_norm) == repr(expected)
    # And a model saved now stores `clip_norm` in the same form.
    new = keras.saving.serialize_keras_object(opt)["config"]["health"]
    assert new["config"]["clip_norm"] == stored
