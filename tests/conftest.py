import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def pytest_sessionfinish(session, exitstatus):
    # pytest exits 5 when nothing was collected; a CI run that tests
    # nothing must fail, not pass.
    if exitstatus == 5:
        session.exitstatus = 1


# The gradient half is TensorFlow-only (keras_initplus.backend_support);
# these folders test it, or tf.distribute, and are skipped elsewhere.
_TENSORFLOW_FOLDERS = ("gradients", "distributed")


def pytest_collection_modifyitems(config, items):
    import pytest

    import keras_initplus.initializers.orthonormal as orthonormal

    backend = os.environ["KERAS_BACKEND"]
    not_tf = pytest.mark.skip(
        reason=f"needs the TensorFlow backend (running on {backend})"
    )
    no_f64 = pytest.mark.skip(
        reason="float64 is truncated on this backend (JAX without x64)"
    )
    f64 = orthonormal.float64_available()
    for item in items:
        parts = item.path.parts
        folder = parts[parts.index("tests") + 1] if "tests" in parts else ""
        if backend != "tensorflow" and (
            folder in _TENSORFLOW_FOLDERS
            or item.get_closest_marker("tensorflow_only")
        ):
            item.add_marker(not_tf)
        if not f64 and item.get_closest_marker("float64"):
            item.add_marker(no_f64)
