"""Deep 1-D CNNs on MNIST-1D (Greydanus, 2020): data nobody here made.

The data is generated offline by the `mnist1d` package,
`make_dataset(get_dataset_args())`: 4,000 training and 1,000 test
signals of length 40, 10 classes, reshaped to (40, 1). Nothing is
downloaded. The paper's test accuracies for reference: logistic
regression 32%, MLP 68%, CNN 94%, GRU 91%, human 96%.

Rows (any backend; batch 64, test accuracy after every epoch):

- plain-*: 30 Conv1D(32, 3, "same", relu), no shortcuts and no
  normalization, then GlobalAveragePooling1D and Dense(10, softmax).
  Keras's default kernels, or the package's recipe:
  `initializer_for("relu", depth=30, position=...)` on every
  convolution ("first" for the first, "hidden" after) and
  `GradientHealthCallback(clip_norm=1.0)`. The head keeps Keras's
  default in both.
- res-*: a Conv1D(32, 3, relu) stem, 50 blocks
  `h = h + Conv1D(Conv1D(h, relu))` (branch: Conv1D relu, then Conv1D
  linear), then the same head. Keras's default kernels without
  normalization; Keras's default kernels with BatchNormalization after
  each convolution of the branch (conv-BN-relu-conv-BN); or
  `initialize_model(model, seed=0)` without normalization and
  `GradientHealthCallback(clip_norm=1.0)`.

Each with SGD(0.01, momentum 0.9) and Adam(1e-3). Prints, per row, the
best and final test accuracy, the first epoch at >= 90%, and the wall
time of `fit`, as medians over seeds (and the lowest final accuracy).
Finished runs are appended to `--progress` (JSON lines), so an
interrupted table resumes where it stopped.

    KERAS_BACKEND=tensorflow python benchmarks/mnist1d.py [--epochs 15]
        [--seeds 1] [--only plain-default-sgd res-ours-adam ...]
        [--progress mnist1d_progress.jsonl] [--threads 1] [--table-only]
        [--plot mnist1d.png]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# This script is itself named mnist1d.py: drop its directory from the
# path so that `import mnist1d` finds the data package, not this file.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

BATCH = 64
TARGET = 0.90
PLAIN_DEPTH = 30
BLOCKS = 50
WIDTH = 32
CLIP = 1.0

ROWS = {
    "plain-default-sgd": ("plain", "default", "sgd"),
    "plain-default-adam": ("plain", "default", "adam"),
    "plain-ours-sgd": ("plain", "ours", "sgd"),
    "plain-ours-adam": ("plain", "ours", "adam"),
    "res-default-sgd": ("res", "default", "sgd"),
    "res-default-adam": ("res", "default", "adam"),
    "res-bn-sgd": ("res", "bn", "sgd"),
    "res-bn-adam": ("res", "bn", "adam"),
    "res-ours-sgd": ("res", "ours", "sgd"),
    "res-ours-adam": ("res", "ours", "adam"),
}

INIT_LABELS = {
    ("plain", "default"): "Keras default",
    ("plain", "ours"): "initializer_for(relu, depth=L) + clip 1.0",
    ("res", "default"): "Keras default, no BN",
    ("res", "bn"): "Keras default + BatchNorm",
    ("res", "ours"): "initialize_model, no BN + clip 1.0",
}


def load_data():
    """MNIST-1D generated locally with the paper's arguments."""
    import numpy as np
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())
    x, x_test = (
        np.asarray(data[k], "float32")[..., None] for k in ("x", "x_test")
    )
    y, y_test = (np.asarray(data[k], "int32") for k in ("y", "y_test"))
    return x, y, x_test, y_test


def _conv(**kwargs):
    import keras

    return keras.layers.Conv1D(WIDTH, 3, padding="same", **kwargs)


def _head(h):
    import keras

    h = keras.layers.GlobalAveragePooling1D()(h)
    return keras.layers.Dense(10, activation="softmax")(h)


def build_plain(init, depth=PLAIN_DEPTH):
    import keras

    import keras_initplus

    inputs = keras.Input((40, 1))
    h = inputs
    for i in range(depth):
        kwargs = {}
        if init == "ours":
            position = "first" if i == 0 else "hidden"
            kwargs["kernel_initializer"] = keras_initplus.initializer_for(
                "relu", depth=depth, position=position
            )
        h = _conv(activation="relu", **kwargs)(h)
    return keras.Model(inputs, _head(h))


def build_residual(init, seed, blocks=BLOCKS):
    import keras

    import keras_initplus

    inputs = keras.Input((40, 1))
    h = _conv(activation="relu")(inputs)
    for _ in range(blocks):
        if init == "bn":
            b = _conv()(h)
            b = keras.layers.BatchNormalization()(b)
            b = keras.layers.Activation("relu")(b)
            b = _conv()(b)
            b = keras.layers.BatchNormalization()(b)
        else:
            b = _conv()(_conv(activation="relu")(h))
        h = keras.layers.Add()([h, b])
    model = keras.Model(inputs, _head(h))
    if init == "ours":
        keras_initplus.initialize_model(model, seed=seed)
    return model


def train(name, seed, epochs, data, depth=None):
    """One (row, seed) run; returns its per-epoch test accuracies.
    `depth` is the plain network's layers or the residual one's blocks
    (default `PLAIN_DEPTH` or `BLOCKS`)."""
    import keras

    import keras_initplus

    kind, init, opt = ROWS[name]
    x, y, x_test, y_test = data
    keras.utils.set_random_seed(seed)
    if kind == "plain":
        model = build_plain(init, depth or PLAIN_DEPTH)
    else:
        model = build_residual(init, seed, depth or BLOCKS)
    optimizer = (
        keras.optimizers.SGD(0.01, momentum=0.9)
        if opt == "sgd"
        else keras.optimizers.Adam(1e-3)
    )
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = []
    if init == "ours":
        callbacks.append(keras_initplus.GradientHealthCallback(clip_norm=CLIP))
    start = time.perf_counter()
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        validation_data=(x_test, y_test),
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    accuracy = [float(a) for a in history.history["val_accuracy"]]
    loss = [float(v) for v in history.history["loss"]]
    to_target = next(
        (i + 1 for i, a in enumerate(accuracy) if a >= TARGET), None
    )
    return {
        "accuracy": accuracy,
        "loss": loss,
        "best": max(accuracy),
        "final": accuracy[-1],
        "to_target": to_target,
        "seconds": seconds,
    }


def row_depth(name, plain_depth, blocks):
    return plain_depth if ROWS[name][0] == "plain" else blocks


def load_progress(path):
    """{(row, seed, epochs, depth): run} from a JSON-lines progress
    file (entries without a depth are at the default depths)."""
    done = {}
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                e = json.loads(line)
                depth = e.get("depth") or row_depth(
                    e["row"], PLAIN_DEPTH, BLOCKS
                )
                done[(e["row"], e["seed"], e["epochs"], depth)] = e["run"]
    return done


def machine():
    import keras
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    return (
        f"machine: {cpu}, nproc {os.cpu_count()}, Python "
        f"{platform.python_version()}, TensorFlow {tf.__version__}, Keras "
        f"{keras.__version__} (backend {keras.backend.backend()}), "
        f"TF intra-op threads {threads or 'default'}"
    )


def _median_epochs(runs, epochs):
    # A run that never reached the target counts as epochs + 1 (so the
    # median is "> epochs" when at least half did not).
    values = [r["to_target"] or epochs + 1 for r in runs]
    m = statistics.median_low(values)
    return f"> {epochs}" if m > epochs else str(m)


def table(names, results, epochs, plain_depth=PLAIN_DEPTH, blocks=BLOCKS):
    lines = [
        "| row | network | initializer | optimizer | seeds | epochs | "
        "best test acc | final test acc | lowest final | epochs to 90% | "
        "final train loss | fit time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        runs = results.get(name) or []
        if not runs:
            continue
        kind, init, opt = ROWS[name]
        network = (
            f"plain {plain_depth} conv"
            if kind == "plain"
            else f"residual {blocks} blocks"
        )
        optimizer = "SGD 0.01 m0.9" if opt == "sgd" else "Adam 1e-3"
        best = statistics.median(r["best"] for r in runs)
        final = statistics.median(r["final"] for r in runs)
        lowest = min(r["final"] for r in runs)
        seconds = statistics.median(r["seconds"] for r in runs)
        # NaN (a diverged run) sorts anywhere; show it if any run has it.
        losses = [r["loss"][-1] for r in runs]
        nan = [v for v in losses if v != v]
        loss = "nan" if nan else f"{statistics.median(losses):.3f}"
        lines.append(
            f"| {name} | {network} | {INIT_LABELS[(kind, init)]} | "
            f"{optimizer} | {len(runs)} | {epochs} | {best:.3f} | "
            f"{final:.3f} | {lowest:.3f} | {_median_epochs(runs, epochs)} "
            f"| {loss} | {seconds:.0f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument(
        "--only", nargs="+", choices=list(ROWS), help="rows to run"
    )
    parser.add_argument(
        "--progress",
        default=None,
        help="JSON-lines file of finished runs, read and appended to",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="TensorFlow intra- and inter-op threads (default: TF's own)",
    )
    parser.add_argument(
        "--plain-depth",
        type=int,
        default=PLAIN_DEPTH,
        help="convolutions of the plain rows",
    )
    parser.add_argument(
        "--blocks", type=int, default=BLOCKS, help="blocks of the res rows"
    )
    parser.add_argument(
        "--plot",
        default=None,
        help="also draw each row's test accuracy by epoch into this PNG",
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="train nothing: print the table of the runs in --progress",
    )
    args = parser.parse_args()

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    names = args.only or list(ROWS)
    print(machine(), flush=True)
    data = load_data()
    print(
        f"MNIST-1D: train {data[0].shape}, test {data[2].shape}, "
        f"batch {BATCH}, {args.epochs} epochs, seeds 0..{args.seeds - 1}",
        flush=True,
    )
    done = load_progress(args.progress)
    results = {}
    for name in names:
        for seed in range(args.seeds):
            depth = row_depth(name, args.plain_depth, args.blocks)
            run = done.get((name, seed, args.epochs, depth))
            if run is None and args.table_only:
                continue
            if run is None:
                run = train(name, seed, args.epochs, data, depth)
                if args.progress:
                    with open(args.progress, "a") as f:
                        entry = {
                            "row": name,
                            "seed": seed,
                            "epochs": args.epochs,
                            "depth": depth,
                            "run": run,
                        }
                        f.write(json.dumps(entry) + "\n")
            results.setdefault(name, []).append(run)
            curve = " ".join(f"{a:.2f}" for a in run["accuracy"])
            print(
                f"{name} seed {seed}: best {run['best']:.3f}, final "
                f"{run['final']:.3f}, to 90% {run['to_target']}, "
                f"{run['seconds']:.0f} s; test acc by epoch: {curve}",
                file=sys.stderr,
                flush=True,
            )
    print()
    print(table(names, results, args.epochs, args.plain_depth, args.blocks))
    if args.plot:
        plot(results, args.plot, args.plain_depth, args.blocks)


def plot(results, path, plain_depth=PLAIN_DEPTH, blocks=BLOCKS):
    """Seed 0's test accuracy by epoch, plain rows left, res rows right."""
    from keras_initplus.plotting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    titles = {
        "plain": f"plain, {plain_depth} convolutions",
        "res": f"residual, {blocks} blocks",
    }
    for ax, kind in zip(axes, ("plain", "res")):
        for name, runs in results.items():
            if ROWS[name][0] != kind:
                continue
            acc = runs[0]["accuracy"]
            style = "--" if ROWS[name][2] == "sgd" else "-"
            color = {"default": "tab:gray", "bn": "tab:green"}.get(
                ROWS[name][1], "tab:red"
            )
            ax.plot(range(1, len(acc) + 1), acc, style, color=color, label=name)
        ax.axhline(0.94, color="grey", lw=0.8, ls=":")
        ax.set_title(f"MNIST-1D, {titles[kind]}")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("test accuracy (dotted: the paper's CNN, 0.94)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
