"""`initialize_model`: one call that initializes every kernel of a model."""

import keras
import numpy as np

from keras_initplus.initializers.recommend import DEEP_FROM, initializer_for
from keras_initplus.initializers.validation import check_seed
from keras_initplus.introspection import LINEAR, activation_name, layer_path
from keras_initplus.model_init.graph import kernel_layer, read_graph
from keras_initplus.model_init.kernels import kernels_of
from keras_initplus.model_init.report import KernelPlan, ModelInitReport
from keras_initplus.validation import check_bool

# Normalization layers hold scales and shifts, not kernels: they are left
# as Keras made them (ones and zeros) and not listed as unknown.
_NORMALIZATION = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.UnitNormalization,
)


_HEADS = ("softmax", "sigmoid", "log_softmax")
BRANCH_ENDS = ("zero", "scaled")
# Variants that share a rule with a name `initializer_for` knows.
_ALIASES = {
    "gelu_approximate": "gelu",
    "hard_silu": "silu",
    "hard_swish": "silu",
    "relu6": "relu",
}


def _rule_name(activation):
    return _ALIASES.get(activation, activation)


def _with_axes(init, input_axes, output_axes):
    if input_axes is None:
        return init
    config = init.get_config()
    config.update(input_axes=input_axes, output_axes=output_axes)
    return type(init).from_config(config)


class _Planner:
    """Collects the new value of every kernel before any is assigned."""

    def __init__(self, include_frozen, seed, branch_end):
        self.include_frozen = include_frozen
        self.branch_end = branch_end
        self.branches = 1
        self.seed = seed
        self.rows = []
        self.values = []  # (variable, new value)
        self.plain_layers = []
        self.residual_branches = 0

    def next_seed(self):
        if self.seed is None:
            return None
        return self.seed + len(self.values)

    def _frozen(self, layer):
        if layer.trainable or self.include_frozen:
            return False
        for _, var, *_ in kernels_of(layer):
            self.rows.append(
                KernelPlan(
                    var.path,
                    layer.name,
                    "frozen",
                    None,
                    "left as is: trainable=False (include_frozen=True "
                    "draws it)",
                )
            )
        return True

    def _draw(self, layer, role, activation, factory):
        """`factory(label)` gives `(initializer, scale, role)` for one
        kernel; a None initializer or a zero scale means zeros."""
        for label, var, input_axes, output_axes in kernels_of(layer):
            init, scale, role = factory(label, role)
            shape = tuple(var.shape)
            dtype = keras.backend.standardize_dtype(var.dtype)
            if init is None or scale == 0.0:
                value = np.zeros(shape, dtype)
                action = "zeros"
            else:
                init = _with_axes(init, input_axes, output_axes)
                value = keras.ops.convert_to_numpy(init(shape, dtype))
                action = _describe(init)
                if scale != 1.0:
                    value = value * np.asarray(scale, value.dtype)
                    action += f" x{scale:.3g}"
            self.values.append((var, value))
            self.rows.append(
                KernelPlan(var.path, layer.name, role, activation, action)
            )

    def plan(self, model):
        reading = read_graph(model)
        if reading is None:
            self._unknown(
                model,
                f"a subclassed {type(model).__name__} has no graph to read",
            )
            return
        n = len(reading.residuals) + sum(b.branches for b in reading.blocks)
        self.residual_branches += n
        self.branches = max(n, 1)
        in_branch, branch_end = {}, set()
        for r in reading.residuals:
            m = len(r.layers)
            # Fixup (Zhang et al., 2019): with the branch's last kernel
            # at zero the net starts as the identity; the other kernels
            # of an m-layer branch are scaled by n ** (-1 / (2m - 2)) so
            # that once it moves, the sum of n branches stays O(1).
            scale = n ** (-1.0 / (2 * m - 2)) if m >= 2 else 1.0
            for layer in r.layers:
                prev = in_branch.get(id(layer), 1.0)
                in_branch[id(layer)] = min(prev, scale)
            branch_end.update(id(layer) for layer in r.final)
        plain = [la for la in reading.layers if id(la) not in in_branch]
        depth = len(plain) if len(plain) >= DEEP_FROM else None
        for layer in reading.layers:
            if self._frozen(layer):
                continue
            act = reading.activation[id(layer)]
            if id(layer) in in_branch:
                self._plan_branch(
                    layer, act, id(layer) in branch_end, in_branch[id(layer)]
                )
                continue
            i = next(k for k, la in enumerate(plain) if la is layer)
            position = (
                "first"
                if i == 0
                else "last"
                if i == len(plain) - 1
                else "hidden"
            )
            self._plan_plain(layer, act, depth, position)
        for block in reading.blocks:
            self._plan_block(block, n)
        for sub in reading.submodels:
            self.plan(sub)
        for layer in _opaque(model, reading):
            self._unknown(
                layer,
                f"{type(layer).__name__} is not a layer the rules "
                "know; its weights are as they were",
            )

    def _plan_plain(self, layer, act, depth, position):
        if act in _HEADS:
            # An output head is not one of the stack's repeated layers:
            # it keeps its shallow answer at any depth.
            depth = None
        try:
            init = initializer_for(
                _rule_name(act), depth=depth, position=position
            )
        except ValueError:
            self._unknown(layer, f"no rule for activation {act!r}")
            return
        if not isinstance(layer, keras.layers.MultiHeadAttention):
            self.plain_layers.append(layer)
        self._draw(
            layer,
            "plain",
            act,
            lambda label, role: (_seeded(init, self), 1.0, role),
        )

    def _plan_branch(self, layer, act, is_end, scale):
        attention = isinstance(layer, keras.layers.MultiHeadAttention)
        try:
            init = initializer_for(LINEAR if attention else _rule_name(act))
        except ValueError:
            self._unknown(layer, f"no rule for activation {act!r}")
            return

        def factory(label, role):
            if is_end and (not attention or label == "output"):
                if self.branch_end == "zero":
                    return None, 0.0, "branch_end"
                # n branches whose ends have variance 1/n of the plain
                # draw add up to a signal of the shortcut's order.
                return _seeded(init, self), self.branches**-0.5, "branch_end"
            if is_end or label in ("query", "key"):
                # Query and key meet in the softmax's logits, which a
                # scale would flatten; only the path that the branch
                # adds to the shortcut is scaled.
                return _seeded(init, self), 1.0, "branch"
            return _seeded(init, self), scale, "branch"

        self._draw(layer, "branch", act, factory)

    def _plan_block(self, block, n):
        """A keras-hub transformer layer: each attention is a branch whose
        output kernel is its end, the feed-forward pair another."""
        if not block.layer.trainable and not self.include_frozen:
            for sub in (*block.attentions, block.ffn_in, block.ffn_out):
                self._frozen(sub)
            return
        for attention in block.attentions:
            self._plan_branch(attention, LINEAR, True, 1.0)
        act = activation_name(getattr(block.layer, "activation", None))
        self._plan_branch(block.ffn_in, act, False, n ** (-0.5))
        self._plan_branch(block.ffn_out, LINEAR, True, 1.0)

    def _unknown(self, layer, why):
        if not layer.weights:
            return
        self.rows.append(
            KernelPlan(
                layer_path(layer),
                layer.name,
                "unknown",
                None,
                f"left as is: {why}",
            )
        )


def _seeded(init, planner):
    seed = planner.next_seed()
    if seed is None:
        return init
    config = init.get_config()
    config["seed"] = seed
    return type(init).from_config(config)


def _describe(init):
    name = type(init).__qualname__
    if name == "VarianceScaling":
        return (
            f"VarianceScaling({init.scale:g}, {init.mode}, {init.distribution})"
        )
    if name == "LooksLinear":
        return f"LooksLinear({init.position})"
    if name == "Orthogonal":
        return f"Orthogonal(gain={init.gain!r})"
    return name


def _opaque(model, reading):
    """Layers of the graph that hold weights but are neither kernel
    layers, normalization layers nor nested models with a graph."""
    known = {id(la) for la in reading.layers}
    known |= {id(m) for m in reading.submodels}
    known |= {id(b.layer) for b in reading.blocks}
    out = []
    for layer in model.layers:
        if id(layer) in known or isinstance(layer, _NORMALIZATION):
            continue
        if layer.weights and not kernel_layer(layer):
            out.append(layer)
    return out


def initialize_model(
    model, x=None, *, include_frozen=False, seed=None, branch_end="scaled"
):
    """Initializes every kernel of a built model for its activation, its
    position and its depth, and returns a `ModelInitReport`.

    Reads the model's Functional graph (Sequential included):

    - **Plain path.** Kernels on the path from input to output, outside
      any residual branch, get `initializer_for(activation, depth=L,
      position=...)`, with `L` the number of such layers (the depth
      answer from 20 on: looks-linear kernels for ReLU-family units,
      orthogonal ones for tanh and linear), the first and last layer
      marked as such.
    - **Residual branches.** For every `Add` of a shortcut and a branch
      (`n` branches in all, `m` kernels in a branch), the branch's
      kernels get the shallow `initializer_for(activation)`, scaled by
      `n ** (-1 / (2m - 2))` (Fixup's rule, Zhang et al., 2019, without
      its added scalars) and its last kernel by `n ** -0.5`, so the sum
      of `n` branches stays of the shortcut's order at any depth
      (`branch_end="scaled"`). With `branch_end="zero"` the last kernel
      is zero instead (Fixup, SkipInit): the network starts exactly as
      its plain path. Measured on MNIST-1D (docs/mnist1d.md), "scaled"
      trained as well with Adam and faster with SGD, and raised no
      warning in `GradientHealthCallback`, where "zero" left the
      branches' inner layers with near-zero gradients for the first
      steps. Attention blocks built by hand
      (`x + MultiHeadAttention(norm(x))`) are such branches: the
      attention's output kernel is the branch's last; query and key are
      not scaled.
    - **With `x`:** the plain-path kernels are then rescaled by
      `lsuv_init` on that batch, so their pre-activations have unit
      variance where the analysis is only approximate (the report's
      `lsuv` attribute holds its report). Branch kernels are not: their
      scale is the point.
    - **Left alone, and named in the report:** frozen layers
      (`trainable=False`) unless `include_frozen=True`; normalization
      layers (their ones and zeros are right); layers the rules do not
      know (embeddings, recurrent layers, composite layers such as a
      keras-hub `TransformerEncoder` whose inner graph is not Keras's);
      subclassed models, which have no graph to read.

    Every new value is computed before the first is assigned, and if
    anything fails (the data-driven pass included) every kernel is put
    back as it was.

    Without `x` no forward pass runs; with it, the cost is that of
    `lsuv_init` on the plain-path layers.

    Args:
        model: A built `keras.Model`, Sequential or Functional; it is
            built from `x` if it is not built and `x` is given.
        x: None, or one batch of inputs for the data-driven pass.
        include_frozen: Whether to draw the kernels of frozen layers too.
        seed: None, or a non-negative int for reproducible kernels.
        branch_end: `"scaled"` (default) or `"zero"`: the last kernel
            of each residual branch.

    Returns:
        A `ModelInitReport`: one row per kernel, by variable path.

    Example:

    >>> inputs = keras.Input((64,))
    >>> h = keras.layers.Dense(64, "relu")(inputs)
    >>> for _ in range(100):
    ...     branch = keras.layers.Dense(64, "relu")(h)
    ...     branch = keras.layers.Dense(64)(branch)
    ...     h = keras.layers.Add()([h, branch])
    >>> model = keras.Model(inputs, keras.layers.Dense(10)(h))
    >>> report = keras_initplus.initialize_model(model, seed=0)

    Reference:
        - [Zhang et al., 2019, Fixup](https://arxiv.org/abs/1901.09321)
        - [De & Smith, 2020, SkipInit](https://arxiv.org/abs/2002.10444)
        - [Mishkin & Matas, 2016, LSUV](https://arxiv.org/abs/1511.06422)
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Argument `model` must be a keras.Model. "
            f"Received: model={model!r} of type {type(model).__name__}"
        )
    include_frozen = check_bool(include_frozen, "include_frozen")
    if isinstance(check_seed(seed), keras.random.SeedGenerator):
        raise TypeError(
            "Argument `seed` must be None or a non-negative int (each "
            f"kernel gets seed + its index). Received: seed={seed!r}"
        )
    if not model.built:
        if x is None:
            raise ValueError(
                f"Model '{model.name}' is not built: pass a batch `x`, or "
                "build it first (call it once, or give it an Input). "
                "Received: x=None"
            )
        model(x)
    if branch_end not in BRANCH_ENDS:
        raise ValueError(
            f"Argument `branch_end` must be one of {BRANCH_ENDS}. "
            f"Received: branch_end={branch_end!r}"
        )
    planner = _Planner(include_frozen, seed, branch_end)
    planner.plan(model)
    before = [
        (var, keras.ops.convert_to_numpy(var)) for var, _ in planner.values
    ]
    try:
        for var, value in planner.values:
            var.assign(value)
        lsuv = None
        if x is not None and planner.plain_layers:
            from keras_initplus.lsuv import lsuv_init

            lsuv = lsuv_init(
                model,
                x,
                layers=planner.plain_layers,
                include_frozen=include_frozen,
                verbose=0,
            )
    except BaseException:
        for var, value in before:
            var.assign(value)
        raise
    return ModelInitReport(planner.rows, planner.residual_branches, lsuv)
