"""The result of `diagnose`: a table, a dict, flags and a figure."""

import re

import numpy as np

from keras_initplus.diagnostics.paths import find_row
from keras_initplus.plotting import pyplot

# Thresholds for the plain-language flags. The pre-activation std may drift
# by 10x from the first layers to the last before it is called vanishing
# or exploding; a third of the units saturated or dead is called out; the
# relative gradient of one kind of layer may differ 100x between its
# first and last occurrence.
STD_RATIO_LIMIT = 10.0
UNIT_FRACTION_LIMIT = 0.3
GRAD_RATIO_LIMIT = 100.0
OUTPUT_ACTIVATIONS = ("softmax", "sigmoid", "log_softmax")

_COLUMNS = (
    # (header, width or None for "as wide as the longest value", align)
    ("path", None, "<"),
    ("layer", None, "<"),
    ("act", None, "<"),
    ("pre std", 8, ">"),
    ("mean", 9, ">"),
    ("std", 8, ">"),
    ("satur.", 7, ">"),
    ("dead", 6, ">"),
    ("grad", 9, ">"),
    ("grad/w", 9, ">"),
)


def _cell(value, width, style="g"):
    if value is None:
        return f"{'-':>{width}}"
    if style == "%":
        return f"{value:>{width}.0%}"
    return f"{value:>{width}.3g}"


def _kind(row):
    # The same kind of layer at another depth: same class, same kernel
    # shape, same name once numbers are ignored (dense_3 ~ dense_7,
    # conv4_block2_2_conv ~ conv4_block5_2_conv, query ~ query).
    return (
        row["class_name"],
        re.sub(r"\d+", "#", row["layer"]),
        row["kernel_shape"],
    )


def _median(values):
    return float(np.median(values))


class DiagnosisReport:
    """Per-layer forward and backward statistics of one batch.

    Attributes:
        layers: A list of dicts, one per layer call in call order, with
            keys `path` (the layer's Keras path, unique in the report,
            e.g. `"transformer_layer_0/self_attention_layer/query"`, as
            `GradientHealthCallback` names it; a second call of a shared
            layer gets `#2`), `layer` (the short name, which can repeat),
            `class_name`, `initializer` (the kernel initializer's class,
            or None), `kernel_shape`, `after_batchnorm`, `activation`,
            `pre_mean`, `pre_std`, `post_mean`, `post_std`, `saturated`,
            `dead` (fractions, or None where the activation cannot
            saturate or die), `grad_norm` and `grad_ratio` (kernel
            gradient norm, and its ratio to the kernel norm; None for
            layers without a kernel).
        loss: `"compiled"` or `"proxy"`, the loss the gradients come from.
        flags: Plain-language findings, most serious first.

    `report["block_1/dense_3"]` is the row with that path; `report["q"]`
    the row of the only layer named `q` (a KeyError lists the paths when
    several share the name); `report[0]` the first row.
    """

    def __init__(self, layers, loss, samples, residual=False):
        self.layers = layers
        self.loss = loss
        self._samples = samples
        self._residual = residual
        self.flags = self._flags()

    def __getitem__(self, key):
        if isinstance(key, str):
            return find_row(
                self.layers,
                key,
                lambda r: r["path"],
                lambda r: r["layer"],
                "diagnosis",
            )
        return self.layers[key]

    def __len__(self):
        return len(self.layers)

    def _signal(self):
        # The rows that carry the signal: pre-activations of the layers
        # with a kernel, the output head's logits included, never an
        # activation's output (a softmax's std says nothing of depth).
        # A kernel that is zero on purpose (the last of a residual branch
        # under initialize_model) carries no signal yet: left out.
        return [
            r
            for r in self.layers
            if r.get("kernel_shape") is not None
            and np.isfinite(r["pre_std"])
            and r["pre_std"] > 0
        ]

    def _trend(self):
        """(ratio, span): the median pre-activation std of the last
        quarter of the kernel layers over that of the first quarter, and
        how many layers apart the two are."""
        rows = self._signal()
        if len(rows) < 2:
            return None, 0
        k = max(1, len(rows) // 4)
        first = _median([r["pre_std"] for r in rows[:k]])
        last = _median([r["pre_std"] for r in rows[-k:]])
        if first == 0:
            return None, 0
        return last / first, len(rows) - k

    def std_ratio(self):
        """How the pre-activation std of the kernel layers changes with
        depth: the median over the last quarter of them over the median
        over the first quarter (the last layer over the first when there
        are fewer than eight). None with fewer than two kernel layers."""
        return self._trend()[0]

    def _initializers(self):
        return {r["initializer"] for r in self._signal() if r["initializer"]}

    def _advice(self, shrinking):
        inits = self._initializers()
        if shrinking:
            options = [
                name
                for name, cls in (
                    ("HeAvgFanNormal", "HeAvgFanNormal"),
                    ("Orthogonal(gain=...)", "Orthogonal"),
                    ("LSUV", "LSUV"),
                )
                if cls not in inits
            ]
            return "consider " + (
                " or ".join(options)
                if options
                else "a larger gain for the layers where it drops"
            )
        options = []
        if not inits or not all(i.startswith("Glorot") for i in inits):
            options.append("smaller weights, e.g. Glorot")
        if self._residual:
            options.append(
                "scaling down the last kernel of each residual branch "
                "(initialize_model)"
            )
        if "LSUV" not in inits:
            options.append("LSUV")
        if not options:
            return "consider checking the input scale"
        return "consider " + " or ".join(
            [", ".join(options[:-1]), options[-1]]
            if len(options) > 1
            else options
        )

    def _activation_flags(self):
        ratio, span = self._trend()
        if ratio is None or span == 0:
            return []
        n = len(self._signal())
        per_layer = ratio ** (1 / span) if ratio > 0 else 0.0
        if ratio < 1 / STD_RATIO_LIMIT:
            return [
                f"pre-activations shrink x{per_layer:.2f} per layer "
                f"(x{ratio:.2g} over {n} kernel layers): vanishing, "
                + self._advice(shrinking=True)
            ]
        if ratio > STD_RATIO_LIMIT:
            return [
                f"pre-activations grow x{per_layer:.2f} per layer "
                f"(x{ratio:.2g} over {n} kernel layers): exploding, "
                + self._advice(shrinking=False)
            ]
        return []

    def _unit_flags(self):
        flags = []
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
            # A ReLU fed by a BatchNormalization is not called dead: the
            # batch runs in inference mode, where a fresh normalization
            # is the identity, but in training it centres every channel
            # on the batch, so no unit is zero on a whole batch.
            bad = [
                f"{row['path']} ({row[key]:.0%})"
                for row in self.layers
                if row[key] is not None
                and row[key] > UNIT_FRACTION_LIMIT
                and not (key == "dead" and row.get("after_batchnorm"))
            ]
            if bad:
                flags.append(
                    f"units {what} in {len(bad)} layer(s): "
                    f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}"
                    f": {advice}"
                )
        return flags

    def _gradient_pairs(self):
        """(first, last) rows of each kind of layer that repeats with
        depth, by call order; else the first and last kernel layers with
        the output head left out."""
        rows = [
            r
            for r in self.layers
            if r["grad_ratio"] is not None
            and r.get("kernel_shape") is not None
            and np.isfinite(r["grad_ratio"])
            and r["grad_ratio"] > 0
        ]
        kinds = {}
        for r in rows:
            kinds.setdefault(_kind(r), []).append(r)
        pairs = [(g[0], g[-1]) for g in kinds.values() if len(g) >= 2]
        if pairs:
            return pairs
        if rows and rows[-1]["activation"] in OUTPUT_ACTIVATIONS:
            rows = rows[:-1]
        return [(rows[0], rows[-1])] if len(rows) >= 2 else []

    def _gradient_flags(self):
        pairs = self._gradient_pairs()
        if not pairs:
            return []
        ratios = sorted(
            (first["grad_ratio"] / last["grad_ratio"], first, last)
            for first, last in pairs
        )
        g, first, last = ratios[(len(ratios) - 1) // 2]
        if len(ratios) > 1:
            g = _median([r for r, _, _ in ratios])
        what = (
            f"median over {len(ratios)} kinds of layer"
            if len(ratios) > 1
            else "same kind of layer"
            if _kind(first) == _kind(last)
            else "first and last kernel layers"
        )
        if g < 1 / GRAD_RATIO_LIMIT:
            return [
                f"relative gradients shrink x{g:.2g} from {last['path']} "
                f"back to {first['path']} ({what}): early layers will "
                "barely train"
            ]
        if g > GRAD_RATIO_LIMIT:
            return [
                f"relative gradients are x{g:.2g} larger at "
                f"{first['path']} than at {last['path']} ({what}): layers "
                "will learn at very different speeds"
            ]
        return []

    def _flags(self):
        return (
            self._activation_flags()
            + self._unit_flags()
            + self._gradient_flags()
        )

    def to_dict(self):
        """Column-oriented dict: `{"path": [...], "post_std": [...], ...}`
        plus `flags` and `loss`; `pandas.DataFrame(report.to_dict()
        ["layers"])` gives a table."""
        columns = {
            key: [row[key] for row in self.layers]
            for key in (
                "path",
                "layer",
                "class_name",
                "initializer",
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
        texts = {
            "path": [r["path"] for r in self.layers],
            "layer": [r["layer"] for r in self.layers],
            "act": [r["activation"] for r in self.layers],
        }
        widths = [
            width or max([len(header)] + [len(t) for t in texts[header]])
            for header, width, _ in _COLUMNS
        ]
        header = " ".join(
            f"{name:{align}{w}}"
            for (name, _, align), w in zip(_COLUMNS, widths)
        )
        lines = [header, "-" * len(header)]
        for i, row in enumerate(self.layers):
            cells = [
                f"{texts['path'][i]:<{widths[0]}}",
                f"{texts['layer'][i]:<{widths[1]}}",
                f"{texts['act'][i]:<{widths[2]}}",
                _cell(row["pre_std"], 8),
                _cell(row["post_mean"], 9),
                _cell(row["post_std"], 8),
                _cell(row["saturated"], 7, "%"),
                _cell(row["dead"], 6, "%"),
                _cell(row["grad_norm"], 9),
                _cell(row["grad_ratio"], 9),
            ]
            lines.append(" ".join(cells))
        lines.append(f"(gradients from the {self.loss} loss)")
        lines += [f"! {flag}" for flag in self.flags] or ["no problems found"]
        return "\n".join(lines)

    __repr__ = __str__

    def plot(self, path, title=None):
        """Saves activation histograms and std/gradient-vs-depth panels.

        Needs matplotlib (`pip install keras-initplus[plots]`).
        """
        plt = pyplot()
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
                label=f"{i + 1}: {row['path']}",
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
