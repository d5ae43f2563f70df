import math

import keras
import numpy as np
import pytest

import keras_initplus
from keras_initplus.initializers import sampling

# Sizes on both sides of every shared length, and a rank-4 kernel.
SHAPES = [(5,), (64, 64), (65, 64), (3, 3, 64, 64), (300, 300), (1100, 1000)]
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_shared_length_draw_equals_the_direct_draw_exactly(distribution, shape):
    init = keras_initplus.VarianceScaling(2.0, "fan_avg", distribution, seed=7)
    std = math.sqrt(init.variance(shape))
    direct = init._sample(shape, std, "float32", 7)
    through = sampling.draw(lambda s: init._sample(s, std, "float32", 7), shape)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(through), keras.ops.convert_to_numpy(direct)
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(init(shape)),
        keras.ops.convert_to_numpy(direct),
    )


@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="JAX compiles per shape"
)
def test_jax_draws_share_few_lengths():
    # The sizes of ResNet50V2's 22 kernel shapes; one compiled draw per
    # length.
    lengths = set()

    def sample(shape):
        lengths.add(shape)
        return keras.ops.zeros(shape)

    sizes = [
        9408,
        4096,
        36864,
        16384,
        65536,
        147456,
        32768,
        131072,
        262144,
        589824,
        524288,
        1048576,
        2359296,
        2097152,
        20480,
    ]
    for n in sizes:
        out = sampling.draw(sample, (n,))
        assert tuple(out.shape) == (n,)
    assert lengths == {
        (1 << 12,),
        (1 << 16,),
        (1 << 20,),
        (1 << 21,),
        (1 << 22,),
    }


@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="Keras jits sharded inits on JAX"
)
def test_a_jitted_initializer_draws_the_same_values():
    # Keras's JAX backend runs a sharded variable's initializer under
    # `jax.jit`, where nothing can be read back to the host.
    import jax

    init = keras_initplus.HeAvgFanNormal(seed=5)
    jitted = jax.jit(init.__call__, static_argnames=["shape", "dtype"])
    shape = (3, 3, 16, 32)
    np.testing.assert_array_equal(
        np.asarray(jitted(shape=shape, dtype="float32")),
        keras.ops.convert_to_numpy(init(shape, "float32")),
    )
