import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The suite runs one pytest worker per core (`-n 2`). numpy's OpenBLAS
# threads spin while they wait, and beside JAX's or TensorFlow's own
# thread pools they starve them: with them, 300 orthogonal draws on JAX
# took 23 s instead of 3 s. One BLAS thread per worker is also all a
# worker's share of the cores can use. Child processes inherit this.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
# Most of the JAX pass is XLA compiling the same few small train steps
# again for each test's fresh model. JAX's persistent cache keys a
# compiled step by its program (debug names stripped), so a step already
# compiled by this run, by the other worker or by an earlier run on this
# checkout is loaded instead. Only the time changes: a cache hit is the
# same executable.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "jax"),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


def pytest_sessionfinish(session, exitstatus):
    # pytest exits 5 when nothing was collected; a CI run that tests
    # nothing must fail, not pass.
    if exitstatus == 5:
        session.exitstatus = 1


# On another backend only the parts that run there are collected: the
# repository checks (lint, docs, release, demo) ran with TensorFlow, and
# tests/backends picks each child process's backend itself.
_PORTABLE = (
    "initializers",
    "model_init",
    "lsuv",
    "diagnostics",
    "activations",
    "gradients",
    "introspection",
    "test_private_api.py",
)
# Gradient tests of what only TensorFlow has (tf.distribute, sparse
# IndexedSlices, gradient accumulation, the host-op audit of its graph,
# custom loops written with GradientTape) are not even imported.
if os.environ["KERAS_BACKEND"] != "tensorflow":
    collect_ignore = [
        os.path.join("gradients", name)
        for name in (
            "strategy_script.py",
            "test_accumulation.py",
            "test_custom_loop.py",
            "test_host_ops.py",
            "test_logging.py",
            "test_sparse.py",
            "test_strategy.py",
        )
    ]


def pytest_collection_modifyitems(config, items):
    import pytest

    import keras_initplus.initializers.orthonormal as orthonormal

    backend = os.environ["KERAS_BACKEND"]
    if backend != "tensorflow":
        kept, dropped = [], []
        for item in items:
            parts = item.path.parts
            top = parts[parts.index("tests") + 1] if "tests" in parts else ""
            (kept if top in _PORTABLE else dropped).append(item)
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    not_tf = pytest.mark.skip(
        reason=f"needs the TensorFlow backend (running on {backend})"
    )
    no_f64 = pytest.mark.skip(
        reason="float64 is truncated on this backend (JAX without x64)"
    )
    f64 = orthonormal.float64_available()
    for item in items:
        if backend != "tensorflow" and item.get_closest_marker(
            "tensorflow_only"
        ):
            item.add_marker(not_tf)
        if not f64 and item.get_closest_marker("float64"):
            item.add_marker(no_f64)


if os.environ["KERAS_BACKEND"] == "torch":
    import pytest

    @pytest.fixture(autouse=True)
    def _torch_outputs_as_arrays(monkeypatch):
        # The tests read model outputs with np.asarray, which PyTorch
        # refuses on tensors that require grad; the package's own code
        # converts with keras.ops.convert_to_numpy instead.
        import torch

        array = torch.Tensor.__array__

        def detached(self, *args, **kwargs):
            return array(self.detach(), *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, "__array__", detached)
