"""`keras-initplus demo` and the modules only it (and the repository's
benchmarks) use: not part of the library's API."""

from keras_initplus.cli.demo.command import add_demo_arguments, run_demo

__all__ = ["add_demo_arguments", "run_demo"]
