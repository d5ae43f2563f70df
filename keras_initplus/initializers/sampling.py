"""Random draws that share their compiled programs across kernel shapes.

On JAX every new shape compiles a new program for a draw, and the
truncated normal's (an inverse error function, a clip, a scale) takes
about 0.4 s on a CPU: ResNet50V2's 22 kernel shapes cost
`initialize_model` 14 s of compiling, three times its first forward
pass. JAX's threefry generator, in its partitionable mode (JAX's
default), makes each entry from the key and the entry's flat index
alone, so the first n entries of a longer flat draw are exactly the
draw of n entries. Drawing in a few fixed lengths and cutting on the
host gives the same values with one compile per length: lengths 16x
apart up to 2**20 entries (a longer draw there costs milliseconds, a
compile most of a second), then powers of two.

TensorFlow and PyTorch compile nothing per shape there: they draw the
shape itself.
"""

import math

import keras
import numpy as np

from keras_initplus.backend_support import BACKEND

# Above this many entries a draw's own cost outweighs one compile, and
# rounding up could double a large embedding's temporary memory.
_MAX_SHARED = 1 << 24
_SMALL = (1 << 12, 1 << 16, 1 << 20)


def draw(sample, shape):
    """`sample(shape)`, through a longer flat draw of a shared length on
    JAX.

    Args:
        sample: Draws a tensor of the shape it is given; elementwise in
            the generator's flat order (Keras's `uniform`, `normal` and
            `truncated_normal`, then any elementwise scaling or clip).
        shape: The kernel's shape.

    Returns:
        The same values as `sample(shape)`.
    """
    n = math.prod(shape)
    if not _prefix_stable() or n == 0 or n > _MAX_SHARED:
        return sample(shape)
    length = next((k for k in _SMALL if n <= k), 1 << (n - 1).bit_length())
    flat = sample((length,))
    if _traced(flat):
        # Inside a trace (Keras jits the initializer of a sharded
        # variable): the cut is part of the one compiled program.
        return keras.ops.reshape(flat[:n], shape)
    # Cut on the host: slicing on the device would compile per shape.
    flat = keras.ops.convert_to_numpy(flat)
    return keras.ops.convert_to_tensor(np.reshape(flat[:n], shape))


def _traced(x):
    import jax

    return isinstance(x, jax.core.Tracer)


def _prefix_stable():
    if BACKEND != "jax":
        return False
    import jax

    return bool(jax.config.jax_threefry_partitionable)
