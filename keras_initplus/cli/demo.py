"""`keras-initplus demo`."""

import argparse
import json
import os
import sys
import time

ACTIVATIONS = ("relu", "tanh", "sigmoid", "selu", "elu", "gelu")
DEEP_DEPTH = 200
# Test mode keeps a requested --depth (so that very deep graphs are
# exercised) but trains part 3 on this many rows only.
TEST_MODE_ROWS = 128
TRAIN_INITS = (
    "keras_glorot_uniform",
    "keras_he_normal",
    "keras_orthogonal",
    "small_normal",
    "he_avg_fan_normal",
    "orthogonal_gain",
    "lsuv",
    "initializer_for",
)


def _bounded_int(name, low, high):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--{name} must be an integer from {low} to {high}. "
                f"Received: {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"--{name} must be an integer from {low} to {high}. "
                f"Received: {value}"
            )
        return value

    return parse


def _fraction_or_rate(name, low, high):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not low < value <= high:
            raise argparse.ArgumentTypeError(
                f"--{name} must be a number in ({low}, {high}]. "
                f"Received: {text!r}"
            )
        return value

    return parse


def add_demo_arguments(parser):
    parser.add_argument(
        "--out",
        default="initplus_out",
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--depth",
        type=_bounded_int("depth", 1, 2000),
        default=None,
        help="hidden layers of the deep plain MLP of part 3 (default: "
        f"{DEEP_DEPTH}; 1,000 takes a few minutes)",
    )
    parser.add_argument(
        "--compare-depth",
        type=_bounded_int("compare-depth", 1, 200),
        default=20,
        help="hidden layers of the MLP that compares every initializer "
        "in part 2 (default: %(default)s)",
    )
    parser.add_argument(
        "--deep-epochs",
        type=_bounded_int("deep-epochs", 1, 1000),
        default=8,
        help="training epochs of each part-3 run (default: %(default)s)",
    )
    parser.add_argument(
        "--width",
        type=_bounded_int("width", 1, 4096),
        default=64,
        help="units per hidden layer of part 3; part 2's funnel narrows "
        "from 4x to 1/2x this (default: %(default)s)",
    )
    parser.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default="relu",
        help="hidden activation (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs",
        type=_bounded_int("epochs", 1, 1000),
        default=30,
        help="training epochs per run (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=_bounded_int("seed", 0, 2**31 - 1),
        default=0,
        help="random seed (default: %(default)s)",
    )
    parser.add_argument(
        "--lr",
        type=_fraction_or_rate("lr", 0, 10),
        default=0.01,
        help="SGD learning rate, momentum 0.9 (default: %(default)s)",
    )
    parser.add_argument(
        "--target",
        type=_fraction_or_rate("target", 0, 1),
        default=0.9,
        help="validation accuracy that counts "
        "as converged (default: %(default)s)",
    )
    parser.add_argument(
        "--data",
        metavar="FILE.npz",
        help="your own arrays x, y (and optionally x_val, "
        "y_val) instead of scikit-learn's digits",
    )
    parser.add_argument(
        "--test-mode",
        action="store_true",
        help="tiny sizes, for a smoke test in seconds",
    )


def _results_table(results, epochs):
    head = (
        f"{'initializer':<22} {'epochs to target':>16} "
        f"{'final acc':>9} {'diverged':>8}  health warnings"
    )
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        reached = r["epochs_to_target"]
        reached = f"{reached}" if reached else f">{epochs}"
        # Each warning's first sentence: its kind and layers, whole.
        seen = "; ".join(w.split(". ")[0] for w in r["warnings"]) or "none"
        lines.append(
            f"{name:<22} {reached:>16} {r['final_accuracy']:>9.3f} "
            f"{'yes' if r['diverged'] else 'no':>8}  {seen}"
        )
    return "\n".join(lines)


def _plot_curves(results, path, title):
    from keras_initplus.diagnostics.report import _pyplot

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (name, r) in enumerate(results.items()):
        style = "-" if not name.startswith("keras") else "--"
        epochs = range(1, len(r["loss"]) + 1)
        left.plot(epochs, r["loss"], style, color=f"C{i}", label=name)
        right.plot(epochs, r["val_accuracy"], style, color=f"C{i}", label=name)
    left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("training loss")
    right.set_xlabel("epoch")
    right.set_ylabel("validation accuracy")
    right.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _report(results, epochs, path, title, stream):
    """Prints the results table, saves the curves; returns both."""
    table = _results_table(results, epochs)
    print("\n" + table, file=stream)
    return table, _plot_curves(results, path, title)


def run_demo(args, parser=None, stream=None):
    """Shows what initialization does, then trains a deep MLP with each.

    1. The classic experiment: five tanh layers of 50 units on
       100-dimensional N(0, 1) inputs under 0.01 N(0,1), N(0,1), Glorot,
       HeAvgFan, Orthogonal(gain) and LSUV; prints each layer's activation
       std and saves the histograms.
    2. Real training: a deep MLP on scikit-learn's bundled digits (or
       --data FILE.npz) under each initializer, Keras's defaults included,
       with GradientHealthCallback attached; prints epochs to the target
       accuracy, final accuracy and health warnings, and saves learning
       curves.
    3. The headline: a plain MLP hundreds of layers deep (--depth, up to
       2,000), trained under Keras's default initializer and under
       initializer_for(activation, depth=...) with
       GradientHealthCallback(clip_norm=1.0).

    Everything is written to --out.
    """
    stream = stream or sys.stdout
    from keras_initplus.experiments.data import DataError, load_digits, load_npz

    if args.test_mode:
        args.compare_depth, args.width = min(args.compare_depth, 4), 16
        args.epochs, args.deep_epochs = 2, 1
        args.depth = args.depth or 8
    args.depth = args.depth or DEEP_DEPTH
    try:
        data = (
            load_npz(args.data, seed=args.seed)
            if args.data
            else load_digits(seed=args.seed)
        )
    except (DataError, ImportError) as exc:
        if parser is not None:
            parser.error(str(exc))
        raise
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()

    from keras_initplus.experiments.classic import (
        classic_table,
        plot_classic,
        run_classic,
    )
    from keras_initplus.experiments.models import build_mlp, funnel
    from keras_initplus.experiments.training import EpochProgress, train_run

    print("== 1. Classic experiment: activation std per layer", file=stream)
    reports = run_classic(seed=args.seed, batch=200 if args.test_mode else 1000)
    print(classic_table(reports), file=stream)
    hist = plot_classic(reports, os.path.join(args.out, "classic_hist.png"))
    print(f"histograms: {hist}", file=stream)

    x_train, y_train, x_val, y_val = data
    n_classes = int(max(y_train.max(), y_val.max())) + 1
    source = args.data or "scikit-learn digits"
    # A funnel, so that fan_in != fan_out and the fan modes differ.
    widths = funnel(args.compare_depth, 4 * args.width, max(1, args.width // 2))
    print(
        f"\n== 2. Training a {args.compare_depth}-layer {args.activation} "
        f"funnel MLP (widths {widths[0]} to {widths[-1]}) on {source}: "
        f"{len(x_train)} train, "
        f"{len(x_val)} validation, {args.epochs} epochs, SGD lr {args.lr} "
        f"momentum 0.9, target val acc {args.target}",
        file=stream,
    )
    results = {}
    for name in TRAIN_INITS:
        model, needs_lsuv = build_mlp(
            x_train.shape[1],
            n_classes,
            widths,
            args.activation,
            name,
            args.seed,
        )
        results[name] = train_run(
            model,
            needs_lsuv,
            data,
            epochs=args.epochs,
            learning_rate=args.lr,
            target=args.target,
            seed=args.seed,
            progress=EpochProgress(name, args.epochs, stream),
        )
    table, curves = _report(
        results,
        args.epochs,
        os.path.join(args.out, "learning_curves.png"),
        f"{args.compare_depth}-layer {args.activation} funnel MLP on {source}",
        stream,
    )
    print(f"learning curves: {curves}", file=stream)

    from keras_initplus.experiments.deep import run_deep

    deep_data = data
    if args.test_mode:
        deep_data = (x_train[:TEST_MODE_ROWS], y_train[:TEST_MODE_ROWS])
        deep_data += (x_val, y_val)
    print(
        f"\n== 3. A {args.depth}-layer plain {args.activation} MLP (width "
        f"{args.width}, no normalization, no shortcuts): Keras's default "
        f"against initializer_for({args.activation!r}, depth={args.depth}) "
        "with GradientHealthCallback(clip_norm=1.0); "
        f"{args.deep_epochs} epochs, SGD lr {args.lr} momentum 0.9",
        file=stream,
    )
    deep = run_deep(
        deep_data,
        depth=args.depth,
        width=args.width,
        activation=args.activation,
        epochs=args.deep_epochs,
        seed=args.seed,
        target=args.target,
        learning_rate=args.lr,
        stream=stream,
    )
    deep_table, deep_curves = _report(
        deep,
        args.deep_epochs,
        os.path.join(args.out, "deep_curves.png"),
        f"{args.depth}-layer plain {args.activation} MLP on {source}",
        stream,
    )
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(
            {
                "args": {k: v for k, v in vars(args).items() if k != "command"},
                "classic": {n: r.to_dict() for n, r in reports.items()},
                "training": results,
                "deep": deep,
            },
            f,
            indent=1,
        )
    with open(os.path.join(args.out, "results.txt"), "w") as f:
        f.write("\n\n".join([classic_table(reports), table, deep_table]) + "\n")
    print(
        f"deep curves: {deep_curves}\nall results in {args.out}/ "
        f"({time.perf_counter() - start:.0f} s)",
        file=stream,
    )
    return 0
