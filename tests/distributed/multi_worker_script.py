"""One worker of a 2-worker MultiWorkerMirroredStrategy run on localhost.

Usage: multi_worker_script.py INDEX PORT0,PORT1 OUT_DIR

The test starts two of these. Each trains the same model in a custom
loop with `GradientHealthOptimizer` on its half of every global batch,
with one step poisoned on worker 1 only, then tries `model.fit` without
and with `GradientHealthCallback`. It writes `worker{INDEX}.npz` (weights
and optimizer state) and `worker{INDEX}.json` (statistics and errors).
The model, data and reference loop live here too, so the test process
can run the single-process reference from the same definitions.
"""

import json
import os
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

WORKERS = 2
GLOBAL_BATCH = 16
STEPS = 5
BAD_STEP = 2  # poisoned on worker 1 only
CLIP_NORM = 0.5
LR, MOMENTUM = 0.1, 0.9


def batches():
    """`STEPS` global batches; worker `w` gets rows `w::WORKERS`."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(STEPS, GLOBAL_BATCH, 6)).astype("float32") * 3.0
    y = rng.normal(size=(STEPS, GLOBAL_BATCH, 1)).astype("float32") * 5.0
    return x, y


def make_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="tanh", name="hidden"),
            keras.layers.Dense(1, name="out"),
        ],
        name="mlp",
    )


def local_loss(model, x, y):
    # Summed over the local rows and divided by the global batch: the
    # cross-replica sum of the gradients is then the gradient of the
    # mean loss over the global batch, as on one device.
    err = tf.square(y - model(x, training=True))
    return tf.reduce_sum(err) / GLOBAL_BATCH


def reference():
    """One process, no strategy: plain Keras SGD on the whole global
    batch, clipped with `tf.clip_by_global_norm`, the bad step left
    out. Returns the final weights and the pre-clip norm of each
    applied step."""
    x, y = batches()
    model = make_model()
    opt = keras.optimizers.SGD(LR, momentum=MOMENTUM)
    norms = []
    for step in range(STEPS):
        if step == BAD_STEP:
            continue
        with tf.GradientTape() as tape:
            loss = local_loss(model, x[step], y[step])
        grads = tape.gradient(loss, model.trainable_variables)
        grads, norm = tf.clip_by_global_norm(grads, CLIP_NORM)
        norms.append(float(norm))
        opt.apply(grads, model.trainable_variables)
    return [np.asarray(w) for w in model.get_weights()], norms


def state(model, opt):
    return (
        [np.asarray(w) for w in model.get_weights()],
        # The inner optimizer's slots: the wrapper's `variables` also
        # hold the health state, which counts the skipped step.
        [np.asarray(v) for v in opt.inner_optimizer.variables],
    )


def custom_loop(strategy, index):
    from keras_initplus import GradientHealth, GradientHealthOptimizer

    x, y = batches()
    x, y = x[:, index::WORKERS], y[:, index::WORKERS]
    if index == 1:
        x[BAD_STEP, 3, 2] = np.inf  # this worker's gradient goes NaN
    with strategy.scope():
        model = make_model()
        health = GradientHealth(clip_norm=CLIP_NORM)
        health.build(model.trainable_variables)
        opt = GradientHealthOptimizer(
            keras.optimizers.SGD(LR, momentum=MOMENTUM), health
        )
        opt.build(model.trainable_variables)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = local_loss(model, xb, yb)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply(grads, model.trainable_variables)

    @tf.function
    def train_step(xb, yb):
        strategy.run(replica_step, args=(xb, yb))

    out = {"norms": [], "clipped": [], "nonfinite": [], "iterations": []}
    arrays = {}
    prev = health.stats().scalars
    for step in range(STEPS):
        if step == BAD_STEP:
            before = state(model, opt)
        train_step(tf.constant(x[step]), tf.constant(y[step]))
        s = health.stats().scalars
        out["norms"].append(float(s.norm_sum - prev.norm_sum))
        out["clipped"].append(float(s.clipped - prev.clipped))
        out["nonfinite"].append(float(s.nonfinite - prev.nonfinite))
        out["iterations"].append(int(opt.iterations.numpy()))
        prev = s
        if step == BAD_STEP:
            after = state(model, opt)
            out["bad_step_weights_unchanged"] = all(
                np.array_equal(a, b) for a, b in zip(before[0], after[0])
            )
            out["bad_step_slots_unchanged"] = all(
                np.array_equal(a, b) for a, b in zip(before[1], after[1])
            )
        if step == BAD_STEP + 1:
            out["trained_after_bad_step"] = any(
                not np.array_equal(a, b)
                for a, b in zip(after[0], state(model, opt)[0])
            )
    final = state(model, opt)
    for i, w in enumerate(final[0]):
        arrays[f"weight{i}"] = w
    out["n_weights"] = len(final[0])
    out["finite"] = all(bool(np.all(np.isfinite(w))) for w in final[0])
    return model, out, arrays


def try_fit(strategy, model, index, callback):
    """`fit` under the strategy. Returns what happened."""
    from keras_initplus import GradientHealthCallback

    x, y = batches()
    x = x[:, index::WORKERS].reshape(-1, 6)
    y = y[:, index::WORKERS].reshape(-1, 1)
    with strategy.scope():
        user_opt = keras.optimizers.SGD(LR)
        model.compile(optimizer=user_opt, loss="mse")
    cbs = [GradientHealthCallback(clip_norm=CLIP_NORM)] if callback else []
    w0 = [np.asarray(w) for w in model.get_weights()]
    result = {"error_type": None, "error_message": None}
    try:
        h = model.fit(
            x,
            y,
            batch_size=GLOBAL_BATCH // WORKERS,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=cbs,
        )
        result["history"] = h.history
    except Exception as e:  # what Keras raises is the measurement
        result["error_type"] = f"{type(e).__module__}.{type(e).__qualname__}"
        result["error_message"] = str(e)[:2000]
        # Where it was raised: tells Keras's own code from ours.
        frames = traceback.extract_tb(e.__traceback__)
        result["error_frames"] = [f"{f.filename}:{f.name}" for f in frames]
    result["optimizer_is_users"] = model.optimizer is user_opt
    result["train_function_is_none"] = model.train_function is None
    w1 = [np.asarray(w) for w in model.get_weights()]
    result["update_norm"] = float(
        np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(w0, w1)))
    )
    result["finite"] = all(bool(np.all(np.isfinite(w))) for w in w1)
    return result, w1


def main():
    index = int(sys.argv[1])
    ports = sys.argv[2].split(",")
    out_dir = sys.argv[3]
    os.environ["TF_CONFIG"] = json.dumps(
        {
            "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
            "task": {"type": "worker", "index": index},
        }
    )
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    # Full tracebacks, so the test can see where `fit` failed; the
    # error itself is the same either way.
    keras.config.disable_traceback_filtering()
    model, out, arrays = custom_loop(strategy, index)
    out["replicas"] = strategy.num_replicas_in_sync
    np.savez(os.path.join(out_dir, f"worker{index}.npz"), **arrays)
    # Written before `fit` is tried, so the custom-loop results survive
    # whatever `fit` does to the collective runtime.
    path = os.path.join(out_dir, f"worker{index}.json")
    with open(path, "w") as f:
        json.dump(out, f)
    for key, callback in (("fit", False), ("fit_callback", True)):
        out[key], weights = try_fit(strategy, model, index, callback)
        for i, w in enumerate(weights):
            arrays[f"{key}_weight{i}"] = w
    np.savez(os.path.join(out_dir, f"worker{index}.npz"), **arrays)
    with open(path, "w") as f:
        json.dump(out, f, default=float)
    print("done", flush=True)


if __name__ == "__main__":
    main()
