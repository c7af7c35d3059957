"""`archspec diagram`: a picture of the network drawn from its plan — no forward pass, no torch.

One box for the input, the stem, each stage ("bottleneck ×6 · 1024×14×14 · 7.1 M params",
with its shortcuts) and the head; `depth="blocks"` gives each block its own box. Written
as Mermaid (renders in GitHub markdown and pull-request comments) or as a standalone SVG
in pure Python: a column of boxes needs no layout engine, so no drawing dependency.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import groupby
from xml.sax.saxutils import escape, quoteattr

from ..errors import printable
from ..planning.nodes import Node
from ..planning.plan import Plan, sections
from ..units import dims


@dataclass(frozen=True)
class Box:
    id: str  # unique, safe as a Mermaid node id
    kind: str  # "input", "stem", "stage", "block", "head": its colour
    lines: tuple[str, ...]


def boxes(plan: Plan, depth: str = "stages") -> list[Box]:
    """The boxes of the diagram, input to output."""
    stem, stages, head = sections(plan)
    out = [Box("input", "input", ("input", dims(plan.input_shape)))]
    if stem:
        out.append(_layers_box("stem", "stem", stem))
    for stage in stages:
        if depth == "blocks":
            out += [_block_box(stage.name, block) for block in stage.children]
        else:
            out.append(_stage_box(stage))
    if head:
        out.append(_layers_box("head", "head", head))
    return _mark_features(plan, out, {n.name for n in stem})


def _mark_features(plan: Plan, bs: list[Box], in_stem: set[str]) -> list[Box]:
    """A `features` head's outputs: a line under the title of the box each map comes out of
    (a stage's box, its last block's, or the stem's); a `block` head's, under the head's box."""
    block_head = "head_outputs" in plan.root.args
    for k, f in enumerate(plan.features):
        owner = "head" if block_head else "stem" if f.name in in_stem else f.name
        at = max(i for i, b in enumerate(bs) if b.id == owner or b.id.startswith(f"{owner}_"))
        mark = f"▶ output {k} ({f.name}): {dims(f.shape)}, stride {f.reduction}"
        lines = bs[at].lines
        after = 1 + sum(line.startswith("▶ output") for line in lines)  # after the box's earlier outputs
        bs[at] = replace(bs[at], lines=(*lines[:after], mark, *lines[after:]))
    return bs


def _short(n: int) -> str:
    """7098368 → '7.1 M' (three significant digits: a diagram is read at a glance)."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return str(n)


def _cost(node_or_nodes: Node | list[Node]) -> str:
    nodes = node_or_nodes if isinstance(node_or_nodes, list) else [node_or_nodes]
    params, macs = sum(n.params for n in nodes), sum(n.macs for n in nodes)
    return f"{_short(params)} params · {_short(macs)} MACs"


def _layer(node: Node) -> str:
    """A primitive in a few characters: 'conv 7×7/2', 'maxpool 3×3/2', 'linear 1000'."""
    a = node.args
    if node.kind == "sequential":
        return " → ".join(_layer(c) for c in node.children)
    if "kernel_size" in a:
        stride = f"/{a['stride']}" if a.get("stride", 1) != 1 else ""
        k = a["kernel_size"]
        return f"{node.kind} {k}×{k}{stride}" if isinstance(k, int) else f"{node.kind} {dims(k)}{stride}"
    if node.kind == "linear":
        return f"linear {a['out_features']}"
    return node.label or node.kind


def shortcut(block: Node) -> str:
    """What carries a block's input to its add: 'identity', '1×1 conv/2 + batchnorm', 'none'."""
    if block.kind != "residual" or not block.args.get("add"):
        return "none"
    name = block.args.get("shortcut")
    if name is None:
        return "identity"
    module = next(c for c in block.children if c.name == name)
    if module.kind == "zeropad":
        return "zero-pad"
    return " + ".join(_layer(c) for c in module.children) if module.children else _layer(module)


def _layers_box(name: str, kind: str, nodes: list[Node]) -> Box:
    return Box(name, kind, (f"{name}: " + " → ".join(_layer(n) for n in nodes),
                          f"{dims(nodes[-1].shape)} · {_cost(nodes)}"))


def _block_kind(block: Node) -> str:
    """A block's kind; an unnamed sequence of layers (ConvNeXt's downsampling) by its layers."""
    return block.label or (f"({_layer(block)})" if block.kind == "sequential" else block.kind)


def _stage_box(stage: Node) -> Box:
    kinds = " + ".join(f"{kind} ×{len(list(run))}" for kind, run in groupby(_block_kind(b) for b in stage.children))
    runs = [(kind, len(list(run))) for kind, run in groupby(shortcut(b) for b in stage.children)]
    shortcuts = ", then ".join(kind if n == 1 else f"{kind} ×{n}" for kind, n in runs)
    return Box(stage.name, "stage", (f"{stage.name}: {kinds} · {dims(stage.shape)}", _cost(stage),
                                      f"shortcut: {shortcuts}"))


def _block_box(stage: str, block: Node) -> Box:
    name = f"{stage}.{block.name}"
    return Box(name.replace(".", "_"), "block", (f"{name}: {_block_kind(block)} · {dims(block.shape)}",
                                                 _cost(block), f"shortcut: {shortcut(block)}"))


def _title(plan: Plan) -> str:
    return printable(f"{plan.spec.name} · {_short(plan.params)} params · {_short(plan.macs)} MACs")


# --- Mermaid --------------------------------------------------------------------------------------

_MERMAID_ESCAPES = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "#": "#35;"}


def _mermaid_text(s: str) -> str:
    return "".join(_MERMAID_ESCAPES.get(ch, ch) for ch in printable(s))


def mermaid(plan: Plan, depth: str = "stages") -> str:
    """A Mermaid flowchart, top to bottom: one node per box, an edge between consecutive boxes."""
    bs = boxes(plan, depth)
    lines = ["---", f"title: {_mermaid_text(_title(plan))}", "---", "flowchart TD"]
    lines += [f'  {b.id}["{"<br/>".join(_mermaid_text(l) for l in b.lines)}"]:::{b.kind}' for b in bs]
    lines += [f"  {a.id} --> {b.id}" for a, b in zip(bs, bs[1:])]
    lines += [f"  classDef {kind} fill:{fill},stroke:{stroke}" for kind, (fill, stroke) in COLOURS.items()]
    return "\n".join(lines) + "\n"


# --- SVG ------------------------------------------------------------------------------------------

COLOURS = {  # fill, stroke
    "input": ("#f3f4f6", "#6b7280"), "stem": ("#dbeafe", "#2563eb"), "stage": ("#dcfce7", "#16a34a"),
    "block": ("#dcfce7", "#16a34a"), "head": ("#ffedd5", "#ea580c"),
}
CHAR, LINE, PAD, GAP, MARGIN = 7.6, 17, 10, 26, 20  # px: a 12px glyph (bold, or a fallback font), line height, ...
LOOP = 16  # px: how far the residual arc reaches out to the right


def svg(plan: Plan, depth: str = "stages") -> str:
    """A standalone SVG: a column of boxes joined by arrows; the first line of each box in bold."""
    bs = boxes(plan, depth)
    title = _title(plan)
    width = max(len(l) for b in bs for l in [*b.lines, title]) * CHAR + 2 * PAD
    parts, y = [], MARGIN + LINE + PAD
    parts.append(f'<text x="{MARGIN}" y="{MARGIN + 12}" font-weight="bold">{escape(title)}</text>')
    for i, b in enumerate(bs):
        height = len(b.lines) * LINE + PAD
        fill, stroke = COLOURS[b.kind]
        parts.append(f'<g class="{b.kind}" id={quoteattr(b.id)}>')
        parts.append(f'<rect x="{MARGIN}" y="{y}" width="{width:.0f}" height="{height}" rx="6" '
                     f'fill="{fill}" stroke="{stroke}"/>')
        for j, line in enumerate(b.lines):
            weight = ' font-weight="bold"' if j == 0 else ""
            colour = ' fill="#4b5563"' if line.startswith("shortcut:") else ""
            parts.append(f'<text x="{MARGIN + PAD}" y="{y + PAD + 12 + j * LINE - 4}"{weight}{colour}>'
                         f'{escape(printable(line))}</text>')
        if b.kind in ("stage", "block") and not b.lines[-1].endswith(": none"):  # a residual: arc around the box
            x = MARGIN + width
            parts.append(f'<path d="M{x:.0f},{y + 8} C{x + LOOP:.0f},{y + 8} {x + LOOP:.0f},{y + height - 8} '
                         f'{x + 2:.0f},{y + height - 8}" fill="none" stroke="{stroke}" stroke-dasharray="3 2" '
                         f'marker-end="url(#arrow)"/>')
        parts.append("</g>")
        y += height
        if i < len(bs) - 1:
            x = MARGIN + width / 2
            parts.append(f'<line x1="{x:.0f}" y1="{y}" x2="{x:.0f}" y2="{y + GAP - 2}" stroke="#374151" '
                         f'marker-end="url(#arrow)"/>')
            y += GAP
    total_w, total_h = width + 2 * MARGIN + LOOP, y + MARGIN
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{total_h}" '
        f'viewBox="0 0 {total_w:.0f} {total_h}" font-family="ui-monospace, Menlo, Consolas, monospace" '
        f'font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#374151"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
        *parts,
        "</svg>",
    ]) + "\n"


# --- files ----------------------------------------------------------------------------------------

KIND_OF_SUFFIX = {".svg": "svg", ".mmd": "mermaid", ".md": "markdown"}  # what `diagram -o FILE` writes


def render(plan: Plan, fmt_name: str, depth: str = "stages") -> str:
    """The diagram as "svg", "mermaid" or "markdown" (Mermaid in a fenced block)."""
    if fmt_name == "svg":
        return svg(plan, depth)
    text = mermaid(plan, depth)
    return f"```mermaid\n{text}```\n" if fmt_name == "markdown" else text
