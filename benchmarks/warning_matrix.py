"""Can GradientHealthCallback's warnings be trusted? A labelled matrix.

Broken runs: the seed articles' failures (tiny init, saturating large
init, dead ReLUs, exploding large init, a learning rate far too high,
NaN/Inf inputs) on MLPs and CNNs, with SGD and Adam, each fit for ONE
short epoch (4 or 8 steps). A broken run counts as found when, at the
end of that epoch, a warning of the expected kind names the right
layers: at least one of the layers that must be named, and none outside
those allowed. Where the right layers depend on the data (saturated or
dead units), they are read off a forward pass at initialization, not
from the gradients the callback sees.

Late collapses: runs that learn, then turn unstable (the demo's 20-layer
funnel under HeNormal and LSUV at SGD 0.02; MLPs and CNNs whose SGD
or Adam learning rate is raised after they have learned), fit for 14 to
30 epochs on digits. One counts as found when a "collapse" warning comes
no later than the first epoch whose validation accuracy is more than
0.2 below its best so far; a run that never falls that far is not
the collapse the row is about, and is left out of recall and named
under the summary.

Healthy runs: Keras's defaults at moderate depth and the package's
initializers, MLPs and CNNs, SGD and Adam, with and without clipping,
each fit for 10 full epochs on digits, and five long runs (25 to 40
epochs) whose loss wobbles once it is small. Any warning at all is a
false alarm. Their validation accuracy (final, best and largest fall
below the best) is printed too, to show they are healthy, and the
largest rise of the training loss over its best so far ("loss rise"),
to show how much it wobbled.

    python benchmarks/warning_matrix.py [--out benchmark_out]

Prints the table (markdown) and the recall and false-alarm rate, and
writes warning_matrix.md and .json to --out.
"""

import argparse
import dataclasses
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_initplus import (  # noqa: E402
    LSUV,
    GradientHealthCallback,
    HeAvgFanNormal,
    Orthogonal,
    initializer_for,
    lsuv_init,
    recursion_room,
)
from keras_initplus.cli.demo.data import load_digits  # noqa: E402
from keras_initplus.cli.demo.models import funnel  # noqa: E402

HEALTHY_EPOCHS = 10
# A validation accuracy this far below the run's best is a collapse.
COLLAPSE_DROP = 0.2


@dataclasses.dataclass
class Case:
    name: str
    arch: str  # "mlp" or "cnn"
    depth: int
    activation: str
    init: object  # a callable (seed) -> initializer
    optimizer: str
    lr: float
    clip_norm: object = None
    kind: str = None  # expected kind; None for a healthy run
    truth: object = None  # callable (model, x) -> (must, allowed)
    steps: int = 8  # broken runs: steps in the one epoch
    bias: dict = dataclasses.field(default_factory=dict)  # layer -> value
    poison: str = None  # "nan" or "inf" in one input row
    width: int = 64
    lsuv: bool = False
    batchnorm: bool = False
    epochs: int = None  # long runs: None for HEALTHY_EPOCHS
    funnel: bool = False  # MLP widths 256 down to 32, as in the demo
    schedule: dict = None  # {epoch: learning rate} from that epoch on
    shuffle: bool = False  # True: as the demo's `train_run` fits


TABLE_KEYS = (
    "epoch",
    "layer",
    "grad_weight_ratio",
    "update_weight_ratio",
    "vanishing_steps",
)


def normal(std):
    return lambda seed: keras.initializers.RandomNormal(0.0, std, seed=seed)


def keras_default(seed):
    return keras.initializers.GlorotUniform(seed=seed)


def he(seed):
    return keras.initializers.HeNormal(seed=seed)


def avg_fan(seed):
    return HeAvgFanNormal(seed=seed)


def lsuv(seed):
    return LSUV(seed=seed)


def orthogonal_relu(seed):
    return Orthogonal(gain="relu", seed=seed)


def ours_for(activation, depth=None):
    return lambda seed: initializer_for(activation, depth=depth, seed=seed)


def hidden(model):
    return [
        layer.name
        for layer in model.layers
        if layer.name.startswith("h") and layer.weights
    ]


def first_hidden(model, x):
    """The layers where the signal is smallest (the input end) must be
    named; any hidden layer but the last may be."""
    names = hidden(model)
    return names[:1], names[:-1]


def any_hidden(model, x):
    names = hidden(model)
    return names, names


def any_layer(model, x):
    """A collapse, or a learning rate far too high, is a property of the
    whole run: naming any of the network's layers is right (which
    layers' ratios rise most, or whose steps outgrow their weights
    first, is not known in advance; with SGD at 10 and clip_norm=1.0,
    measured step by step on TensorFlow, the output layer moved 1.2 x
    its starting weights a step and the hidden layers 0.2 to 0.7 x)."""
    names = [layer.name for layer in model.layers if layer.weights]
    return names, names


def every_layer(model, x):
    names = [layer.name for layer in model.layers if layer.weights]
    return names[:1], names


def saturated(model, x):
    """Hidden layers whose outputs are saturated for most units: tanh
    beyond |0.99|, sigmoid below 0.01 or above 0.99."""
    names = hidden(model)
    outs = _outputs(model, x, names)
    sat = []
    for name, a in zip(names, outs):
        if model.get_layer(name).activation.__name__ == "sigmoid":
            frac = np.mean((a < 0.01) | (a > 0.99))
        else:
            frac = np.mean(np.abs(a) > 0.99)
        if frac > 0.5:
            sat.append(name)
    return sat, sat


def dead(model, x):
    """The first layer with every unit dead must be named. No gradient
    reaches it or the layers before it; the layers after it whose
    outputs are dead too get none either, and the first live layer after
    them none on its kernel: any of those may be named."""
    names = hidden(model)
    outs = [np.all(a <= 0) for a in _outputs(model, x, names)]
    if True not in outs:
        return [], []
    i = outs.index(True)
    j = i
    while j + 1 < len(outs) and outs[j + 1]:
        j += 1
    return [names[i]], names[: j + 2]


def _outputs(model, x, names):
    probe = keras.Model(
        model.inputs, [model.get_layer(n).output for n in names]
    )
    return [np.asarray(a) for a in probe(x[:256])]


def broken_cases():
    return [
        Case(
            "tiny init, sigmoid",
            "mlp",
            10,
            "sigmoid",
            normal(0.01),
            "sgd",
            0.1,
            kind="vanishing",
            truth=first_hidden,
        ),
        Case(
            "tiny init, sigmoid",
            "mlp",
            10,
            "sigmoid",
            normal(0.01),
            "adam",
            1e-3,
            kind="vanishing",
            truth=first_hidden,
            steps=4,
        ),
        Case(
            "tiny init, tanh",
            "cnn",
            6,
            "tanh",
            normal(0.01),
            "sgd",
            0.01,
            kind="vanishing",
            truth=first_hidden,
        ),
        Case(
            "tiny init, relu",
            "mlp",
            20,
            "relu",
            normal(0.01),
            "sgd",
            0.01,
            kind="vanishing",
            truth=any_hidden,
            steps=4,
        ),
        Case(
            "large init, tanh saturated",
            "mlp",
            10,
            "tanh",
            normal(1.0),
            "sgd",
            0.01,
            kind="vanishing",
            truth=saturated,
        ),
        Case(
            "large init, tanh saturated",
            "mlp",
            10,
            "tanh",
            normal(1.0),
            "adam",
            1e-3,
            kind="vanishing",
            truth=saturated,
            steps=4,
        ),
        Case(
            "large init, sigmoid saturated",
            "mlp",
            10,
            "sigmoid",
            normal(2.0),
            "sgd",
            0.1,
            kind="vanishing",
            truth=saturated,
        ),
        Case(
            "large init, tanh saturated",
            "cnn",
            6,
            "tanh",
            normal(1.0),
            "adam",
            1e-3,
            kind="vanishing",
            truth=saturated,
        ),
        Case(
            "dead relu (bias -100 at h3)",
            "mlp",
            8,
            "relu",
            he,
            "sgd",
            0.01,
            kind="vanishing",
            truth=dead,
            bias={"h3": -100.0},
        ),
        Case(
            "dead relu (bias -100 at h2)",
            "cnn",
            6,
            "relu",
            he,
            "adam",
            1e-3,
            kind="vanishing",
            truth=dead,
            bias={"h2": -100.0},
            steps=4,
        ),
        Case(
            "large init N(0, 2^2), clip 1",
            "mlp",
            6,
            "relu",
            normal(2.0),
            "sgd",
            0.01,
            clip_norm=1.0,
            kind="exploding",
            truth=every_layer,
            steps=4,
        ),
        Case(
            "large init N(0, 2^2)",
            "mlp",
            6,
            "relu",
            normal(2.0),
            "adam",
            1e-3,
            kind="exploding",
            truth=every_layer,
        ),
        Case(
            "large init N(0, 1)",
            "cnn",
            6,
            "relu",
            normal(1.0),
            "sgd",
            0.01,
            clip_norm=1.0,
            kind="exploding",
            truth=every_layer,
        ),
        Case(
            "lr far too high (10)",
            "mlp",
            10,
            "relu",
            he,
            "sgd",
            10.0,
            kind="exploding",
            truth=any_layer,
        ),
        Case(
            "lr far too high (10), clip 1",
            "mlp",
            10,
            "relu",
            he,
            "sgd",
            10.0,
            clip_norm=1.0,
            kind="exploding",
            truth=any_layer,
            steps=4,
        ),
        Case(
            "lr far too high (3)",
            "mlp",
            10,
            "relu",
            he,
            "adam",
            3.0,
            kind="exploding",
            truth=any_layer,
        ),
        Case(
            "lr far too high (5)",
            "cnn",
            6,
            "relu",
            he,
            "sgd",
            5.0,
            kind="exploding",
            truth=any_layer,
        ),
        Case(
            "NaN in one input",
            "mlp",
            10,
            "relu",
            he,
            "sgd",
            0.01,
            kind="nonfinite",
            truth=every_layer,
            poison="nan",
        ),
        Case(
            "Inf in one input",
            "cnn",
            6,
            "relu",
            he,
            "adam",
            1e-3,
            kind="nonfinite",
            truth=every_layer,
            poison="inf",
            steps=4,
        ),
    ]


def collapse_cases():
    """Runs that learn, reach high accuracy, then turn unstable: the
    demo's 20-layer funnel (HeNormal, LSUV) under SGD 0.02 with momentum
    0.9, fit as the demo fits them (shuffled), and runs whose learning
    rate is raised after they have learned (a warm restart far too high),
    MLP and CNN, SGD and Adam. Each counts as a collapse only if its
    validation accuracy does fall more than 0.2 below its best.

    The funnels run at twice the demo's learning rate because at its
    0.01 whether they collapse depends on the machine: the float
    rounding of a CPU's kernels steers a chaotic run (HeNormal ended at
    0.465 on one 2-core Xeon and at 0.964 on another). At 0.02 both
    rose to 0.87-0.91 and fell by more than 0.2 on the second machine.
    """
    return [
        Case(
            "late collapse: demo funnel, HeNormal, SGD 0.02",
            "mlp",
            20,
            "relu",
            he,
            "sgd",
            0.02,
            kind="collapse",
            truth=any_layer,
            epochs=30,
            funnel=True,
            shuffle=True,
        ),
        Case(
            "late collapse: demo funnel, LSUV, SGD 0.02",
            "mlp",
            20,
            "relu",
            lsuv,
            "sgd",
            0.02,
            kind="collapse",
            truth=any_layer,
            epochs=30,
            funnel=True,
            lsuv=True,
            shuffle=True,
        ),
        Case(
            "late collapse: Adam lr 1e-3 -> 0.03 at epoch 8",
            "mlp",
            10,
            "relu",
            he,
            "adam",
            1e-3,
            kind="collapse",
            truth=any_layer,
            epochs=14,
            schedule={7: 0.03},
        ),
        Case(
            "late collapse: SGD lr 0.05 -> 1 at epoch 8",
            "cnn",
            6,
            "relu",
            he,
            "sgd",
            0.05,
            kind="collapse",
            truth=any_layer,
            epochs=14,
            schedule={7: 1.0},
        ),
        Case(
            "late collapse: Adam lr 1e-3 -> 0.03 at epoch 8",
            "cnn",
            6,
            "relu",
            he,
            "adam",
            1e-3,
            kind="collapse",
            truth=any_layer,
            epochs=14,
            schedule={7: 0.03},
        ),
    ]


def long_healthy_cases():
    """Long runs that train, whose loss wobbles once it is small. The
    first is the demo's funnel under initializer_for("relu", depth=20),
    fit shuffled as the demo fits it, but with every layer's kernel in
    the "hidden" form (the demo's first layer takes the "first" form),
    so its curve is not the demo's row."""
    return [
        Case(
            "long: demo funnel, initializer_for(depth)",
            "mlp",
            20,
            "relu",
            ours_for("relu", 20),
            "sgd",
            0.01,
            epochs=30,
            funnel=True,
            shuffle=True,
        ),
        Case(
            "long: Keras default",
            "mlp",
            10,
            "relu",
            keras_default,
            "adam",
            1e-3,
            epochs=40,
        ),
        Case(
            "long: HeNormal, SGD 0.05",
            "mlp",
            10,
            "tanh",
            he,
            "sgd",
            0.05,
            epochs=40,
        ),
        Case(
            "long: HeNormal",
            "cnn",
            6,
            "relu",
            he,
            "adam",
            1e-3,
            epochs=25,
        ),
        Case(
            "long: initializer_for(depth), clip 1",
            "cnn",
            8,
            "relu",
            ours_for("relu", 8),
            "sgd",
            0.01,
            clip_norm=1.0,
            epochs=25,
        ),
    ]


def healthy_cases():
    return [
        Case("Keras default", "mlp", 10, "relu", keras_default, "sgd", 0.01),
        Case("Keras default", "mlp", 10, "relu", keras_default, "adam", 1e-3),
        Case("Keras default", "mlp", 5, "tanh", keras_default, "sgd", 0.01),
        Case("Keras default", "cnn", 6, "relu", keras_default, "sgd", 0.05),
        Case(
            "Keras default + BatchNorm",
            "cnn",
            6,
            "relu",
            keras_default,
            "adam",
            1e-3,
            batchnorm=True,
        ),
        Case("HeNormal", "cnn", 6, "relu", he, "adam", 1e-3),
        Case(
            "HeNormal, clip 1",
            "mlp",
            20,
            "relu",
            he,
            "sgd",
            0.01,
            clip_norm=1.0,
        ),
        Case(
            "HeAvgFanNormal, clip 1",
            "mlp",
            20,
            "relu",
            avg_fan,
            "sgd",
            0.01,
            clip_norm=1.0,
        ),
        Case("HeAvgFanNormal", "mlp", 20, "relu", avg_fan, "adam", 1e-3),
        Case(
            "LSUV, clip 1",
            "mlp",
            20,
            "relu",
            lsuv,
            "sgd",
            0.01,
            clip_norm=1.0,
            lsuv=True,
        ),
        Case(
            "Orthogonal(gain='relu'), clip 1",
            "mlp",
            20,
            "relu",
            orthogonal_relu,
            "sgd",
            0.01,
            clip_norm=1.0,
        ),
        Case(
            "initializer_for",
            "mlp",
            10,
            "tanh",
            ours_for("tanh"),
            "adam",
            1e-3,
        ),
        Case(
            "initializer_for(depth), clip 1",
            "mlp",
            20,
            "tanh",
            ours_for("tanh", 20),
            "sgd",
            0.01,
            clip_norm=1.0,
        ),
        Case(
            "initializer_for(depth), clip 1",
            "mlp",
            100,
            "relu",
            ours_for("relu", 100),
            "sgd",
            0.01,
            clip_norm=1.0,
        ),
        Case(
            "initializer_for(depth)",
            "mlp",
            20,
            "gelu",
            ours_for("gelu", 20),
            "adam",
            1e-3,
        ),
        Case(
            "initializer_for(depth), clip 1",
            "cnn",
            8,
            "relu",
            ours_for("relu", 8),
            "sgd",
            0.01,
            clip_norm=1.0,
        ),
        Case(
            "HeAvgFanNormal, zclip",
            "cnn",
            6,
            "relu",
            avg_fan,
            "sgd",
            0.01,
            clip_norm="zclip",
        ),
    ]


def build(case, seed):
    inputs = [keras.Input((8, 8, 1) if case.arch == "cnn" else (64,))]
    layers = []
    widths = (
        funnel(case.depth, 256, 32)
        if case.funnel
        else [case.width] * case.depth
    )
    for i in range(case.depth):
        name = f"h{i}"
        bias = keras.initializers.Constant(case.bias.get(name, 0.0))
        kwargs = dict(
            activation=case.activation,
            kernel_initializer=case.init(seed * 1000 + i),
            bias_initializer=bias,
            name=name,
        )
        if case.arch == "cnn":
            layers.append(keras.layers.Conv2D(32, 3, padding="same", **kwargs))
        else:
            layers.append(keras.layers.Dense(widths[i], **kwargs))
        if case.batchnorm:
            # Momentum 0.9, not 0.99: over a few hundred steps Keras's
            # default leaves the moving statistics far from the data's.
            layers.append(
                keras.layers.BatchNormalization(momentum=0.9, name=f"bn{i}")
            )
    if case.arch == "cnn":
        layers.append(keras.layers.GlobalAveragePooling2D())
    # Logits, with `from_logits=True` in `run`: a softmax output has no
    # gradient once saturated on JAX and PyTorch (they clip the
    # probability; TensorFlow alone recovers the logits), which would
    # turn the large-init rows into networks without any gradient.
    layers.append(
        keras.layers.Dense(
            10,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            name="out",
        )
    )
    with recursion_room(len(layers) + 1):
        return keras.Sequential(inputs + layers, name="net")


def optimizer(case):
    if case.optimizer == "sgd":
        return keras.optimizers.SGD(case.lr, momentum=0.9)
    return keras.optimizers.Adam(case.lr)


def run(case, data, seed=0):
    x, y, x_val, y_val = data
    if case.arch == "cnn":
        x, x_val = x.reshape(-1, 8, 8, 1), x_val.reshape(-1, 8, 8, 1)
    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    model = build(case, seed)
    short_run = case.kind not in (None, "collapse")
    batch = 32 if short_run else 64
    if short_run:
        x, y = x[: batch * case.steps].copy(), y[: batch * case.steps]
        if case.poison:
            x[batch + 3].flat[5] = np.nan if case.poison == "nan" else np.inf
    if case.lsuv:
        lsuv_init(model, x[:256], verbose=0)
    must, allowed = case.truth(model, x) if case.truth else ([], [])
    model.compile(
        optimizer(case),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    cb = GradientHealthCallback(clip_norm=case.clip_norm)
    callbacks = [cb]
    if case.schedule:
        # Before the health callback, so the epoch's steps run at the new
        # rate; the run is otherwise untouched.
        callbacks.insert(0, Schedule(case.schedule))
    start = time.perf_counter()
    with recursion_room(len(model.layers) + 1):
        h = model.fit(
            x,
            y,
            batch_size=batch,
            epochs=1 if short_run else case.epochs or HEALTHY_EPOCHS,
            validation_data=(x_val, y_val),
            verbose=0,
            shuffle=case.shuffle,
            callbacks=callbacks,
        )
    seconds = time.perf_counter() - start
    short = [
        {**w, "layers": [n.rsplit("/", 1)[-1] for n in w["layers"]]}
        for w in cb.warnings
    ]
    result = {
        "case": case.name,
        "arch": f"{case.arch} {case.depth} {case.activation}",
        "optimizer": f"{case.optimizer} {case.lr:g}",
        "clip_norm": case.clip_norm,
        "expected": case.kind or "none",
        "must": must,
        "allowed": allowed,
        "warnings": short,
        # Each layer's ratios per epoch, to judge other rules offline.
        "table": [
            {k: v for k, v in row.items() if k in TABLE_KEYS}
            for row in cb.table
        ],
        "roles": dict(zip(cb.health.layer_names, cb.health.layer_roles)),
        "accuracy": float(h.history["accuracy"][-1]),
        "val_accuracy": float(h.history["val_accuracy"][-1]),
        "val_curve": [float(v) for v in h.history["val_accuracy"]],
        "epochs": len(h.history["val_accuracy"]),
        "seconds": seconds,
    }
    best, fall, fell_at = 0.0, 0.0, None
    for i, v in enumerate(result["val_curve"]):
        best = max(best, v)
        fall = max(fall, best - v)
        if fell_at is None and best - v > COLLAPSE_DROP:
            fell_at = i
    # How far the training loss rose above its best so far: a wobble.
    loss = [float(v) for v in h.history["loss"]]
    rises = [v / min(loss[:i]) for i, v in enumerate(loss) if i]
    result["largest_loss_rise"] = max(rises, default=1.0)
    result["best_val_accuracy"] = best
    result["largest_fall"] = fall
    result["fell_at"] = fell_at
    if case.kind == "collapse":
        # Found: a collapse warning naming the network's layers, at or
        # before the first epoch whose validation accuracy is more than
        # COLLAPSE_DROP below its best so far. A run that never falls
        # that far is not a collapse, and counts as missed.
        warned = [
            w["epoch"] for w in short if _right(w, "collapse", must, allowed)
        ]
        result["warned_at"] = min(warned) if warned else None
        # A run that never fell is not the collapse this row is about
        # (the random stream differs by backend; one such run on JAX
        # never learned): None, left out of recall and named apart.
        result["ok"] = (
            None if fell_at is None else bool(warned) and min(warned) <= fell_at
        )
    elif case.kind:
        result["ok"] = any(
            _right(w, case.kind, must, allowed)
            for w in short
            if w["epoch"] == 0
        )
    else:
        result["ok"] = not cb.warnings
    return result


class Schedule(keras.callbacks.Callback):
    """Sets the optimizer's learning rate at the given epochs."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        if epoch in self.schedule:
            self.model.optimizer.learning_rate.assign(self.schedule[epoch])


def _right(w, kind, must, allowed):
    named = set(w["layers"])
    if w["kind"] != kind:
        return False
    if kind == "nonfinite":
        return True  # a NaN input poisons every layer at once
    return bool(named & set(must)) and named <= set(allowed)


def table(results):
    lines = [
        "| run | network | optimizer | clip | epochs | expected | warned "
        "(epoch 1 for broken runs) | train / val acc (best, largest fall) "
        "| loss rise | right |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        warned = "; ".join(_summary(r["warnings"])) or "none"
        if r["expected"] == "collapse":
            fell = r["fell_at"]
            warned = (
                f"val acc fell > {COLLAPSE_DROP:g} at epoch "
                f"{'never' if fell is None else fell + 1}; " + warned
            )
        lines.append(
            f"| {r['case']} | {r['arch']} | {r['optimizer']} | "
            f"{r['clip_norm'] or '-'} | {r['epochs']} | {r['expected']} | "
            f"{warned} | {r['accuracy']:.2f} / {r['val_accuracy']:.2f} "
            f"({r['best_val_accuracy']:.2f}, {r['largest_fall']:.2f}) | "
            f"{r['largest_loss_rise']:.3g} x | "
            f"{_verdict(r['ok'])} |"
        )
    return "\n".join(lines)


def _verdict(ok):
    if ok is None:
        return "n/a (did not fall)"
    return "yes" if ok else "**no**"


def _summary(warnings):
    """One entry per kind and measure: the epochs it was raised at
    (1-based), its first value and the layers it first named."""
    seen = {}
    for w in warnings:
        seen.setdefault((w["kind"], w["measure"]), []).append(w)
    out = []
    for (kind, measure), ws in seen.items():
        layers = ws[0]["layers"]
        epochs = ",".join(str(w["epoch"] + 1) for w in ws)
        out.append(
            f"{kind} ({measure}, {ws[0]['value']:.3g}; epoch {epochs}): "
            + ", ".join(layers[:3])
            + (f" +{len(layers) - 3}" if len(layers) > 3 else "")
        )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmark_out")
    parser.add_argument(
        "--only", help="run only cases whose name contains this"
    )
    args = parser.parse_args(argv)
    data = load_digits(seed=0)
    results = []
    start = time.perf_counter()
    cases = broken_cases() + collapse_cases()
    cases += healthy_cases() + long_healthy_cases()
    for case in cases:
        if args.only and args.only not in case.name:
            continue
        r = run(case, data)
        results.append(r)
        mark = {None: "n/a", True: "ok ", False: "BAD"}[r["ok"]]
        print(
            f"{mark} {r['case']:<34} "
            f"{r['arch']:<16} {r['optimizer']:<10} {r['seconds']:5.1f}s "
            f"{[(w['kind'], w['layers'][:3]) for w in r['warnings']]}",
            flush=True,
        )
    unmet = [r for r in results if r["ok"] is None]
    broken = [
        r for r in results if r["expected"] != "none" and r["ok"] is not None
    ]
    healthy = [r for r in results if r["expected"] == "none"]
    recall = sum(r["ok"] for r in broken) / max(len(broken), 1)
    false = sum(not r["ok"] for r in healthy) / max(len(healthy), 1)
    late = [r for r in broken if r["expected"] == "collapse"]
    longest = max([r["epochs"] for r in healthy] or [HEALTHY_EPOCHS])
    summary = (
        f"recall {recall:.0%} ({sum(r['ok'] for r in broken)}/"
        f"{len(broken)} broken runs named with the right kind and layers: "
        f"{len(broken) - len(late)} at the end of epoch 1, {len(late)} late "
        "collapses no later than the epoch their validation accuracy fell "
        f"more than {COLLAPSE_DROP:g} below its best); false alarms "
        f"{false:.0%} ({sum(not r['ok'] for r in healthy)}/{len(healthy)} "
        f"healthy runs with any warning over {HEALTHY_EPOCHS} to {longest} "
        "epochs)"
    )
    if unmet:
        summary += (
            f"; not counted: {len(unmet)} late-collapse run(s) whose "
            f"validation accuracy never fell more than {COLLAPSE_DROP:g} "
            "below its best (" + ", ".join(r["case"] for r in unmet) + ")"
        )
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, Keras {keras.__version__} "
        f"({keras.backend.backend()}), {time.strftime('%Y-%m-%d')}, "
        f"{time.perf_counter() - start:.0f} s"
    )
    text = f"{table(results)}\n\n{summary}\n\n{machine}\n"
    print("\n" + text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "warning_matrix.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "warning_matrix.json"), "w") as f:
        json.dump(results, f, indent=1)
    return 0 if recall == 1.0 and false == 0.0 else 1


if __name__ == "__main__":
    sys.exit(main())
