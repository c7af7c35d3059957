"""Human-readable summary of a plan."""

from __future__ import annotations

from .errors import printable
from .layers import fmt
from .plan import Plan


def si(n: float) -> str:
    """4089184256 → '4.09 G'."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(int(n))


def summary(plan: Plan) -> str:
    """One row per stem/head layer and per block: name, type, output shape, params, MACs."""
    rows = [(l.name, l.kind, fmt(l.shape), f"{l.params:,}", si(l.macs)) for l in plan.blocks()]
    header = ("layer", "type", "output", "params", "MACs")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]

    def line(r: tuple) -> str:
        left = "  ".join(r[i].ljust(widths[i]) for i in range(3))
        return f"{left}  {r[3].rjust(widths[3])}  {r[4].rjust(widths[4])}".rstrip()

    spec = plan.spec
    title = f"{spec.name}: {printable(spec.description)}" if spec.description else spec.name
    return "\n".join([
        title,
        f"input {fmt(plan.input_shape)} → output {fmt(plan.output_shape)}",
        "",
        line(header),
        *(line(r) for r in rows),
        "",
        f"total: {plan.params:,} parameters, {si(plan.macs)} MACs ({plan.macs:,})",
    ])
