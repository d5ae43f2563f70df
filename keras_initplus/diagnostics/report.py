"""The result of `diagnose`: a table, a dict, flags and a figure."""

import numpy as np

# Thresholds for the plain-language flags. The activation std may drift by
# 10x from the first layer to the last before it is called vanishing or
# exploding; a third of the units saturated or dead is called out.
STD_RATIO_LIMIT = 10.0
UNIT_FRACTION_LIMIT = 0.3
GRAD_RATIO_LIMIT = 100.0

_HEADER = (
    f"{'layer':<18} {'act':<8} {'pre std':>8} {'mean':>8} {'std':>8} "
    f"{'satur.':>7} {'dead':>6} {'grad':>9} {'grad/w':>9}"
)


def _cell(value, width, style="g"):
    if value is None:
        return f"{'-':>{width}}"
    if style == "%":
        return f"{value:>{width}.0%}"
    return f"{value:>{width}.3g}"


class DiagnosisReport:
    """Per-layer forward and backward statistics of one batch.

    Attributes:
        layers: A list of dicts, one per layer in call order, with keys
            `layer`, `activation`, `pre_mean`, `pre_std`, `post_mean`,
            `post_std`, `saturated`, `dead` (fractions, or None where the
            activation cannot saturate or die), `grad_norm` and
            `grad_ratio` (kernel gradient norm, and its ratio to the
            kernel norm; None for layers without a kernel).
        loss: `"compiled"` or `"proxy"`, the loss the gradients come from.
        flags: Plain-language findings, most serious first.
    """

    def __init__(self, layers, loss, samples):
        self.layers = layers
        self.loss = loss
        self._samples = samples
        self.flags = self._flags()

    def std_ratio(self):
        """post_std of the last layer over that of the first."""
        stds = [row["post_std"] for row in self.layers]
        if len(stds) < 2 or stds[0] == 0:
            return None
        return stds[-1] / stds[0]

    def _flags(self):
        flags = []
        ratio = self.std_ratio()
        if ratio is not None:
            depth = len(self.layers) - 1
            per_layer = ratio ** (1 / depth) if ratio > 0 else 0.0
            if ratio < 1 / STD_RATIO_LIMIT:
                flags.append(
                    f"activations shrink x{per_layer:.2f} per layer "
                    f"(x{ratio:.2g} over {depth + 1} layers): vanishing, "
                    "consider HeAvgFanNormal, Orthogonal(gain=...) or LSUV"
                )
            elif ratio > STD_RATIO_LIMIT:
                flags.append(
                    f"activations grow x{per_layer:.2f} per layer "
                    f"(x{ratio:.2g} over {depth + 1} layers): exploding, "
                    "consider smaller weights, e.g. Glorot or LSUV"
                )
        for key, what, advice in [
            (
                "saturated",
                "saturated",
                "weights too large for the activation; consider "
                "initializer_for(activation) or Orthogonal(gain='tanh')",
            ),
            (
                "dead",
                "dead (zero on the whole batch)",
                "consider HeAvgFanNormal, a smaller learning rate, or "
                "leaky_relu",
            ),
        ]:
            bad = [
                f"{row['layer']} ({row[key]:.0%})"
                for row in self.layers
                if row[key] is not None and row[key] > UNIT_FRACTION_LIMIT
            ]
            if bad:
                flags.append(
                    f"units {what} in {len(bad)} layer(s): "
                    f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}"
                    f": {advice}"
                )
        grads = [r for r in self.layers if r["grad_ratio"] is not None]
        if len(grads) >= 2 and grads[-1]["grad_ratio"] > 0:
            g = grads[0]["grad_ratio"] / grads[-1]["grad_ratio"]
            if g < 1 / GRAD_RATIO_LIMIT:
                flags.append(
                    f"relative gradients shrink x{g:.2g} from "
                    f"{grads[-1]['layer']} back to {grads[0]['layer']}: "
                    "early layers will barely train"
                )
            elif g > GRAD_RATIO_LIMIT:
                flags.append(
                    f"relative gradients are x{g:.2g} larger at "
                    f"{grads[0]['layer']} than at {grads[-1]['layer']}: "
                    "layers will learn at very different speeds"
                )
        return flags

    def to_dict(self):
        """Column-oriented dict: `{"layer": [...], "post_std": [...], ...}`
        plus `flags` and `loss`; `pandas.DataFrame(report.to_dict()
        ["layers"])` gives a table."""
        columns = {
            key: [row[key] for row in self.layers]
            for key in (
                "layer",
                "activation",
                "pre_mean",
                "pre_std",
                "post_mean",
                "post_std",
                "saturated",
                "dead",
                "grad_norm",
                "grad_ratio",
            )
        }
        return {"layers": columns, "flags": list(self.flags), "loss": self.loss}

    def __str__(self):
        lines = [_HEADER, "-" * len(_HEADER)]
        for row in self.layers:
            lines.append(
                f"{row['layer'][:18]:<18} {row['activation'][:8]:<8} "
                f"{_cell(row['pre_std'], 8)} {_cell(row['post_mean'], 8)} "
                f"{_cell(row['post_std'], 8)} "
                f"{_cell(row['saturated'], 7, '%')} "
                f"{_cell(row['dead'], 6, '%')} "
                f"{_cell(row['grad_norm'], 9)} {_cell(row['grad_ratio'], 9)}"
            )
        lines.append(f"(gradients from the {self.loss} loss)")
        lines += [f"! {flag}" for flag in self.flags] or ["no problems found"]
        return "\n".join(lines)

    __repr__ = __str__

    def plot(self, path, title=None):
        """Saves activation histograms and std/gradient-vs-depth panels.

        Needs matplotlib (`pip install keras-initplus[plots]`).
        """
        plt = _pyplot()
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
        cmap = plt.get_cmap("viridis")
        n = len(self.layers)
        for i, (row, values) in enumerate(zip(self.layers, self._samples)):
            left.hist(
                values,
                bins=60,
                histtype="step",
                density=True,
                color=cmap(i / max(n - 1, 1)),
                label=f"{i + 1}: {row['layer']}",
            )
        left.set_title("activations per layer")
        left.set_xlabel("activation value")
        left.set_ylabel("density")
        if n <= 12:
            left.legend(fontsize=7)
        depth = np.arange(1, n + 1)
        right.semilogy(
            depth,
            [max(r["post_std"], 1e-30) for r in self.layers],
            "o-",
            label="activation std",
        )
        g = [
            (i + 1, r["grad_norm"])
            for i, r in enumerate(self.layers)
            if r["grad_norm"] is not None and r["grad_norm"] > 0
        ]
        if g:
            right.semilogy(*zip(*g), "s--", label="kernel grad norm")
        right.set_xlabel("layer (depth)")
        right.set_title("signal against depth")
        right.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def _pyplot():
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
