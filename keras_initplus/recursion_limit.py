"""Room on the Python stack for Keras's graph of a very deep model."""

import contextlib
import sys

from keras_initplus.validation import check_int

# Keras walks a functional graph recursively, a few frames per layer;
# the default limit of 1,000 frames ends near 1,000 layers.
_FRAMES_PER_LAYER = 8
_SPARE_FRAMES = 2000


@contextlib.contextmanager
def recursion_room(layers):
    """Raises Python's recursion limit for a model `layers` layers deep.

    Keras builds a model, and loads a saved one, by walking its graph
    recursively, a few Python frames per layer, so a plain stack of about
    1,000 layers (a `keras.Sequential` included) exceeds Python's default
    limit of 1,000 frames and raises `RecursionError`. Inside this block
    the limit is at least `8 * layers + 2000`; on leaving it, normally or
    by an exception, the limit goes back to its value before the block.
    A limit that is already higher is never lowered.

    The recursion limit is global to the Python process, so every thread
    sees the raised limit while the block is active.

    Args:
        layers: int, the number of layers of the deepest model that is
            built, loaded or trained inside the block.

    Returns:
        A context manager; the limit is raised while it is active.

    Example:

    ```python
    import keras
    import keras_initplus

    depth = 1200
    init = keras_initplus.initializer_for("relu", depth=depth)
    with keras_initplus.recursion_room(depth):
        model = keras.Sequential(
            [keras.Input((8,))]
            + [keras.layers.Dense(8, "relu", kernel_initializer=init)
               for _ in range(depth)]
        )
        y = model(keras.ops.ones((2, 8)))
    ```
    """
    needed = _FRAMES_PER_LAYER * check_int(layers, "layers", 0) + _SPARE_FRAMES
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, needed))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)
