"""Orthogonal initializer: keras_initplus against keras, in one process.

Each repeat draws with Keras's initializer and ours in alternating order,
so drift in machine load hits both. Prints median times, the ratio
keras/ours (> 1 means ours is faster), and max |W^T W - I| computed in
float64.

    python benchmarks/orthogonal_speed.py [--repeats 5] [--quick]
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

import keras_initplus  # noqa: E402

SHAPES = [(8192, 1024), (3, 3, 512, 512), (1024, 8192), (4096, 4096)]
QUICK_SHAPES = [(2048, 256), (3, 3, 128, 128), (1024, 1024)]


def _ortho_error(w):
    m = np.asarray(keras.ops.cast(w, "float32"), np.float64)
    m = m.reshape(-1, m.shape[-1])
    g = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    return float(np.abs(g - np.eye(g.shape[0])).max())


def _timed(init, shape, dtype="float32"):
    start = time.perf_counter()
    w = init(shape, dtype=dtype)
    np.asarray(keras.ops.cast(w, "float32")[..., :1])  # forces the result
    return time.perf_counter() - start, w


def bench(shape, repeats):
    ours = keras_initplus.Orthogonal(seed=1)
    theirs = keras.initializers.Orthogonal(seed=1)
    ours((16, 16))
    theirs((16, 16))
    t_ours, t_keras = [], []
    for i in range(repeats):
        order = [(ours, t_ours), (theirs, t_keras)]
        for init, sink in order if i % 2 == 0 else order[::-1]:
            elapsed, w = _timed(init, shape)
            sink.append(elapsed)
            if init is ours:
                err_ours = _ortho_error(w)
            else:
                err_keras = _ortho_error(w)
    med_o, med_k = statistics.median(t_ours), statistics.median(t_keras)
    return med_k, med_o, err_keras, err_ours


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"keras {keras.__version__}, backend {keras.backend.backend()}, "
        f"float32, median of {args.repeats}"
    )
    header = (
        f"{'shape':>18} {'rows/cols':>9} {'keras s':>8} {'ours s':>8} "
        f"{'speed-up':>8} {'keras err':>9} {'ours err':>9}"
    )
    print(header)
    for shape in QUICK_SHAPES if args.quick else SHAPES:
        rows, cols = math.prod(shape[:-1]), shape[-1]
        med_k, med_o, err_k, err_o = bench(shape, args.repeats)
        print(
            f"{str(shape):>18} {max(rows, cols) / min(rows, cols):>9.1f} "
            f"{med_k:>8.3f} {med_o:>8.3f} {med_k / med_o:>7.2f}x "
            f"{err_k:>9.1e} {err_o:>9.1e}"
        )
    try:
        keras.initializers.Orthogonal(seed=1)((64, 32), dtype="bfloat16")
        bf16 = "works"
    except Exception as exc:  # Keras's QR has no bf16 kernel on TF.
        bf16 = f"fails ({type(exc).__name__})"
    ours = keras_initplus.Orthogonal(seed=1)((64, 32), dtype="bfloat16")
    print(
        f"bfloat16 (64, 32): keras {bf16}; ours works, "
        f"err {_ortho_error(ours):.1e} (bfloat16 rounding)"
    )


if __name__ == "__main__":
    main()
