"""Keeps TensorFlow's start-up log off the `keras-initplus` terminal.

On the TensorFlow backend, `import keras` loads TensorFlow, whose C++
core writes INFO lines (oneDNN, cpu_feature_guard) to the stderr file
descriptor as it loads; the oneDNN line ignores `TF_CPP_MIN_LOG_LEVEL`.
A console script imports the package, which imports keras, before its
`main` runs, so this module runs first: for the command only, it sets
the log level for what TensorFlow logs later, and imports keras with
file descriptor 2 pointed at a temporary file, then writes back every
line that is not one of those log lines.

It changes nothing for library users: only the command, run as
`keras-initplus` or `python -m keras_initplus`, does this, and not with
`--verbose` or when `TF_CPP_MIN_LOG_LEVEL` is already set.
"""

import contextlib
import os
import re
import sys
import tempfile

QUIET_LEVEL = "2"  # INFO and WARNING hidden; errors still shown


def invoked_as_command(argv, orig_argv):
    """Whether this process is the `keras-initplus` command."""
    if argv and os.path.basename(argv[0]).startswith("keras-initplus"):
        return True
    # `python [flags] -m keras_initplus ...`: the interpreter's own
    # options come first, so stop at the first argument that is not one.
    for i, arg in enumerate(orig_argv[1:], start=1):
        if arg == "-m":
            return orig_argv[i + 1 : i + 2] == ["keras_initplus"]
        if not arg.startswith("-"):
            return False
    return False


# glog-style lines ("I0000 00:00:17962... port.cc:153] ..."), absl's
# notice before its own initialisation, and cpu_feature_guard's second
# line.
_LOG_LINE = re.compile(
    r"^([IWE]\d{4} \d\d:\d\d:\S+ +\d+ \S+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\)"
    r"|To enable the following instructions:)"
)


def is_tensorflow_log_line(line):
    return bool(_LOG_LINE.match(line))


@contextlib.contextmanager
def filtered_stderr():
    """Sends file descriptor 2 to a temporary file inside the block, then
    writes back to stderr every line that is not a TensorFlow log line
    (Python warnings and errors included)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            kept = [
                line
                for line in text.splitlines(keepends=True)
                if not is_tensorflow_log_line(line)
            ]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def quiet_tensorflow_for_command():
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or "--verbose" in sys.argv:
        return
    if not invoked_as_command(sys.argv, getattr(sys, "orig_argv", [])):
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = QUIET_LEVEL
    with filtered_stderr():
        import keras  # noqa: F401


quiet_tensorflow_for_command()
