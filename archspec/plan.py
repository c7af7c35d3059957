"""Static shape inference: Spec → Plan, a tree of named layers with shapes,
parameter counts and multiply-adds. Pure Python: never imports torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import layers as L
from .blocks import BLOCKS, PREACT, Placement
from .errors import Issue, SpecError
from .layers import Node, Shape, ShapeError
from .spec import ClassifierHead, ConvStem, DeepStem, Spec, load


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
        self.layers: list[Layer] = []
        self._flatten(root, "", 0)

    def _flatten(self, node: Node, prefix: str, depth: int) -> None:
        for child in node.children:
            name = prefix + child.name
            self.layers.append(Layer(name, child.label or child.kind, child.shape, child.params, child.macs, depth + 1))
            self._flatten(child, name + ".", depth + 1)

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


def plan(spec: Spec | str | Path, input_shape: Shape | None = None) -> Plan:
    """Infer every shape, parameter count and MAC of `spec`; raise SpecError on shape errors."""
    if not isinstance(spec, Spec):
        spec = load(str(spec))
    return _Planner(spec).run(tuple(input_shape) if input_shape else spec.input.shape)


class _Planner:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.stages = spec.stage_list()
        self.preact = [spec.stage_settings(i).block in PREACT for i in range(len(self.stages))]
        self.issues: list[Issue] = []

    def run(self, input_shape: Shape) -> Plan:
        x, children = input_shape, []
        try:
            children += self.stem(x)
            x = children[-1].shape if children else x
            for i in range(len(self.stages)):
                stage = self.stage(i, x)
                children.append(stage)
                x = stage.shape
            children += self.final_norm(x)
            x = children[-1].shape
            children += self.head(x)
        except ShapeError:
            pass  # recorded; later layers cannot be planned without this one
        if self.issues:
            raise SpecError(self.issues)
        return Plan(self.spec, input_shape, L.sequential("", children))

    def fail(self, where: tuple, prefix: str, e: ShapeError) -> None:
        source = self.spec.source
        line, col = source.locate(self.key_path(where, e.key)) if source else (None, None)
        file = source.path if source else self.spec.name
        self.issues.append(Issue(file, line, col, f"{prefix}: {e.message}", e.hint, e.code))

    def key_path(self, where: tuple, key: str | None) -> tuple:
        """Point at the setting at fault: the stage's own, else the one in `defaults`."""
        if key is None:
            return where
        if where[0] == "stages" and key in self.stages[where[1]].model_fields_set:
            return (*where, key)
        return ("defaults", key) if key in self.spec.defaults.model_fields_set else where

    def stem(self, x: Shape) -> list[Node | None]:
        stem, d = self.spec.stem, self.spec.defaults
        if not isinstance(stem, (ConvStem, DeepStem)):
            return []
        try:
            c = self.stem_convs(stem, x)
            nodes = [c]
            if not self.preact[0]:  # a pre-activated first block norms its input itself
                nodes += [L.norm("bn1", d, c.shape), L.act(d.act, d.act, c.shape)]
            if stem.pool != "none":
                nodes.append(L.pool("maxpool" if stem.pool == "max" else "pool", stem.pool + "pool", c.shape, 3, 2, 1))
        except ShapeError as e:
            self.fail(("stem",), "stem", e)
            raise
        return [n for n in nodes if n is not None]

    def stem_convs(self, stem: ConvStem | DeepStem, x: Shape) -> Node:
        """`conv1`: one conv, or (deep stem) a sequence of 3×3 convs with norm and act between."""
        d = self.spec.defaults
        bias = d.norm == "none"
        if isinstance(stem, ConvStem):
            return L.conv("conv1", x, stem.channels, stem.kernel, stem.stride, padding=stem.padding, bias=bias)
        nodes: list[Node | None] = []
        for k, channels in enumerate(stem.channels):
            if k:  # between convs; indices as timm's deep stem: conv 0, norm 1, act 2, conv 3, ...
                nodes += [L.norm(str(3 * k - 2), d, x), L.act(str(3 * k - 1), d.act, x)]
            conv = L.conv(str(3 * k), x, channels, 3, stem.stride if k == 0 else 1, bias=bias)
            nodes.append(conv)
            x = conv.shape
        return L.sequential("conv1", nodes)

    def stage(self, i: int, x: Shape) -> Node:
        stage, settings = self.stages[i], self.spec.stage_settings(i)
        make = BLOCKS[settings.block]
        if stage.dilation > 1 and stage.stride > 1:
            self.fail(("stages", i), f"stage {i + 1}", ShapeError(
                f"dilation {stage.dilation} with stride {stage.stride}: dilation replaces the stride",
                "set `stride: 1` on a dilated stage", code="AS306", key="dilation"))
        blocks = []
        for b in range(stage.depth):
            try:
                block = make(str(b), x, self.placement(i, b), settings)
            except ShapeError as e:
                self.fail(("stages", i), f"stage {i + 1}, block {b}", e)
                if e.shape is None:
                    raise
                block = Node(str(b), "residual", e.shape)  # stand-in, so later stages are checked too
            blocks.append(block)
            x = block.shape
        return L.sequential(f"layer{i + 1}", blocks)

    def placement(self, i: int, b: int) -> Placement:
        """Block `b` of stage `i`: the stride on the first block; the first block's first 3×3 keeps
        the previous stage's dilation (torchvision, timm); the drop-path rate rises linearly from
        0 at the network's first block to `drop_path` at its last (timm's rule)."""
        stage = self.stages[i]
        before = sum(s.depth for s in self.stages[:i])
        total = before + sum(s.depth for s in self.stages[i:])
        previous = self.stages[i - 1].dilation if i else 1
        return Placement(
            channels=stage.channels,
            stride=stage.stride if b == 0 else 1,
            first_dilation=previous if b == 0 else stage.dilation,
            dilation=stage.dilation,
            drop_path=self.spec.defaults.drop_path * (before + b) / max(total - 1, 1),
        )

    def final_norm(self, x: Shape) -> list[Node | None]:
        """Pre-activated networks end with the norm and act their last block did not apply."""
        if not self.preact[-1]:
            return []
        last = self.spec.stage_settings(len(self.stages) - 1)
        try:
            return [n for n in (L.norm("norm", last, x), L.act("act", last.act, x)) if n is not None]
        except ShapeError as e:
            self.fail(("stages", len(self.stages) - 1), "final norm", e)
            raise

    def head(self, x: Shape) -> list[Node | None]:
        head = self.spec.head
        if not isinstance(head, ClassifierHead):
            return []
        pooled = None
        if head.pool != "flatten":
            pooled = L.global_pool("avgpool" if head.pool == "avg" else "globalpool", f"global_{head.pool}pool", x)
        flat = L.flatten("flatten", pooled.shape if pooled else x)
        return [pooled, flat, L.dropout("dropout", flat.shape, head.dropout), L.linear("fc", flat.shape, head.classes)]
