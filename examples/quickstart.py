"""Build, train, save and reload a small model with keras_initplus."""

import os
import tempfile

import keras
import numpy as np

import keras_initplus


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2048, 32)).astype("float32")
    y = (x[:, :16].sum(axis=1) > 0).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((32,)),
            keras.layers.Dense(
                128,
                activation="relu",
                kernel_initializer=keras_initplus.HeAvgFanNormal(seed=1),
            ),
            keras.layers.Dense(
                128,
                activation="tanh",
                kernel_initializer=keras_initplus.Orthogonal("tanh", seed=2),
            ),
            keras.layers.Dense(
                64, activation="relu", kernel_initializer="he_avg_fan_uniform"
            ),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        "adam", "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(x, y, epochs=5, batch_size=64, verbose=2)
    path = os.path.join(tempfile.mkdtemp(), "quickstart.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    same = np.allclose(
        model.predict(x[:8], verbose=0), reloaded.predict(x[:8], verbose=0)
    )
    print(
        f"final accuracy {history.history['accuracy'][-1]:.3f}; "
        f"saved to {path}; reload identical: {same}"
    )


if __name__ == "__main__":
    main()
