"""The demo's headline: a very deep plain MLP, ours against Keras's
default."""

from keras_initplus.cli.demo.catalogue import DEEP
from keras_initplus.cli.demo.models import build_mlp
from keras_initplus.cli.demo.training import EpochProgress, train_run

KERAS_DEFAULT = "keras_glorot_uniform"
CLIP_NORM = 1.0


# (label, catalogue name, clip_norm) for each headline run; the labels
# fit the demo's 22-character column.
DEEP_RUNS = (
    ("keras_default", KERAS_DEFAULT, None),
    ("initializer_for_depth", DEEP, CLIP_NORM),
)


def run_deep(
    data,
    *,
    depth,
    width,
    activation,
    epochs,
    seed,
    target,
    stream,
    learning_rate=0.01,
):
    """Trains a `depth`-layer plain MLP twice: Keras's GlorotUniform, and
    `initializer_for(activation, depth=depth)` on every hidden layer with
    `GradientHealthCallback(clip_norm=1.0)`. Same data, seed, SGD with
    momentum 0.9; returns `{label: run}` as `train_run` gives."""
    x_train, y_train, x_val, y_val = data
    n_classes = int(max(y_train.max(), y_val.max())) + 1
    results = {}
    for label, name, clip_norm in DEEP_RUNS:
        model, _ = build_mlp(
            x_train.shape[1],
            n_classes,
            [width] * depth,
            activation,
            name,
            seed,
        )
        results[label] = train_run(
            model,
            False,
            data,
            epochs=epochs,
            learning_rate=learning_rate,
            target=target,
            seed=seed,
            clip_norm=clip_norm,
            progress=EpochProgress(label, epochs, stream),
        )
    return results
