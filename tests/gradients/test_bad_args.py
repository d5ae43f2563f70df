"""Bad arguments fail at construction, naming the argument and value."""

import re

import pytest

from keras_initplus.gradients import (
    AutoClip,
    GradientHealth,
    GradientHealthCallback,
    ZClip,
)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"clip_norm": -1}, "`clip_norm` must be a positive finite float"),
        ({"clip_norm": 0}, "Received: clip_norm=0"),
        ({"clip_norm": float("inf")}, "Received: clip_norm=inf"),
        ({"clip_norm": "auto"}, "Received: clip_norm='auto'"),
        ({"clip_norm": True}, "Received: clip_norm=True"),
        ({"clip_mode": "per_var"}, "one of ('global', 'layer')"),
        (
            {"clip_norm": "zclip", "clip_mode": "layer"},
            "needs a float `clip_norm`",
        ),
        ({"stop_on_nonfinite": "yes"}, "`stop_on_nonfinite` must be"),
        ({"vanishing_threshold": 2.0}, "`vanishing_threshold` must be"),
        (
            {"vanishing_fraction": 0.0},
            "`vanishing_fraction` must be a float in (0, 1]",
        ),
        ({"explode_ratio": -1.0}, "Received: explode_ratio=-1.0"),
        ({"explode_update": "big"}, "Received: explode_update='big'"),
        (
            {"explode_factor": 1.0},
            "`explode_factor` must be a finite float > 1",
        ),
        ({"explode_norm": -3.0}, "Received: explode_norm=-3.0"),
        ({"warmup_steps": 1.5}, "`warmup_steps` must be an int"),
        ({"log_dir": 3}, "`log_dir` must be a path"),
        ({"warn_interval": -1}, "`warn_interval` must be"),
    ],
)
def test_callback_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=re.escape(pattern)):
        GradientHealthCallback(**kwargs)


def test_core_uses_the_same_checks():
    with pytest.raises(ValueError, match=re.escape("clip_norm=-1")):
        GradientHealth(clip_norm=-1)


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: AutoClip(percentile=0), "percentile=0"),
        (lambda: AutoClip(percentile=101), "percentile=101"),
        (lambda: AutoClip(history=0), "history=0"),
        (lambda: ZClip(alpha=1.0), "alpha=1.0"),
        (lambda: ZClip(z_thresh=-2), "z_thresh=-2"),
        (lambda: ZClip(warmup_steps=1), "warmup_steps=1"),
    ],
)
def test_rule_arguments(make, pattern):
    with pytest.raises(ValueError, match=re.escape(pattern)):
        make()
