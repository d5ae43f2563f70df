"""GradientHealthCallback's warnings on real models: a labelled matrix.

The companion of warning_matrix.py (plain MLPs and CNNs), on the models
of issue 22, all built from constructors with tiny configs (nothing is
downloaded): keras-hub's BERT, GPT-2, ViT and ResNet backbones, stacks
of two keras-hub TransformerEncoders, pre-LN and post-LN, and
keras.applications ResNet50V2, MobileNetV3Small and EfficientNetB0
(weights=None) at 32x32 inputs. Each gets a softmax head.

Data, synthetic but learnable: for BERT and GPT-2, sequences of 16
tokens out of 200 whose class (of 4) is the 50-token band half their
tokens are drawn from; for the encoder stacks, sequences of 16 vectors
of 8 whose class (of 4) shifts one feature by 0.5 at every position;
for the image models, scikit-learn's 8x8 digits (10 classes) upsampled
to 32x32x3.

Healthy runs: Keras's or keras-hub's default init, and the package's
(`initialize_model(model, seed=0)`, `lsuv_init(model, x[:256],
layers="all")`), under Adam 1e-3 and SGD 0.05 with momentum 0.9, fit
for HEALTHY_EPOCHS epochs of 32 steps (batch 32). Any warning at all
is a false alarm. The first and last epoch's training loss and the
final validation accuracy are printed, to show they train.

Broken runs, of the same models, each fit for ONE epoch of 8 steps and
judged at its end, as in warning_matrix.py: a warning of the expected
kind must name at least one layer that must be named and none outside
those allowed (layers by their full variable path, as the callback
names them):

- a learning rate far too high (Adam 1, SGD 10): "exploding", any layer;
- a dead block: the bias of a feed-forward block's first Dense (GELU)
  set to -100, or the beta of a BatchNormalization before a ReLU set to
  -100. "vanishing"; must: that layer; allowed: the block's layers
  whose gradient is then zero (the block's two Dense layers and, in a
  pre-LN block, the LayerNormalization before them; the residual
  block's convolutions and normalizations after the dead ReLU);
- a huge init of the body (every convolution kernel x 30, under
  BatchNorm): "vanishing" in the scaled layers (their gradient-to-
  weight ratio falls by about 900, and they barely train);
- a tiny init of the body (every convolution kernel x 0.01, under
  BatchNorm, SGD): "exploding" in the scaled layers (their ratio rises
  by about 1e4; each step's update is many times the weights);
- NaN in one input value (float-input models only): "nonfinite".

A frozen stack by mistake is not in the matrix: a frozen layer has no
gradient, and the callback watches trainable weights only, so there is
nothing it could tell apart.

Sized for about 20 minutes of wall time on TensorFlow on a shared
2-core machine: 3 epochs per healthy run, two encoder layers, 32x32
images, and the keras.applications models in fewer rows than the small
ones. The backend is KERAS_BACKEND's; the code uses keras ops only.

    KERAS_BACKEND=jax python benchmarks/real_model_matrix.py \\
        [--out benchmark_out] [--only NAME]

Prints the table (markdown) and the recall and false-alarm rate, and
writes real_model_matrix_<backend>.md and .json to --out.
"""

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_initplus import (  # noqa: E402
    GradientHealthCallback,
    initialize_model,
    lsuv_init,
    recursion_room,
)
from keras_initplus.cli.demo.data import load_digits  # noqa: E402

HEALTHY_EPOCHS = 3
STEPS = 32  # steps per healthy epoch
BROKEN_STEPS = 8
BATCH = 32
SEQ, VOCAB, BAND = 16, 200, 50
TABLE_KEYS = (
    "epoch",
    "layer",
    "grad_weight_ratio",
    "update_weight_ratio",
    "vanishing_steps",
)


@dataclasses.dataclass
class Case:
    name: str
    model: str  # a key of BUILDERS
    init: str = "default"  # "default", "initialize_model" or "lsuv"
    optimizer: str = "adam"
    lr: float = 1e-3
    kind: str = None  # expected kind; None for a healthy run
    fault: str = None  # "dead", "huge", "tiny", "nan" (or None)


# -- models -----------------------------------------------------------


def _head(features, n, name="head"):
    return keras.layers.Dense(n, activation="softmax", name=name)(features)


def bert():
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCAB,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=32,
    )
    out = _head(backbone.output["pooled_output"], 4)
    return keras.Model(backbone.input, out), "bert_tokens"


def gpt2():
    import keras_hub

    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=VOCAB,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=32,
    )
    pooled = keras.layers.GlobalAveragePooling1D()(backbone.output)
    return keras.Model(backbone.input, _head(pooled, 4)), "gpt2_tokens"


def vit():
    import keras_hub

    backbone = keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3),
        patch_size=8,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        mlp_dim=64,
    )
    pooled = keras.layers.GlobalAveragePooling1D()(backbone.output)
    return keras.Model(backbone.input, _head(pooled, 10)), "images"


def hub_resnet():
    import keras_hub

    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 64],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        image_shape=(32, 32, 3),
    )
    pooled = keras.layers.GlobalAveragePooling2D()(backbone.output)
    return keras.Model(backbone.input, _head(pooled, 10)), "images"


def encoders(pre_ln):
    import keras_hub

    inputs = keras.Input((SEQ, 8))
    h = keras.layers.Dense(32, name="tokens")(inputs)
    h = keras.layers.Add()(
        [h, keras_hub.layers.PositionEmbedding(SEQ, name="positions")(h)]
    )
    for i in range(2):
        h = keras_hub.layers.TransformerEncoder(
            64, 2, activation="gelu", normalize_first=pre_ln, name=f"enc{i}"
        )(h)
    if pre_ln:
        h = keras.layers.LayerNormalization(name="final_norm")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    return keras.Model(inputs, _head(h, 4)), "sequences"


def application(name):
    def build():
        kwargs = dict(weights=None, input_shape=(32, 32, 3), classes=10)
        if name == "MobileNetV3Small":
            kwargs["include_preprocessing"] = False
        data = "images_255" if name == "EfficientNetB0" else "images"
        return getattr(keras.applications, name)(**kwargs), data

    return build


BUILDERS = {
    "BERT": bert,
    "GPT-2": gpt2,
    "ViT": vit,
    "hub ResNet": hub_resnet,
    "encoders pre-LN": lambda: encoders(True),
    "encoders post-LN": lambda: encoders(False),
    "ResNet50V2": application("ResNet50V2"),
    "MobileNetV3Small": application("MobileNetV3Small"),
    "EfficientNetB0": application("EfficientNetB0"),
}

# The dead block of each model: (the layer whose bias or beta is set to
# -100, the layers whose gradient that zeroes: in a pre-LN block, the
# LayerNormalization that feeds only the dead feed-forward branch too).
DEAD = {
    "BERT": (
        "transformer_layer_0/feedforward_intermediate_dense",
        ["transformer_layer_0/feedforward_output_dense"],
    ),
    "GPT-2": (
        "transformer_layer_0/feedforward_intermediate_dense",
        [
            "transformer_layer_0/feedforward_output_dense",
            "transformer_layer_0/feedforward_layer_norm",
        ],
    ),
    "ViT": (
        "vit_encoder/transformer_block_1/mlp/dense_1",
        [
            "vit_encoder/transformer_block_1/mlp/dense_2",
            "vit_encoder/transformer_block_1/ln_2",
        ],
    ),
    "encoders pre-LN": (
        "enc0/feedforward_intermediate_dense",
        ["enc0/feedforward_output_dense", "enc0/feedforward_layer_norm"],
    ),
    "encoders post-LN": (
        "enc0/feedforward_intermediate_dense",
        ["enc0/feedforward_output_dense"],
    ),
    "hub ResNet": (
        "stack1_block0_1_bn",
        ["stack1_block0_1_conv", "stack1_block0_2_conv", "stack1_block0_2_bn"],
    ),
    "ResNet50V2": (
        "conv3_block2_1_bn",
        [
            # Its ReLU feeds only the dead branch (the shortcut is the
            # block's input), so its gradient is zero too.
            "conv3_block2_preact_bn",
            "conv3_block2_1_conv",
            "conv3_block2_2_conv",
            "conv3_block2_2_bn",
            "conv3_block2_3_conv",
        ],
    ),
}


# -- data -------------------------------------------------------------


def make_data(seed=0):
    """Every data set, as (x, y, x_val, y_val); x a dict for BERT/GPT-2."""
    rng = np.random.default_rng(seed)
    n = BATCH * STEPS + 256

    y = rng.integers(0, 4, n).astype("int32")
    band = y[:, None] * BAND + rng.integers(0, BAND, (n, SEQ))
    ids = np.where(
        rng.random((n, SEQ)) < 0.5, band, rng.integers(0, VOCAB, (n, SEQ))
    ).astype("int32")
    mask = np.ones((n, SEQ), "int32")
    tokens = {
        "bert_tokens": {
            "token_ids": ids,
            "segment_ids": np.zeros_like(ids),
            "padding_mask": mask,
        },
        "gpt2_tokens": {"token_ids": ids, "padding_mask": mask},
    }

    ys = rng.integers(0, 4, n).astype("int32")
    seq = rng.standard_normal((n, SEQ, 8)).astype("float32")
    seq[np.arange(n), :, ys] += 0.5

    x, yd, xv, yv = load_digits(seed=seed)

    def image(a):
        a = a.reshape(-1, 8, 8, 1).repeat(4, axis=1).repeat(4, axis=2)
        return np.repeat(a, 3, axis=3).astype("float32")

    x, xv = image(x[: BATCH * STEPS]), image(xv)
    yd = yd[: BATCH * STEPS]

    def split(a):
        if isinstance(a, dict):
            return {k: v[:-256] for k, v in a.items()}, {
                k: v[-256:] for k, v in a.items()
            }
        return a[:-256], a[-256:]

    data = {}
    for key, xs in tokens.items():
        (xt, xvt), (yt, yvt) = split(xs), split(y)
        data[key] = (xt, yt, xvt, yvt)
    (xt, xvt), (yt, yvt) = split(seq), split(ys)
    data["sequences"] = (xt, yt, xvt, yvt)
    data["images"] = (x, yd, xv, yv)
    # EfficientNetB0 rescales by 1/255 and normalizes inside the model.
    data["images_255"] = (x * 64 + 128, yd, xv * 64 + 128, yv)
    return data


def _take(x, n):
    if isinstance(x, dict):
        return {k: v[:n].copy() for k, v in x.items()}
    return x[:n].copy()


# -- faults and their ground truth --------------------------------------


def layer_of(variable):
    return variable.path.rsplit("/", 1)[0]


def _variable(model, path):
    for v in model.weights:
        if v.path == path:
            return v
    raise KeyError(path)


def conv_kernels(model):
    return [
        v
        for v in model.trainable_weights
        if v.path.endswith("kernel") and "conv" in layer_of(v).lower()
    ]


def break_model(case, model):
    """Applies the case's fault; returns (must, allowed) layer paths."""
    every = sorted({layer_of(v) for v in model.trainable_weights})
    if case.fault == "dead":
        layer, after = DEAD[case.model]
        which = "beta" if layer.endswith("_bn") else "bias"
        v = _variable(model, f"{layer}/{which}")
        v.assign(keras.ops.full(v.shape, -100.0, dtype=v.dtype))
        return [layer], [layer] + after
    if case.fault in ("huge", "tiny"):
        scale = 30.0 if case.fault == "huge" else 0.01
        scaled = conv_kernels(model)
        for v in scaled:
            v.assign(keras.ops.multiply(v, scale))
        names = sorted({layer_of(v) for v in scaled})
        return names, names
    return every, every  # a learning rate too high, NaN: any layer


def poison(x):
    x = x.copy()
    x[BATCH + 3].flat[5] = np.nan
    return x


# -- the matrix ---------------------------------------------------------


def healthy_cases():
    c = Case
    return [
        c("default init", "BERT"),
        c("default init", "BERT", optimizer="sgd", lr=0.05),
        c("initialize_model", "BERT", init="initialize_model"),
        c("lsuv_init", "BERT", init="lsuv"),
        c("default init", "GPT-2"),
        c("default init", "GPT-2", optimizer="sgd", lr=0.05),
        c("initialize_model", "GPT-2", init="initialize_model"),
        c("default init", "ViT"),
        c("initialize_model", "ViT", "initialize_model", "sgd", 0.05),
        c("default init", "hub ResNet"),
        c("default init", "hub ResNet", optimizer="sgd", lr=0.05),
        c("initialize_model", "hub ResNet", "initialize_model", "sgd", 0.05),
        c("default init (Glorot)", "encoders pre-LN"),
        c("default init (Glorot)", "encoders pre-LN", "default", "sgd", 0.05),
        c("initialize_model", "encoders pre-LN", init="initialize_model"),
        c("default init (Glorot)", "encoders post-LN"),
        c("lsuv_init", "encoders post-LN", "lsuv", "sgd", 0.05),
        c("default init", "ResNet50V2"),
        c("initialize_model", "ResNet50V2", "initialize_model", "sgd", 0.05),
        c("default init", "MobileNetV3Small"),
        c("default init", "MobileNetV3Small", optimizer="sgd", lr=0.05),
        c("default init", "EfficientNetB0"),
    ]


def broken_cases():
    c = Case
    lr_adam = dict(optimizer="adam", lr=1.0, kind="exploding")
    lr_sgd = dict(optimizer="sgd", lr=10.0, kind="exploding")
    dead = dict(kind="vanishing", fault="dead")
    nan = dict(kind="nonfinite", fault="nan")
    return [
        c("lr far too high (Adam 1)", "BERT", **lr_adam),
        c("lr far too high (SGD 10)", "GPT-2", **lr_sgd),
        c("lr far too high (Adam 1)", "ViT", **lr_adam),
        c("lr far too high (SGD 10)", "encoders post-LN", **lr_sgd),
        c("lr far too high (Adam 1)", "ResNet50V2", **lr_adam),
        c("lr far too high (Adam 1)", "EfficientNetB0", **lr_adam),
        c("dead FFN block (bias -100)", "BERT", **dead),
        c("dead FFN block (bias -100)", "GPT-2", **dead),
        c("dead FFN block (bias -100)", "ViT", **dead),
        c("dead FFN block (bias -100)", "encoders pre-LN", **dead),
        c("dead block (BN beta -100)", "hub ResNet", **dead),
        c("dead block (BN beta -100)", "ResNet50V2", **dead),
        c(
            "huge init (conv kernels x 30)",
            "hub ResNet",
            kind="vanishing",
            fault="huge",
        ),
        c(
            "huge init (conv kernels x 30)",
            "hub ResNet",
            optimizer="sgd",
            lr=0.05,
            kind="vanishing",
            fault="huge",
        ),
        c(
            "tiny init (conv kernels x 0.01)",
            "hub ResNet",
            optimizer="sgd",
            lr=0.05,
            kind="exploding",
            fault="tiny",
        ),
        c("NaN in one input", "ViT", **nan),
        c("NaN in one input", "encoders pre-LN", **nan),
        c("NaN in one input", "MobileNetV3Small", **nan),
    ]


def optimizer(case):
    if case.optimizer == "sgd":
        return keras.optimizers.SGD(case.lr, momentum=0.9)
    return keras.optimizers.Adam(case.lr)


def run(case, data, seed=0):
    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    model, key = BUILDERS[case.model]()
    x, y, x_val, y_val = data[key]
    broken = case.kind is not None
    if broken:
        n = BATCH * BROKEN_STEPS
        x, y = _take(x, n), y[:n]
        if case.fault == "nan":
            x = poison(x)
    if case.init == "initialize_model":
        initialize_model(model, seed=seed)
    elif case.init == "lsuv":
        lsuv_init(model, _take(x, 256), layers="all", verbose=0)
    must, allowed = break_model(case, model)
    model.compile(
        optimizer(case), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    cb = GradientHealthCallback()
    start = time.perf_counter()
    with recursion_room(len(model.layers) + 1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=1 if broken else HEALTHY_EPOCHS,
            validation_data=None if broken else (x_val, y_val),
            verbose=0,
            shuffle=False,
            callbacks=[cb],
        )
    loss = [float(v) for v in h.history["loss"]]
    result = {
        "case": case.name,
        "model": case.model,
        "init": case.init,
        "optimizer": f"{case.optimizer} {case.lr:g}",
        "expected": case.kind or "none",
        "fault": case.fault,
        "must": must,
        "allowed": allowed,
        "warnings": [dict(w) for w in cb.warnings],
        # Each layer's ratios per epoch, to judge other rules offline.
        "table": [
            {k: v for k, v in row.items() if k in TABLE_KEYS}
            for row in cb.table
        ],
        "roles": dict(zip(cb.health.layer_names, cb.health.layer_roles)),
        "loss": loss,
        "val_accuracy": (
            float(h.history["val_accuracy"][-1])
            if "val_accuracy" in h.history
            else None
        ),
        "epochs": len(loss),
        "steps": BROKEN_STEPS if broken else STEPS,
        "seconds": time.perf_counter() - start,
    }
    if broken:
        result["ok"] = any(
            _right(w, case.kind, must, allowed)
            for w in cb.warnings
            if w["epoch"] == 0
        )
    else:
        result["ok"] = not cb.warnings
    return result


def _failed(case, error):
    return {
        "case": case.name,
        "model": case.model,
        "init": case.init,
        "optimizer": f"{case.optimizer} {case.lr:g}",
        "expected": case.kind or "none",
        "fault": case.fault,
        "must": [],
        "allowed": [],
        "warnings": [],
        "loss": [float("nan")],
        "val_accuracy": None,
        "epochs": 0,
        "steps": 0,
        "seconds": 0.0,
        "error": f"{type(error).__name__}: {error}"[:300],
        "ok": False,
    }


def _right(w, kind, must, allowed):
    named = set(w["layers"])
    if w["kind"] != kind:
        return False
    if kind == "nonfinite":
        return True  # a NaN input poisons every layer at once
    return bool(named & set(must)) and named <= set(allowed)


# -- report -------------------------------------------------------------


def table(results):
    lines = [
        "| model | run | init | optimizer | epochs x steps | expected | "
        "warned | loss first -> last (val acc) | right |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        warned = "; ".join(_summary(r["warnings"])) or "none"
        if "error" in r:
            warned = f"failed: {r['error'][:120]}"
        loss = r["loss"]
        trained = f"{loss[0]:.3g} -> {loss[-1]:.3g}"
        if r["val_accuracy"] is not None:
            trained += f" ({r['val_accuracy']:.2f})"
        right = "yes" if r["ok"] else "**no**"
        if not r["ok"]:
            right += " (false alarm)" if r["expected"] == "none" else " (miss)"
        lines.append(
            f"| {r['model']} | {r['case']} | {r['init']} | "
            f"{r['optimizer']} | {r['epochs']} x {r['steps']} | "
            f"{r['expected']} | {warned} | {trained} | {right} |"
        )
    return "\n".join(lines)


def _summary(warns):
    """One entry per kind and measure: the epochs it was raised at
    (1-based), its first value and the layers it first named."""
    seen = {}
    for w in warns:
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
        "--only", help="run only cases whose model or name contains this"
    )
    args = parser.parse_args(argv)
    data = make_data(seed=0)
    results = []
    start = time.perf_counter()
    for case in broken_cases() + healthy_cases():
        if args.only and args.only not in f"{case.model} {case.name}":
            continue
        try:
            r = run(case, data)
        except Exception as e:  # a row that fails is reported, not fatal
            r = _failed(case, e)
        results.append(r)
        print(
            f"{'ok ' if r['ok'] else 'BAD'} {r['model']:<17} "
            f"{r['case']:<32} {r['init']:<16} {r['optimizer']:<9} "
            f"{r['seconds']:5.1f}s loss {r['loss'][0]:.3g}->"
            f"{r['loss'][-1]:.3g} "
            f"{[(w['kind'], w['layers'][:3]) for w in r['warnings']]}",
            flush=True,
        )
    broken = [r for r in results if r["expected"] != "none"]
    healthy = [r for r in results if r["expected"] == "none"]
    found = sum(r["ok"] for r in broken)
    alarms = sum(not r["ok"] for r in healthy)
    recall = found / max(len(broken), 1)
    false = alarms / max(len(healthy), 1)
    summary = (
        f"recall {recall:.0%} ({found}/{len(broken)} broken runs named "
        "with the right kind and layers at the end of epoch 1); false "
        f"alarms {false:.0%} ({alarms}/{len(healthy)} healthy runs with "
        f"any warning over {HEALTHY_EPOCHS} epochs of {STEPS} steps)"
    )
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, Keras {keras.__version__} "
        f"({keras.backend.backend()}), {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{time.perf_counter() - start:.0f} s, load average at the end "
        + " ".join(f"{v:.1f}" for v in load)
    )
    text = f"{table(results)}\n\n{summary}\n\n{machine}\n"
    print("\n" + text)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(
        args.out, f"real_model_matrix_{keras.backend.backend()}"
    )
    with open(stem + ".md", "w") as f:
        f.write(text)
    with open(stem + ".json", "w") as f:
        json.dump(results, f, indent=1)
    return 0 if recall == 1.0 and false == 0.0 else 1


if __name__ == "__main__":
    sys.exit(main())
