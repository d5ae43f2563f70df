"""The per-layer result of an LSUV pass and its table."""

import dataclasses
import math

from keras_initplus.diagnostics.paths import find_row


@dataclasses.dataclass
class LayerResult:
    """What LSUV did to one layer.

    Attributes:
        name: The layer's short name, e.g. `"query"`; it can repeat.
        class_name: The layer's class, e.g. `"Dense"`.
        variable: The scaled variable, e.g. `"kernel"`, or None.
        var_before: Pre-activation variance on the batch before scaling.
        var_after: The same variance after scaling.
        iterations: How many times the variable was rescaled.
        converged: Whether |var_after - target| < tol.
        status: `"scaled"` or `"skipped"`.
        note: Why a layer was skipped, or a remark such as the
            BatchNormalization that follows it.
        path: The layer's Keras path, unique in the model, e.g.
            `"transformer_layer_0/self_attention_layer/query"`, as
            `GradientHealthCallback` and `diagnose` name it; the short
            name when not given.
    """

    name: str
    class_name: str
    variable: str | None = None
    var_before: float = math.nan
    var_after: float = math.nan
    iterations: int = 0
    converged: bool = False
    status: str = "scaled"
    note: str = ""
    path: str = ""

    def __post_init__(self):
        if not self.path:
            self.path = self.name


def _fmt(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"


class LSUVReport:
    """The result of `lsuv_init`: one `LayerResult` per targeted layer.

    Rows are in the order the layers were processed (the forward pass's
    call order), then the targets the forward pass never called.
    `str(report)` is a table; `report["block_1/dense_3"]` is the row of
    the layer with that path, and `report["dense_3"]` that of the only
    layer with that short name (a KeyError lists the paths when several
    share it); iterating gives the rows.

    Attributes:
        layers: The list of `LayerResult`.
        target: The target variance.
        tol: The tolerance.
        notes: Remarks on the pass as a whole, printed below the table,
            e.g. that no layer was selected.
    """

    _COLUMNS = (
        "path",
        "layer",
        "type",
        "scaled",
        "var before",
        "var after",
        "iters",
        "converged",
        "note",
    )

    def __init__(self, layers, target, tol, notes=()):
        self.layers = list(layers)
        self.target = target
        self.tol = tol
        self.notes = list(notes)

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, key):
        if isinstance(key, str):
            return find_row(
                self.layers,
                key,
                lambda r: r.path,
                lambda r: r.name,
                "LSUV report",
            )
        return self.layers[key]

    @property
    def all_converged(self):
        """True when every scaled layer converged."""
        return all(r.converged for r in self.layers if r.status == "scaled")

    def as_dicts(self):
        """The rows as a list of plain dicts, e.g. for a DataFrame."""
        return [dataclasses.asdict(r) for r in self.layers]

    def _cells(self, row):
        return (
            row.path,
            row.name,
            row.class_name,
            row.variable or "-",
            _fmt(row.var_before),
            _fmt(row.var_after),
            str(row.iterations),
            ("yes" if row.converged else "no")
            if row.status == "scaled"
            else "skipped",
            row.note,
        )

    def __str__(self):
        rows = [self._COLUMNS] + [self._cells(r) for r in self.layers]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
            for r in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        scaled = [r for r in self.layers if r.status == "scaled"]
        done = sum(r.converged for r in scaled)
        lines.append(
            f"LSUV: {done}/{len(scaled)} scaled layers converged to "
            f"variance {self.target:g} +/- {self.tol:g}; "
            f"{len(self.layers) - len(scaled)} skipped."
        )
        lines += self.notes
        return "\n".join(lines)

    def __repr__(self):
        return f"<LSUVReport of {len(self.layers)} layers>\n{self}"
