"""Which layers of a model an LSUV pass rescales."""

import warnings

import keras

from keras_initplus.lsuv.report import LayerResult
from keras_initplus.lsuv.rules import SUPPORTED, has_kernel, is_marked, rule_for


def sublayers(model):
    """Every layer inside `model`, depth first, each once.

    Supported layers are not descended into: an LSTM's cell and a
    Dense's internals belong to the rule of the layer itself.
    """
    seen = set()
    out = []

    def visit(layer):
        for sub in layer._flatten_layers(include_self=False, recursive=False):
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            out.append(sub)
            if rule_for(sub) is None:
                visit(sub)

    visit(model)
    return out


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


def select(model, layers):
    """Returns `(targets, skipped)`.

    `targets` is a list of `(layer, rule)`; `skipped` a list of
    `LayerResult` for the chosen layers LSUV does not support, which are
    also announced in one warning.
    """
    all_layers = sublayers(model)
    if layers is None:
        chosen = [layer for layer in all_layers if is_marked(layer)]
    elif layers == "all":
        chosen = [
            layer
            for layer in all_layers
            if rule_for(layer) is not None or has_kernel(layer)
        ]
    else:
        chosen = _named(model, all_layers, layers)
    targets, skipped = [], []
    for layer in chosen:
        rule = rule_for(layer)
        if rule is not None:
            targets.append((layer, rule))
        else:
            skipped.append(
                LayerResult(
                    name=layer.name,
                    class_name=type(layer).__name__,
                    status="skipped",
                    note="layer type not supported by LSUV",
                )
            )
    if skipped:
        listed = ", ".join(f"'{r.name}' ({r.class_name})" for r in skipped)
        warnings.warn(
            f"LSUV skips {len(skipped)} layer(s) of a type it does not "
            f"support, leaving their weights as they are: {listed}. "
            f"Supported layers: {SUPPORTED}.",
            RuntimeWarning,
            stacklevel=3,
        )
    return targets, skipped


def batch_norms(model):
    return [
        layer
        for layer in sublayers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
