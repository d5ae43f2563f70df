"""Every private Keras attribute the package relies on, in one place.

Keras 3 has no public hook for these, so each is named here with where
it is used and why, and `check` verifies them against the installed
Keras: the test suite runs it, and `GradientHealthOptimizer` checks the
optimizer ones before it traces a step, so that a Keras release that
renames one fails with a message naming it rather than deep in `fit`.

The gradient half also relies on one TensorFlow internal
(`tf.__internal__`) and on JAX's trainer jitting `self.train_step`;
they are listed the same way.

LSUV reads a layer's raw variable as `_kernel` or `_embeddings` and
falls back to the public name where Keras keeps no raw one; `check`
still reports a release without them, so that the fallback is looked at.
"""

import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class PrivateAttribute:
    owner: str  # what the attribute lives on
    name: str
    used_in: str
    why: str


OPTIMIZER = "keras.optimizers.Optimizer (TensorFlow backend)"
_BUILT_DENSE = "a built keras.layers.Dense or EinsumDense"
_BUILT_EMBEDDING = "a built keras.layers.Embedding"
_FUNCTIONAL = "a Functional model"
CALLBACK = "keras.callbacks.Callback"
TENSORFLOW_MODULE = "the tensorflow module (TensorFlow backend)"
JAX_TRAINER = "keras.Model (JAX backend)"
VARIABLE = "keras.Variable"
# Owners whose entries exist on one backend only; `check` skips them
# elsewhere.
BACKEND_OF = {
    OPTIMIZER: "tensorflow",
    TENSORFLOW_MODULE: "tensorflow",
    JAX_TRAINER: "jax",
}

PRIVATE_API = (
    PrivateAttribute(
        OPTIMIZER,
        "_all_reduce_sum_gradients",
        "gradients/optimizer.py",
        "overridden while a step is traced: our gradients are summed "
        "across replicas already",
    ),
    PrivateAttribute(
        OPTIMIZER,
        "_trainable_variables",
        "gradients/optimizer.py",
        "the variables `apply(grads)` updates when none are passed, as "
        "Keras's own optimizers read them",
    ),
    PrivateAttribute(
        OPTIMIZER,
        "_clip_gradients",
        "gradients/optimizer.py",
        "with gradient accumulation, replaced while the step is traced "
        "so the accumulated gradient is clipped once, by us",
    ),
    PrivateAttribute(
        OPTIMIZER,
        "_apply_weight_decay",
        "gradients/optimizer.py",
        "with gradient accumulation, moved behind the non-finite check",
    ),
    PrivateAttribute(
        OPTIMIZER,
        "_backend_update_step",
        "gradients/optimizer.py",
        "with gradient accumulation, the update that is measured and "
        "skipped on non-finite gradients",
    ),
    PrivateAttribute(
        CALLBACK,
        "_model",
        "gradients/callback.py",
        "the model without the `model` property, which on JAX syncs the "
        "variables from the last step's state that the next step donates",
    ),
    PrivateAttribute(
        TENSORFLOW_MODULE,
        "__internal__.distribute.strategy_supports_no_merge_call",
        "gradients/optimizer.py",
        "whether the skip is taken in the replica context or inside "
        "merge_call, as LossScaleOptimizer decides it",
    ),
    PrivateAttribute(
        JAX_TRAINER,
        "train_step",
        "gradients/callback.py",
        "overridden on the instance while the train function is made: "
        "JAX's make_train_function jits `self.train_step`, and a fresh "
        "function gives each installed wrapper its own trace",
    ),
    PrivateAttribute(
        VARIABLE,
        "_value",
        "gradients/metrics.py",
        "on JAX, None while `fit` carries the optimizer's variables "
        "through the step (`_purge_model_variables`): the grad_* "
        "metrics then report NaN instead of reading them",
    ),
    PrivateAttribute(
        "keras.layers.Layer",
        "_flatten_layers",
        "introspection/walk.py",
        "the walk over sublayers of subclassed and nested models",
    ),
    PrivateAttribute(
        "keras.layers.Layer",
        "_call_context_args",
        "lsuv/graph.py",
        "whether a layer takes `training`, so the walk passes False",
    ),
    PrivateAttribute(
        _BUILT_DENSE,
        "_kernel",
        "lsuv/rules.py",
        "the raw kernel variable LSUV scales; the public `kernel` is a "
        "derived tensor under LoRA or quantization",
    ),
    PrivateAttribute(
        _BUILT_EMBEDDING,
        "_embeddings",
        "lsuv/rules.py",
        "the raw embeddings variable LSUV scales; the public "
        "`embeddings` is a derived tensor under LoRA or quantization",
    ),
    PrivateAttribute(
        "keras.Sequential",
        "_functional",
        "introspection/graph.py",
        "the graph a built Sequential runs, walked node by node",
    ),
    PrivateAttribute(
        _FUNCTIONAL,
        "_nodes_by_depth",
        "introspection/graph.py",
        "the node order of the memory-saving forward pass, and of the "
        "graph `initialize_model` reads for residual branches",
    ),
    PrivateAttribute(
        _FUNCTIONAL,
        "_standardize_inputs",
        "lsuv/graph.py",
        "the inputs flattened as Functional.call does",
    ),
    PrivateAttribute(
        _FUNCTIONAL,
        "_outputs_struct",
        "lsuv/graph.py",
        "the output structure the forward pass packs",
    ),
    PrivateAttribute(
        "keras.src.models.functional",
        "Functional",
        "introspection/graph.py",
        "the class that tells a graph model from a subclassed one",
    ),
)


# keras-hub is optional, so these are listed and documented but not
# probed by `check`: `initialize_model` recognises a transformer block by
# them and leaves a layer without them alone (and named in its report).
KERAS_HUB_PRIVATE_API = tuple(
    PrivateAttribute(
        "keras_hub.layers.TransformerEncoder and TransformerDecoder "
        "(keras-hub 0.32)",
        name,
        "model_init/composite.py",
        "the sublayers of a transformer block, whose residual branches "
        "are inside the layer's call and not in the model's graph",
    )
    for name in (
        "_self_attention_layer",
        "_cross_attention_layer",
        "_feedforward_intermediate_dense",
        "_feedforward_output_dense",
    )
)


def _probes():
    """An object of each owner kind, built on the current backend."""
    import importlib

    inputs = keras.Input((3,))
    functional = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    sequential = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build(functional.trainable_variables)
    dense = keras.layers.Dense(2)
    dense.build((None, 3))
    embedding = keras.layers.Embedding(4, 2)
    embedding.build((None,))
    backend = keras.backend.backend()
    return {
        CALLBACK: keras.callbacks.Callback(),
        TENSORFLOW_MODULE: (
            importlib.import_module("tensorflow")
            if backend == "tensorflow"
            else None
        ),
        JAX_TRAINER: functional,
        VARIABLE: keras.Variable(0.0),
        OPTIMIZER: optimizer,
        _FUNCTIONAL: functional,
        "keras.Sequential": sequential,
        "keras.layers.Layer": keras.layers.Dense(2),
        _BUILT_DENSE: dense,
        _BUILT_EMBEDDING: embedding,
        "keras.src.models.functional": importlib.import_module(
            "keras.src.models.functional"
        ),
    }


def missing_message(entry):
    return (
        f"keras_initplus relies on the private Keras attribute "
        f"`{entry.name}` of {entry.owner} ({entry.used_in}: {entry.why}), "
        f"which Keras {keras.version()} does not have. Install a Keras "
        "version the package supports (setup.cfg) or report this."
    )


def _owner_type(owner):
    """The class an object must be for its attributes to be checked
    against `owner`'s entries (None: not checked)."""
    return {
        OPTIMIZER: keras.optimizers.Optimizer,
        "keras.layers.Layer": keras.layers.Layer,
        "keras.Sequential": keras.Sequential,
    }.get(owner)


def _has(obj, dotted):
    """`hasattr` along a dotted path (`a.b.c`)."""
    for part in dotted.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def check_attributes(obj, owner):
    """Raises if `obj` lacks a private attribute listed for `owner`.

    `obj` must be of the owner's kind: anything else lacks the
    attribute too, and would be reported as a Keras version problem.
    Callers check their arguments' types first; this is the backstop.
    """
    kind = _owner_type(owner)
    if kind is not None and not isinstance(obj, kind):
        raise TypeError(
            f"Private attributes of {owner} can only be checked on one. "
            f"Received: {obj!r} (a {type(obj).__name__})"
        )
    for entry in PRIVATE_API:
        if entry.owner == owner and not hasattr(obj, entry.name):
            raise RuntimeError(missing_message(entry))


def check():
    """Checks every entry against the installed Keras; returns the
    entries checked. Entries of a `BACKEND_OF` owner are checked on that
    backend only."""
    probes = _probes()
    checked = []
    for entry in PRIVATE_API:
        backend = BACKEND_OF.get(entry.owner, keras.backend.backend())
        if backend != keras.backend.backend():
            continue
        if not _has(probes[entry.owner], entry.name):
            raise RuntimeError(missing_message(entry))
        checked.append(entry)
    return checked
