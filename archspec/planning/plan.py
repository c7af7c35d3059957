"""Static shape inference: Spec → Plan, a tree of named layers with shapes,
parameter counts and multiply-adds. Pure Python: never imports torch."""

from __future__ import annotations

import dataclasses
import gc
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from .. import limits
from ..errors import Issue, SpecError, did_you_mean
from ..naming import stage_label, stage_name
from ..reading.spec import BlockHead, FeaturesHead, Spec
from ..units import count, dims, si
from .blocks import LAYOUTS, TRANSITIONS, Placement
from .graph import after_node, stage_layout
from .kinds import KINDS, Kind
from .memory import activation_memory, layer_memory
from .necks import block_head_root, reductions
from .nodes import Node, Shape, ShapeError, collecting, container, sequential
from .parts import HEAD_LAYOUTS, STEM_LAYOUTS
from .primitives.act import act
from .primitives.norm import norm


@dataclass(frozen=True)
class Layer:
    """One module of the plan, flattened: `name` is its qualified module name."""

    name: str
    kind: str
    shape: Shape
    params: int
    macs: int
    depth: int  # 1 for the network's direct children, 2 for their children, ...


@dataclass(frozen=True)
class Feature:
    """One map a `features` head returns: its module name, channels, and how many input
    pixels one of its pixels spans per side (the product of the strides before it)."""

    name: str
    channels: int
    reduction: int
    shape: Shape


class Plan:
    """The planned network: `root` is the tree `compile` builds, `layers` its flat list."""

    def __init__(self, spec: Spec, input_shape: Shape, root: Node):
        self.spec, self.input_shape, self.root = spec, input_shape, root
        self.params, self.macs, self.output_shape = root.params, root.macs, root.shape

    @cached_property
    def layers(self) -> list[Layer]:
        """Every module, parents before children; built on first use (`validate` never needs it)."""
        layers: list[Layer] = []
        with without_cyclic_gc():
            _flatten(self.root, "", 0, layers)
        return layers

    @cached_property
    def features(self) -> list[Feature]:
        """The maps a `features` or `block` head returns, in its order; [] for other heads. A block
        head's maps are named by its block's `out`; an upsampled map's reduction may be below 1."""
        if "head_outputs" in self.root.args:
            shapes = self.root.args["shapes"]
            return [Feature(name, shape[0], r, shape) for name, shape, r in
                    zip(self.root.args["head_outputs"], shapes, reductions(self.root, _stride))]
        if self.root.kind != "features":
            return []
        found, reduction = {}, 1
        for child in self.root.children:
            reduction *= _stride(child)
            found[child.name] = Feature(child.name, child.shape[0], reduction, child.shape)
        return [found[name] for name in self.root.args["outputs"]]

    def blocks(self) -> list[Layer]:
        """The rows of the summary: stem and head layers, and each block of each stage."""
        stages = {c.name for c in self.root.children if c.kind == "sequential"}
        return [l for l in self.layers if (l.depth == 1 and l.name not in stages) or
                (l.depth == 2 and l.name.split(".")[0] in stages)]

    def activation_memory(self, batch: int = 1, dtype: str = "float32") -> int:
        """Bytes that autograd saves for backward in one training step on `batch` inputs, the
        model and input in `dtype` (float32, bfloat16, float16); weights excluded. Per layer:
        `archspec.planning.memory.layer_memory`."""
        return activation_memory(self, batch, dtype)

    def summary(self, depth: str = "blocks", batch: int = 1, dtype: str = "float32") -> str:
        """The summary table: one row per stage, block or layer (`depth`), with output shape,
        params, MACs and activation memory at `batch` in `dtype`."""
        from .report import summary

        return summary(self, depth, batch, dtype)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<Plan {self.spec.name}: {self.params:,} parameters, {si(self.macs)} MACs, input {dims(self.input_shape)}>"

    def to_dict(self, batch: int = 1, dtype: str = "float32") -> dict:
        """The plan as JSON data; `activation_bytes` (total and per layer) at `batch` in `dtype`."""
        memory = layer_memory(self, batch, dtype)
        return {
            "name": self.spec.name, "input": list(self.input_shape), "output": list(self.output_shape),
            "params": self.params, "macs": self.macs, "batch": batch, "dtype": dtype,
            "activation_bytes": sum(memory[l.name] for l in self.layers if l.depth == 1),
            "layers": [{"name": l.name, "kind": l.kind, "shape": list(l.shape), "params": l.params, "macs": l.macs,
                        "activation_bytes": memory[l.name]}
                       for l in self.layers],
        }


def _flatten(node: Node, prefix: str, depth: int, out: list[Layer]) -> None:
    for child in node.children:
        name = prefix + child.name
        out.append(Layer(name, child.label or child.kind, child.shape, child.params, child.macs, depth + 1))
        _flatten(child, name + ".", depth + 1, out)


def _stride(node: Node) -> int:
    """How much a node reduces its input per side: the strides along its main path."""
    if not node.children:
        stride = node.args.get("stride", 1)
        return stride if isinstance(stride, int) else stride[0]
    path = node.children
    if node.kind == "graph":  # from the first output back to an input, through each node's first input
        by_name, wiring = {c.name: c for c in node.children}, dict(node.args["wiring"])
        path, ref = [], node.args["outputs"][0].partition(".")[0]
        while ref in by_name:
            path.append(by_name[ref])
            ref = wiring[ref][0].partition(".")[0]
    if node.kind == "residual":  # the shortcut runs beside the main path, at the same stride
        path = [c for c in node.children if c.name in (*node.args["pre"], *node.args["main"])]
    return math.prod(_stride(c) for c in path)


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """Planning makes many small objects and no reference cycles. The cyclic collector, which
    runs every few hundred new objects and then scans the older ones too, would make planning
    grow faster than the number of blocks (a third of the time at 1,000 blocks)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def plan_spec(spec: Spec, input_shape: Any = None, features: list[str] | None = None,
              cache: dict | None = None) -> Plan:
    """Infer every shape, parameter count and MAC of `spec`; raise SpecError on shape errors.
    (`archspec.plan` also reads specs by path or name.) `features` (module names, e.g.
    ["layer2", "layer3", "layer4"]) replaces the head with `{type: features, outputs: features}`.
    An AS302 error (a map shrunk below 1×1) says the smallest input the spec accepts.
    `cache`, a dict kept between calls, reuses the stages planned before (`sample` plans
    thousands of networks that share them); the plans share those nodes, so none may change them."""
    if features is not None:
        spec = spec.model_copy(update={"head": FeaturesHead(type="features", outputs=list(features))})
    shape = input_shape_of(spec, input_shape)
    try:
        with without_cyclic_gc():
            return _Planner(spec, cache).run(shape)
    except SpecError as e:
        if not any(i.code == "AS302" for i in e.issues):
            raise
        size = smallest_input(spec, shape[0], lambda p: True, shape[1])
        if size is None:
            raise
        raise SpecError([replace(i, hint=f"use an input of at least {size}×{size} (the smallest this spec "
                                         f"accepts), or fewer stride-2 layers") if i.code == "AS302" else i
                         for i in e.issues]) from None


def input_shape_of(spec: Spec, given: Any) -> Shape:
    """`given` as (C, H, W): C, H, W as given, or (H, W) or H with the spec's channels; the
    spec's input for None. A TypeError or ValueError names the argument and its forms."""
    if given is None:
        return spec.input.shape
    forms = "(C, H, W), (H, W) or H, in whole numbers"
    sizes = [given] if isinstance(given, int) else list(given) if isinstance(given, (tuple, list)) else None
    if sizes is None or not 1 <= len(sizes) <= 3 or not all(type(d) is int for d in sizes):
        raise TypeError(f"input_shape: expected {forms}, got {given!r}")
    if min(sizes) < 1:
        raise ValueError(f"input_shape: sizes must be at least 1, got {given!r}")
    if len(sizes) == 3:
        return tuple(sizes)
    return (spec.input.channels, sizes[0], sizes[-1])


def smallest_input(spec: Spec, channels: int, works: Callable[[Plan], bool], start: int) -> int | None:
    """The smallest square size above `start` at which `spec` plans and the plan `works`, or None
    if there is none up to 2¹⁶. Every map shrinks or grows with the input, so a binary search
    finds it; each dimension is computed alone, so it is the least height and the least width."""
    def ok(size: int) -> bool:
        try:
            return works(_Planner(spec).run((channels, size, size)))
        except SpecError:
            return False

    low, high = start, max(start, 1)
    while not ok(high):
        low, high = high, 2 * high
        if high > 2**16:
            return None
    while high - low > 1:  # ok(high), not ok(low)
        middle = (low + high) // 2
        low, high = (low, middle) if ok(middle) else (middle, high)
    return high


def check_params(p: Plan, max_params: int) -> None:
    """Refuse to build a plan with more than `max_params` parameters, before any weight exists."""
    if p.params > max_params:
        file = p.spec.source.path if p.spec.source else p.spec.name
        raise SpecError([Issue(file, None, None, f"the network has {count(p.params)} parameters, "
                               f"more than the build limit of {count(max_params)}",
                               "raise the limit with --max-params (build(max_params=...))", "AS602")])


def _joined(prefix: str, name: str) -> str:
    return ".".join(part for part in (prefix, name) if part)


def _path_to(nodes: list[Node | None], target: Node | None) -> str | None:
    """The module path of `target` among `nodes` and their descendants (`conv1.1`), if there."""
    if target is None:
        return None
    for node in nodes:
        if node is target:
            return node.name
        if node is not None:
            below = _path_to(node.children, target)
            if below is not None:
                return f"{node.name}.{below}"
    return None


def _values(model: Any) -> tuple:
    """A model's values as a cache key: their reprs tell 1, 1.0, True and -0.0 apart, which
    == does not (they would be written differently)."""
    return (model.__class__, *map(repr, model.__dict__.values()))


def _cost(nodes: list[Node | None]) -> tuple[int, int]:
    """Parameters and multiply-adds of some nodes."""
    nodes = [n for n in nodes if n is not None]
    return sum(n.params for n in nodes), sum(n.macs for n in nodes)


def cut_after(children: list[Node], taken: list[str]) -> list[Node]:
    """`children` up to the last one named in `taken`; an in-place act right after a taken map works
    out of place, so that it does not overwrite the map."""
    names = [c.name for c in children]
    kept = children[:max(names.index(n) for n in taken) + 1]
    for k in range(1, len(kept)):
        if kept[k - 1].name in taken and kept[k].args.get("inplace"):
            kept[k] = replace(kept[k], args={**kept[k].args, "inplace": False})
    return kept


class _Planner:
    def __init__(self, spec: Spec, cache: dict | None = None):
        self.spec, self.cache = spec, cache
        self.stages = spec.all_stages
        blocks = [s.block if s.block is not None else spec.defaults.block for s in self.stages]  # as stage_settings
        # a block written in the spec: a kind with no settings of its own, laid out from its graph
        self.kinds = [KINDS.get(b) or Kind(b, "") for b in blocks]
        self.layouts = [LAYOUTS.get(b) or stage_layout(spec, i) for i, b in enumerate(blocks)]
        self.transitions = [TRANSITIONS.get(b) for b in blocks]
        self.preact = [k.preact for k in self.kinds]
        self.made: dict[int, Any] = {}  # stage settings, made when first asked: a stage from the cache never asks
        self.found: dict[tuple, list] = {}  # (part, message, issue) -> [first name, count]
        self.spent: dict[str, tuple[int, int]] = {}  # stage name -> the params and MACs `spend` was given
        self.blocks = self.params = self.macs = 0  # running totals, checked against the limits
        self.fresh: dict[tuple, Any] = {}  # parts planned here, for the cache once the plan is clean
        self.defaults = _values(spec.defaults) if cache is not None else ()

    def run(self, input_shape: Shape) -> Plan:
        x, children = input_shape, []
        try:
            children += self.reuse(("stem", x, _values(self.spec.stem), self.preact[0]), self.stem, x)
            self.spend(("stem",), "stem", 0, *_cost(children))
            x = children[-1].shape if children else x
            starts, keys, cached = [], [], []  # the first two blocks of each stage: enough to cost it
            for i in range(len(self.stages)):
                keys.append(self.stage_key(i, x))
                cached.append(self.cache.get(keys[-1]) if keys[-1] is not None else None)
                if cached[-1] is not None:
                    node, params, macs = cached[-1]
                    self.spend(("stages", i), stage_label(i), self.stages[i].depth, params, macs)
                    starts.append([node])
                else:
                    starts.append(self.stage_start(i, x))
                x = starts[-1][-1].shape
            head = self.final_norm(x)
            x = head[-1].shape if head else x
            head += self.reuse(("head", x, _values(self.spec.head), self.preact[-1]), self.head, x)
            self.spend(("head",), "head", 0, *_cost(head))
            # Within the limits: only now plan every block.
            stages = [c[0] if c else self.stage(i, blocks) for i, (blocks, c) in enumerate(zip(starts, cached))]
            children += stages + head
        except ShapeError:
            pass  # recorded; later layers cannot be planned without this one
        if self.found:
            raise SpecError(self.issues())
        if self.cache is not None:
            self.cache.update(self.fresh)
            self.cache.update((key, (node, *self.spent[node.name]))
                              for key, c, node in zip(keys, cached, stages) if key is not None and c is None)
        head = self.spec.head
        if isinstance(head, BlockHead):
            root = block_head_root(self, children)
        else:
            root = self.features(children, head.outputs) if isinstance(head, FeaturesHead) else sequential("", children)
        root.args["init"] = self.spec.init_scheme()  # compile initialises the network as this reference does
        return Plan(self.spec, input_shape, root)

    def reuse(self, key: tuple, make: Callable[[Shape], list[Node]], x: Shape) -> list[Node]:
        """The stem's or head's nodes: `make(x)`, or what it gave an earlier plan for the same key."""
        if self.cache is None:
            return make(x)
        key += self.defaults  # the stem and head read the defaults too
        if key in self.cache:
            return self.cache[key]
        self.fresh[key] = nodes = make(x)
        return nodes

    def settings(self, i: int) -> Any:
        """The block settings of stage `i`."""
        if i not in self.made:
            self.made[i] = self.spec.stage_settings(i)
        return self.made[i]

    def stage_key(self, i: int, x: Shape) -> tuple | None:
        """What stage `i` is planned from, for the cache: None when not cached (a block written in
        the spec, whose layout also reads the spec's `blocks:`, or a stage with one `after:` it)."""
        if self.cache is None or self.kinds[i].name not in LAYOUTS or self.stages[i].after is not None:
            return None
        # the drop-path rates depend on the stage's place in the network, unless all are 0
        place = (sum(s.depth for s in self.stages[:i]), sum(s.depth for s in self.stages)) \
            if self.spec.defaults.drop_path else ()
        # the stage's values and the defaults make its settings
        return (i, x, self.stages[i - 1].dilation if i else 1, place, *_values(self.stages[i]), *self.defaults)

    def fail(self, where: tuple, name: str, e: ShapeError) -> None:
        """Record `e`, said of `name` (a module name, or a stage as `stages.1 (layer2)`) and located at
        the setting at fault. Repeats within a stage are counted, not listed."""
        source = self.spec.source
        issue = source.issue(self.key_path(where, e.key), "", e.hint, e.code) if source else \
            Issue(self.spec.name, None, None, "", e.hint, e.code)
        part = stage_name(where[1]) if where[0] == "stages" else where[0]
        repeat = self.found.setdefault((part, e.message, issue), [name, 0])
        repeat[1] += 1

    def issues(self) -> list[Issue]:
        """Each distinct mistake once per stage (stem, layerN, head), its repeats there counted."""
        issues = []
        for (part, message, issue), (name, n) in self.found.items():
            more = f" (and {n - 1} more like it in {part})" if n > 1 else ""
            issues.append(replace(issue, message=f"{name}: {message}{more}"))
        return issues

    def fail_all(self, where: tuple, prefix: str, found: list[ShapeError], nodes: list[Node | None]) -> None:
        """Record the errors that planning `nodes` got past, each named by its module's path."""
        for e in found:
            self.fail(where, _joined(prefix, _path_to(nodes, e.node) or e.layer), e)

    def key_path(self, where: tuple, key: str | None) -> tuple:
        """Point at the setting at fault: the stage's own, else the one in `defaults`."""
        if key is None:
            return where
        if where[0] == "stages" and key in self.stages[where[1]].model_fields_set:
            return (*where, key)
        return ("defaults", key) if key in self.spec.defaults.model_fields_set else where

    def spend(self, where: tuple, prefix: str, blocks: int, params: int, macs: int) -> None:
        """Add a part's cost to the running totals; refuse a network past the planning limits."""
        self.blocks, self.params, self.macs = self.blocks + blocks, self.params + params, self.macs + macs
        for total, limit, what, hint in (
            (self.params, limits.MAX_PARAMS, "parameters", "check the channels, depths and classes "
                                                           "(limit: archspec.limits.MAX_PARAMS)"),
            (self.macs, limits.MAX_MACS, "multiply-adds", "check the input size and the channels "
                                                          "(limit: archspec.limits.MAX_MACS)"),
            (self.blocks, limits.MAX_BLOCKS, "blocks", "check the depths (limit: archspec.limits.MAX_BLOCKS)"),
        ):
            if total > limit:
                also = f", with {count(self.params)} parameters" if what != "parameters" else ""
                e = ShapeError(f"the network reaches {count(total)} {what} here{also}; "
                               f"the planning limit is {count(limit)}", hint, "AS601")
                self.fail(where, prefix, e)
                raise e

    def stem(self, x: Shape) -> list[Node]:
        """The stem's nodes, from the layout of its declared type (parts.py)."""
        nodes: list[Node] = []
        stem = self.spec.stem
        try:
            with collecting() as found:
                nodes = STEM_LAYOUTS[stem.type](stem, x, self.spec.defaults, self.preact[0])
                if getattr(stem, "after", None) is not None:  # the stems that take `after:` declare it
                    nodes.append(after_node(self.spec, self.spec.defaults, stem.after, "",
                                            nodes[-1].shape if nodes else x))
        except ShapeError as e:
            self.fail_all(("stem",), "", found, [])
            self.fail(("stem", *(("after",) if e.key == "after" else ())), e.layer or "stem", e)
            raise
        self.fail_all(("stem",), "", found, nodes)
        return nodes

    def stage_start(self, i: int, x: Shape) -> list[Node]:
        """The stage's module between stages (if its kind has one) and its first two blocks, after
        adding the whole stage's cost to the totals."""
        stage = self.stages[i]
        if stage.dilation > 1 and stage.stride > 1:
            self.fail(("stages", i), stage_label(i), ShapeError(
                f"dilation {stage.dilation} with stride {stage.stride}: dilation replaces the stride",
                "set `stride: 1` on a dilated stage", code="AS306", key="dilation"))
        entry = self.transition(i, x)
        blocks = [self.block(i, 0, entry.shape if entry else x)]
        if stage.depth > 1:
            blocks.append(self.block(i, 1, blocks[0].shape))
        first = [entry, blocks[0]] if entry else [blocks[0]]
        if stage.depth > 2 and blocks[1].shape != blocks[0].shape:
            # A block that changes the shape it is given (a dense layer widens its input): the stage's
            # cost is known once every block is planned, within the block limit checked first.
            self.spend(("stages", i), stage_label(i), stage.depth, 0, 0)
            while len(blocks) < stage.depth:
                blocks.append(self.block(i, len(blocks), blocks[-1].shape))
            cost = _cost([entry, *blocks])
            self.spend(("stages", i), stage_label(i), 0, *cost)
        else:
            # The blocks after the second repeat it (stride 1, same shape in and out), so the
            # stage's cost is known now: a depth of 10⁹ is refused without planning 10⁹ blocks.
            cost = (sum(n.params for n in first) + (stage.depth - 1) * blocks[-1].params,
                    sum(n.macs for n in first) + (stage.depth - 1) * blocks[-1].macs)
            self.spend(("stages", i), stage_label(i), stage.depth, *cost)
        after = self.after(i, blocks[-1].shape)
        if after is not None:
            self.spend(("stages", i), stage_label(i), 0, after.params, after.macs)
            cost = (cost[0] + after.params, cost[1] + after.macs)
        self.spent[stage_name(i)] = cost  # what a stage reused from the cache spends again
        return first + blocks[1:] + ([after] if after is not None else [])

    def after(self, i: int, x: Shape) -> Node | None:
        """The module `after:` puts after stage `i`'s blocks, or None."""
        name = self.stages[i].after
        if name is None:
            return None
        try:
            return after_node(self.spec, self.settings(i), name, stage_name(i), x)
        except ShapeError as e:
            self.fail(("stages", i), _joined(f"{stage_name(i)}.{name}", e.layer), e)
            raise

    def transition(self, i: int, x: Shape) -> Node | None:
        """The module a kind puts between stages (ConvNeXt's norm + strided conv), or None."""
        make = self.transitions[i]
        if make is None:
            return None
        try:
            return make(x, self.placement(i, 0), self.settings(i))
        except ShapeError as e:
            self.fail(("stages", i), _joined(f"{stage_name(i)}.downsample", e.layer), e)
            raise

    def stage(self, i: int, start: list[Node]) -> Node:
        """Stage `i`, from its first blocks (between its transition module and its `after:` module, if
        any); blocks are named by their index."""
        at = [k for k, n in enumerate(start) if n.name.isdecimal()]
        blocks = start[at[0]:at[-1] + 1]
        # Without a drop-path rate rising through the stage, a block after the second is placed as
        # the second is; given the shape the second gives, it is that block under another name: it
        # shares its layers, which no one changes (as the plans a cache shares its stages with).
        # Not after an error, whose repeats are counted.
        same = not self.found and not self.spec.defaults.drop_path and blocks[-1].shape == blocks[0].shape
        for b in range(len(blocks), self.stages[i].depth):
            if same and len(blocks) > 1:
                blocks.append(replace(blocks[1], name=str(b)))
            else:
                blocks.append(self.block(i, b, blocks[-1].shape))
        return sequential(stage_name(i), start[:at[0]] + blocks + start[at[-1] + 1:])

    def block(self, i: int, b: int, x: Shape) -> Node:
        """Block `b` of stage `i`, or after a shape error a stand-in, so that the later blocks and
        stages are checked too: with the output the block would have had, or else the one a
        residual block gives (its channels, the size divided by its stride, rounded up)."""
        settings, placement, name = self.settings(i), self.placement(i, b), f"{stage_name(i)}.{b}"
        try:
            if self.kinds[i].transition:  # the module before the blocks took the stride and the width
                placement = dataclasses.replace(placement, stride=1)
            with collecting() as found:
                block = self.layouts[i](str(b), x, placement, settings)
        except ShapeError as e:
            self.fail_all(("stages", i), name, found, [])
            self.fail(("stages", i), _joined(name, e.layer), e)
            size = tuple(-(-d // placement.stride) for d in x[1:])
            return Node(str(b), "residual", e.shape or (placement.channels, *size))
        self.fail_all(("stages", i), stage_name(i), found, [block])
        return block

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
            drop_path=self.spec.defaults.drop_path * ((before + b) / max(total - 1, 1)),  # int / int: no overflow
        )

    def final_norm(self, x: Shape) -> list[Node | None]:
        """Pre-activated networks end with the norm and act their last block did not apply."""
        if not self.preact[-1]:
            return []
        last = self.settings(len(self.stages) - 1)
        with collecting() as found:
            nodes = [n for n in (norm("norm", last, x), act("act", last.act, x)) if n is not None]
        self.fail_all(("stages", len(self.stages) - 1), "", found, nodes)
        return nodes

    def features(self, children: list[Node], outputs: list[str]) -> Node:
        """The root of a `features` head: the modules up to the last output asked for."""
        self.check_taken(children, outputs, self.fail_output, "features", "list each module once")
        if self.found:
            raise SpecError(self.issues())
        return container("", "features", cut_after(children, outputs), outputs=list(outputs))

    def check_taken(self, children: list[Node], taken: list[str], fail, what: str, once: str) -> None:
        """Record, through `fail(k, message, hint, code)`, each name of `taken` (the modules whose maps a
        head takes) that is listed twice (AS801) or is none of `children`'s (AS800)."""
        names = [c.name for c in children]
        for k, name in enumerate(taken):
            if name in taken[:k]:
                fail(k, f"{name!r} is listed twice", once, "AS801")
            elif name not in names:
                fail(k, f"there is no module {name!r} to take {what} from",
                     did_you_mean(name, names, then=f"the network's modules: {', '.join(names)}"), "AS800")

    def fail_output(self, k: int, message: str, hint: str, code: str) -> None:
        """An output name at fault: located at its place in the spec, or given as `features=`."""
        source, where = self.spec.source, ("head", "outputs", k)
        if source and where in source.positions:  # in a file, or a --set option
            issue = source.issue(where, "", hint, code)
            self.found[("head", message, issue)] = [f"head.outputs.{k}", 1]
        else:
            issue = Issue(source.path if source else self.spec.name, None, None, "", hint, code)
            self.found[("head", message, issue)] = ["features", 1]

    def head(self, x: Shape) -> list[Node]:
        """The head's nodes, from the layout of its declared type (parts.py)."""
        head = self.spec.head
        try:
            return HEAD_LAYOUTS[head.type](head, x, self.spec.defaults, self.preact[-1])
        except ShapeError as e:
            self.fail(("head", *e.at), e.layer or "head", e)
            raise


def sections(p: Plan) -> tuple[list[Node], list[Node], list[Node]]:
    """The network's top-level nodes as stem, stages (`layer1`, `layer2`, ...) and head (a
    pre-activated network's final norm included): what a diff or a diagram shows part by part."""
    names = {stage_name(i) for i in range(len(p.spec.all_stages))}
    children = p.root.children
    at = [j for j, c in enumerate(children) if c.name in names]
    if not at:
        return children, [], []
    return children[:at[0]], children[at[0]:at[-1] + 1], children[at[-1] + 1:]
