"""The deep-network grid of `convergence.py --deep`.

Every row is one network, activation, optimizer, clipping setting and
initializer, trained on the bundled digits for a few seeds. Rows run as
independent tasks, longest first, in `--jobs` worker processes, each
with its own TensorFlow limited to one thread per job so that workers
do not fight over the cores.
"""

import concurrent.futures
import json
import multiprocessing
import os

from keras_initplus.cli.demo.catalogue import DEEP

# Long enough past the 5-epoch goal to see whether a run that got to 90%
# stays there.
OURS_EPOCHS = 8
CNN_EPOCHS = 10
DEEPEST_EPOCHS = 6
BASELINE_EPOCHS = 30
CLIP = 1.0
DEFAULT = "keras_glorot_uniform"
ACTIVATIONS = ("relu", "leaky_relu", "gelu", "tanh")
SHAPES = ("square", "funnel")


# Adam's step moves every weight by about its learning rate whatever the
# gradient's scale, so the change of a product of L layers per step grows
# with L; these rows scale the learning rate as 1/L to undo that.
ADAM_LR_TIMES_DEPTH = 0.03


def _row(
    kind,
    depth,
    activation,
    shape,
    init,
    optimizer,
    clip,
    seeds,
    epochs,
    learning_rate=None,
):
    label = (
        f"cnn-{depth}-{activation}"
        if kind == "cnn"
        else f"mlp-{depth}-{activation}-{shape}"
    )
    return {
        "label": label,
        "kind": kind,
        "depth": depth,
        "activation": activation,
        "shape": shape,
        "init": init,
        "optimizer": optimizer,
        "clip": clip,
        "seeds": seeds,
        "epochs": epochs,
        "learning_rate": learning_rate,
    }


def _mlp(
    depth,
    act,
    shape,
    init=DEEP,
    opt="sgd",
    clip=CLIP,
    seeds=1,
    epochs=OURS_EPOCHS,
    lr=None,
):
    return _row("mlp", depth, act, shape, init, opt, clip, seeds, epochs, lr)


def _configs(activations=ACTIVATIONS):
    for act in activations:
        for shape in SHAPES:
            yield act, shape
    yield "tat", "square"


def deep_rows(seeds=3):
    """The grid: `initializer_for(act, depth=L)` with clipping on every
    MLP configuration at depths 50, 100 and 300 (SGD, `seeds` seeds);
    Adam at 1e-3 (depth 100, and 300 for ReLU and tanh) and at
    0.03 / depth (100 and 300), one seed; runs without clipping; Keras's
    default for 30 epochs; 1,000 layers; and the 24-convolution CNN."""
    rows = []
    for act, shape in _configs():
        for depth in (50, 100, 300):
            rows.append(_mlp(depth, act, shape, seeds=seeds))
        rows.append(_mlp(100, act, shape, opt="adam"))
        for depth in (100, 300):
            lr = ADAM_LR_TIMES_DEPTH / depth
            rows.append(_mlp(depth, act, shape, opt="adam", lr=lr))
    for act in ("relu", "tanh"):
        rows.append(_mlp(300, act, "square", opt="adam"))
    for act in ACTIVATIONS:
        rows.append(_mlp(100, act, "square", clip=None))
    rows.append(_mlp(100, "relu", "funnel", opt="adam", clip=None))
    for act in ("relu", "tanh"):
        rows.append(_mlp(100, act, "square", DEFAULT, epochs=BASELINE_EPOCHS))
    rows.append(
        _mlp(100, "relu", "square", DEFAULT, "adam", epochs=BASELINE_EPOCHS)
    )
    rows.append(_mlp(300, "relu", "square", DEFAULT, epochs=BASELINE_EPOCHS))
    rows.append(_mlp(1000, "relu", "square", epochs=DEEPEST_EPOCHS))
    for opt in ("sgd", "adam"):
        rows.append(
            _row("cnn", 24, "relu", None, DEEP, opt, CLIP, seeds, CNN_EPOCHS)
        )
    rows.append(
        _row("cnn", 24, "relu", None, DEFAULT, "sgd", CLIP, 1, BASELINE_EPOCHS)
    )
    return rows


def _cost(row):
    width = 64 if row["shape"] != "funnel" else 110
    return (
        row["depth"]
        * width
        * row["epochs"]
        * (2 if row["optimizer"] == "adam" else 1)
    )


def _train(task):
    """One (row, seed) run, in a worker process."""
    row, seed, threads = task
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from harness import build_cnn

    from keras_initplus.cli.demo.data import load_digits
    from keras_initplus.cli.demo.models import build_mlp, funnel
    from keras_initplus.cli.demo.training import train_run

    if row["kind"] == "cnn":
        data = load_digits(seed=0, image=True)
        model, lsuv = build_cnn(
            (8, 8, 1),
            10,
            row["activation"],
            row["init"],
            seed,
            depth=row["depth"],
        )
    else:
        data = load_digits(seed=0)
        depth = row["depth"]
        widths = [64] * depth if row["shape"] == "square" else funnel(depth)
        model, lsuv = build_mlp(
            64, 10, widths, row["activation"], row["init"], seed
        )
    run = train_run(
        model,
        lsuv,
        data,
        epochs=row["epochs"],
        seed=seed,
        optimizer=row["optimizer"],
        learning_rate=row.get("learning_rate"),
        clip_norm=row["clip"],
        health=False,
    )
    return run


def optimizer_label(row):
    lr = row.get("learning_rate")
    return row["optimizer"] + (f" lr {lr:.2g}" if lr else "")


def key(row):
    clip = "clip 1.0" if row["clip"] else "no clip"
    return f"{row['label']} | {row['init']} | {optimizer_label(row)} | {clip}"


def load_progress(path):
    """{(key, seed): run} from a progress file, one JSON run per line."""
    done = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                entry = json.loads(line)
                done[(entry["key"], entry["seed"])] = entry["run"]
    return done


def run_rows(rows, jobs, log, progress_path):
    """Runs every (row, seed) not already in `progress_path`, appending
    each finished run there, so an interrupted grid resumes where it
    stopped; returns {key(row): [run, ...]}."""
    done = load_progress(progress_path)
    results = {
        key(row): [done.get((key(row), s)) for s in range(row["seeds"])]
        for row in rows
    }
    tasks = [
        (row, seed, 1 if jobs > 1 else 0)
        for row in sorted(rows, key=_cost, reverse=True)
        for seed in range(row["seeds"])
        if (key(row), seed) not in done
    ]
    context = multiprocessing.get_context("spawn")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=context
    ) as pool:
        futures = {pool.submit(_train, task): task for task in tasks}
        for done, future in enumerate(
            concurrent.futures.as_completed(futures), 1
        ):
            row, seed, _ = futures[future]
            run = future.result()
            results[key(row)][seed] = run
            with open(progress_path, "a") as f:
                entry = {"key": key(row), "seed": seed, "run": run}
                f.write(json.dumps(entry) + "\n")
            log(
                f"[{done}/{len(tasks)}] {key(row)} seed {seed}: "
                f"to 90% {run['epochs_to_target']}, final "
                f"{run['final_accuracy']:.3f}, {run['seconds']:.0f} s"
            )
    return results


def deep_table(rows, results, summarize):
    lines = [
        "| model | initializer | optimizer | clipping | seeds | epochs | "
        "epochs to 90% (median) | final val acc (median) | "
        "lowest final | diverged |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        runs = results[key(row)]
        s = summarize(runs, row["epochs"])
        lowest = min(r["final_accuracy"] for r in runs)
        init = (
            "initializer_for(depth)"
            if row["init"] != DEFAULT
            else "Keras default"
        )
        lines.append(
            f"| {row['label']} | {init} | {optimizer_label(row)} | "
            f"{'1.0' if row['clip'] else 'none'} | {len(runs)} | "
            f"{row['epochs']} | {s['to_target']} | {s['final']:.3f} | "
            f"{lowest:.3f} | {s['diverged']}/{len(runs)} |"
        )
    return "\n".join(lines)
