"""Room on the Python stack for Keras's graph of a very deep model."""

import contextlib
import sys

# Keras walks a functional graph recursively, a few frames per layer;
# the default limit of 1,000 frames ends near 1,000 layers.
_FRAMES_PER_LAYER = 8
_SPARE_FRAMES = 2000


@contextlib.contextmanager
def recursion_room(layers):
    """Raises Python's recursion limit for a model of `layers` layers,
    inside the block only, so a deep Sequential builds and trains instead
    of raising RecursionError."""
    before = sys.getrecursionlimit()
    needed = _FRAMES_PER_LAYER * layers + _SPARE_FRAMES
    sys.setrecursionlimit(max(before, needed))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)
