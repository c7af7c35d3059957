"""Static shape inference: Spec → Plan, a tree of named layers with shapes,
parameter counts and multiply-adds. Pure Python: never imports torch."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from . import layers as L
from .blocks import BLOCKS
from .errors import Issue, SpecError
from .layers import Node, Shape, ShapeError
from .spec import ConvStem, ClassifierHead, Spec, load


@dataclass(frozen=True)
class Layer:
    """One module of the plan, flattened: `name` is its qualified module name."""

    name: str
    kind: str
    shape: Shape
    params: int
    macs: int
    depth: int  # 1 for the network's direct children, 2 for their children, ...


class Plan:
    """The planned network: `root` is the tree `compile` builds, `layers` its flat list."""

    def __init__(self, spec: Spec, input_shape: Shape, root: Node):
        self.spec, self.input_shape, self.root = spec, input_shape, root
        self.params, self.macs, self.output_shape = root.params, root.macs, root.shape

    @cached_property
    def layers(self) -> list[Layer]:
        """Every module, parents before children; built on first use (`validate` never needs it)."""
        layers: list[Layer] = []
        _flatten(self.root, "", 0, layers)
        return layers

    def blocks(self) -> list[Layer]:
        """The rows of the summary: stem and head layers, and each block of each stage."""
        stages = {c.name for c in self.root.children if c.kind == "sequential"}
        return [l for l in self.layers if (l.depth == 1 and l.name not in stages) or
                (l.depth == 2 and l.name.split(".")[0] in stages)]

    def to_dict(self) -> dict:
        return {
            "name": self.spec.name, "input": list(self.input_shape), "output": list(self.output_shape),
            "params": self.params, "macs": self.macs,
            "layers": [{"name": l.name, "kind": l.kind, "shape": list(l.shape), "params": l.params, "macs": l.macs}
                       for l in self.layers],
        }


def _flatten(node: Node, prefix: str, depth: int, out: list[Layer]) -> None:
    for child in node.children:
        name = prefix + child.name
        out.append(Layer(name, child.label or child.kind, child.shape, child.params, child.macs, depth + 1))
        _flatten(child, name + ".", depth + 1, out)


def plan(spec: Spec | str | Path, input_shape: Shape | None = None) -> Plan:
    """Infer every shape, parameter count and MAC of `spec`; raise SpecError on shape errors."""
    if not isinstance(spec, Spec):
        spec = load(str(spec))
    return _Planner(spec).run(tuple(input_shape) if input_shape else spec.input.shape)


class _Planner:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.issues: list[Issue] = []

    def run(self, input_shape: Shape) -> Plan:
        x, children = input_shape, []
        try:
            children += self.stem(x)
            x = children[-1].shape if children else x
            for i in range(len(self.spec.stages)):
                stage = self.stage(i, x)
                children.append(stage)
                x = stage.shape
            children += self.head(x)
        except ShapeError:
            pass  # recorded; later layers cannot be planned without this one
        if self.issues:
            raise SpecError(self.issues)
        return Plan(self.spec, input_shape, L.sequential("", children))

    def fail(self, where: tuple, prefix: str, e: ShapeError) -> None:
        source = self.spec.source
        line, col = source.locate(where) if source else (None, None)
        file = source.path if source else self.spec.name
        self.issues.append(Issue(file, line, col, f"{prefix}: {e.message}", e.hint, e.code))

    def stem(self, x: Shape) -> list[Node | None]:
        stem, d = self.spec.stem, self.spec.defaults
        if not isinstance(stem, ConvStem):
            return []
        try:
            c = L.conv("conv1", x, stem.channels, stem.kernel, stem.stride,
                       padding=stem.padding, bias=d.norm == "none")
            nodes = [c, L.norm("bn1", d.norm, c.shape), L.act(d.act, d.act, c.shape)]
            if stem.pool != "none":
                nodes.append(L.pool("maxpool" if stem.pool == "max" else "pool", stem.pool + "pool", c.shape, 3, 2, 1))
        except ShapeError as e:
            self.fail(("stem",), "stem", e)
            raise
        return [n for n in nodes if n is not None]

    def stage(self, i: int, x: Shape) -> Node:
        stage, settings = self.spec.stages[i], self.spec.stage_settings(i)
        make = BLOCKS[settings.block]
        blocks = []
        for b in range(stage.depth):
            try:
                block = make(str(b), x, stage.channels, stage.stride if b == 0 else 1, settings)
            except ShapeError as e:
                self.fail(("stages", i), f"stage {i + 1}, block {b}", e)
                if e.shape is None:
                    raise
                block = Node(str(b), "residual", e.shape)  # stand-in, so later stages are checked too
            blocks.append(block)
            x = block.shape
        return L.sequential(f"layer{i + 1}", blocks)

    def head(self, x: Shape) -> list[Node | None]:
        head = self.spec.head
        if not isinstance(head, ClassifierHead):
            return []
        pooled = None
        if head.pool != "flatten":
            pooled = L.global_pool("avgpool" if head.pool == "avg" else "globalpool", f"global_{head.pool}pool", x)
        flat = L.flatten("flatten", pooled.shape if pooled else x)
        return [pooled, flat, L.dropout("dropout", flat.shape, head.dropout), L.linear("fc", flat.shape, head.classes)]
