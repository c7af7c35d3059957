"""A `block` head: a block written in the spec (a neck, a decoder) on several maps of the
network. The network becomes a `graph` root: the stem's and stages' modules in a chain, up
to the last map the head takes, then the head's block on the maps `from` names; the model
returns the block's outputs (one map, or a tuple of them in its `out` order).

compile, memory, eject and export read the root as any `graph` block. Errors: a name in
`from` the network lacks or lists twice (AS800, AS801, at its place in `from`); the block's
own mistakes (shapes that do not agree in an add, ...) located at its definition, naming the
module (`fpn.add2`).
"""

from __future__ import annotations

from fractions import Fraction
from functools import partial
from typing import TYPE_CHECKING

from .graph import _Planner as _BlockPlanner
from .nodes import Node, graph

if TYPE_CHECKING:
    from .plan import _Planner


def block_head_root(planner: _Planner, children: list[Node]) -> Node:
    """The root of a network whose head is a block: `children` (stem, stages) chained, cut after
    the last map the head takes, and the head's block on the maps `from` names."""
    spec = planner.spec
    head = spec.head
    sources = head.from_
    names = [c.name for c in children]
    planner.check_taken(children, sources, partial(_fail_from, planner), "a map", "name each module once")
    if head.module in names:
        _fail_name(planner, head.module, names)
    if planner.found:
        from ..errors import SpecError

        raise SpecError(planner.issues())
    from .plan import cut_after

    kept = cut_after(children, sources)
    by_name = {c.name: c for c in kept}
    block = spec.user_blocks[head.block]
    made = _BlockPlanner(spec, spec.defaults, head.module).block(
        block, head.module, [by_name[n].shape for n in sources], spec.head_params())
    outputs = made.args["outputs"] if made.kind == "graph" else [block.outputs[0]]
    shapes = made.args["shapes"] if made.kind == "graph" else [made.shape]
    wiring = [(c.name, [kept[k - 1].name if k else "x"]) for k, c in enumerate(kept)]
    wiring.append((head.module, list(sources)))
    refs = [f"{head.module}.{k}" for k in range(len(outputs))] if len(outputs) > 1 else [head.module]
    # `head_outputs`: the name of each map returned (the block's `out` names), for Plan.features
    root = graph("", [*kept, made], ["x"], wiring, refs, shapes)
    root.args["head_outputs"] = list(block.outputs)
    return root


def _fail_from(planner: _Planner, k: int, message: str, hint: str, code: str) -> None:
    source, where = planner.spec.source, ("head", "from", k)
    from ..errors import Issue

    issue = source.issue(where, "", hint, code) if source and where in source.positions else \
        Issue(source.path if source else planner.spec.name, None, None, "", hint, code)
    planner.found[("head", message, issue)] = [f"head.from.{k}", 1]


def _fail_name(planner: _Planner, name: str, names: list[str]) -> None:
    source = planner.spec.source
    from ..errors import Issue

    where = ("head", "name") if planner.spec.head.name else ("head", "block")
    issue = source.issue(where, "", "set `name:` on the head to another module name", "AS802") if source else \
        Issue(planner.spec.name, None, None, "", "", "AS802")
    planner.found[("head", f"the head's module name {name!r} is taken by a module of the network", issue)] = \
        [f"head.{where[1]}", 1]


def reductions(root: Node, stride) -> list[int | Fraction]:
    """How many input pixels one pixel of each map the root returns spans per side: the strides
    before it, divided by each upsampling's scale (to another map's size: that map's)."""
    return list(_graph_reductions(root, [Fraction(1)], stride))


def _factor(node: Node, stride) -> Fraction:
    """How much a one-input node scales the reduction: its stride, over any upsampling's scale in a chain."""
    if node.kind == "upsample":
        return Fraction(1, node.args.get("scale") or 1)
    if node.kind == "sequential":
        out = Fraction(1)
        for child in node.children:
            out *= _factor(child, stride)
        return out
    return Fraction(stride(node))


def _graph_reductions(node: Node, inputs: list[Fraction], stride) -> list[Fraction]:
    from .nodes import pick

    values: dict = dict(zip(node.args["inputs"], inputs))
    children = {c.name: c for c in node.children}
    for name, refs in node.args["wiring"]:
        child, got = children[name], [pick(values, r) for r in refs]
        if child.kind == "graph":
            out = _graph_reductions(child, got, stride)
            values[name] = out[0] if len(out) == 1 else tuple(out)
        elif child.kind == "upsample":
            values[name] = got[1] if len(got) > 1 else got[0] / (child.args.get("scale") or 1)
        elif child.kind == "split":
            values[name] = (got[0],) * child.args["chunks"]
        else:
            values[name] = got[0] * _factor(child, stride)
    found = [pick(values, r) for r in node.args["outputs"]]
    return [int(f) if f.denominator == 1 else f for f in found]
