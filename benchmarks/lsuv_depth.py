"""LSUV cost against depth, and against the naive scheme, in one process.

For tanh MLPs of 16, 32, 64 and 128 Dense layers (width 64, batch 256)
times `lsuv_init` (one forward pass, each layer iterated on alone on its
cached input) and, at 16 and 64 layers, two quadratic schemes measured
the same way:

- naive: the reference port's scheme, a full forward pass from the input
  for every iteration of every layer;
- prefix: one forward pass from the input to each layer, then iterations
  on that layer alone.

All schemes start from the same orthonormal weights and apply the same
rule (W <- W * sqrt(1 / Var), tol 0.1, max 10 iterations). Prints median
seconds over the repeats, time(L) / time(16), and naive/ours at 64.

    python benchmarks/lsuv_depth.py [--repeats 3] [--quick]
"""

import argparse
import math
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_initplus  # noqa: E402
from keras_initplus.introspection import (  # noqa: E402
    linear_activation,
    wrapped_calls,
)

WIDTH, BATCH = 64, 256
TARGET, TOL, MAX_ITER = 1.0, 0.1, 10


def _mlp(depth):
    return keras.Sequential(
        [keras.Input((WIDTH,))]
        + [
            keras.layers.Dense(
                WIDTH,
                activation="tanh",
                kernel_initializer=keras_initplus.LSUV(seed=i),
            )
            for i in range(depth)
        ]
    )


def _var(t):
    return float(np.var(np.asarray(t, np.float64)))


def _rescale(layer, var):
    layer.kernel.assign(layer.kernel * math.sqrt(TARGET / var))


def _naive(model, x):
    """A full forward pass from the input for every iteration."""
    for layer in model.layers:
        seen = {}

        def capture(original, _l=layer, _s=seen):
            def call(inputs, *a, **k):
                with linear_activation(_l):
                    _s["pre"] = original(inputs, *a, **k)
                return original(inputs, *a, **k)

            return call

        with wrapped_calls([(layer, capture)]):
            for _ in range(MAX_ITER + 1):
                model(x)
                var = _var(seen["pre"])
                if abs(var - TARGET) < TOL:
                    break
                _rescale(layer, var)


def _prefix(model, x):
    """One forward pass from the input per layer, then the layer alone."""
    for layer in model.layers:
        h = keras.Model(model.inputs[0], layer.input)(x)
        for _ in range(MAX_ITER + 1):
            with linear_activation(layer):
                var = _var(layer(h))
            if abs(var - TARGET) < TOL:
                break
            _rescale(layer, var)


def _ours(model, x):
    keras_initplus.lsuv_init(model, x, verbose=0)


SCHEMES = {"ours": _ours, "prefix": _prefix, "naive": _naive}


def _time(scheme, model, weights, x):
    model.set_weights(weights)
    start = time.perf_counter()
    SCHEMES[scheme](model, x)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="depths 16 and 64 only, 1 repeat"
    )
    args = parser.parse_args()
    depths = [16, 64] if args.quick else [16, 32, 64, 128]
    repeats = 1 if args.quick else args.repeats

    print(
        f"LSUV depth scaling: tanh MLP, width {WIDTH}, batch {BATCH}; "
        f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, TF {tf.__version__}, "
        f"Keras {keras.__version__}; median of {repeats}"
    )
    x = np.random.default_rng(0).normal(size=(BATCH, WIDTH)).astype("float32")
    medians = {}
    for depth in depths:
        model = _mlp(depth)
        weights = model.get_weights()
        # One warm-up run so that tracing and allocation are not timed.
        _time("ours", model, weights, x)
        schemes = ["ours"] + (["prefix", "naive"] if depth in (16, 64) else [])
        times = {s: [] for s in schemes}
        for _ in range(repeats):
            for scheme in schemes:
                times[scheme].append(_time(scheme, model, weights, x))
        for scheme in schemes:
            medians[scheme, depth] = statistics.median(times[scheme])

    print(
        f"{'layers':>6}  {'ours s':>8}  {'/ours(16)':>9}  "
        f"{'prefix s':>9}  {'naive s':>8}  {'naive/ours':>10}"
    )
    for depth in depths:
        ours = medians["ours", depth]
        prefix = medians.get(("prefix", depth))
        naive = medians.get(("naive", depth))
        print(
            f"{depth:>6}  {ours:8.3f}  {ours / medians['ours', 16]:9.2f}  "
            + (f"{prefix:9.3f}  " if prefix else f"{'-':>9}  ")
            + (
                f"{naive:8.3f}  {naive / ours:10.1f}"
                if naive
                else f"{'-':>8}  {'-':>10}"
            )
        )
    growth = medians["ours", 64] / medians["ours", 16]
    speedup = medians["naive", 64] / medians["ours", 64]
    prefix_growth = medians["prefix", 64] / medians["prefix", 16]
    naive_growth = medians["naive", 64] / medians["naive", 16]
    print(
        f"time(64)/time(16): ours {growth:.2f} (linear: 4, must be "
        f"<= 4.5), prefix {prefix_growth:.1f}, naive {naive_growth:.1f}"
    )
    print(f"speed-up over naive at 64 layers: {speedup:.1f}x (must be >= 5)")


if __name__ == "__main__":
    main()
