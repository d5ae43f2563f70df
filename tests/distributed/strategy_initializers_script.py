"""Run in a fresh process: 2 logical CPUs, MirroredStrategy, same values."""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_initplus as k  # noqa: E402

MAKERS = {
    "he_avg_fan_normal": lambda: k.HeAvgFanNormal(seed=3),
    "he_avg_fan_uniform": lambda: k.HeAvgFanUniform(seed=3),
    "orthogonal": lambda: k.Orthogonal(gain="relu", seed=3),
    "delta_orthogonal": lambda: k.DeltaOrthogonal(seed=3),
    "initializer_for": lambda: k.initializer_for("tanh", seed=3),
    "variance_scaling": lambda: k.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="uniform", seed=3
    ),
    "lsuv": lambda: k.LSUV(seed=3),
}


def build(name):
    layer = keras.layers.Conv2D(16, 3, kernel_initializer=MAKERS[name]())
    layer.build((None, 8, 8, 8))
    return layer


def main():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    out = {"replicas": strategy.num_replicas_in_sync, "same": {}}
    for name in MAKERS:
        plain = np.asarray(build(name).kernel)
        with strategy.scope():
            layer = build(name)
        # The backing tf.Variable is a MirroredVariable: one copy per
        # replica. Each must equal the single-device draw.
        copies = [
            np.asarray(v)
            for v in strategy.experimental_local_results(layer.kernel._value)
        ]
        out["same"][name] = bool(
            len(copies) == 2 and all(np.array_equal(c, plain) for c in copies)
        )
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
