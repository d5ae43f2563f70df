import json
import os

from tests.helpers import run_fresh

HERE = os.path.dirname(os.path.abspath(__file__))


def test_initializers_give_the_same_values_under_mirrored_strategy():
    script = os.path.join(HERE, "strategy_initializers_script.py")
    out = run_fresh(
        f"import runpy; runpy.run_path({script!r}, run_name='__main__')"
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert set(result["same"]) == {
        "he_avg_fan_normal",
        "he_avg_fan_uniform",
        "orthogonal",
        "delta_orthogonal",
        "initializer_for",
        "variance_scaling",
        "lsuv",
    }
    assert all(result["same"].values()), result
