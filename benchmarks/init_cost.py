"""What `initialize_model` and `lsuv_init` cost on real models, as a
ratio to one forward pass of the same batch.

Each (backend, model, operation) runs in its own fresh process, so
every first call pays what it pays for a user: on JAX each new op shape
compiles once. The process times the first `model(x)` after building
(forward; it compiles on JAX), then one of:

- init: `initialize_model(model)`, no data;
- init_x: `initialize_model(model, x)`, with the LSUV pass on the plain
  path;
- lsuv: `lsuv_init(model, x, layers="all")`.

Prints seconds and each cost / forward (the median of the three
processes' forward passes). The issue's target is at most 3
forward passes, first calls included.

    python benchmarks/init_cost.py [--backends tensorflow jax]
        [--models resnet50v2 mobilenetv3small efficientnetb0 bert gpt2]
"""

import argparse
import json
import os
import platform
import subprocess
import sys

OPS = ("init", "init_x", "lsuv")
MODELS = ("resnet50v2", "mobilenetv3small", "efficientnetb0", "bert", "gpt2")

_CHILD = r"""
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
import keras, numpy as np
import keras_initplus

name, op = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
if name in ("bert", "gpt2"):
    import keras_hub
    if name == "bert":
        model = keras_hub.models.BertBackbone(
            vocabulary_size=1000, num_layers=2, num_heads=2, hidden_dim=64,
            intermediate_dim=128, max_sequence_length=32)
        x = {"token_ids": rng.integers(0, 1000, (32, 32)),
             "segment_ids": np.zeros((32, 32), "int32"),
             "padding_mask": np.ones((32, 32), "int32")}
    else:
        model = keras_hub.models.GPT2Backbone(
            vocabulary_size=1000, num_layers=2, num_heads=2, hidden_dim=64,
            intermediate_dim=128, max_sequence_length=32)
        x = {"token_ids": rng.integers(0, 1000, (32, 32)),
             "padding_mask": np.ones((32, 32), "int32")}
else:
    build = {"resnet50v2": keras.applications.ResNet50V2,
             "mobilenetv3small": keras.applications.MobileNetV3Small,
             "efficientnetb0": keras.applications.EfficientNetB0}[name]
    model = build(weights=None, input_shape=(64, 64, 3), classes=10)
    x = rng.standard_normal((32, 64, 64, 3)).astype("float32")

def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t

ops = {
    "init": lambda: keras_initplus.initialize_model(model, seed=0),
    "init_x": lambda: keras_initplus.initialize_model(model, x, seed=0),
    "lsuv": lambda: keras_initplus.lsuv_init(
        model, x, layers="all", verbose=0),
}
forward = timed(lambda: keras.ops.convert_to_numpy(
    keras.tree.flatten(model(x))[0]))
print("RESULT " + json.dumps({"forward": forward, op: timed(ops[op])}))
"""


def _run(backend, name):
    out = {}
    for op in OPS:
        r = _run_one(backend, name, op)
        if "error" in r:
            return r
        out[op] = r[op]
        out.setdefault("forward", []).append(r["forward"])
    out["forward"] = sorted(out["forward"])[1]  # the median of three
    return out


def _run_one(backend, name, op):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (repo, env.get("PYTHONPATH")) if p
    )
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, name, op],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:120]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument(
        "--models", nargs="+", default=list(MODELS), choices=MODELS
    )
    args = parser.parse_args()
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print()
    print(
        "| backend | model | forward s | init (x fwd) | init_x (x fwd) "
        "| lsuv (x fwd) |"
    )
    print("|---|---|---|---|---|---|")
    for backend in args.backends:
        for name in args.models:
            r = _run(backend, name)
            if "error" in r:
                print(f"| {backend} | {name} | failed: {r['error']} | | | |")
                continue
            f = r["forward"]
            cells = " | ".join(
                f"{r[k]:.2f} s ({r[k] / f:.2f})"
                for k in ("init", "init_x", "lsuv")
            )
            print(f"| {backend} | {name} | {f:.2f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
