"""Human-readable summary of a plan: one row per stage, block or layer, with output shape,
parameters, multiply-accumulates and activation memory."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from ..errors import printable
from .memory import layer_memory
from ..units import dims, si, size

if TYPE_CHECKING:  # the CLI reads DEPTHS before it needs a plan: no schema import for --help
    from .plan import Layer, Plan

DEPTHS = ("stages", "blocks", "layers")


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


def _outputs(plan: Plan) -> str:
    """'output 1000', or each map of a `features` head with its stride (input pixels per pixel)."""
    if not plan.features:
        return f"output {dims(plan.output_shape)}"
    return "outputs " + ", ".join(f"{f.name} {dims(f.shape)} (stride {f.reduction})" for f in plan.features)


def summary(plan: Plan, depth: str = "blocks", batch: int = 1, dtype: str = "float32") -> str:
    """The table of `rows(plan, depth)`: name, type, output shape, params, MACs (per image) and the
    activation memory of a training step at `batch` in `dtype`; then the totals."""
    memory = layer_memory(plan, batch, dtype)
    table = [(l.name, kind, dims(l.shape), f"{l.params:,}", si(l.macs), size(memory[l.name]))
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
        f"input {dims(plan.input_shape)} → {_outputs(plan)}",
        "",
        line(header),
        *(line(r) for r in table),
        "",
        "MACs: multiply-accumulates per image (FLOPs = 2 × MACs). memory: what a training step saves",
        f"for backward at batch {batch} in {dtype} (weights, gradients and optimizer state not included).",
        f"total: {plan.params:,} parameters, {si(plan.macs)} MACs ({plan.macs:,}), {si(2 * plan.macs)} FLOPs, "
        f"{size(total)} of activations",
    ])
