"""Blocks written in the spec, planned: a block's graph (reading/blockdefs.py) with one
stage's parameter values → the plan nodes that built-in kinds yield, so that compile,
memory, tensors, fuse, eject and the summaries read them unchanged.

Each node is planned by its primitive's record, its arguments computed from the block's
names. A node whose `if:` fails is left out and passes its input on, as each of its outputs
(`split.0` and `split.1` alike). The graph is then laid out as a built-in kind lays out its
block where it can:

- a chain (each node takes the one before it) → a `sequential` of the nodes;
- a chain, an `add` of its end and the block's input (or one module on that input: the
  shortcut), then a chain → a `residual` (the `add` itself is no module, as in torchvision);
- any other acyclic graph (branches, merges, a split feeding two branches) → a `graph`
  container, whose forward follows the wiring; each node is a module of its name, those
  without parameters too (`concat`, `add`, `channel_shuffle`: no state_dict entries).

A stage's block takes one map and gives one (a block of several inputs or outputs is used
by the nodes of another block). Every error names the module where the block is used
(`layer2.0.conv1`) and is located at the line that defines what failed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import Issue, SpecError
from ..naming import stage_name
from ..reading.blockdefs import INPUT_NAMES, BlockDef, NodeDef, ops
from ..reading.expr import Expr
from .blocks.placement import Placement
from .nodes import Node, Shape, ShapeError, container, graph, sequential
from .primitives import PRIMITIVES
from .primitives.record import view
from .primitives.act import ACTIVATIONS, act
from .primitives.attention import squeeze_excite
from .primitives.conv import conv
from .primitives.linear import linear
from .primitives.norm import norm
from .primitives.pool import global_pool, pool
from .primitives.regularize import dropout
from .primitives.reshape import flatten

if TYPE_CHECKING:
    from ..reading.spec import Spec
    from .kinds import Settings

# The least value of each argument that is a size or a count.
_AT_LEAST = {"channels": 1, "kernel": 1, "stride": 1, "dilation": 1, "groups": 1, "features": 1, "padding": 0,
             "chunks": 1, "scale": 1, "reduced": 1}
_NORMS = {"batchnorm": "batchnorm", "groupnorm": "groupnorm", "layernorm": "layernorm"}


def stage_layout(spec: Spec, index: int) -> Callable[[str, Shape, Placement, Any], Node]:
    """The layout function of stage `index`, whose block is written in the spec: as a built-in
    kind's, (module name, input shape, placement, settings) → the block's node."""
    settings = spec.stage_settings(index)
    block = spec.user_blocks[settings.block]
    values = spec.block_params(index)
    depth = spec.all_stages[index].depth

    def layout(name: str, x: Shape, p: Placement, s: Settings) -> Node:
        if len(block.inputs) != 1 or len(block.outputs) != 1:
            raise ShapeError(f"a {block.name} block takes {len(block.inputs)} inputs and gives {len(block.outputs)} "
                             "outputs; a stage's block takes one map and gives one",
                             "use it as a node of another block", code="AS916")
        placed = {**values, **{k: v for k, v in (("stride", p.stride), ("channels", p.channels))
                               if k in block.params}}
        planned = _Planner(spec, s, f"{stage_name(index)}.{name}").block(block, name, [x], placed)
        # A block that does not take the stage's channels may change its width block by block (a dense
        # layer appends its maps to its input): the stage's last block gives the stage's channels.
        if "channels" not in block.params and planned.shape[0] != p.channels and int(name) == depth - 1:
            raise ShapeError(f"a {block.name} block gives {planned.shape[0]} channels, but the stage's `channels:` "
                             f"is {p.channels}", f"set the stage's channels to {planned.shape[0]}, or declare "
                             f"`channels: int` in blocks.{block.name}.params and use it", key="channels",
                             shape=planned.shape)  # the later stages are planned from what it gives
        return planned

    return layout


def after_node(spec: Spec, settings: Settings, block_name: str, where: str, x: Shape) -> Node:
    """The module that `after: block_name` puts after a stem's layers or a stage's blocks (`where`: the
    part's module name): the block with its parameters' defaults, named as the block; a block of one
    node is that node (`layer1.pool`, not `layer1.pool.pool`)."""
    block = spec.user_blocks[block_name]
    needed = [p.name for p in block.params.values() if p.default is None]
    if needed or len(block.inputs) != 1 or len(block.outputs) != 1:
        raise ShapeError(f"`after: {block_name}`: " + (
            f"a {block_name} block needs `{needed[0]}`, and a block after a stage is used without parameters"
            if needed else f"a {block_name} block takes {len(block.inputs)} inputs and gives {len(block.outputs)} "
                           "outputs; the block after a stage takes one map and gives one"),
            f"give blocks.{block_name}'s parameters defaults (derive sizes from in_channels)" if needed else
            "write a block of one input and one output", code="AS916", key="after")
    values = {p.name: p.default for p in block.params.values()}
    planned = _Planner(spec, settings, f"{where}.{block_name}" if where else block_name).block(
        block, block_name, [x], values)
    if planned.kind == "sequential" and len(planned.children) == 1:
        return dataclasses.replace(planned.children[0], name=block_name)
    return planned


class _Planner:
    """Plans blocks written in the spec for one use: `where` is the module that uses them."""

    def __init__(self, spec: Spec, settings: Settings, where: str):
        self.spec, self.settings, self.where = spec, settings, where

    def fail(self, path: tuple, message: str, hint: str = "", code: str = "AS916", key: bool = False) -> SpecError:
        source = self.spec.source
        issue = source.issue(path, message, hint, code, key=key) if source else \
            Issue(self.spec.name, None, None, message, hint, code)
        return SpecError([issue])

    def block(self, block: BlockDef, name: str, inputs: list[Shape], values: dict[str, Any]) -> Node:
        """The node of `block` named `name`, on inputs of `inputs`' shapes, its parameters `values`."""
        names = {**values, **dict(zip(INPUT_NAMES, [inputs[0][0]]))}
        for key, value in block.let.items():
            names[key] = value.value(names, self.where) if isinstance(value, Expr) else value
        shapes: dict[str, list[Shape]] = {name: [shape] for name, shape in zip(block.inputs, inputs)}
        passed: dict[str, str] = {}  # a node left out → the input it passes on
        planned: dict[str, Node] = {}
        wiring: dict[str, list[str]] = {}
        for node in _in_flow(block):
            refs = [self.output(node, k, _through(passed, ref), planned, shapes) for k, ref in enumerate(node.inputs)]
            condition = node.condition.value(names, self.where) if isinstance(node.condition, Expr) else \
                node.condition
            if condition is not True and condition is not False:
                raise node.condition.error(f"gives {condition!r}, not true or false", "", "AS902", self.where)
            if not condition:
                passed[node.name] = refs[0]
                continue
            args = {key: self.argument(node, key, value, names) for key, value in node.args.items()}
            made = self.node(block, node, [_shape(shapes, r) for r in refs], args, refs, names)
            if made is None:  # `norm: none`, `act: none`
                passed[node.name] = refs[0]
                continue
            planned[node.name], shapes[node.name], wiring[node.name] = made, _output_shapes(made), refs
        outputs = [_through(passed, ref) for ref in block.outputs]
        return self.lay_out(block, name, planned, wiring, outputs, [_shape(shapes, r) for r in outputs])

    def output(self, node: NodeDef, k: int, ref: str, planned: dict[str, Node], shapes: dict) -> str:
        """`ref` as the graph reads it: `name`, or `name.i` for the i-th output of a node that gives
        several (a block's named outputs by their place); a located error for one it lacks."""
        name, _, out = ref.partition(".")
        if not out:
            return ref
        made = planned.get(name)
        outputs = made.args["outputs"] if made is not None and made.kind == "graph" else None
        if outputs is not None and not out.isdecimal():
            out = str(self.spec.user_blocks[made.label].outputs.index(out))
        if int(out) >= len(shapes[name]):
            path = node.path + ("in",) + ((k,) if len(node.inputs) > 1 else ())
            raise self.fail(path, f"{self.where}.{node.name}: '{ref}' is not an output: '{name}' gives "
                                  f"{len(shapes[name])}, {name}.0 to {name}.{len(shapes[name]) - 1}", "", "AS911")
        return f"{name}.{int(out)}"

    def argument(self, node: NodeDef, key: str, value: Any, names: dict[str, Any]) -> Any:
        """One argument's value: computed, of its declared type, within its range."""
        if not isinstance(value, Expr):
            got = value
        else:
            got = value.value(names, self.where)
        declared = ops()[node.op].args[key].type if node.op else None
        if declared is None and node.block:
            declared = self.spec.user_blocks[node.block].params[key].type
        if isinstance(value, Expr):
            if declared == "int" and type(got) is not int:
                raise value.error(f"gives {got!r}, not a whole number", "use //, round(), ceil(), floor() or int()",
                                  "AS902", self.where)
            if declared == "bool" and type(got) is not bool:
                raise value.error(f"gives {got!r}, not true or false", "compare it, e.g. `stride > 1`", "AS902",
                                  self.where)
            if declared == "float" and type(got) is bool:
                raise value.error("gives true or false, not a number", "", "AS902", self.where)
        least = _AT_LEAST.get(key) if node.op else None
        if least is not None and got < least:
            what = f"`{value.text}` gives {got}" if isinstance(value, Expr) else f"{got}"
            raise self.fail(node.path + (key,), f"{_dotted(node.path)}.{key}: {what}; it must be at least {least} "
                                                f"(in {self.where})", "", "AS902")
        if key == "p" and not 0 <= got < 1:
            raise self.fail(node.path + (key,), f"{_dotted(node.path)}.p: {got} is not a probability below 1 "
                                                f"(in {self.where})", "", "AS902")
        return got

    def node(self, block: BlockDef, node: NodeDef, inputs: list[Shape], args: dict[str, Any], refs: list[str],
             names: dict[str, Any]) -> Node | None:
        """The plan node of one node of the graph."""
        where = f"{self.where}.{node.name}"
        try:
            if node.block is not None:
                inner = self.spec.user_blocks[node.block]
                values = {p.name: args.get(p.name, p.default) for p in inner.params.values()}
                return _Planner(self.spec, self.settings, where).block(inner, node.name, inputs, values)
            return self.primitive(block, node, inputs, args, refs)
        except ShapeError as e:
            raise self.fail(node.path, f"{where}: {e.message}", e.hint, e.code) from None

    def primitive(self, block: BlockDef, node: NodeDef, inputs: list[Shape], args: dict[str, Any],
                  refs: list[str]) -> Node | None:
        op, x, name, s = node.op, inputs[0], node.name, self.settings
        if op == "conv":
            return conv(name, x, args["channels"], args["kernel"], args.get("stride", 1), args.get("padding"),
                        args.get("groups", 1), args.get("dilation", 1), args.get("bias", False))
        if op == "norm" or op in _NORMS:
            update = {"norm": _NORMS[op]} if op in _NORMS else {}
            if op == "groupnorm" and args.get("groups") is not None:
                update["norm_groups"] = args["groups"]
            return norm(name, s.model_copy(update=update) if update else s, x)
        if op == "act" or op in _ACTIVATIONS:
            return act(name, s.act if op == "act" else op, x, inplace=self.alone(block, refs[0], node))
        if op in ("maxpool", "avgpool"):
            kernel = args["kernel"]
            return pool(name, op, x, kernel, args.get("stride") or kernel, args.get("padding", 0),
                        args.get("ceil_mode", False))
        if op in ("global_avgpool", "global_maxpool"):
            return global_pool(name, op, x)
        if op == "flatten":
            return flatten(name, x)
        if op == "linear":
            return linear(name, x, args["features"])
        if op == "dropout":
            return dropout(name, x, args["p"])
        if op == "se":
            return squeeze_excite(name, x, args["reduced"], args.get("act", "relu"), args.get("gate", "sigmoid"))
        found = PRIMITIVES.get(op)  # the others take their arguments as the spec writes them
        if found is not None:
            return found.node(name, inputs if found.merges else x, args)
        raise self.fail(node.path + ("op",), f"{self.where}.{name}: `op: {op}` is read and checked, but archspec "
                                             "cannot plan it yet", "", "AS916")

    def alone(self, block: BlockDef, ref: str, node: NodeDef) -> bool:
        """Whether an activation may work in place: its input is used by nothing else (nor is an input
        or an output of the block), nor, where it is a view (identity, split), what it views."""
        by_name = {n.name: n for n in block.nodes}
        while True:
            name = ref.partition(".")[0]
            if name in block.inputs or name in (r.partition(".")[0] for r in block.outputs):
                return False
            if sum(name == r.partition(".")[0] for n in block.nodes for r in n.inputs) != 1:
                return False
            viewed = by_name[name]
            if viewed.op is None or viewed.op not in PRIMITIVES or PRIMITIVES[viewed.op].saves is not view:
                return True
            ref = viewed.inputs[0]

    def lay_out(self, block: BlockDef, name: str, planned: dict[str, Node], wiring: dict[str, list[str]],
                outputs: list[str], shapes: list[Shape]) -> Node:
        """The block's nodes as a built-in kind lays out its block where it can (a sequential or a
        residual), else as a graph."""
        order = list(planned)
        adds = [n for n in order if planned[n].kind == "add"]
        x = block.inputs[0]
        if len(outputs) == 1 and len(block.inputs) == 1:
            if not adds and order and _chain(order, wiring, x) and outputs[0] == order[-1]:
                return sequential(name, [planned[n] for n in order], label=block.name)
            if len(adds) == 1 and len(wiring[adds[0]]) == 2:
                laid = self.residual(block, name, planned, wiring, adds[0], outputs[0])
                if laid is not None:
                    return laid
        return graph(name, [planned[n] for n in order], list(block.inputs), [(n, wiring[n]) for n in order],
                     outputs, shapes, label=block.name)

    def residual(self, block: BlockDef, name: str, planned: dict[str, Node], wiring: dict[str, list[str]],
                 add: str, output: str) -> Node | None:
        """`post(main(x) + shortcut(x))`, or None where the graph is not of that form."""
        x, order = block.inputs[0], list(planned)
        before, after = order[:order.index(add)], order[order.index(add) + 1:]
        for end, other in (wiring[add], wiring[add][::-1]):
            short = [] if other == x else [other]
            main = [n for n in before if n not in short]
            if (not short or wiring[short[0]] == [x]) and _chain(main, wiring, x) and main and main[-1] == end \
                    and _chain(after, wiring, add) and output == (after[-1] if after else add):
                shortcut = planned[short[0]] if short else None
                return container(name, "residual", [*(planned[n] for n in main), shortcut,
                                                    *(planned[n] for n in after)],
                                 label=block.name, pre=[], main=main, shortcut=short[0] if short else None, add=True,
                                 post=after, zero_init=None)
        return None


# The activations act() plans (in place where it may); an activation another record adds goes the generic way.
_ACTIVATIONS = frozenset(ACTIVATIONS)


def _in_flow(block: BlockDef) -> list[NodeDef]:
    """The nodes in an order where each comes after its inputs (as written, where it can)."""
    by_name = {n.name: n for n in block.nodes}
    done: set[str] = set(block.inputs)
    order: list[NodeDef] = []
    pending = list(block.nodes)
    while pending:  # the reader refused cycles, so every pass places at least one node
        waiting = []
        for node in pending:
            if all(ref.partition(".")[0] in done for ref in node.inputs):
                order.append(node)
                done.add(node.name)
            else:
                waiting.append(node)
        pending = waiting
    return [by_name[n.name] for n in order]


def _shape(shapes: dict[str, list[Shape]], ref: str) -> Shape:
    name, _, k = ref.partition(".")
    return shapes[name][int(k) if k else 0]


def _output_shapes(node: Node) -> list[Shape]:
    """The shape of each map a node gives: several for a split or a block of several outputs."""
    if node.kind == "graph":
        return node.args["shapes"]
    found = PRIMITIVES.get(node.kind)
    return [node.shape] * (node.args[found.outputs] if found is not None and found.outputs else 1)


def _through(passed: dict[str, str], ref: str) -> str:
    """Where a reference leads once the nodes left out pass their inputs on: each output of a node
    left out (`split.0`, `split.1`) is its input."""
    while ref.partition(".")[0] in passed:
        ref = passed[ref.partition(".")[0]]
    return ref


def _chain(order: list[str], wiring: dict[str, list[str]], start: str) -> bool:
    """Whether each node of `order` takes the one before it (the first, `start`)."""
    previous = start
    for n in order:
        if wiring[n] != [previous]:
            return False
        previous = n
    return True


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)

