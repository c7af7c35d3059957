"""Human-readable summary of a plan."""

from __future__ import annotations

from .errors import printable
from .plan import Plan
from .units import count, dims, si


def summary(plan: Plan) -> str:
    """One row per stem/head layer and per block: name, type, output shape, params, MACs."""
    rows = [(l.name, l.kind, dims(l.shape), f"{count(l.params)}", si(l.macs)) for l in plan.blocks()]
    header = ("layer", "type", "output", "params", "MACs")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]

    def line(r: tuple) -> str:
        left = "  ".join(r[i].ljust(widths[i]) for i in range(3))
        return f"{left}  {r[3].rjust(widths[3])}  {r[4].rjust(widths[4])}".rstrip()

    spec = plan.spec
    title = f"{spec.name}: {printable(spec.description)}" if spec.description else spec.name
    return "\n".join([
        title,
        f"input {dims(plan.input_shape)} → output {dims(plan.output_shape)}",
        "",
        line(header),
        *(line(r) for r in rows),
        "",
        f"total: {count(plan.params)} parameters, {si(plan.macs)} MACs ({count(plan.macs)})",
    ])
