"""The demo's part 2: every initializer trained the same way, alone and
with the package's recipe (initializer plus `clip_norm`)."""

from keras_initplus.cli.demo.catalogue import DEEP
from keras_initplus.cli.demo.models import build_mlp
from keras_initplus.cli.demo.training import EpochProgress, train_run

CLIP_NORM = 1.0
# A validation accuracy this far below the run's best counts as a
# collapse in the demo's summary, as in the warning matrix.
COLLAPSE_DROP = 0.2

KERAS = "Keras's initializers"
OURS = "the package's initializers, no clipping"
CLIPPED = f"with clip_norm={CLIP_NORM}"

# (key, catalogue name, clip_norm, group), in table order. Every run is
# SGD with momentum 0.9 at the same learning rate, batch and seed, with
# GradientHealthCallback attached; the clipped rows also clip.
COMPARE_RUNS = (
    ("keras_glorot_uniform", "keras_glorot_uniform", None, KERAS),
    ("keras_he_normal", "keras_he_normal", None, KERAS),
    ("he_avg_fan_normal", "he_avg_fan_normal", None, OURS),
    ("orthogonal_gain", "orthogonal_gain", None, OURS),
    ("lsuv", "lsuv", None, OURS),
    ("initializer_for", "initializer_for", None, OURS),
    ("initializer_for_depth", DEEP, None, OURS),
    ("keras_he_normal+clip", "keras_he_normal", CLIP_NORM, CLIPPED),
    ("initializer_for_depth+clip", DEEP, CLIP_NORM, CLIPPED),
)
GROUPS = (KERAS, OURS, CLIPPED)
# The package's recommended use: initializer_for(activation, depth=L)
# with GradientHealthCallback(clip_norm=1.0); and its two halves.
RECIPE = "initializer_for_depth+clip"
INIT_ALONE = "initializer_for_depth"
CLIP_ALONE = "keras_he_normal+clip"


def _same_kernels(wa, wb):
    return len(wa) == len(wb) and all(
        x.shape == y.shape and (x == y).all() for x, y in zip(wa, wb)
    )


def run_compare(data, *, widths, activation, epochs, seed, target, lr, stream):
    """Trains each row of `COMPARE_RUNS` on `data`; returns
    `({key: run}, {merged key: key it was merged into})`.

    Two rows with the same clipping whose models start from identical
    weights (for example `initializer_for("relu")` and Keras's HeNormal,
    same seed) would train identically: the later one is not trained,
    and is listed in the first's `same_kernels`.
    """
    x_train, y_train, x_val, y_val = data
    n_classes = int(max(y_train.max(), y_val.max())) + 1
    results, merged, built = {}, {}, []
    for key, name, clip_norm, group in COMPARE_RUNS:
        model, needs_lsuv = build_mlp(
            x_train.shape[1], n_classes, widths, activation, name, seed
        )
        weights = model.get_weights()  # as drawn, before any training
        twin = next(
            (
                k
                for k, w, c, lsuv in built
                if c == clip_norm
                and lsuv == needs_lsuv
                and _same_kernels(w, weights)
            ),
            None,
        )
        if twin is not None:
            merged[key] = twin
            results[twin]["same_kernels"].append(key)
            continue
        built.append((key, weights, clip_norm, needs_lsuv))
        run = train_run(
            model,
            needs_lsuv,
            data,
            epochs=epochs,
            learning_rate=lr,
            target=target,
            seed=seed,
            clip_norm=clip_norm,
            progress=EpochProgress(key, epochs, stream),
        )
        results[key] = summarize(
            run, clip_norm=clip_norm, group=group, same_kernels=[]
        )
    return results, merged


def summarize(run, **extra):
    """Adds the best accuracy, the largest fall below the best so far,
    and whether that fall was a collapse and was named by a warning."""
    curve = run["val_accuracy"]
    best, drop = float("-inf"), 0.0
    for v in curve:
        best = max(best, v)
        drop = max(drop, best - v)
    collapses = [a for a in run["alerts"] if a["kind"] == "collapse"]
    return {
        **run,
        **extra,
        "best_accuracy": best if curve else float("nan"),
        "largest_fall": drop,
        "collapsed": drop > COLLAPSE_DROP,
        "collapse_named": bool(collapses),
    }


def resolve(key, merged):
    return merged.get(key, key)


def _names(keys):
    keys = list(keys)
    if len(keys) <= 1:
        return "".join(keys)
    return ", ".join(keys[:-1]) + " and " + keys[-1]


def conclusion(results, merged, *, activation, depth, target):
    """One sentence, computed from `results`: which runs collapsed and
    whether each was named, and how the recipe compares with its two
    halves."""
    fell = [k for k, r in results.items() if r["collapsed"]]
    named = [k for k in fell if results[k]["collapse_named"]]
    if fell:
        who = (
            "each named by a collapse warning"
            if len(named) == len(fell)
            else f"{len(named)} of them named by a collapse warning"
        )
        first = (
            f"{len(fell)} of {len(results)} runs fell more than "
            f"{COLLAPSE_DROP:g} below their best validation accuracy "
            f"({_names(fell)}), {who}"
        )
    else:
        first = (
            f"no run of {len(results)} fell more than {COLLAPSE_DROP:g} "
            "below its best validation accuracy"
        )
    recipe = results[resolve(RECIPE, merged)]
    reached = recipe["epochs_to_target"]
    reach = (
        f"reached {target:g} in {reached} epochs and "
        if reached
        else f"did not reach {target:g} and "
    )
    halves = []
    for label, key in (
        ("the initializer alone", INIT_ALONE),
        ("clipping alone (HeNormal)", CLIP_ALONE),
    ):
        key = resolve(key, merged)
        if key in results and key != resolve(RECIPE, merged):
            halves.append(f"{results[key]['final_accuracy']:.3f} for {label}")
    versus = f", against {' and '.join(halves)}" if halves else ""
    return (
        f"{first[0].upper()}{first[1:]}; the package's recipe, "
        f"initializer_for({activation!r}, depth={depth}) with "
        f"clip_norm={CLIP_NORM}, {reach}ended at "
        f"{recipe['final_accuracy']:.3f} (best "
        f"{recipe['best_accuracy']:.3f}){versus}."
    )
