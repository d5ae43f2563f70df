"""Wrapping a layer's `call` on the instance, for the length of a block."""

import contextlib


def _install(layer, make, saved):
    replacement = make(layer.call)
    saved.append((layer, "call" in layer.__dict__, layer.__dict__.get("call")))
    # object.__setattr__ keeps Keras's attribute tracker out of it: the
    # wrapper is not state of the layer and must not be saved with it.
    object.__setattr__(layer, "call", replacement)


def _restore(saved):
    # Last installed first, so a layer wrapped twice ends as it began.
    while saved:
        layer, had, previous = saved.pop()
        if had:
            object.__setattr__(layer, "call", previous)
        else:
            object.__delattr__(layer, "call")


@contextlib.contextmanager
def wrapped_calls(wrappers):
    """Within the block, each `layer.call` is `make(original_call)`.

    `wrappers` is an iterable of `(layer, make)`. Keras's `__call__`
    reaches `call` through the instance, so the wrapper sees exactly the
    arguments the forward pass gives the layer, whatever kind of model
    calls it. Every layer is put back on leaving the block, also when
    installing a later wrapper fails.
    """
    saved = []
    try:
        for layer, make in wrappers:
            _install(layer, make, saved)
        yield
    finally:
        _restore(saved)
