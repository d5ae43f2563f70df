"""Which layers of a model an LSUV pass rescales."""

import warnings

import keras

from keras_initplus.introspection import children, layer_path, sublayers
from keras_initplus.lsuv.report import LayerResult
from keras_initplus.lsuv.rules import SUPPORTED, has_kernel, is_marked, rule_for


def _candidates(model):
    """The layers LSUV chooses from: every layer inside `model`, depth
    first, each once.

    Supported layers are not descended into: an LSTM's cell and a
    Dense's internals belong to the rule of the layer itself.
    """
    return sublayers(model, enter=lambda layer: rule_for(layer) is None)


def _named(model, all_layers, layers):
    chosen = []
    names = [layer.name for layer in all_layers]
    for item in layers:
        if isinstance(item, str):
            hits = [layer for layer in all_layers if layer.name == item]
            if not hits:
                raise ValueError(
                    f"Argument `layers` names a layer that is not in model "
                    f"'{model.name}'. Received: {item!r}. Layers in the "
                    f"model: {names}"
                )
            chosen.extend(hits)
        elif any(item is layer for layer in all_layers):
            chosen.append(item)
        else:
            raise ValueError(
                f"Argument `layers` holds a layer that is not in model "
                f"'{model.name}'. Received: {item.name!r}. Layers in the "
                f"model: {names}"
            )
    unique = []
    for layer in chosen:
        if not any(layer is u for u in unique):
            unique.append(layer)
    return unique


def frozen_layers(model):
    """The ids of the layers that training leaves alone: those with
    `trainable=False` and everything inside them, the model included.

    Keras copies `trainable=False` down to the sublayers when it is set,
    but a sublayer set back to True afterwards is still not trained, as
    its parent reports no trainable weights; hence the walk.
    """
    frozen = set()
    seen = set()

    def visit(layer, inherited):
        for sub in children(layer):
            is_frozen = inherited or not sub.trainable
            if is_frozen:
                if id(sub) in frozen:
                    continue
                frozen.add(id(sub))
            elif id(sub) in seen:
                continue
            # A layer shared by a frozen and a trainable parent counts
            # as frozen: it is revisited from the frozen one.
            seen.add(id(sub))
            visit(sub, is_frozen)

    visit(model, not model.trainable)
    return frozen


def _no_layer_selected(model, supported):
    message = (
        f"lsuv_init selected no layer of model '{model.name}': with the "
        "default `layers=None` it scales only the layers whose kernel "
        "initializer is `keras_initplus.LSUV`, and this model has none. "
        'Pass `layers="all"` to scale every supported layer '
        f"({supported} in this model), or a list of layer names."
    )
    warnings.warn(message, UserWarning, stacklevel=4)
    return message


def select(model, layers, include_frozen=False):
    """Returns `(targets, skipped, notes)`.

    `targets` is a list of `(layer, rule)`; `skipped` a list of
    `LayerResult` for the chosen layers LSUV does not support, which are
    also announced in one warning, and for the frozen ones unless
    `include_frozen`; `notes` what the report should add below its table.
    """
    all_layers = _candidates(model)
    frozen = set() if include_frozen else frozen_layers(model)
    notes = []
    if layers is None:
        chosen = [layer for layer in all_layers if is_marked(layer)]
        if not chosen:
            supported = sum(rule_for(layer) is not None for layer in all_layers)
            notes.append(_no_layer_selected(model, supported))
    elif layers == "all":
        chosen = [
            layer
            for layer in all_layers
            if rule_for(layer) is not None or has_kernel(layer)
        ]
    else:
        chosen = _named(model, all_layers, layers)
    targets, unsupported, frozen_rows = [], [], []
    for layer in chosen:
        rule = rule_for(layer)
        if (
            rule is not None
            and not include_frozen
            and (id(layer) in frozen or not rule.variable.trainable)
        ):
            # Transfer learning freezes what was learned elsewhere;
            # rescaling it would change the features it was frozen for.
            frozen_rows.append(
                LayerResult(
                    name=layer.name,
                    path=layer_path(layer),
                    class_name=type(layer).__name__,
                    variable=rule.variable_name,
                    status="skipped",
                    note="frozen (trainable=False); include_frozen=True "
                    "scales it",
                )
            )
        elif rule is not None:
            targets.append((layer, rule))
        else:
            unsupported.append(
                LayerResult(
                    name=layer.name,
                    path=layer_path(layer),
                    class_name=type(layer).__name__,
                    status="skipped",
                    note="layer type not supported by LSUV",
                )
            )
    if unsupported:
        listed = ", ".join(f"'{r.name}' ({r.class_name})" for r in unsupported)
        warnings.warn(
            f"LSUV skips {len(unsupported)} layer(s) of a type it does not "
            f"support, leaving their weights as they are: {listed}. "
            f"Supported layers: {SUPPORTED}.",
            RuntimeWarning,
            stacklevel=3,
        )
    if frozen_rows and isinstance(layers, list):
        # Named one by one, they were meant; under None or "all" leaving
        # frozen layers alone is the expected default and the report says
        # it.
        warnings.warn(
            f"lsuv_init leaves {len(frozen_rows)} frozen layer(s) of "
            f"`layers` as they are: {[r.name for r in frozen_rows]}. Pass "
            "`include_frozen=True` to scale them anyway.",
            UserWarning,
            stacklevel=3,
        )
    return targets, unsupported + frozen_rows, notes


def batch_norms(model):
    return [
        layer
        for layer in _candidates(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
