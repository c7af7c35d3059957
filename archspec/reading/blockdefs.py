"""Block kinds written in the spec: the `blocks:` section, read and checked.

    blocks:
      fire:                                  # the kind's name, used as `block: fire`
        description: SqueezeNet's Fire module
        params:                              # typed; `channels`, `stride` and `dilation` come from the stage
          channels: int
          squeeze: int
          bias: {type: bool, default: true}
        let:                                 # derived values, in order (expressions: expr.py)
          expand: channels // 2
        nodes:                               # each a module; its name is the module's name
          - {name: squeeze, op: conv, channels: squeeze, kernel: 1, bias: bias}
          - {name: squeeze_activation, op: relu}
          - {name: expand1x1, op: conv, channels: expand, kernel: 1, bias: bias}
          - {name: expand1x1_activation, op: relu}
          - {name: expand3x3, op: conv, in: squeeze_activation, channels: expand, kernel: 3, bias: bias}
          - {name: expand3x3_activation, op: relu}
          - {name: cat, op: concat, in: [expand1x1_activation, expand3x3_activation]}
        out: cat                             # default: the last node; a list for several outputs

A node names a primitive (`op:`, one of `ops()`: each is declared by its record in
planning/primitives/, whose `written` says what a node may write) or another block
(`block:`); its other keys are the primitive's arguments or the block's parameters, each
a value or an expression.
`in:` names its inputs (default: the node before it, or the block's input `x`); a block
with several outputs is read as `node.output`, a `split` as `node.0`, `node.1`. A node
with `if:` exists only where its condition holds; where it does not, the node passes its
one input on (an optional shortcut). `inputs: [x, skip]` gives a block several inputs.

Everything is checked when the spec is read, each problem located at its line: names
(modules, inputs, ops, blocks, parameters, with "did you mean"), cycles in a graph,
blocks that use themselves, expressions, and the sizes in `archspec.limits`. A stage's
use of a kind (`block: fire` with `squeeze: 16`) is checked against its parameters.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import Issue, SpecError, did_you_mean, quoted
from ..naming import stage_label, stage_name
from ..units import count
from .expr import Expr, Value, parse
from .source import Source

if TYPE_CHECKING:
    from ..planning.primitives import Op

# ---- what a node may say ------------------------------------------------------------------

TYPES = {"int": "a whole number", "float": "a number", "bool": "true or false"}


@cache
def ops() -> dict[str, Op]:
    """The primitives a node may name (`op:`), grouped by role: each record's `written`
    (planning/primitives/: a new record with `written` is one more, with no line here), and the
    two names that are no record of their own, each at the head of its role. Made when first
    asked, so that the schema imports no planner."""
    from ..planning.primitives import PRIMITIVES, ROLES, Op

    # The network's defaults, which graph.py plans as `defaults.norm` and `defaults.act` say: spec-only.
    local = [("norm", "norm", Op("the network's norm (`defaults.norm`)", {})),
             ("act", "act", Op("the network's activation (`defaults.act`)", {}))]
    taken = {kind for _, kind, _ in local} & PRIMITIVES.keys()
    if taken:
        raise TypeError(f"primitive {sorted(taken)[0]!r} has the name of the network's default")
    found = local + [(r.role, r.kind, r.written) for r in PRIMITIVES.values() if r.written is not None]
    return {kind: op for _, kind, op in sorted(found, key=lambda f: ROLES.index(f[0]))}  # stable: by role

# Parameters a stage fills from its own settings when the block declares them.
FROM_STAGE = ("channels", "stride", "dilation")
# Names every expression may read: the block's first input's channels.
INPUT_NAMES = ("in_channels",)
DEFAULT_INPUT = "x"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
MAX_NAME = 64
# Attributes every torch.nn.Module has: a child module of one of these names cannot be added.
MODULE_ATTRIBUTES = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile", "cpu",
    "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer", "get_extra_state",
    "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers",
    "named_children", "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook", "register_state_dict_pre_hook",
    "requires_grad_", "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
    "training", "type", "xpu", "zero_grad",
})

# What compile's containers (building/compile.py: Residual, Features, Graph) keep as attributes.
CONTAINER_ATTRIBUTES = frozenset({"pre", "main", "shortcut", "post", "outputs", "inputs", "wiring"})

# ---- what a definition reads as -----------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # a key of TYPES
    default: Value | None  # None: the use must give it (or the stage, for FROM_STAGE)


@dataclass(frozen=True)
class NodeDef:
    """One node of a block: a primitive (`op`) or a block (`block`), its inputs, its condition and
    its arguments (values, words, or expressions over the block's names)."""

    name: str
    op: str | None
    block: str | None
    inputs: tuple[str, ...]  # "name" or "name.output"
    condition: Expr | bool
    args: dict[str, Value | str | Expr]
    path: tuple  # key path of the node in the spec: ("blocks", "fire", "nodes", 2)


@dataclass(frozen=True)
class BlockDef:
    name: str
    description: str
    inputs: tuple[str, ...]
    params: dict[str, Param]
    let: dict[str, Value | Expr]
    nodes: tuple[NodeDef, ...]
    outputs: tuple[str, ...]
    path: tuple
    size: int = 0  # modules once every block it uses is written out

    def names(self) -> tuple[str, ...]:
        """The names its expressions may read."""
        return (*self.params, *INPUT_NAMES, *self.let)


_BLOCK_KEYS = ("description", "inputs", "params", "let", "nodes", "out")
_NODE_KEYS = ("name", "op", "block", "in", "if")


def read_blocks(source: Source) -> dict[str, BlockDef]:
    """The `blocks:` of a spec's tree, checked; a SpecError with every problem found."""
    tree = source.tree.get("blocks") if isinstance(source.tree, dict) else None
    if tree is None:
        return {}
    reader = _Reader(source)
    if not isinstance(tree, dict):
        reader.fail(("blocks",), "blocks: expected a mapping of block names to their definitions",
                    "write `blocks: {name: {params: ..., nodes: [...]}}`", "AS203")
        raise SpecError(reader.issues)
    for name, definition in tree.items():
        if reader.block_name(name):
            reader.block(name, definition)
    if not reader.issues:
        reader.check_uses_of_blocks()
    if reader.issues:
        raise SpecError(reader.issues)
    return reader.blocks


class _Reader:
    def __init__(self, source: Source):
        self.source = source
        self.issues: list[Issue] = []
        self.blocks: dict[str, BlockDef] = {}
        self.user_names = set(source.tree.get("blocks") or ())

    def fail(self, path: tuple, message: str, hint: str = "", code: str = "AS910", key: bool = False) -> None:
        self.issues.append(self.source.issue(path, message, hint, code, key=key))

    # -- names

    def block_name(self, name: Any) -> bool:
        from ..planning.kinds import KINDS

        path = ("blocks", name)
        if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > MAX_NAME or keyword.iskeyword(name):
            self.fail(path, f"blocks: {quoted(name)} is not a valid block name",
                      f"use letters, digits and '_', starting with a letter, at most {MAX_NAME} characters",
                      "AS914", key=True)
            return False
        if name in KINDS:
            self.fail(path, f"blocks.{name}: a built-in block kind has this name", "give your block another name",
                      "AS914", key=True)
            return False
        return True

    def module_name(self, path: tuple, name: Any, taken: dict[str, tuple], inputs: Iterable[str]) -> bool:
        where = _dotted(path)
        if not isinstance(name, str) or not _MODULE_NAME.fullmatch(name) or len(name) > MAX_NAME:
            self.fail(path, f"{where}: {quoted(name)} is not a valid module name",
                      "a node's name becomes its module's name (a state_dict key): use letters, digits and '_', "
                      f"at most {MAX_NAME} characters", "AS914")
        elif keyword.iskeyword(name) or name in MODULE_ATTRIBUTES or name in CONTAINER_ATTRIBUTES:
            why = "a Python keyword" if keyword.iskeyword(name) else "an attribute of every torch module" \
                if name in MODULE_ATTRIBUTES else "an attribute of the module that holds the block's layers"
            self.fail(path, f"{where}: '{name}' cannot name a module", f"'{name}' is {why}: choose another name",
                      "AS914")
        elif name in inputs:
            self.fail(path, f"{where}: '{name}' is the name of the block's input", "give the node another name",
                      "AS914")
        elif name in taken:
            self.fail(path, f"{where}: two nodes are named '{name}' (the other at line "
                            f"{self.source.locate(taken[name]).line})", "give each node its own name", "AS914")
        else:
            return True
        return False

    # -- one definition

    def block(self, name: str, tree: Any) -> None:
        path = ("blocks", name)
        if not isinstance(tree, dict):
            self.fail(path, f"blocks.{name}: expected a mapping with `nodes:` (and `params:`, `let:`, `out:`)",
                      "", "AS203")
            return
        before = len(self.issues)
        for key in tree:
            if key not in _BLOCK_KEYS:
                self.unknown_key(path + (key,), key, _BLOCK_KEYS)
        description = tree.get("description", "")
        if not isinstance(description, str):
            self.fail(path + ("description",), f"blocks.{name}.description: expected text", "", "AS203")
        inputs = self.inputs(path + ("inputs",), tree.get("inputs", [DEFAULT_INPUT]))
        params = self.params(path + ("params",), tree.get("params", {}), inputs)
        let = self.let(path + ("let",), tree.get("let", {}), [*params, *INPUT_NAMES], inputs)
        names = [*params, *INPUT_NAMES, *let]
        nodes = self.nodes(path + ("nodes",), tree.get("nodes"), inputs, names)
        outputs = self.outputs(path + ("out",), tree.get("out"), nodes)
        if len(self.issues) == before:
            self.blocks[name] = BlockDef(name, description or "", inputs, params, let, tuple(nodes), outputs, path)

    def unknown_key(self, path: tuple, key: Any, allowed: Iterable[str], what: str = "") -> None:
        hint = did_you_mean(key, allowed) or f"{what or 'allowed keys'}: {', '.join(allowed)}"
        self.fail(path, f"unknown key {quoted(key)} in {_dotted(path[:-1])}", hint, "AS201", key=True)

    def inputs(self, path: tuple, tree: Any) -> tuple[str, ...]:
        names = [tree] if isinstance(tree, str) else tree
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.fail(path, f"{_dotted(path)}: expected the names of the block's inputs, e.g. [x, skip]", "",
                      "AS203")
            return (DEFAULT_INPUT,)
        for k, name in enumerate(names):
            if not _NAME.fullmatch(name) or len(name) > MAX_NAME or name in names[:k]:
                self.fail(path + (k,), f"{_dotted(path)}: {quoted(name)} is not a valid input name"
                          + (" (it is listed twice)" if name in names[:k] else ""),
                          "use letters, digits and '_', starting with a letter", "AS914")
        return tuple(names)

    def params(self, path: tuple, tree: Any, inputs: tuple[str, ...]) -> dict[str, Param]:
        if not isinstance(tree, dict):
            self.fail(path, f"{_dotted(path)}: expected a mapping of parameter names to types",
                      "write e.g. `params: {squeeze: int, expand: {type: int, default: 64}}`", "AS203")
            return {}
        params = {}
        for name, decl in tree.items():
            at = path + (name,)
            if not isinstance(name, str) or not _NAME.fullmatch(name) or name in (*inputs, *INPUT_NAMES):
                self.fail(at, f"{_dotted(path)}: {quoted(name)} cannot name a parameter",
                          "use letters, digits and '_', starting with a letter; not an input's name nor "
                          + ", ".join(INPUT_NAMES), "AS914", key=True)
                continue
            kind, default = (decl, None) if isinstance(decl, str) else \
                (decl.get("type"), decl.get("default")) if isinstance(decl, dict) else (None, None)
            if isinstance(decl, dict):
                for key in decl:
                    if key not in ("type", "default"):
                        self.unknown_key(at + (key,), key, ("type", "default"))
            if kind not in TYPES:
                where = at + ("type",) if isinstance(decl, dict) and "type" in decl else at
                self.fail(where, f"{_dotted(at)}: {quoted(kind)} is not a parameter type",
                          did_you_mean(kind, TYPES) or "write int, float or bool, or {type: int, default: 3}", "AS205")
            elif default is not None and not _is(default, kind):
                self.fail(at + ("default",), f"{_dotted(at)}.default: expected {TYPES[kind]}, got {quoted(default)}",
                          "", "AS203")
            params[name] = Param(name, kind, default)  # kept when wrong, so that its uses are not errors too
        return params

    def let(self, path: tuple, tree: Any, known: list[str], inputs: tuple[str, ...]) -> dict[str, Value | Expr]:
        if not isinstance(tree, dict):
            self.fail(path, f"{_dotted(path)}: expected a mapping of names to expressions",
                      "write e.g. `let: {expand: channels // 2}`", "AS203")
            return {}
        values: dict[str, Value | Expr] = {}
        for name, text in tree.items():
            at = path + (name,)
            if not isinstance(name, str) or not _NAME.fullmatch(name) or name in (*known, *inputs):
                taken = isinstance(name, str) and name in (*known, *inputs)
                self.fail(at, f"{_dotted(path)}: {quoted(name)} " + ("is already a name in this block" if taken
                                                                   else "cannot name a value"),
                          "give it another name" if taken else "use letters, digits and '_'", "AS914", key=True)
                continue
            value = self.value(at, text, "value", known)
            values[name] = value  # kept when wrong (None), so that its uses are not errors too
            known = [*known, name]
        return values

    def value(self, path: tuple, raw: Any, kind: str | tuple[str, ...], names: Iterable[str]) -> Value | str | Expr | None:
        """A node argument, parameter default or `let:` value: a literal of `kind`, one of its words, or
        (for a number or bool) an expression over `names`; None after recording a problem."""
        if isinstance(kind, tuple):
            if raw in kind:
                return raw
            self.fail(path, f"{_dotted(path)}: {quoted(raw)} is not one of: {', '.join(kind)}",
                      did_you_mean(raw, kind), "AS205")
            return None
        if isinstance(raw, str):
            try:
                return parse(raw, self.source.locate(path), names, _dotted(path))
            except SpecError as e:
                self.issues += e.issues
                return None
        if _is(raw, kind) or (kind == "float" and _is(raw, "int")) or (kind == "value" and _is(raw, "float")):
            return raw
        expected = TYPES.get(kind, "a number, true or false")
        self.fail(path, f"{_dotted(path)}: expected {expected} or an expression, got {quoted(raw)}", "", "AS203")
        return None

    # -- nodes

    def nodes(self, path: tuple, tree: Any, inputs: tuple[str, ...], names: list[str]) -> list[NodeDef]:
        if not isinstance(tree, list) or not tree:
            self.fail(path, f"{_dotted(path)}: expected a list of nodes", "write e.g. `nodes: [{name: conv1, op: conv, "
                      "channels: 64, kernel: 3}]`", "AS202" if tree is None else "AS203")
            return []
        if len(tree) > limits.MAX_BLOCK_NODES:
            self.fail(path, f"{_dotted(path)}: {count(len(tree))} nodes; a block may have {count(limits.MAX_BLOCK_NODES)}",
                      "a block is a few dozen modules (limit: archspec.limits.MAX_BLOCK_NODES)", "AS915")
            return []
        nodes: list[NodeDef] = []
        taken: dict[str, tuple] = {}
        previous = inputs[0]
        for k, node in enumerate(tree):
            read = self.node(path + (k,), node, previous, inputs, names, taken)
            if read is not None:
                nodes.append(read)
                taken[read.name] = read.path + ("name",)
                previous = read.name
        if len(nodes) == len(tree):
            self.check_references(nodes, inputs)
        return nodes

    def node(self, path: tuple, tree: Any, previous: str, inputs: tuple[str, ...], names: list[str],
             taken: dict[str, tuple]) -> NodeDef | None:
        where = _dotted(path)
        if not isinstance(tree, dict):
            self.fail(path, f"{where}: expected a mapping such as {{name: conv1, op: conv, channels: 64, kernel: 3}}",
                      "", "AS203")
            return None
        before = len(self.issues)
        name = tree.get("name")
        if name is None:
            self.fail(path, f"missing key 'name' in {where}", "add `name:` (the node's module name)", "AS202")
        else:
            self.module_name(path + ("name",), name, taken, inputs)
        op, block = tree.get("op"), tree.get("block")
        if (op is None) == (block is None):
            self.fail(path, f"{where}: " + ("give `op:` or `block:`, not both" if op is not None else
                                           "missing key 'op' (a primitive) or 'block' (a block kind)"),
                      "primitives: " + ", ".join(ops()), "AS202")
            return None
        if name == "add" and op != "add":  # compile's Residual keeps whether it adds as `add`
            self.fail(path + ("name",), f"{where}.name: 'add' can name only an `op: add` node, which is no module",
                      "choose another name", "AS914")
        declared = self.kind_of(path, op, block)
        if declared is None:
            return None
        node_inputs = self.input_names(path + ("in",), tree.get("in", previous), declared, op or block)
        condition = tree.get("if", True)
        if not isinstance(condition, bool):
            condition = self.value(path + ("if",), condition, "bool", names) if isinstance(condition, str) else \
                self.fail(path + ("if",), f"{where}.if: expected true, false or a condition such as `stride > 1`",
                          "", "AS203")
            if isinstance(condition, Expr) and len(node_inputs) != 1:
                self.fail(path + ("if",), f"{where}: a node with `if:` needs exactly one input",
                          "where its condition fails the node passes its input on", "AS911")
        args = self.args(path, tree, declared, op or block, names)
        if len(self.issues) > before:
            return None
        return NodeDef(name, op, block, node_inputs, condition, args, path)

    def kind_of(self, path: tuple, op: Any, block: Any) -> Op | dict | None:
        """The declaration a node names: an Op, or the raw definition of a block in this spec."""
        blocks = self.source.tree["blocks"]
        if op is not None:
            if op in ops():
                return ops()[op]
            if isinstance(op, str) and op in self.user_names:
                self.fail(path + ("op",), f"{_dotted(path)}.op: '{op}' is a block, not a primitive",
                          f"write `block: {op}`", "AS910")
                return None
            self.unknown_name(path + ("op",), op, ops(), "primitive", "primitives")
            return None
        if isinstance(block, str) and block in self.user_names:
            return blocks[block] if isinstance(blocks[block], dict) else None
        if block in ops():
            self.fail(path + ("block",), f"{_dotted(path)}.block: '{block}' is a primitive, not a block",
                      f"write `op: {block}`", "AS910")
            return None
        from ..planning.kinds import KINDS

        if block in KINDS:
            self.fail(path + ("block",), f"{_dotted(path)}.block: '{block}' is a built-in block kind, which "
                                         "a block cannot contain", "write its layers as nodes", "AS910")
            return None
        self.unknown_name(path + ("block",), block, sorted(self.user_names), "block", "blocks in this spec")
        return None

    def unknown_name(self, path: tuple, name: Any, known: Iterable[str], what: str, listing: str) -> None:
        known = list(known)
        hint = did_you_mean(name, known) or f"{listing}: {', '.join(known) or 'none'}"
        self.fail(path, f"{_dotted(path)}: no {what} is called {quoted(name)}", hint, "AS910")

    def input_names(self, path: tuple, tree: Any, declared: Op | dict, kind: str) -> tuple[str, ...]:
        names = [tree] if isinstance(tree, str) else tree
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.fail(path, f"{_dotted(path)}: expected a name or a list of names", "", "AS203")
            return ()
        if len(names) > limits.MAX_NODE_INPUTS:
            self.fail(path, f"{_dotted(path)}: {count(len(names))} inputs; a node may have "
                            f"{count(limits.MAX_NODE_INPUTS)}",
                      "a node takes a few maps (limit: archspec.limits.MAX_NODE_INPUTS)", "AS915")
            return ()
        least, most = declared.inputs if not isinstance(declared, dict) else (len(_block_inputs(declared)),) * 2
        if not least <= len(names) <= most:
            takes = f"{least}" if least == most else f"{least} or {most}" if most == least + 1 else f"at least {least}"
            self.fail(path, f"{_dotted(path)}: {kind} takes {takes} input{'s' * (most != 1)}, "
                            f"not {len(names)}", "", "AS911")
        return tuple(names)

    def args(self, path: tuple, tree: dict, declared: Op | dict, kind: str, names: list[str]) -> dict:
        """The node's arguments: a primitive's (`ops()`) or a block's parameters."""
        if not isinstance(declared, dict):
            wanted = {k: (a.type, a.required) for k, a in declared.args.items()}
        else:
            params = declared.get("params") if isinstance(declared.get("params"), dict) else {}
            wanted = {k: (_param_type(d), _param_default(d) is None) for k, d in params.items()}
        args = {}
        for key, raw in tree.items():
            if key in _NODE_KEYS:
                continue
            if key not in wanted:
                what = f"{kind} takes" + (f": {', '.join(wanted)}" if wanted else " no arguments")
                self.fail(path + (key,), f"{_dotted(path)}: {kind} has no argument {quoted(key)}",
                          did_you_mean(key, wanted, then=what), "AS201", key=True)
                continue
            kind_of_value = wanted[key][0] if wanted[key][0] in TYPES or isinstance(wanted[key][0], tuple) else "float"
            value = self.value(path + (key,), raw, kind_of_value, names)
            if value is not None:
                args[key] = value
        missing = [k for k, (_, required) in wanted.items() if required and k not in tree]
        if missing:
            self.fail(path, f"{_dotted(path)}: {kind} needs `{missing[0]}`" + (
                f" (and {', '.join(missing[1:])})" if missing[1:] else ""), f"add `{missing[0]}:`", "AS202")
        return args

    def check_references(self, nodes: list[NodeDef], inputs: tuple[str, ...]) -> None:
        """Every input a node names exists (with the output named, for a node that gives several),
        and the graph has no cycle."""
        by_name = {n.name: n for n in nodes}
        for node in nodes:
            for k, ref in enumerate(node.inputs):
                self.reference(node.path + ("in",) + ((k,) if isinstance(self.raw_in(node), list) else ()),
                               ref, by_name, inputs)
        if not self.issues:
            self.cycles(nodes, by_name)

    def raw_in(self, node: NodeDef) -> Any:
        tree = self.source.tree
        for part in node.path:
            tree = tree[part]
        return tree.get("in")

    def reference(self, path: tuple, ref: str, by_name: dict[str, NodeDef], inputs: tuple[str, ...]) -> None:
        name, _, output = ref.partition(".")
        if name in inputs and not output:
            return
        node = by_name.get(name)
        if node is None:
            self.fail(path, f"{_dotted(path)}: no node or input is called {quoted(name)}",
                      did_you_mean(name, [*inputs, *by_name])
                      or f"inputs: {', '.join(inputs)}; nodes: " + ", ".join(list(by_name)[:20]), "AS911")
            return
        outputs = self.outputs_of(node)
        if output and outputs is None:
            self.fail(path, f"{_dotted(path)}: '{name}' gives one output: write '{name}'", "", "AS911")
        elif outputs is not None and output not in outputs and not (outputs == () and output.isdecimal()):
            shown = ", ".join(f"{name}.{o}" for o in outputs) if outputs else f"{name}.0, {name}.1, ..."
            self.fail(path, f"{_dotted(path)}: '{name}' gives several outputs: name one",
                      f"write one of {shown}", "AS911")

    def outputs_of(self, node: NodeDef) -> tuple[str, ...] | None:
        """The names of a node's outputs when it has several (() for a split: its indices), else None."""
        if node.op is not None:
            return () if ops()[node.op].outputs else None
        out = self.source.tree["blocks"][node.block].get("out")
        return tuple(out) if isinstance(out, list) and len(out) > 1 else None

    def cycles(self, nodes: list[NodeDef], by_name: dict[str, NodeDef]) -> None:
        """A cycle, if the graph has one, named node by node."""
        state: dict[str, int] = {}  # 1: being visited, 2: done
        for start in nodes:
            if start.name in state:
                continue
            trail, stack = [start.name], [iter(start.inputs)]
            state[start.name] = 1
            while stack:  # iterative depth-first search: a block may have hundreds of nodes
                ref = next(stack[-1], None)
                if ref is None:
                    state[trail.pop()] = 2
                    stack.pop()
                    continue
                name = ref.partition(".")[0]
                if name not in by_name or state.get(name) == 2:
                    continue
                if state.get(name) == 1:
                    loop = trail[trail.index(name):] + [name]
                    first = by_name[loop[0]]
                    self.fail(first.path + ("in",), f"{_dotted(first.path)}: the nodes form a cycle: "
                                                    + " ← ".join(loop),
                              "a node's inputs must come from nodes before it in the flow", "AS912")
                    return
                state[name] = 1
                trail.append(name)
                stack.append(iter(by_name[name].inputs))

    def outputs(self, path: tuple, tree: Any, nodes: list[NodeDef]) -> tuple[str, ...]:
        if not nodes:
            return ()
        if tree is None:
            return (nodes[-1].name,)
        names = [tree] if isinstance(tree, str) else tree
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.fail(path, f"{_dotted(path)}: expected a node's name or a list of them", "", "AS203")
            return ()
        known = [n.name for n in nodes]
        for k, name in enumerate(names):
            if name.partition(".")[0] not in known:
                at = path + (k,) if isinstance(tree, list) else path
                self.fail(at, f"{_dotted(path)}: no node is called {quoted(name)}", did_you_mean(name, known), "AS911")
        return tuple(names)

    # -- blocks that use blocks

    def check_uses_of_blocks(self) -> None:
        """No block uses itself, through any chain; none is larger than the limit once written out."""
        sizes: dict[str, int] = {}
        state: dict[str, int] = {}

        def visit(name: str, trail: list[tuple[str, NodeDef]]) -> int | None:
            if state.get(name) == 2:
                return sizes[name]
            if state.get(name) == 1:
                start = [n for n, _ in trail].index(name)
                loop = [n for n, _ in trail[start:]] + [name]
                node = trail[start][1]
                chain = f"{loop[0]} uses {loop[1]}" + "".join(f", which uses {n}" for n in loop[2:])
                self.fail(node.path + ("block",), f"{_dotted(node.path)}.block: {chain}: a block cannot "
                                                  "contain itself", "write the repeated layers as a stage's depth",
                          "AS913")
                return None
            state[name] = 1
            size = 0
            for node in self.blocks[name].nodes:
                if node.block is not None:
                    inner = visit(node.block, [*trail, (name, node)])
                    if inner is None:
                        return None
                    size += inner
                size += 1
            state[name], sizes[name] = 2, size
            if size > limits.MAX_BLOCK_NODES:
                self.fail(self.blocks[name].path, f"blocks.{name}: {count(size)} modules once the blocks it uses "
                                                  f"are written out; a block may have "
                                                  f"{count(limits.MAX_BLOCK_NODES)}",
                          "write it as several blocks in stages (limit: archspec.limits.MAX_BLOCK_NODES)", "AS915",
                          key=True)
                return None
            return size

        for name in list(self.blocks):
            if visit(name, []) is None:
                return
        for name, size in sizes.items():
            block = self.blocks[name]
            self.blocks[name] = BlockDef(block.name, block.description, block.inputs, block.params, block.let,
                                         block.nodes, block.outputs, block.path, size)


def _block_inputs(tree: dict) -> list:
    inputs = tree.get("inputs", [DEFAULT_INPUT])
    return [inputs] if isinstance(inputs, str) else inputs if isinstance(inputs, list) else [DEFAULT_INPUT]


def _param_type(decl: Any) -> str | None:
    return decl if isinstance(decl, str) else decl.get("type") if isinstance(decl, dict) else None


def _param_default(decl: Any) -> Any:
    return decl.get("default") if isinstance(decl, dict) else None


def definition_issues(source: Source) -> list[Issue]:
    """The problems of the `blocks:` of `source`, told beside the schema's."""
    try:
        read_blocks(source)
    except SpecError as e:
        return e.issues
    return []


# ---- a stage's use of a block -------------------------------------------------------------


def written_param_issue(source: Source, path: tuple, block: BlockDef, value: Any) -> Issue | None:
    """The problem with `value`, written at key path `path` for the parameter path[-1] of `block`:
    none is called so, or it is of another type."""
    key = path[-1]
    param = block.params.get(key)
    if param is None:
        takes = f"{block.name} blocks take " + (", ".join(block.params) if block.params else "no parameters")
        return source.issue(path, f"unknown key {quoted(key)} in {_dotted(path[:-1])}",
                            did_you_mean(key, block.params, then=takes), "AS201", key=True)
    if not _is(value, param.type) and not (param.type == "float" and _is(value, "int")):
        return source.issue(path, f"{_dotted(path)}: expected {TYPES[param.type]}, got {quoted(value)}",
                            f"{block.name}'s `{key}` is {param.type}", "AS203")
    return None


def missing_param_issues(source: Source, where: tuple, block: BlockDef, written: Iterable[str],
                         supplied: Iterable[str] = ()) -> list[Issue]:
    """The parameters of `block` without a default that a use at key path `where` neither writes
    nor is `supplied` (by its stage), as one issue."""
    missing = [p.name for p in block.params.values() if p.default is None and p.name not in written
               and p.name not in supplied]
    if not missing:
        return []
    return [source.issue(where, f"missing key '{missing[0]}' in {_dotted(where)}",
                         f"{block.name} blocks need " + ", ".join(f"`{m}` ({block.params[m].type})" for m in missing),
                         "AS202")]


def check_use(source: Source, where: tuple, block: BlockDef, given: dict[str, tuple[Any, tuple]],
              stage: dict[str, int]) -> tuple[dict[str, Value], list[Issue]]:
    """The parameter values of one use of `block` by the stage at key path `where`, and the
    problems: `given` maps each parameter written to its value and key path (the stage's own, or
    `defaults`'), `stage` gives the placement (channels, stride, dilation)."""
    issues = []
    values: dict[str, Value] = {}
    for key, (value, path) in given.items():
        issue = written_param_issue(source, path, block, value)
        if issue is None:
            values[key] = value
        else:
            issues.append(issue)
    for key in FROM_STAGE:
        if key in block.params:
            values[key] = stage[key]
        elif key != "channels" and stage.get(key, 1) != 1:
            issues.append(source.issue(where + (key,), f"{_dotted(where)}.{key}: {block.name} blocks take no "
                                                       f"`{key}`", f"declare `{key}: int` in blocks.{block.name}"
                                                                   ".params, or remove it here", "AS305"))
    issues += missing_param_issues(source, where, block, given, FROM_STAGE)
    for p in block.params.values():
        values.setdefault(p.name, p.default)
    if not issues:  # the derived values that do not read the input's shape, now rather than when planned
        known = dict(values)
        for name, value in block.let.items():
            if isinstance(value, Expr) and value.names <= known.keys():
                try:
                    known[name] = value.value(known, f"{_dotted(where)} ({stage_name(where[1])})")
                except SpecError as e:
                    return values, e.issues
            elif not isinstance(value, Expr):
                known[name] = value
    return values, issues


def network_size_issues(source: Source, sizes: list[int]) -> list[Issue]:
    """The stage at which the modules of blocks written in the spec (`sizes`: per stage, its depth ×
    its block's modules) pass limits.MAX_NETWORK_NODES, if one does: before any is planned."""
    total = 0
    for i, size in enumerate(sizes):
        total += size
        if total > limits.MAX_NETWORK_NODES:
            return [source.issue(("stages", i), f"{stage_label(i)}: the network reaches {count(total)} "
                                                f"modules of blocks written in the spec here; the limit is "
                                                f"{count(limits.MAX_NETWORK_NODES)}",
                                 "check the depths (limit: archspec.limits.MAX_NETWORK_NODES)", "AS915")]
    return []


# ---- small helpers ------------------------------------------------------------------------


def _is(value: Any, kind: str) -> bool:
    if kind == "bool":
        return type(value) is bool
    if kind == "int":
        return type(value) is int and abs(value) <= limits.MAX_WHOLE
    return type(value) in (int, float) and value == value and abs(value) <= limits.MAX_WHOLE


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)
