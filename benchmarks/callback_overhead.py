"""Cost of GradientHealthCallback against Keras's own global_clipnorm.

Times, in one process per setting and alternating between variants,
`fit` of the same model with:

- keras: `Adam(global_clipnorm=1.0)`, no callback (the baseline);
- ours: `Adam()` and `GradientHealthCallback(clip_norm=1.0)`, with all
  per-step statistics on;
- naive: `Adam(global_clipnorm=1.0)` and a callback that computes the
  gradient again at every batch end (a compiled `GradientTape` pass on
  TensorFlow, a jitted `jax.grad` of `stateless_call` on JAX, autograd
  on PyTorch) and reads its norm on the host: the usual way to "see"
  gradients from a callback.

For an MLP and a small CNN (and, with `--models`, tiny keras-hub ViT
and BERT backbones built from constructors, no downloads, and `deep`,
a 500-layer tanh MLP of width 32 with 1,000 weight tensors), on each
backend asked for (TensorFlow and
JAX by default; PyTorch with `--backends tensorflow jax torch`), on one
CPU device and on 2 logical CPU devices: TensorFlow's MirroredStrategy
and JAX's `keras.distribution.DataParallel`. The main figure is the
step: the time from one batch's end to the next one's (on JAX after
waiting for the step's loss), the first batch of each epoch left out,
over every epoch of the rounds after the first. Its median ("step ms")
is the measure other jobs move least, since a burst of load slows some
steps and not the middle one; "paired" beside it is the median over
rounds of each round's ratio of median steps. Many short rounds
(`--rounds 16 --epochs 2`) suit it better than few long ones. The
epoch figures follow: the median
epoch time over the epochs after the first of every `fit` call
(tracing excluded), and the fastest such epoch: on a shared machine
other jobs only ever add time, so the minimum is the steadier figure
and the median the more honest one. "paired" is the median over rounds
of each round's ratio, which cancels load that drifts between rounds.
The one-off cost is the first epoch of a later `fit` call minus a
steady epoch, i.e. what re-tracing costs each `fit` (the callback is
reused, as in a loop of `fit` calls); "first fit" is the same for the
very first `fit`, which traces the step. Prints each setting's table
and then the backends side by side.

    python benchmarks/callback_overhead.py [--rounds 6] [--epochs 5]
        [--quick] [--no-mirrored] [--backends tensorflow jax]
        [--models mlp cnn vit bert deep]
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = ("keras", "ours", "naive")
MODELS = ("mlp", "cnn", "vit", "bert", "deep")
# Batch size per model, and the tiny keras-hub configurations.
BATCH = {"mlp": 128, "cnn": 64, "vit": 32, "bert": 32, "deep": 128}
# The deep MLP: 500 Dense layers, 1,000 weight tensors, where any
# per-variable cost of the callback shows.
DEEP_LAYERS, DEEP_WIDTH = 500, 32
VOCAB, SEQ = 200, 32
BACKENDS = ("tensorflow", "jax", "torch")
SETTINGS = ("single", "mirrored")


def child_environment(backend, setting):
    env = dict(os.environ, KERAS_BACKEND=backend)
    if backend == "jax" and setting == "mirrored":
        flag = "--xla_force_host_platform_device_count=2"
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {flag}".strip()
    if backend == "torch":
        # As many threads as TensorFlow and XLA use on this machine.
        env.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    return env


def distribution_scope(backend, setting):
    """A factory of the scope to build models in, and the setting's label."""
    if setting == "single":
        return contextlib.nullcontext, "one CPU device"
    if backend == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        return strategy.scope, "MirroredStrategy, 2 logical CPU devices"
    if backend == "jax":
        import keras

        devices = keras.distribution.list_devices("cpu")[:2]
        if len(devices) != 2:
            raise RuntimeError(f"Expected 2 host devices, got {devices}")
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=devices)
        )
        return contextlib.nullcontext, "DataParallel, 2 host CPU devices"
    raise ValueError(f"No 2-device setting on backend {backend!r}.")


def build(kind, variant, scope):
    import keras

    from keras_initplus.gradients import GradientHealthCallback

    with scope():
        keras.utils.set_random_seed(0)
        if kind in ("vit", "bert"):
            model = _hub_model(kind)
        elif kind == "deep":
            model = _deep_mlp()
        elif kind == "mlp":
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
        return model, [naive_callback_class()()]
    return model, []


def _deep_mlp():
    import keras

    from keras_initplus import initializer_for

    init = initializer_for("tanh", depth=DEEP_LAYERS)
    hidden = [
        keras.layers.Dense(
            DEEP_WIDTH, activation="tanh", kernel_initializer=init
        )
        for _ in range(DEEP_LAYERS - 1)
    ]
    return keras.Sequential(
        [keras.Input((DEEP_WIDTH,)), *hidden, keras.layers.Dense(10)]
    )


def _hub_model(kind):
    import keras
    import keras_hub

    if kind == "vit":
        backbone = keras_hub.models.ViTBackbone(
            image_shape=(32, 32, 3),
            patch_size=8,
            num_layers=2,
            num_heads=2,
            hidden_dim=32,
            mlp_dim=64,
        )
        pooled = keras.layers.GlobalAveragePooling1D()(backbone.output)
    else:
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=VOCAB,
            num_layers=2,
            num_heads=2,
            hidden_dim=32,
            intermediate_dim=64,
            max_sequence_length=SEQ,
        )
        pooled = backbone.output["pooled_output"]
    return keras.Model(backbone.input, keras.layers.Dense(10)(pooled))


def data(kind, n):
    import numpy as np

    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=(n,))
    if kind == "bert":
        x = {
            "token_ids": rng.integers(1, VOCAB, size=(n, SEQ)),
            "segment_ids": np.zeros((n, SEQ), "int32"),
            "padding_mask": np.ones((n, SEQ), "int32"),
        }
        return x, y
    shape = {
        "mlp": (n, 784),
        "deep": (n, DEEP_WIDTH),
        "cnn": (n, 28, 28, 1),
        "vit": (n, 32, 32, 3),
    }[kind]
    return rng.normal(size=shape).astype("float32"), y


def _gradient_norm_function(model, loss_fn):
    """A compiled `(x, y) -> gradient norm` for the running backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def norm(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            return tf.linalg.global_norm(grads)

        return norm
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def loss_of(trainable, non_trainable, x, y):
            y_pred, _ = model.stateless_call(
                trainable, non_trainable, x, training=True
            )
            return loss_fn(y, y_pred)

        @jax.jit
        def jitted(trainable, non_trainable, x, y):
            grads = jax.grad(loss_of)(trainable, non_trainable, x, y)
            return jnp.sqrt(sum(jnp.sum(g * g) for g in grads))

        def norm(x, y):
            # JAX's fit keeps the weights outside the model during an
            # epoch; a callback has to sync them back to read them.
            model.jax_state_sync()
            return jitted(
                [v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables],
                x,
                y,
            )

        return norm
    import torch

    def norm(x, y):
        weights = [v.value for v in model.trainable_variables]
        loss = loss_fn(torch.as_tensor(y), model(x, training=True))
        grads = torch.autograd.grad(loss, weights)
        return torch.sqrt(sum(torch.sum(g * g) for g in grads))

    return norm


def naive_callback_class():
    import keras

    class Naive(keras.callbacks.Callback):
        """Recomputes the gradient on a batch and reads its norm."""

        def set_data(self, x, y, batch_size):
            self.x, self.y, self.bs = x, y, batch_size

        def on_train_begin(self, logs=None):
            loss_fn = keras.losses.SparseCategoricalCrossentropy(
                from_logits=True
            )
            self.grad_norm = _gradient_norm_function(self.model, loss_fn)
            self.norms = []

        def on_train_batch_end(self, batch, logs=None):
            i = (batch * self.bs) % len(self.x)
            if isinstance(self.x, dict):  # BERT's named inputs
                xb = {k: v[i : i + self.bs] for k, v in self.x.items()}
            else:
                xb = self.x[i : i + self.bs]
            yb = self.y[i : i + self.bs]
            self.norms.append(float(self.grad_norm(xb, yb)))

    return Naive


def run(args, setting):
    import keras

    jax_backend = keras.backend.backend() == "jax"
    if jax_backend:
        import jax

    class Timer(keras.callbacks.Callback):
        """Epoch times, and the time from each batch's end to the next
        one's within an epoch: one whole step, callbacks included."""

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()
            self.last = None
            self.step_times.append([])

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.t0)

        def on_train_batch_end(self, batch, logs=None):
            if jax_backend:
                # JAX dispatches asynchronously: wait for this step's
                # loss so that each interval is one step's work.
                jax.block_until_ready(logs)
            now = time.perf_counter()
            if self.last is not None:
                self.step_times[-1].append(now - self.last)
            self.last = now

        def on_train_begin(self, logs=None):
            self.times = []
            self.step_times = []

    scope, label = distribution_scope(keras.backend.backend(), setting)
    results = {}
    for kind in args.models:
        batch = BATCH[kind]
        n = batch * args.steps
        x, y = data(kind, n)
        models = {v: build(kind, v, scope) for v in VARIANTS}
        for _model, cbs in models.values():
            for cb in cbs:
                if hasattr(cb, "set_data"):
                    cb.set_data(x, y, batch)
        steady = {v: [] for v in VARIANTS}
        steps = {v: [] for v in VARIANTS}
        step_rounds = {v: [] for v in VARIANTS}
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
                    mine = [t for e in timer.step_times for t in e]
                    steps[v].extend(mine)
                    step_rounds[v].append(statistics.median(mine))
                    rounds[v].append(statistics.median(timer.times[1:]))
                    first[v].append(
                        timer.times[0] - statistics.median(timer.times[1:])
                    )
        med = {v: statistics.median(steady[v]) for v in VARIANTS}
        best = {v: min(steady[v]) for v in VARIANTS}
        step = {v: statistics.median(steps[v]) for v in VARIANTS}
        results[kind] = {
            # The median step is the measure least moved by other jobs:
            # a burst of load slows a few steps, not the middle one.
            "step_ms": {v: 1000 * step[v] for v in VARIANTS},
            "step_ratio": {v: step[v] / step["keras"] for v in VARIANTS},
            "step_paired_ratio": {
                v: statistics.median(
                    a / b for a, b in zip(step_rounds[v], step_rounds["keras"])
                )
                for v in VARIANTS
            },
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
    return label, results


def show(title, results):
    print(f"\n{title}")
    print(
        f"{'model':5} {'variant':6} {'step ms':>8} {'ratio':>6} "
        f"{'paired':>7} {'epoch s median':>15} {'ratio':>6} "
        f"{'epoch s min':>12} {'ratio':>6} {'paired':>7} "
        f"{'one-off s/fit':>14} {'first fit s':>12}"
    )
    for kind, res in results.items():
        for v in VARIANTS:
            print(
                f"{kind:5} {v:6} {res['step_ms'][v]:8.3f} "
                f"{res['step_ratio'][v]:6.3f} "
                f"{res['step_paired_ratio'][v]:7.3f} "
                f"{res['steady_s'][v]:15.4f} "
                f"{res['ratio'][v]:6.3f} {res['min_s'][v]:12.4f} "
                f"{res['min_ratio'][v]:6.3f} {res['paired_ratio'][v]:7.3f} "
                f"{res['one_off_s'][v]:14.3f} "
                f"{res['first_fit_s'][v]:12.3f}"
            )


def side_by_side(table):
    """ours / keras per model and setting, one column per backend."""
    backends = list(dict.fromkeys(b for b, _ in table))
    print(
        "\nours / keras: median step, paired median step; epoch median, "
        "min, paired; backends side by side"
    )
    header = f"{'setting':9} {'model':5}"
    for backend in backends:
        header += f" {backend:>36}"
    print(header)
    settings = list(dict.fromkeys(st for _, st in table))
    kinds = list(dict.fromkeys(k for res in table.values() for k in res))
    for setting in settings:
        for kind in kinds:
            row = f"{setting:9} {kind:5}"
            for backend in backends:
                res = table.get((backend, setting), {}).get(kind)
                cell = "-"
                if res:
                    cell = (
                        f"{res['step_ratio']['ours']:.3f} "
                        f"{res['step_paired_ratio']['ours']:.3f}; "
                        f"{res['ratio']['ours']:.3f} "
                        f"{res['min_ratio']['ours']:.3f} "
                        f"{res['paired_ratio']['ours']:.3f}"
                    )
                row += f" {cell:>36}"
            print(row)


def child_main(args):
    import keras

    label, results = run(args, args.child)
    versions = {"keras": keras.__version__}
    backend = keras.backend.backend()
    versions[backend] = __import__(backend).__version__
    print(
        json.dumps({"versions": versions, "label": label, "results": results})
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-mirrored", action="store_true")
    parser.add_argument(
        "--backends", nargs="+", choices=BACKENDS, default=BACKENDS[:2]
    )
    parser.add_argument(
        "--models", nargs="+", choices=MODELS, default=MODELS[:2]
    )
    parser.add_argument("--child", choices=SETTINGS)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.epochs, args.steps = 2, 3, 16
    if args.child:
        child_main(args)
        return
    print(
        f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{args.rounds} rounds (first discarded) x {args.epochs} epochs "
        f"x {args.steps} steps"
    )
    # Each setting runs in its own process, one after the other: a
    # process that has run TensorFlow keeps worker threads spinning for
    # a while, and they would take CPU from the next measurement.
    settings = SETTINGS[:1] if args.no_mirrored else SETTINGS
    table = {}
    for backend in args.backends:
        for setting in settings:
            if backend == "torch" and setting == "mirrored":
                continue  # Keras has no multi-device fit on PyTorch.
            cmd = [sys.executable, __file__, "--child", setting]
            cmd += ["--models", *args.models]
            for flag in ("rounds", "epochs", "steps"):
                cmd += [f"--{flag}", str(getattr(args, flag))]
            out = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                check=True,
                env=child_environment(backend, setting),
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            versions = ", ".join(
                f"{k} {v}" for k, v in result["versions"].items()
            )
            show(
                f"{backend}, {result['label']} ({versions})", result["results"]
            )
            table[backend, setting] = result["results"]
    side_by_side(table)


if __name__ == "__main__":
    main()
