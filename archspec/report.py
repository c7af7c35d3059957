"""Human-readable summary of a plan: one row per stage, block or layer, with output shape,
parameters, multiply-accumulates and activation memory."""

from __future__ import annotations

from collections import Counter

from .errors import printable
from .layers import fmt
from .memory import layer_memory
from .plan import Layer, Plan, count

DEPTHS = ("stages", "blocks", "layers")


def si(n: float) -> str:
    """4089184256 → '4.09 G'."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(int(n))


def size(n: int) -> str:
    """Bytes in binary units, as PyTorch's memory tools print them: 86121984 → '82.13 MiB'."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            hundredths = (200 * n + scale) // (2 * scale)  # rounded, in integers: any batch size fits
            return f"{count(hundredths // 100)}.{hundredths % 100:02d} {unit}"
    return f"{n} B" if n else "0"


def rows(plan: Plan, depth: str = "blocks") -> list[tuple[Layer, str]]:
    """The layers a summary of `depth` shows, each with its type: `stages` (stem and head layers,
    one row per stage), `blocks` (and one per block) or `layers` (every module)."""
    if depth not in DEPTHS:
        raise ValueError(f"depth must be one of {', '.join(DEPTHS)}, not {depth!r}")
    if depth == "layers":
        return [(l, l.kind) for l in plan.layers]
    if depth == "blocks":
        return [(l, l.kind) for l in plan.blocks()]
    # a stage (or a deep stem) is typed by what it holds: "bottleneck ×3"
    inside = Counter((l.name.split(".")[0], l.kind) for l in plan.layers if l.depth == 2)
    return [(l, " + ".join(f"{kind} ×{n}" for (parent, kind), n in inside.items() if parent == l.name) or l.kind)
            for l in plan.layers if l.depth == 1]


def summary(plan: Plan, depth: str = "blocks", batch: int = 1, dtype: str = "float32") -> str:
    """The table of `rows(plan, depth)`: name, type, output shape, params, MACs (per image) and the
    activation memory of a training step at `batch` in `dtype`; then the totals."""
    memory = layer_memory(plan, batch, dtype)
    table = [(l.name, kind, fmt(l.shape), f"{l.params:,}", si(l.macs), size(memory[l.name]))
             for l, kind in rows(plan, depth)]
    header = ("layer", "type", "output", "params", "MACs", "memory")
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]

    def line(r: tuple) -> str:
        left = "  ".join(r[i].ljust(widths[i]) for i in range(3))
        return "  ".join([left, *(r[i].rjust(widths[i]) for i in range(3, len(r)))]).rstrip()

    spec = plan.spec
    title = f"{spec.name}: {printable(spec.description)}" if spec.description else spec.name
    total = sum(memory[l.name] for l in plan.layers if l.depth == 1)
    return "\n".join([
        title,
        f"input {fmt(plan.input_shape)} → output {fmt(plan.output_shape)}",
        "",
        line(header),
        *(line(r) for r in table),
        "",
        f"total: {plan.params:,} parameters, {si(plan.macs)} MACs ({plan.macs:,}), {size(total)} of activations",
        f"MACs are multiply-accumulates per image (FLOPs = 2 × MACs = {si(2 * plan.macs)}); memory is what",
        f"a training step saves for backward at batch {batch} in {dtype}, weights not included",
    ])
