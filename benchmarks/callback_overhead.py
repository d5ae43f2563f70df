"""Cost of GradientHealthCallback against Keras's own global_clipnorm.

Times, in one process and alternating between them, `fit` of the same
model with:

- keras: `Adam(global_clipnorm=1.0)`, no callback (the baseline);
- ours: `Adam()` and `GradientHealthCallback(clip_norm=1.0)`, with all
  per-step statistics on;
- naive: `Adam(global_clipnorm=1.0)` and a callback that computes the
  gradient again with an extra `GradientTape` pass at every batch end
  and reads its norm on the host (the usual way to "see" gradients from
  a callback).

For an MLP and a small CNN, on one CPU device and (in a child process)
under MirroredStrategy on 2 logical CPU devices. Steady state is the
median epoch time over the epochs after the first of every `fit` call
(tracing excluded), and the fastest such epoch: on a shared machine
other jobs only ever add time, so the minimum is the steadier figure
and the median the more honest one. "paired" is the median over rounds
of each round's ratio, which cancels load that drifts between rounds.
The one-off cost is the first epoch of a later `fit` call minus a
steady epoch, i.e. what re-tracing costs each `fit` (the callback is
reused, as in a loop of `fit` calls); "first fit" is the same for the
very first `fit`, which traces the step. Prints both, with the ratios.

    python benchmarks/callback_overhead.py [--rounds 3] [--epochs 5]
        [--quick] [--no-mirrored]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = ("keras", "ours", "naive")


def setup_devices(mirrored):
    import tensorflow as tf

    if mirrored:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )


def build(kind, variant, strategy):
    import keras

    from keras_initplus.gradients import GradientHealthCallback

    with strategy.scope():
        keras.utils.set_random_seed(0)
        if kind == "mlp":
            model = keras.Sequential(
                [
                    keras.Input((784,)),
                    keras.layers.Dense(256, activation="relu"),
                    keras.layers.Dense(256, activation="relu"),
                    keras.layers.Dense(10),
                ]
            )
        else:
            model = keras.Sequential(
                [
                    keras.Input((28, 28, 1)),
                    keras.layers.Conv2D(16, 3, activation="relu"),
                    keras.layers.MaxPooling2D(),
                    keras.layers.Conv2D(32, 3, activation="relu"),
                    keras.layers.MaxPooling2D(),
                    keras.layers.Flatten(),
                    keras.layers.Dense(10),
                ]
            )
        if variant == "ours":
            opt = keras.optimizers.Adam(1e-3)
        else:
            opt = keras.optimizers.Adam(1e-3, global_clipnorm=1.0)
        model.compile(
            opt,
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    if variant == "ours":
        return model, [GradientHealthCallback(clip_norm=1.0)]
    if variant == "naive":
        return model, [NaiveCallback()]
    return model, []


def data(kind, n):
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (n, 784) if kind == "mlp" else (n, 28, 28, 1)
    x = rng.normal(size=shape).astype("float32")
    y = rng.integers(0, 10, size=(n,))
    return x, y


def naive_callback_class():
    import keras
    import tensorflow as tf

    class Naive(keras.callbacks.Callback):
        """Recomputes the gradient on a batch and reads its norm."""

        def set_data(self, x, y, batch_size):
            self.x, self.y, self.bs = x, y, batch_size

        def on_train_begin(self, logs=None):
            model = self.model
            loss_fn = keras.losses.SparseCategoricalCrossentropy(
                from_logits=True
            )

            @tf.function
            def grad_norm(x, y):
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, model(x, training=True))
                g = tape.gradient(loss, model.trainable_variables)
                return tf.linalg.global_norm(g)

            self.grad_norm = grad_norm
            self.norms = []

        def on_train_batch_end(self, batch, logs=None):
            i = (batch * self.bs) % len(self.x)
            xb = self.x[i : i + self.bs]
            yb = self.y[i : i + self.bs]
            self.norms.append(float(self.grad_norm(xb, yb)))

    return Naive


NaiveCallback = None


def run(args, mirrored):
    global NaiveCallback
    setup_devices(mirrored)
    import keras
    import tensorflow as tf

    NaiveCallback = naive_callback_class()

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.t0)

        def on_train_begin(self, logs=None):
            self.times = []

    if mirrored:
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:
        strategy = tf.distribute.get_strategy()
    results = {}
    for kind in ("mlp", "cnn"):
        batch = 128 if kind == "mlp" else 64
        n = batch * args.steps
        x, y = data(kind, n)
        models = {v: build(kind, v, strategy) for v in VARIANTS}
        for _model, cbs in models.values():
            for cb in cbs:
                if hasattr(cb, "set_data"):
                    cb.set_data(x, y, batch)
        steady = {v: [] for v in VARIANTS}
        first = {v: [] for v in VARIANTS}
        rounds = {v: [] for v in VARIANTS}
        first_fit = {}
        for r in range(args.rounds):
            # Rotate the order so no variant always runs first.
            order = VARIANTS[r % 3 :] + VARIANTS[: r % 3]
            for v in order:
                model, cbs = models[v]
                timer = Timer()
                model.fit(
                    x,
                    y,
                    batch_size=batch,
                    epochs=args.epochs,
                    verbose=0,
                    callbacks=cbs + [timer],
                )
                if r == 0:  # the first-ever trace of each variant's step
                    first_fit[v] = timer.times[0] - statistics.median(
                        timer.times[1:]
                    )
                else:
                    steady[v].extend(timer.times[1:])
                    rounds[v].append(statistics.median(timer.times[1:]))
                    first[v].append(
                        timer.times[0] - statistics.median(timer.times[1:])
                    )
        med = {v: statistics.median(steady[v]) for v in VARIANTS}
        best = {v: min(steady[v]) for v in VARIANTS}
        results[kind] = {
            "steady_s": med,
            "ratio": {v: med[v] / med["keras"] for v in VARIANTS},
            "min_s": best,
            "min_ratio": {v: best[v] / best["keras"] for v in VARIANTS},
            # Each round's variants ran back to back, so a round's ratio
            # sees the same machine load on both sides.
            "paired_ratio": {
                v: statistics.median(
                    a / b for a, b in zip(rounds[v], rounds["keras"])
                )
                for v in VARIANTS
            },
            "one_off_s": {v: statistics.median(first[v]) for v in VARIANTS},
            "first_fit_s": first_fit,
            "steps_per_epoch": args.steps,
            "batch": batch,
        }
    return results


def show(title, results):
    print(f"\n{title}")
    print(
        f"{'model':5} {'variant':6} {'epoch s median':>15} {'ratio':>6} "
        f"{'epoch s min':>12} {'ratio':>6} {'paired':>7} "
        f"{'one-off s/fit':>14} {'first fit s':>12}"
    )
    for kind, res in results.items():
        for v in VARIANTS:
            print(
                f"{kind:5} {v:6} {res['steady_s'][v]:15.4f} "
                f"{res['ratio'][v]:6.3f} {res['min_s'][v]:12.4f} "
                f"{res['min_ratio'][v]:6.3f} {res['paired_ratio'][v]:7.3f} "
                f"{res['one_off_s'][v]:14.3f} "
                f"{res['first_fit_s'][v]:12.3f}"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-mirrored", action="store_true")
    parser.add_argument("--child", choices=["single", "mirrored"])
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.epochs, args.steps = 2, 3, 16
    if args.child:
        import keras
        import tensorflow as tf

        out = {
            "versions": [tf.__version__, keras.__version__],
            "results": run(args, mirrored=args.child == "mirrored"),
        }
        print(json.dumps(out))
        return
    # Each setting runs in its own process, one after the other: a
    # process that has run TensorFlow keeps worker threads spinning for
    # a while, and they would take CPU from the next measurement.
    titles = {
        "single": "one CPU device",
        "mirrored": "MirroredStrategy, 2 logical CPU devices",
    }
    children = ["single"] + ([] if args.no_mirrored else ["mirrored"])
    for i, child in enumerate(children):
        cmd = [sys.executable, __file__, "--child", child]
        for flag in ("rounds", "epochs", "steps"):
            cmd += [f"--{flag}", str(getattr(args, flag))]
        out = subprocess.run(
            cmd, capture_output=True, text=True, check=True
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        if i == 0:
            tf_version, keras_version = result["versions"]
            print(
                f"{platform.processor() or platform.machine()}, "
                f"{os.cpu_count()} CPUs, TF {tf_version}, "
                f"Keras {keras_version}; {args.rounds} rounds "
                f"(first discarded) x {args.epochs} epochs x "
                f"{args.steps} steps"
            )
        show(titles[child], result["results"])


if __name__ == "__main__":
    main()
