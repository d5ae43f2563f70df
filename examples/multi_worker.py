"""Gradient clipping and health statistics across two worker processes.

`model.fit` does not run under MultiWorkerMirroredStrategy in Keras 3.15
(keras-team/keras#20585), so this trains with a custom loop. Launch the
two workers in two shells (or append `&` to the first):

    python examples/multi_worker.py --worker 0 --port-base 12345
    python examples/multi_worker.py --worker 1 --port-base 12345

Both use ports 12345 and 12346 on 127.0.0.1. Each prints, per step, the
global L2 norm of the gradient summed over both workers (before
clipping) and whether it was clipped; the two print the same numbers.
"""

import argparse
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worker", type=int, choices=(0, 1), required=True)
    p.add_argument("--port-base", type=int, default=12345)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--clip-norm", type=float, default=1.0)
    return p.parse_args()


def main():
    args = parse_args()
    # TF_CONFIG must be set before the strategy is created.
    workers = [f"127.0.0.1:{args.port_base + i}" for i in range(2)]
    os.environ["TF_CONFIG"] = json.dumps(
        {
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": args.worker},
        }
    )
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_initplus import GradientHealth, GradientHealthOptimizer

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    global_batch = 64

    def dataset_fn(ctx):
        # Same data on both workers; each keeps its own shard of it.
        rng = np.random.default_rng(0)
        x = rng.normal(size=(4096, 20)).astype("float32")
        y = x[:, :5].sum(axis=1, keepdims=True)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).repeat()
        ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
        return ds.batch(ctx.get_per_replica_batch_size(global_batch))

    batches = iter(strategy.distribute_datasets_from_function(dataset_fn))

    with strategy.scope():
        keras.utils.set_random_seed(1)
        model = keras.Sequential(
            [
                keras.Input((20,)),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(1),
            ]
        )
        health = GradientHealth(clip_norm=args.clip_norm)
        health.build(model.trainable_variables)
        opt = GradientHealthOptimizer(keras.optimizers.Adam(1e-2), health)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            err = tf.square(y - model(x, training=True))
            # Divide by the global batch: the sum over workers is then
            # the gradient of the mean loss, as on one machine.
            loss = tf.reduce_sum(err) / global_batch
        grads = tape.gradient(loss, model.trainable_variables)
        # Sums across workers, measures, clips, skips NaN/Inf steps.
        opt.apply(grads, model.trainable_variables)
        return loss

    @tf.function
    def train_step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return strategy.reduce("SUM", per_replica, axis=None)

    def stats():
        # The epoch's scalar statistics, by name (a `StepStats`).
        return health.stats().scalars

    prev = stats()
    for step in range(args.steps):
        loss = float(train_step(next(batches)))
        # Reading the statistics every step costs a host sync; a long
        # run would read them every few hundred steps.
        now = stats()
        norm = now.norm_sum - prev.norm_sum
        clipped = now.clipped > prev.clipped
        print(
            f"step {step:3d}  loss {loss:9.3f}  grad norm {norm:8.3f}  "
            f"clipped {clipped}"
        )
        prev = now
    s = stats()
    print(
        f"worker {args.worker}: {int(s.steps)} steps applied, "
        f"{int(s.clipped)} clipped, {int(s.nonfinite)} skipped, "
        f"mean grad norm {s.norm_sum / max(s.steps, 1):.3f}, "
        f"max {s.norm_max:.3f}"
    )


if __name__ == "__main__":
    main()
