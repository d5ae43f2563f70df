"""What `initialize_model` did to each kernel, by layer path."""

import dataclasses


@dataclasses.dataclass
class KernelPlan:
    """One kernel's row of the report.

    Attributes:
        path: The kernel variable's path, e.g. `"block_3/conv_2/kernel"`.
        layer: The layer's short name.
        role: `"plain"` (on the path from input to output),
            `"branch"` (inside a residual branch), `"branch_end"` (the
            last kernel of a branch), `"frozen"` or `"unknown"`.
        activation: The name of the activation after the layer,
            `"linear"` if none; None on frozen and unknown rows, whose
            activation is not read.
        action: What was drawn, e.g. `"LooksLinear(hidden)"`,
            `"HeNormal x0.141"`, `"zeros"`, or why it was left alone.
    """

    path: str
    layer: str
    role: str
    activation: object
    action: str

    @property
    def changed(self):
        return self.role not in ("frozen", "unknown")


class ModelInitReport:
    """Rows of `KernelPlan`, looked up by path or by a unique short name.

    `report["block_3/conv_2/kernel"]` or `report["conv_2"]` (if only one
    layer has that name) returns the row; `str(report)` is a table.
    Attributes `residual_branches` (how many were found) and
    `lsuv` (the `LSUVReport` of the data-driven pass, or None).
    """

    def __init__(self, rows, residual_branches, lsuv=None):
        self.rows = list(rows)
        self.residual_branches = residual_branches
        self.lsuv = lsuv

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, key):
        hits = [r for r in self.rows if r.path == key]
        if not hits:
            hits = [r for r in self.rows if r.layer == key]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise KeyError(
                f"No kernel with path or layer name {key!r}. Paths: "
                f"{[r.path for r in self.rows]}"
            )
        raise KeyError(
            f"Layer name {key!r} is not unique; use one of the paths "
            f"{[r.path for r in hits]}"
        )

    @property
    def left_alone(self):
        return [r for r in self.rows if not r.changed]

    def __str__(self):
        head = ("path", "role", "activation", "action")
        cells = [
            (r.path, r.role, r.activation or "-", r.action) for r in self.rows
        ]
        widths = [max(len(c[i]) for c in [head, *cells]) for i in range(4)]
        lines = [
            f"initialize_model: {sum(r.changed for r in self.rows)} of "
            f"{len(self.rows)} kernels drawn, "
            f"{self.residual_branches} residual branches"
        ]
        for row in [head, *cells]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        return "\n".join(line.rstrip() for line in lines)

    __repr__ = __str__
