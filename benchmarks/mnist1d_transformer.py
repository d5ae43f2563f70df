"""keras-hub `TransformerEncoder` stacks on MNIST-1D, with and without
`initialize_model`.

MNIST-1D (Greydanus, 2020) is generated offline by the `mnist1d` package
(`make_dataset`, 4,000 train and 1,000 test signals of length 40). Each
signal is read as 40 tokens of one value: a Dense(32) token projection
plus a learned position embedding, `depth` TransformerEncoder layers
(4 heads, feed-forward 64, GELU, dropout 0), pre-LN (`normalize_first`)
or post-LN, a final LayerNormalization for pre-LN, mean pooling and a
softmax head. Adam at 1e-3, batch 64, no warmup, no schedule.

Rows: Keras's default init (keras-hub's Glorot), and
`initialize_model(model, seed=0)` with
`GradientHealthCallback(clip_norm=1.0)`, the package's recipe. The bar
is a 4-layer pre-LN stack with the default init.

    python benchmarks/mnist1d_transformer.py [--epochs 10]
        [--depths 12 48] [--seed 0]

Needs keras-hub (not in the test extras; see docs/initialize_model.md).
"""

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import keras_initplus  # noqa: E402


def load():
    # benchmarks/mnist1d.py sits beside this script, on sys.path[0]: drop
    # the folder so that `mnist1d` is the data package.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())
    x, xt = (data[k].astype("float32")[..., None] for k in ("x", "x_test"))
    mean, std = x.mean(), x.std()
    return (x - mean) / std, data["y"], (xt - mean) / std, data["y_test"]


def build(depth, pre_ln, width=32):
    import keras_hub

    inputs = keras.Input((40, 1))
    h = keras.layers.Dense(width, name="tokens")(inputs)
    h = keras.layers.Add()(
        [h, keras_hub.layers.PositionEmbedding(40, name="positions")(h)]
    )
    for i in range(depth):
        h = keras_hub.layers.TransformerEncoder(
            2 * width,
            4,
            activation="gelu",
            normalize_first=pre_ln,
            name=f"encoder_{i}",
        )(h)
    if pre_ln:
        h = keras.layers.LayerNormalization(name="final_norm")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    outputs = keras.layers.Dense(10, "softmax", name="head")(h)
    return keras.Model(inputs, outputs)


def run(depth, pre_ln, recipe, data, epochs, seed):
    x, y, xt, yt = data
    keras.utils.set_random_seed(seed)
    model = build(depth, pre_ln)
    callbacks = []
    if recipe:
        keras_initplus.initialize_model(model, seed=seed)
        callbacks.append(keras_initplus.GradientHealthCallback(clip_norm=1.0))
    model.compile(
        keras.optimizers.Adam(1e-3),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    hist = model.fit(
        x,
        y,
        batch_size=64,
        epochs=epochs,
        validation_data=(xt, yt),
        callbacks=callbacks,
        verbose=0,
    )
    acc = hist.history["val_accuracy"]
    return max(acc), acc[-1], time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--depths", type=int, nargs="+", default=[12, 48])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = load()
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Keras {keras.version()} ({keras.backend.backend()}), "
        f"{args.epochs} epochs, seed {args.seed}"
    )
    print()
    print("| stack | init | best test acc | final | fit s |")
    print("|---|---|---|---|---|")
    rows = [(4, True, False)] + [
        (d, pre, recipe)
        for d in args.depths
        for pre in (True, False)
        for recipe in (False, True)
    ]
    for depth, pre, recipe in rows:
        best, final, secs = run(
            depth, pre, recipe, data, args.epochs, args.seed
        )
        name = f"{depth} layers, {'pre' if pre else 'post'}-LN"
        init = "initialize_model + clip_norm=1.0" if recipe else "default"
        print(
            f"| {name} | {init} | {best:.3f} | {final:.3f} | {secs:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
