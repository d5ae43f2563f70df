"""The classic experiment: 5 tanh layers of 50 units on N(0, 1) inputs."""

import keras
import numpy as np

from keras_initplus.cli.demo.catalogue import make_initializer
from keras_initplus.diagnostics import diagnose

CLASSIC_INITS = (
    "small_normal",
    "large_normal",
    "keras_glorot_uniform",
    "he_avg_fan_normal",
    "orthogonal_gain",
    "lsuv",
)
LABELS = {
    "small_normal": "0.01 N(0,1)",
    "large_normal": "N(0,1)",
    "keras_glorot_uniform": "Glorot",
    "he_avg_fan_normal": "HeAvgFan",
    "orthogonal_gain": "Orthogonal(tanh)",
    "lsuv": "LSUV",
}


def run_classic(seed=0, depth=5, width=50, input_dim=100, batch=1000):
    """Builds the network under each initializer and diagnoses it.

    Returns `{name: DiagnosisReport}` in `CLASSIC_INITS` order.
    """
    x = np.random.default_rng(seed).standard_normal((batch, input_dim))
    x = x.astype("float32")
    reports = {}
    for name in CLASSIC_INITS:
        layers = [keras.Input((input_dim,))]
        needs_lsuv = False
        for i in range(depth):
            init, needs_lsuv = make_initializer(name, "tanh", seed * 100 + i)
            layers.append(
                keras.layers.Dense(
                    width, activation="tanh", kernel_initializer=init
                )
            )
        model = keras.Sequential(layers)
        if needs_lsuv:
            from keras_initplus.lsuv import lsuv_init

            lsuv_init(model, x, verbose=0)
        reports[name] = diagnose(model, x)
    return reports


def classic_table(reports):
    depth = len(next(iter(reports.values())).layers)
    head = (
        f"{'initializer':<18}"
        + "".join(f"{'std L' + str(i + 1):>9}" for i in range(depth))
        + "  findings"
    )
    lines = [head, "-" * len(head)]
    for name, report in reports.items():
        stds = "".join(f"{row['post_std']:>9.3g}" for row in report.layers)
        finding = "; ".join(f.split(":")[0] for f in report.flags) or "ok"
        lines.append(f"{LABELS[name]:<18}{stds}  {finding}")
    return "\n".join(lines)


def plot_classic(reports, path):
    from keras_initplus.plotting import pyplot

    plt = pyplot()
    names = list(reports)
    depth = len(reports[names[0]].layers)
    fig, axes = plt.subplots(
        len(names),
        depth,
        figsize=(2.2 * depth, 1.6 * len(names)),
        sharex=True,
        squeeze=False,
    )
    for r, name in enumerate(names):
        samples = reports[name]._samples
        for c in range(depth):
            ax = axes[r][c]
            ax.hist(samples[c], bins=50, range=(-1, 1), color=f"C{r}")
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"layer {c + 1}")
            if c == 0:
                ax.set_ylabel(LABELS[name], rotation=0, ha="right", va="center")
    fig.suptitle("tanh activations, 5 x 50 units, input N(0, 1)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
