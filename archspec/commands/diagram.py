"""`archspec diagram`: a picture of the network drawn from its plan — no forward pass, no torch.

One box for the input, the stem, each stage ("bottleneck ×6 · 1024×14×14 · 7.1 M params",
with its shortcuts, or what its blocks' graph does: "fire ×2: 2 branches → concat") and the
head; `depth="blocks"` gives each block its own box. Written as Mermaid (renders in GitHub
markdown and pull-request comments) or as a standalone SVG in pure Python: a column of boxes
needs no layout engine, so no drawing dependency. At `depth="blocks"` a block written as a graph
(and a `block` head) is drawn as its modules (a chain of them in one group) joined as they are
wired: a Mermaid subgraph, or in the SVG rows of boxes inside its box, each below the groups it
takes. A `block` head takes an edge from each part it reads.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
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
    arc: bool = False  # a residual: the SVG draws an arc beside the box
    graph: Node | None = field(default=None, compare=False)  # a block written as a graph: Mermaid draws its wiring
    takes: tuple[tuple[str, str], ...] = ()  # a `block` head: (the box each map comes from, the head's input name)


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
        out.append(_head_box(plan, head, out, {n.name for n in stem}, depth))
    return _mark_features(plan, out, {n.name for n in stem})


def _head_box(plan: Plan, head: list[Node], bs: list[Box], in_stem: set[str], depth: str) -> Box:
    """The head's box; a `block` head's lists the maps it takes, each from the box it comes out of
    (and at `depth="blocks"` is drawn as its graph, as a block's box is)."""
    box = _layers_box("head", "head", head)
    if "head_outputs" not in plan.root.args or len(head) != 1 or head[0].kind != "graph":
        return box
    refs = dict(plan.root.args["wiring"])[head[0].name]
    takes, said = [], []
    for ref, name in zip(refs, head[0].args["inputs"]):
        owner = "stem" if ref in in_stem else ref
        takes.append((max((b.id for b in bs if b.id == owner or b.id.startswith(f"{owner}_")),
                          key=[b.id for b in bs].index), name))
        said.append(f"{name} ← {ref} (stem)" if owner == "stem" else f"{name} ← {ref}")
    return replace(box, lines=(*box.lines, "takes " + ", ".join(said)), takes=tuple(takes),
                   graph=head[0] if depth == "blocks" else None)


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
    lines = [f"{stage.name}: {kinds} · {dims(stage.shape)}", _cost(stage)]
    graphs = [(b.label, does(b)) for b in stage.children if b.kind == "graph"]
    lines += [f"{kind} ×{len(list(run))}: {what}" for (kind, what), run in groupby(graphs)]
    arc = any(shortcut(b) != "none" for b in stage.children)
    if arc or not graphs:
        lines.append(f"shortcut: {shortcuts}")
    return Box(stage.name, "stage", tuple(lines), arc=arc)


def _block_box(stage: str, block: Node) -> Box:
    name = f"{stage}.{block.name}"
    how = does(block) if block.kind == "graph" else f"shortcut: {shortcut(block)}"
    return Box(name.replace(".", "_"), "block", (f"{name}: {_block_kind(block)} · {dims(block.shape)}",
                                                 _cost(block), how), arc=shortcut(block) != "none",
               graph=block if block.kind == "graph" else None)


def does(block: Node) -> str:
    """What a block written as a graph does, in a few words: 'split → 2 branches → concat →
    channel_shuffle', 'input + 1 branch → concat' (its splits, its merges and what follows them)."""
    inputs, wiring = block.args["inputs"], block.args["wiring"]
    by_name = {c.name: c for c in block.children}
    split = {r.partition(".")[0] for _, refs in wiring for r in refs if "." in r}
    parts, last = [], -1
    for i, (name, refs) in enumerate(wiring):
        distinct = list(dict.fromkeys(refs))
        if name in split:
            parts.append(by_name[name].kind)
        elif len(distinct) >= 2:
            direct = sum(r in inputs for r in distinct)
            branches = len(distinct) - direct
            said = f"{branches} branch{'es' if branches != 1 else ''}"
            parts.append(f"{'input + ' if direct == 1 else f'{direct} inputs + ' if direct else ''}{said} → "
                         f"{by_name[name].kind}")
        else:
            continue
        last = i
    if last < 0:
        return "graph"
    tail = [_part(by_name[name]) for name, _ in wiring[last + 1:]]
    return " → ".join(parts + (tail if len(tail) <= 2 else ["…"]))


def _part(node: Node) -> str:
    """A module of a graph in a few characters: a layer, or the block it is ('branch2', 'up')."""
    if node.kind in ("graph", "residual") or (node.kind == "sequential" and node.label):
        return node.label or node.kind
    return _layer(node)


def _groups(block: Node) -> tuple[list[list[Node]], dict[str, int]]:
    """A graph's modules as the diagram draws them: a chain (each taking only the one before it, which
    nothing else takes) in one group; the index of each module's group."""
    wiring, outputs = dict(block.args["wiring"]), block.args["outputs"]
    uses = Counter(r.partition(".")[0] for refs in wiring.values() for r in dict.fromkeys(refs))
    uses.update(r.partition(".")[0] for r in outputs)
    groups: list[list[Node]] = []
    group_of: dict[str, int] = {}
    for c in block.children:
        refs = wiring[c.name]
        before = refs[0] if len(refs) == 1 else ""
        if before in group_of and groups[group_of[before]][-1].name == before and uses[before] == 1:
            groups[group_of[before]].append(c)
        else:
            groups.append([c])
        group_of[c.name] = len(groups) - 1
    return groups, group_of


def _group_label(group: list[Node]) -> tuple[str, str]:
    """A group's two lines: its first module's name and what the group does, its output's shape."""
    layers = " → ".join(_part(n) for n in group)
    said = group[0].name if layers == group[0].name else f"{group[0].name}: {layers}"
    return said, dims(group[-1].shape)


def _wires(block: Node, groups: list[list[Node]], group_of: dict[str, int]) -> list[tuple[str | int, int, str]]:
    """A graph's edges between groups: (the source group, or the name of a block input; the group it
    feeds; the map's name where it needs one: a split's part)."""
    wiring, inputs = dict(block.args["wiring"]), block.args["inputs"]
    edges: list[tuple[str | int, int, str]] = []
    for k, group in enumerate(groups):
        for ref in dict.fromkeys(wiring[group[0].name]):
            name, _, part = ref.partition(".")
            edges.append((name, k, "") if name in inputs else (group_of[name], k, ref if part else ""))
    return edges


def _title(plan: Plan) -> str:
    return printable(f"{plan.spec.name} · {_short(plan.params)} params · {_short(plan.macs)} MACs")


# --- Mermaid --------------------------------------------------------------------------------------

_MERMAID_ESCAPES = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "#": "#35;"}


def _mermaid_text(s: str) -> str:
    return "".join(_MERMAID_ESCAPES.get(ch, ch) for ch in printable(s))


def _mermaid_label(lines) -> str:
    return '["' + "<br/>".join(_mermaid_text(l) for l in lines) + '"]'


def _mermaid_id(box: Box, node: Node) -> str:
    return f"{box.id}__{re.sub(r'[^A-Za-z0-9_]', '_', node.name)}"


def mermaid(plan: Plan, depth: str = "stages") -> str:
    """A Mermaid flowchart, top to bottom: one node per box, an edge between consecutive boxes. A box
    of a graph block is a subgraph of its modules' groups, joined as they are wired (a split's maps
    labelled `split.0`, `split.1`); a `block` head takes an edge from each box it reads, labelled
    with the head's input."""
    bs = boxes(plan, depth)
    lines = ["---", f"title: {_mermaid_text(_title(plan))}", "---", "flowchart TD"]
    edges: list[str] = []
    exit_of: dict[str, str] = {}  # a box → the node its output leaves from
    for i, b in enumerate(bs):
        into = [(exit_of[src], name) for src, name in b.takes] if b.takes else \
            [(exit_of[bs[i - 1].id], "")] if i else []
        if b.graph is None:
            lines.append(f"  {b.id}{_mermaid_label(b.lines)}:::{b.kind}")
            edges += [_edge(src, b.id, label) for src, label in into]
            exit_of[b.id] = b.id
            continue
        groups, group_of = _groups(b.graph)
        lines.append(f"  subgraph {b.id}{_mermaid_label(b.lines)}")
        lines += [f"    {_mermaid_id(b, g[0])}{_mermaid_label(_group_label(g))}:::{b.kind}" for g in groups]
        lines.append("  end")
        taken = {name: exit_of[src] for src, name in b.takes}  # a block head: each input from its own box
        for source, k, label in _wires(b.graph, groups, group_of):
            to = _mermaid_id(b, groups[k][0])
            if isinstance(source, int):
                edges.append(_edge(_mermaid_id(b, groups[source][0]), to, label))
            elif b.takes:
                edges.append(_edge(taken[source], to, source))
            else:  # the block's input: from the box before
                edges += [_edge(src, to, label) for src, label in into]
        out = b.graph.args["outputs"][0].partition(".")[0]
        exit_of[b.id] = _mermaid_id(b, groups[group_of[out]][0]) if out in group_of else b.id
    lines += edges
    lines += [f"  classDef {kind} fill:{fill},stroke:{stroke}" for kind, (fill, stroke) in COLOURS.items()]
    return "\n".join(lines) + "\n"


def _edge(a: str, b: str, label: str = "") -> str:
    return f'  {a} -->|"{_mermaid_text(label)}"| {b}' if label else f"  {a} --> {b}"


# --- SVG ------------------------------------------------------------------------------------------

COLOURS = {  # fill, stroke
    "input": ("#f3f4f6", "#6b7280"), "stem": ("#dbeafe", "#2563eb"), "stage": ("#dcfce7", "#16a34a"),
    "block": ("#dcfce7", "#16a34a"), "head": ("#ffedd5", "#ea580c"),
}
CHAR, LINE, PAD, GAP, MARGIN = 7.6, 17, 10, 26, 20  # px: a 12px glyph (bold, or a fallback font), line height, ...
LOOP = 16  # px: how far the residual arc reaches out to the right


def svg(plan: Plan, depth: str = "stages") -> str:
    """A standalone SVG: a column of boxes joined by arrows; the first line of each box in bold. A box
    of a graph block holds its modules' groups in rows, each below the groups it takes, wired."""
    bs = boxes(plan, depth)
    title = _title(plan)
    sketches = {b.id: _Sketch(b.graph) for b in bs if b.graph is not None}
    width = max([len(l) * CHAR + 2 * PAD for b in bs for l in [*b.lines, title]] +
                [s.width + 2 * (PAD + ROW_GAP) for s in sketches.values()])  # room for curves beside the rows
    parts, y = [], MARGIN + LINE + PAD
    parts.append(f'<text x="{MARGIN}" y="{MARGIN + 12}" font-weight="bold">{escape(title)}</text>')
    for i, b in enumerate(bs):
        sketch = sketches.get(b.id)
        height = len(b.lines) * LINE + PAD + (sketch.height if sketch else 0)
        fill, stroke = COLOURS[b.kind]
        parts.append(f'<g class="{b.kind}" id={quoteattr(b.id)}>')
        parts.append(f'<rect x="{MARGIN}" y="{y}" width="{width:.0f}" height="{height}" rx="6" '
                     f'fill="{fill}" stroke="{stroke}"/>')
        for j, line in enumerate(b.lines):
            weight = ' font-weight="bold"' if j == 0 else ""
            colour = ' fill="#4b5563"' if line.startswith("shortcut:") else ""
            parts.append(f'<text x="{MARGIN + PAD}" y="{y + PAD + 12 + j * LINE - 4}"{weight}{colour}>'
                         f'{escape(printable(line))}</text>')
        if sketch:
            parts += sketch.draw(MARGIN + width / 2, y + len(b.lines) * LINE + PAD, stroke)
        if b.arc:  # a residual: arc around the box
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


GROUP_PAD, GROUP_GAP, ROW_GAP = 6, 14, 22  # px: inside a group's box, between boxes in a row, above a row


class _Sketch:
    """A graph's groups of modules laid out for the SVG: a group in the row below the lowest one it
    takes from (the block's inputs enter above the first row), each row centred."""

    def __init__(self, block: Node):
        groups, group_of = _groups(block)
        self.labels = [_group_label(g) for g in groups]
        self.edges = _wires(block, groups, group_of)
        self.several_inputs = len(block.args["inputs"]) > 1  # then each input's edge is labelled
        takes: dict[int, list[int]] = {}
        for source, k, _ in self.edges:
            if isinstance(source, int):
                takes.setdefault(k, []).append(source)
        row: list[int] = []
        for k in range(len(groups)):  # groups follow their inputs
            row.append(1 + max((row[s] for s in takes.get(k, ())), default=-1))
        self.rows = [[k for k in range(len(groups)) if row[k] == r] for r in range(max(row) + 1)]
        self.widths = [max(map(len, label)) * CHAR + 2 * GROUP_PAD for label in self.labels]
        self.box_height = 2 * LINE + GROUP_PAD
        self.width = max(sum(self.widths[k] for k in r) + GROUP_GAP * (len(r) - 1) for r in self.rows)
        self.height = len(self.rows) * (ROW_GAP + self.box_height) + PAD

    def draw(self, centre: float, top: float, stroke: str) -> list[str]:
        """The SVG elements, the rows centred on `centre` below `top`: edges first, under the boxes."""
        at: dict[int, tuple[float, float]] = {}  # group → its box's left and top
        row_of = {k: r for r, ks in enumerate(self.rows) for k in ks}
        for r, ks in enumerate(self.rows):
            x = centre - (sum(self.widths[k] for k in ks) + GROUP_GAP * (len(ks) - 1)) / 2
            for k in ks:
                at[k] = (x, top + ROW_GAP + r * (ROW_GAP + self.box_height))
                x += self.widths[k] + GROUP_GAP
        out = ['<g class="graph">']
        arriving = Counter(k for _, k, _ in self.edges)
        arrived: Counter = Counter()
        for source, k, label in self.edges:
            arrived[k] += 1  # the edges into a box end spread along its top
            x2, y2 = at[k][0] + self.widths[k] * arrived[k] / (arriving[k] + 1), at[k][1]
            if isinstance(source, int):
                x1, y1 = at[source][0] + self.widths[source] / 2, at[source][1] + self.box_height
                between = [b for r in self.rows[row_of[source] + 1:row_of[k]] for b in r]
            elif self.several_inputs:  # a named input: a labelled stub into the box
                x1, y1, between, label = x2, y2 - ROW_GAP + 4, [], source
            else:  # the block's one input, from above the first row
                x1, y1, between = centre, top + 4, [b for r in self.rows[:row_of[k]] for b in r]
            out += self._edge(x1, y1, x2, y2, [at[b][0] for b in between],
                              [at[b][0] + self.widths[b] for b in between], x2 >= centre, label, stroke)
        for k, (left, y) in sorted(at.items()):
            out.append(f'<rect x="{left:.0f}" y="{y:.0f}" width="{self.widths[k]:.0f}" height="{self.box_height}" '
                       f'rx="4" fill="white" stroke="{stroke}"/>')
            out += [f'<text x="{left + GROUP_PAD:.0f}" y="{y + GROUP_PAD + 12 + j * LINE - 4:.0f}">'
                    f'{escape(printable(line))}</text>' for j, line in enumerate(self.labels[k])]
        return out + ["</g>"]

    @staticmethod
    def _edge(x1: float, y1: float, x2: float, y2: float, lefts: list[float], rights: list[float], right: bool,
              label: str, stroke: str) -> list[str]:
        """A line, or past boxes in between (their left and right sides given) a curve around them on
        the `right` side or the left; then its label."""
        if lefts:
            edge = max(rights) + 12 if right else min(lefts) - 12
            cx = (edge - (x1 + x2) / 8) / 0.75  # a cubic's control points where its middle reaches `edge`
            out = [f'<path d="M{x1:.0f},{y1:.0f} C{cx:.0f},{y1:.0f} {cx:.0f},{y2:.0f} {x2:.0f},{y2 - 2:.0f}" '
                   f'fill="none" stroke="{stroke}" marker-end="url(#arrow)"/>']
            at = (edge + 3 if right else edge - 3 - len(label) * 6, (y1 + y2) / 2 + 4)
        else:
            out = [f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2 - 2:.0f}" stroke="{stroke}" '
                   f'marker-end="url(#arrow)"/>']
            at = ((x1 + x2) / 2 + 4, (y1 + y2) / 2 + 4)
        if label:
            out.append(f'<text x="{at[0]:.0f}" y="{at[1]:.0f}" font-size="10" fill="#4b5563">'
                       f'{escape(printable(label))}</text>')
        return out


# --- files ----------------------------------------------------------------------------------------

KIND_OF_SUFFIX = {".svg": "svg", ".mmd": "mermaid", ".md": "markdown"}  # what `diagram -o FILE` writes


def render(plan: Plan, fmt_name: str, depth: str = "stages") -> str:
    """The diagram as "svg", "mermaid" or "markdown" (Mermaid in a fenced block)."""
    if fmt_name == "svg":
        return svg(plan, depth)
    text = mermaid(plan, depth)
    return f"```mermaid\n{text}```\n" if fmt_name == "markdown" else text
