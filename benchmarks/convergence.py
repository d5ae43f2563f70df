"""Convergence benchmark: epochs to a target accuracy, per initializer.

Deep MLPs (depth 10/30/50, ReLU and tanh, square and funnel widths) and a
small CNN, all on scikit-learn's bundled 8x8 digits, under Keras's
GlorotUniform (the default), HeNormal and Orthogonal and under
keras_initplus's HeAvgFanNormal, Orthogonal(gain), LSUV and
initializer_for. Every run uses the same recipe (SGD, momentum 0.9, fixed
learning rate, batch 64) and several seeds; the table gives medians over
seeds.

    python benchmarks/convergence.py --quick     # a few minutes
    python benchmarks/convergence.py             # full grid
    python benchmarks/convergence.py --deep --jobs 2   # deep networks

`--deep` trains plain networks of 50 to 1,000 layers (ReLU, leaky ReLU,
GELU, tanh and TAT's tailored leaky ReLU; square and funnel widths; a
24-convolution CNN) under `initializer_for(activation, depth=L)` on
every hidden layer, with SGD-momentum and Adam, with and without
`GradientHealthCallback(clip_norm=1.0)`, next to Keras's default
GlorotUniform; see `deep_rows` for the exact grid and seeds.

Writes a markdown table, a JSON file with every curve, and a PNG of the
median validation-accuracy curves to --out.
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from convergence_deep import (  # noqa: E402
    deep_rows,
    deep_table,
    key,
    optimizer_label,
    run_rows,
)
from harness import (  # noqa: E402
    KERAS_BASELINES,
    OURS,
    build_cnn,
    median_or_none,
)

from keras_initplus.cli.demo.data import load_digits  # noqa: E402
from keras_initplus.cli.demo.models import build_mlp, funnel  # noqa: E402
from keras_initplus.cli.demo.training import train_run  # noqa: E402

INITS = KERAS_BASELINES + OURS


def configs(quick):
    depths = (10, 30) if quick else (10, 30, 50)
    shapes = ("funnel",) if quick else ("square", "funnel")
    for depth in depths:
        for activation in ("relu", "tanh"):
            for shape in shapes:
                widths = [64] * depth if shape == "square" else funnel(depth)
                yield (
                    f"mlp-{depth}-{activation}-{shape}",
                    "mlp",
                    (widths, activation),
                )
    yield "cnn-6-relu", "cnn", (6, "relu")


def run(args):
    digits = load_digits(seed=0)
    images = load_digits(seed=0, image=True)
    results = {}
    total = sum(1 for _ in configs(args.quick)) * len(INITS) * args.seeds
    done, start = 0, time.perf_counter()
    for label, kind, spec in configs(args.quick):
        results[label] = {}
        for init in INITS:
            runs = []
            for seed in range(args.seeds):
                if kind == "mlp":
                    widths, activation = spec
                    model, lsuv = build_mlp(
                        64, 10, widths, activation, init, seed
                    )
                    data = digits
                else:
                    depth, activation = spec
                    model, lsuv = build_cnn(
                        (8, 8, 1), 10, activation, init, seed, depth=depth
                    )
                    data = images
                runs.append(
                    train_run(
                        model,
                        lsuv,
                        data,
                        epochs=args.epochs,
                        learning_rate=args.lr,
                        target=args.target,
                        seed=seed,
                        health=False,
                    )
                )
                done += 1
            results[label][init] = runs
            summary = summarize(runs, args.epochs)
            print(
                f"[{done}/{total} {time.perf_counter() - start:5.0f}s] "
                f"{label:<22} {init:<22} to-target {summary['to_target']:>5}"
                f"  final {summary['final']:.3f}  diverged "
                f"{summary['diverged']}",
                flush=True,
            )
    return results


def summarize(runs, epochs):
    reached = [r["epochs_to_target"] for r in runs]
    # The median counts runs that never reached the target as "never":
    # it exists only when at least half of the seeds got there.
    hits = sorted(r for r in reached if r is not None)
    if len(hits) * 2 >= len(runs):
        padded = hits + [float("inf")] * (len(runs) - len(hits))
        med = float(np.median(padded))
        to_target = f"{med:g}" if np.isfinite(med) else f">{epochs}"
    else:
        to_target = f">{epochs}"
    return {
        "to_target": to_target,
        "final": median_or_none([r["final_accuracy"] for r in runs]),
        "diverged": sum(r["diverged"] for r in runs),
    }


def table(results, epochs, target):
    lines = [
        f"| model | initializer | epochs to {target:.0%} val acc "
        "(median) | final val acc (median) | diverged |",
        "|---|---|---|---|---|",
    ]
    for label, per_init in results.items():
        for init, runs in per_init.items():
            s = summarize(runs, epochs)
            lines.append(
                f"| {label} | {init} | {s['to_target']} | "
                f"{s['final']:.3f} | {s['diverged']}/{len(runs)} |"
            )
    return "\n".join(lines)


def plot(results, path):
    from keras_initplus.plotting import pyplot

    plt = pyplot()
    labels = list(results)
    cols = min(3, len(labels))
    rows = -(-len(labels) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False
    )
    for ax, label in zip(axes.ravel(), labels):
        for i, (init, runs) in enumerate(results[label].items()):
            # Runs whose curve is shorter (diverged, or recorded without
            # curves) are left out of the median curve.
            longest = max(len(r["val_accuracy"]) for r in runs)
            curves = np.array(
                [
                    r["val_accuracy"]
                    for r in runs
                    if longest and len(r["val_accuracy"]) == longest
                ]
            )
            if not len(curves):
                continue
            style = "--" if init.startswith("keras") else "-"
            ax.plot(
                np.arange(1, curves.shape[1] + 1),
                np.median(curves, axis=0),
                style,
                color=f"C{i}",
                label=init,
            )
        ax.set_title(label)
        ax.set_ylim(0, 1)
        ax.set_xlabel("epoch")
        ax.set_ylabel("val accuracy (median)")
    for ax in axes.ravel()[len(labels) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="depth 10 and 30, funnel widths, CNN; 15 epochs",
    )
    parser.add_argument(
        "--deep",
        action="store_true",
        help="deep plain networks, 50 to 1,000 layers; resumes from "
        "OUT/convergence_deep_progress.jsonl",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="worker processes for --deep (default: %(default)s)",
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--out", default="benchmark_out")
    args = parser.parse_args(argv)
    if args.deep:
        return main_deep(args)
    if args.epochs is None:
        args.epochs = 15 if args.quick else 30
    os.makedirs(args.out, exist_ok=True)
    import keras

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"python {sys.version.split()[0]}, keras {keras.__version__}, "
        f"backend {keras.backend.backend()}; mode "
        f"{'quick' if args.quick else 'full'}, {args.seeds} seeds, "
        f"{args.epochs} epochs, SGD lr {args.lr} momentum 0.9, batch 64"
    )
    results = run(args)
    md = table(results, args.epochs, args.target)
    print(md)
    with open(os.path.join(args.out, "convergence.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(args.out, "convergence.json"), "w") as f:
        json.dump(results, f)
    plot(results, os.path.join(args.out, "convergence.png"))
    print(f"wrote {args.out}/convergence.md, .json, .png")


def main_deep(args):
    import keras

    os.makedirs(args.out, exist_ok=True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"python {sys.version.split()[0]}, keras {keras.__version__}, "
        f"backend {keras.backend.backend()}; mode deep, "
        f"{args.jobs} jobs; SGD lr 0.01 "
        "momentum 0.9 or Adam lr 1e-3, batch 64",
        flush=True,
    )
    rows, name = deep_rows(args.seeds), "convergence_deep"
    start = time.perf_counter()
    results = run_rows(
        rows,
        args.jobs,
        lambda line: print(
            f"{time.perf_counter() - start:6.0f}s {line}", flush=True
        ),
        os.path.join(args.out, name + "_progress.jsonl"),
    )
    md = deep_table(rows, results, summarize)
    print(md)
    with open(os.path.join(args.out, name + ".md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(args.out, name + ".json"), "w") as f:
        json.dump({"rows": rows, "results": results}, f)
    by_label = {}
    for row in rows:
        curve = (
            f"{'keras' if row['init'].startswith('keras') else 'ours'} "
            f"{optimizer_label(row)} {'clip' if row['clip'] else 'no clip'}"
        )
        by_label.setdefault(row["label"], {})[curve] = results[key(row)]
    plot(by_label, os.path.join(args.out, name + ".png"))
    print(f"wrote {args.out}/{name}.md, .json, .png")


if __name__ == "__main__":
    main()
