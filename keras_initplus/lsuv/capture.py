"""Runs LSUV inside one forward pass by intercepting each layer's call.

Every targeted layer's `call` is temporarily replaced, on the instance,
by a wrapper. The first time the forward pass reaches the layer, the
wrapper holds the inputs the layer was called with, rescales the layer
on exactly those inputs (iterating on that one layer alone), then
returns the layer's output with the new weights so that the rest of the
forward pass sees the rescaled layer. Layers are thus processed in call
order, which is a topological order, and each one sees an input that
already reflects every rescaled layer upstream of it: Algorithm 1's
sequential semantics from a single forward pass, for any model whose
layers are called through `Layer.__call__` (Sequential, Functional,
nested and subclassed models alike).
"""

import keras
from keras import tree

from keras_initplus.backend_support import TENSORFLOW
from keras_initplus.introspection import layer_path, wrapped_calls
from keras_initplus.lsuv.report import LayerResult
from keras_initplus.lsuv.scaling import scale_layer


def _is_symbolic(args, kwargs):
    return any(
        isinstance(x, keras.KerasTensor) for x in tree.flatten((args, kwargs))
    )


def _check_eager(layer):
    if not TENSORFLOW:
        return
    import tensorflow as tf

    if not tf.executing_eagerly():
        raise RuntimeError(
            f"lsuv_init must run eagerly, but layer '{layer.name}' was "
            "called inside a traced function (e.g. a `tf.function` in the "
            "model's `call`). Run `lsuv_init` on a model whose forward "
            "pass runs eagerly."
        )


class CallInterceptor:
    """Context manager that runs LSUV on `targets` during a forward pass.

    Args:
        targets: List of `(layer, rule)` pairs.
        watch: Layers whose inputs are compared with the output of the
            last rescaled layer, to note the BatchNormalization that
            directly follows a rescaled layer.
        settings: Dict with `target`, `tol`, `max_iter`.
        on_done: Called with each `LayerResult` once its layer is done.
    """

    def __init__(self, targets, watch, settings, on_done):
        self._targets = targets
        self._watch = watch
        self._settings = settings
        self._on_done = on_done
        self._calls = None
        self.done = set()
        # Only the last output is kept, so memory stays one activation;
        # a BatchNormalization right after the layer receives exactly it.
        self._last = None
        self.results = []

    def __enter__(self):
        wrappers = [
            (layer, self._target_wrapper(layer, rule))
            for layer, rule in self._targets
        ]
        wrappers += [
            (layer, self._watch_wrapper(layer)) for layer in self._watch
        ]
        self._calls = wrapped_calls(wrappers)
        self._calls.__enter__()
        return self

    def __exit__(self, *exc):
        self._last = None
        return self._calls.__exit__(*exc)

    def _target_wrapper(self, layer, rule):
        def make(original):
            def call(*args, **kwargs):
                if id(layer) in self.done or _is_symbolic(args, kwargs):
                    return original(*args, **kwargs)
                _check_eager(layer)
                self.done.add(id(layer))
                result = LayerResult(
                    name=layer.name,
                    path=layer_path(layer),
                    class_name=type(layer).__name__,
                    variable=rule.variable_name,
                )
                scale_layer(
                    result, rule, original, args, kwargs, **self._settings
                )
                self.results.append(result)
                self._on_done(result)
                outputs = original(*args, **kwargs)
                self._last = (result, outputs)
                return outputs

            return call

        return make

    def _watch_wrapper(self, layer):
        def make(original):
            def call(*args, **kwargs):
                if self._last is not None and args:
                    result, outputs = self._last
                    if args[0] is outputs and result.status == "scaled":
                        result.note = (
                            f"'{layer.name}' (BatchNorm) follows: it "
                            "renormalizes this scale in training"
                        )
                return original(*args, **kwargs)

            return call

        return make
