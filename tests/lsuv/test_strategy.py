"""lsuv_init on a model built under a tf.distribute strategy scope.

Runs in a fresh process: the two logical CPU devices must be configured
before TensorFlow initializes, which the test process has already done.
"""

import pytest

from tests.helpers import run_fresh


@pytest.mark.tensorflow_only
@pytest.mark.distributed
def test_mirrored_strategy_scope():
    out = run_fresh(
        """
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras, numpy as np
        from keras_initplus import LSUV, lsuv_init

        def build():
            return keras.Sequential(
                [keras.Input((16,))]
                + [keras.layers.Dense(32, activation="tanh",
                                      kernel_initializer=LSUV(seed=i))
                   for i in range(6)])

        x = np.random.default_rng(0).normal(size=(64, 16)).astype("float32")
        plain = build()
        assert lsuv_init(plain, x, verbose=0).all_converged
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            model = build()
        report = lsuv_init(model, x, verbose=0)
        assert report.all_converged, str(report)
        # Every replica holds the rescaled kernel, equal to the one
        # fitted without a strategy, and the independent pre-activation
        # variance is on target.
        h = x.astype("float64")
        for layer, ref in zip(model.layers, plain.layers):
            k = layer.kernel.value
            replicas = [np.asarray(v) for v in k.values]
            assert len(replicas) == 2
            np.testing.assert_array_equal(replicas[0], replicas[1])
            np.testing.assert_allclose(
                replicas[0], np.asarray(ref.kernel), rtol=1e-5, atol=1e-7)
            pre = h @ replicas[0] + np.asarray(layer.bias)
            assert abs(np.var(pre) - 1.0) < 0.1, (layer.name, np.var(pre))
            h = np.tanh(pre)
        print("OK")
        """
    )
    assert out.strip().endswith("OK")
