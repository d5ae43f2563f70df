"""No host callbacks in the train step the callback installs.

A TPU (or any XLA device) runs the step without the Python host; an op
that calls back into Python or prints from the step would stall or fail
there. Checked without a TPU, by reading the traced graph: the train
function's own nodes and, recursively, every function they call
(including `If`/`While` branches and nested `tf.function`s).
"""

import keras
import pytest
import tensorflow as tf

from keras_initplus.gradients import GradientHealthCallback
from tests.gradients.common import data, mlp

HOST_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc", "PrintV2", "Print"}


def op_types(concrete_function):
    """Every op type reachable from the function's graph."""
    graph_def = concrete_function.graph.as_graph_def()
    library = {f.signature.name: f for f in graph_def.library.function}
    seen, types = set(), set()

    def visit(nodes):
        for node in nodes:
            types.add(node.op)
            for attr in node.attr.values():
                names = [attr.func.name] if attr.HasField("func") else []
                names += [f.name for f in attr.list.func]
                for name in names:
                    if name in seen:
                        continue
                    # A body we cannot read would be a blind spot.
                    assert name in library, f"function {name} not found"
                    seen.add(name)
                    visit(library[name].node_def)

    visit(graph_def.node)
    return types


def must_compile(concrete_function):
    """Names of the functions in the library marked for XLA."""
    library = concrete_function.graph.as_graph_def().library.function
    return [
        f.signature.name
        for f in library
        if f.attr.get("_XlaMustCompile") and f.attr["_XlaMustCompile"].b
    ]


def host_ops(concrete_function):
    return sorted(op_types(concrete_function) & HOST_OPS)


def test_inspector_flags_host_callbacks_even_when_nested():
    @tf.function
    def inner(x):
        tf.print("inside", x)
        return x + 1.0

    @tf.function
    def outer(x):
        y = tf.cond(
            x > 0,
            lambda: tf.py_function(lambda v: v * 2.0, [x], tf.float32),
            lambda: tf.numpy_function(lambda v: v, [x], tf.float32),
        )
        return inner(y)

    @tf.function
    def clean(x):
        return tf.sqrt(x) + 1.0

    x = tf.constant(1.0)
    found = host_ops(outer.get_concrete_function(x))
    assert found == ["EagerPyFunc", "PrintV2", "PyFunc"]
    assert host_ops(clean.get_concrete_function(x)) == []


class Probe(keras.callbacks.Callback):
    """Placed after `GradientHealthCallback`: at train begin it finds the
    traced-to-be step inside the callback's guard, without changing it."""

    def on_train_begin(self, logs=None):
        guard = self.model.train_function
        keras_fn = closure(guard)["train_function"]
        self.step = closure(keras_fn)["multi_step_on_iterator"]

    def concrete_functions(self):
        return self.step._list_all_concrete_functions()


def closure(fn):
    cells = [c.cell_contents for c in fn.__closure__]
    return dict(zip(fn.__code__.co_freevars, cells))


def traced_step(model, callback, x, y):
    probe = Probe()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback, probe])
    functions = probe.concrete_functions()
    assert len(functions) == 1
    return functions[0]


@pytest.mark.parametrize(
    "clip_norm, clip_mode, jit, spe",
    [
        (1.0, "global", False, 1),
        (1.0, "global", True, 1),
        (1.0, "global", True, 4),
        (0.5, "layer", True, 1),
        ("autoclip", "global", True, 1),
        ("zclip", "global", True, 1),
    ],
)
def test_installed_step_has_no_host_callbacks(clip_norm, clip_mode, jit, spe):
    x, y = data(64)
    model = mlp(
        keras.optimizers.Adam(0.01), jit_compile=jit, steps_per_execution=spe
    )
    cb = GradientHealthCallback(
        clip_norm, clip_mode, stop_on_nonfinite=True, warmup_steps=2
    )
    fn = traced_step(model, cb, x, y)
    types = op_types(fn)
    assert not types & HOST_OPS, sorted(types & HOST_OPS)
    # The inspector reached the installed step: the finite check and the
    # per-layer norms are ours.
    assert {"IsFinite", "UnsortedSegmentSum"} <= types
    # With jit_compile the whole step is one XLA function (the step ran
    # in `fit`, so XLA compiled it); without, only the statistics update.
    assert len(must_compile(fn)) >= (2 if jit else 1)


class Printing(keras.layers.Layer):
    def call(self, x):
        tf.print("batch mean", tf.reduce_mean(x))
        return x


def test_probe_would_catch_a_host_op_inside_the_step():
    # The control for the test above: the same route from `fit` to the
    # graph finds a print placed in the model's forward pass.
    x, y = data(32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6,)), Printing(), keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    fn = traced_step(model, GradientHealthCallback(clip_norm=1.0), x, y)
    assert host_ops(fn) == ["PrintV2"]
