"""`keras-initplus demo`: its arguments and its three parts."""

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


def epoch_ranges(epochs):
    """0-based epochs as 1-based ranges: [0, 1, 2, 5] -> "1-3,6"."""
    out, run = [], []
    for e in sorted(set(epochs)):
        if run and e == run[-1] + 1:
            run.append(e)
            continue
        if run:
            out.append(run)
        run = [e]
    if run:
        out.append(run)
    return ",".join(
        f"{r[0] + 1}" if len(r) == 1 else f"{r[0] + 1}-{r[-1] + 1}" for r in out
    )


def alert_epochs(alert):
    """The epochs an alert was raised at (one entry per warning and
    `fit` holds them all)."""
    return alert.get("epochs", [alert["epoch"]])


def warning_cell(run):
    """Each kind of warning once: the epochs it was raised at and the
    layers its first instance named."""
    kinds = {}
    for a in run.get("alerts", []):
        kinds.setdefault(a["kind"], []).append(a)
    parts = []
    for kind, found in kinds.items():
        layers = [n.rsplit("/", 1)[-1] for n in found[0]["layers"]]
        shown = ", ".join(layers[:2])
        if len(layers) > 2:
            shown += f" +{len(layers) - 2}"
        epochs = epoch_ranges(e for a in found for e in alert_epochs(a))
        parts.append(f"{kind} ep {epochs} ({shown})")
    if run.get("diverged"):
        parts.append("stopped: non-finite loss")
    return "; ".join(parts) or "none"


def results_table(results, epochs, target):
    head = (
        f"{'run':<27} {'clip':>4} {f'to {target:g}':>6} {'best':>6} "
        f"{'final':>6}  warnings (epochs, first layers named)"
    )
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        reached = r["epochs_to_target"]
        reached = f"{reached}" if reached else f">{epochs}"
        clip = r.get("clip_norm")
        best = max(r["val_accuracy"]) if r["val_accuracy"] else float("nan")
        lines.append(
            f"{name:<27} {clip if clip is not None else '-':>4} "
            f"{reached:>6} {best:>6.3f} {r['final_accuracy']:>6.3f}  "
            f"{warning_cell(r)}"
        )
    return "\n".join(lines)


def plot_panels(results, groups, path, title, target):
    """One column per group of runs: validation accuracy above (a red x
    where a collapse warning was raised), training loss below."""
    from keras_initplus.plotting import pyplot

    plt = pyplot()
    groups = [(g, [k for k in keys if k in results]) for g, keys in groups]
    groups = [(g, keys) for g, keys in groups if keys]
    n = len(groups)
    fig, axes = plt.subplots(
        2, n, figsize=(4.3 * n, 6.4), sharey="row", squeeze=False
    )
    for col, (group, keys) in enumerate(groups):
        top, bottom = axes[0][col], axes[1][col]
        marked = False
        for i, key in enumerate(keys):
            r = results[key]
            x = range(1, len(r["val_accuracy"]) + 1)
            label = key
            if r.get("same_kernels"):
                label += " (= " + ", ".join(r["same_kernels"]) + ")"
            top.plot(x, r["val_accuracy"], color=f"C{i}", label=label)
            bottom.plot(range(1, len(r["loss"]) + 1), r["loss"], color=f"C{i}")
            hit = sorted(
                {
                    e
                    for a in r["alerts"]
                    if a["kind"] == "collapse"
                    for e in alert_epochs(a)
                }
            )
            hit = [e for e in hit if e < len(r["val_accuracy"])]
            if hit:
                top.plot(
                    [e + 1 for e in hit],
                    [r["val_accuracy"][e] for e in hit],
                    "x",
                    color="red",
                    markersize=7,
                    label=None if marked else "collapse warning",
                )
                marked = True
        top.axhline(target, color="grey", lw=0.8, ls=":")
        top.set_title(group, fontsize=10)
        top.set_ylim(0, 1)
        top.legend(fontsize=7, loc="lower right")
        bottom.set_yscale("log")
        bottom.set_xlabel("epoch")
    axes[0][0].set_ylabel("validation accuracy")
    axes[1][0].set_ylabel("training loss")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_demo(args, parser=None, stream=None):
    """Shows what initialization does, then trains a deep MLP with each.

    1. The classic experiment: five tanh layers of 50 units on
       100-dimensional N(0, 1) inputs under 0.01 N(0,1), N(0,1), Glorot,
       HeAvgFan, Orthogonal(gain) and LSUV; prints each layer's activation
       std and saves the histograms.
    2. Real training: a deep funnel MLP on scikit-learn's bundled digits
       (or --data FILE.npz), every run the same way (SGD, momentum 0.9,
       GradientHealthCallback attached): Keras's initializers, the
       package's initializers alone, and with clip_norm=1.0, the last
       being the package's recipe, initializer_for(activation,
       depth=...) with clipping. Rows that draw the same kernels are
       trained once. Prints epochs to the target, best and final
       accuracy and the warnings raised (a collapse included), then one
       sentence of conclusion computed from the results; saves the
       curves, one panel per group.
    3. The headline: a plain MLP hundreds of layers deep (--depth, up to
       2,000), trained under Keras's default initializer and under
       initializer_for(activation, depth=...) with
       GradientHealthCallback(clip_norm=1.0).

    Everything is written to --out.
    """
    stream = stream or sys.stdout
    from keras_initplus.cli.demo.data import DataError, load_digits, load_npz

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

    from keras_initplus.cli.demo.classic import (
        classic_table,
        plot_classic,
        run_classic,
    )
    from keras_initplus.cli.demo.models import funnel

    print("== 1. Classic experiment: activation std per layer", file=stream)
    reports = run_classic(seed=args.seed, batch=200 if args.test_mode else 1000)
    print(classic_table(reports), file=stream)
    hist = plot_classic(reports, os.path.join(args.out, "classic_hist.png"))
    print(f"histograms: {hist}", file=stream)

    x_train, y_train, x_val, y_val = data
    source = args.data or "scikit-learn digits"
    # A funnel, so that fan_in != fan_out and the fan modes differ.
    widths = funnel(args.compare_depth, 4 * args.width, max(1, args.width // 2))
    print(
        f"\n== 2. Training a {args.compare_depth}-layer {args.activation} "
        f"funnel MLP (widths {widths[0]} to {widths[-1]}) on {source}: "
        f"{len(x_train)} train, "
        f"{len(x_val)} validation, {args.epochs} epochs, SGD lr {args.lr} "
        f"momentum 0.9, target val acc {args.target}; every run with "
        "GradientHealthCallback, the last two also with clip_norm=1.0",
        file=stream,
    )
    from keras_initplus.cli.demo import compare

    results, merged = compare.run_compare(
        data,
        widths=widths,
        activation=args.activation,
        epochs=args.epochs,
        seed=args.seed,
        target=args.target,
        lr=args.lr,
        stream=stream,
    )
    table = results_table(results, args.epochs, args.target)
    notes = [
        f"{key} draws the same kernels as {twin} (seed {args.seed}), so it "
        f"is trained once, as {twin}."
        for key, twin in merged.items()
    ]
    summary = compare.conclusion(
        results,
        merged,
        activation=args.activation,
        depth=args.compare_depth,
        target=args.target,
    )
    table = "\n".join([table, *notes, "", summary])
    print("\n" + table, file=stream)
    groups = [
        (g, [k for k, _, _, group in compare.COMPARE_RUNS if group == g])
        for g in compare.GROUPS
    ]
    curves = plot_panels(
        results,
        groups,
        os.path.join(args.out, "learning_curves.png"),
        f"{args.compare_depth}-layer {args.activation} funnel MLP on "
        f"{source}, SGD lr {args.lr:g}",
        args.target,
    )
    print(f"learning curves: {curves}", file=stream)

    from keras_initplus.cli.demo.deep import DEEP_RUNS, run_deep

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
    clips = {label: clip for label, _, clip in DEEP_RUNS}
    deep = {
        k: compare.summarize(r, clip_norm=clips.get(k)) for k, r in deep.items()
    }
    deep_table = results_table(deep, args.deep_epochs, args.target)
    print("\n" + deep_table, file=stream)
    deep_curves = plot_panels(
        deep,
        [(k, [k]) for k in deep],
        os.path.join(args.out, "deep_curves.png"),
        f"{args.depth}-layer plain {args.activation} MLP on {source}",
        args.target,
    )
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(
            {
                "args": {k: v for k, v in vars(args).items() if k != "command"},
                "classic": {n: r.to_dict() for n, r in reports.items()},
                "training": results,
                "merged": merged,
                "conclusion": summary,
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
