import keras
import numpy as np
import pytest

import keras_initplus
from tests.helpers import run_fresh

FACTORIES = {
    "he_normal": lambda s: keras_initplus.HeAvgFanNormal(seed=s),
    "he_uniform": lambda s: keras_initplus.HeAvgFanUniform(seed=s),
    "orthogonal": lambda s: keras_initplus.Orthogonal(seed=s),
    "delta": lambda s: keras_initplus.DeltaOrthogonal(seed=s),
    "for_relu": lambda s: keras_initplus.initializer_for("relu", seed=s),
}
SHAPE = (3, 3, 8, 16)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_int_seed_repeats_and_none_does_not(name):
    seeded = FACTORIES[name](11)
    np.testing.assert_array_equal(
        np.asarray(seeded(SHAPE)), np.asarray(seeded(SHAPE))
    )
    other = FACTORIES[name](12)
    assert not np.array_equal(
        np.asarray(seeded(SHAPE)), np.asarray(other(SHAPE))
    )
    fresh = FACTORIES[name](None)
    assert not np.array_equal(
        np.asarray(fresh(SHAPE)), np.asarray(fresh(SHAPE))
    )


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_one_unseeded_instance_gives_two_layers_different_kernels(name):
    # Keras 3 fixes an unseeded initializer's seed at construction, so a
    # shared instance hands every layer the same kernel; ours must not.
    shared = FACTORIES[name](None)
    a = keras.layers.Conv2D(16, 3, kernel_initializer=shared)
    b = keras.layers.Conv2D(16, 3, kernel_initializer=shared)
    a.build((None, 8, 8, 8))
    b.build((None, 8, 8, 8))
    assert not np.array_equal(np.asarray(a.kernel), np.asarray(b.kernel))


def test_unseeded_draws_follow_set_random_seed():
    init = keras_initplus.Orthogonal()
    keras.utils.set_random_seed(3)
    first = np.asarray(init((6, 4)))
    keras.utils.set_random_seed(3)
    np.testing.assert_array_equal(first, np.asarray(init((6, 4))))


def test_int_seed_is_identical_in_a_fresh_process():
    here = {
        name: np.asarray(make(5)(SHAPE)).tolist()
        for name, make in FACTORIES.items()
    }
    out = run_fresh(
        """
        import json, numpy as np, keras_initplus as k
        makers = {
            "he_normal": k.HeAvgFanNormal, "he_uniform": k.HeAvgFanUniform,
            "orthogonal": k.Orthogonal, "delta": k.DeltaOrthogonal,
        }
        out = {n: np.asarray(m(seed=5)((3, 3, 8, 16))).tolist()
               for n, m in makers.items()}
        out["for_relu"] = np.asarray(
            k.initializer_for("relu", seed=5)((3, 3, 8, 16))).tolist()
        print(json.dumps(out))
        """
    )
    import json

    there = json.loads(out.strip().splitlines()[-1])
    for name in FACTORIES:
        np.testing.assert_array_equal(
            np.array(here[name]), np.array(there[name])
        )
