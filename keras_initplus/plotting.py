"""matplotlib's pyplot, for every figure the package and its scripts draw."""


def pyplot():
    """Returns `matplotlib.pyplot` on the file-only Agg backend, or
    raises an ImportError that says how to install matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "Plotting needs matplotlib, which is an optional dependency. "
            "Install it with `pip install keras-initplus[plots]` or "
            "`pip install matplotlib`."
        ) from None
    return plt
