"""`archspec eject`: a plan written out as standalone PyTorch source.

The file imports only torch. Each kind of block becomes one class: the plan's
instances of a kind are compared, and the constructor arguments that differ
between them (channels, stride, a shortcut present or not) become the class's
parameters, named by what they are; everything else is a literal. Each stage is
a row of a small table, built by a loop: the first block takes the row's values,
the others repeat it with the values the plan gives every repeated block. The
module names, and so the state_dict, are the plan's. Stages that do not fit a row
(modules between stages, as ConvNeXt's) are written block by block. A new block kind
or primitive needs nothing here: each primitive's record says how it is written, and the
classes torch lacks are copied from building/modules.py, read as text.

The file runs no text of the spec: the spec's name and description enter it only as
string literals (`SPEC_NAME`, `SPEC_DESCRIPTION`), its class name is an identifier made
from the name, and the file is compiled before it is returned. Pure Python: never
imports torch.
"""

from __future__ import annotations

import ast
import keyword
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..naming import stage_name
from ..planning.nodes import CONTAINERS, Node
from ..planning.plan import Plan
from ..planning.primitives import PRIMITIVES, Code
from ..units import count, dims


class EjectError(Exception):
    """The plan holds something this file cannot write out yet."""


# container kinds whose forward this file writes (see _residual_forward, _graph_forward)
BLOCK_CONTAINERS = {"residual", "graph"}
MODULES = Path(__file__).resolve().parent.parent / "building" / "modules.py"


@cache
def _definitions() -> dict[str, str]:
    """The source text of each top-level class and constant of building/modules.py, read as text
    (importing it would import torch)."""
    text = MODULES.read_text(encoding="utf-8")
    found = {}
    for statement in ast.parse(text).body:
        if isinstance(statement, ast.ClassDef):
            found[statement.name] = ast.get_source_segment(text, statement)
        elif isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
            found[statement.targets[0].id] = ast.get_source_segment(text, statement)
    return found


def _code(kind: str, where: str) -> Code:
    found = PRIMITIVES.get(kind)
    if kind in CONTAINERS:
        raise EjectError(f"eject cannot write a {kind} inside a block yet ({where})")
    if found is None:
        raise EjectError(f"eject has no template for the primitive {kind!r} yet ({where})")
    return found.code


@dataclass(frozen=True)
class Param:
    """A constructor parameter standing for a value that differs between instances."""

    name: str

    def __repr__(self) -> str:  # so that it prints as its name inside a call
        return self.name


def eject(p: Plan) -> str:
    """The source text of a standalone PyTorch module for plan `p`. It is compiled here before it
    is returned: whatever the spec's names and text, the file is valid Python."""
    text = _Writer(p).source()
    try:
        compile(text, "<ejected>", "exec")
    except SyntaxError as e:  # a bug here, never the spec's doing: say so rather than write it
        raise EjectError(f"eject wrote invalid Python (line {e.lineno}: {e.msg}); please report it") from None
    return text


def camel(name: str) -> str:
    """A class name for `name`: 'preact_bottleneck' → 'PreactBottleneck', 'resnext50_32x4d' →
    'Resnext50_32x4d' (digits keep their `_`). Always an identifier that is no keyword: characters
    an identifier cannot hold are dropped, and 'Net' leads where it would start with a digit or be
    empty or a keyword ('none' → 'NetNone')."""
    words = ["".join(c for c in w if ("A" + c).isidentifier() and c != "_")
             for w in name.replace("-", "_").replace(".", "_").split("_")]
    words = [w[0].upper() + w[1:] for w in words if w]
    text = ("" if all(w.isalpha() for w in words) else "_").join(words)
    candidates = (unicodedata.normalize("NFKC", c) for c in (text, "Net" + text))  # as Python reads identifiers
    return next((c for c in candidates if c.isidentifier() and not keyword.iskeyword(c)), "Net")


_MISSING = object()
_FAMILIES = {  # a parameter's family and name, from the constructor argument it stands for
    "in_channels": "channels", "out_channels": "channels", "num_features": "channels", "num_channels": "channels",
    "channels": "channels", "in_features": "channels", "out_features": "channels", "reduced": "channels",
}
_NAMES = {"channels": "width", "reduced": "se_channels", "num_groups": "norm_groups", "p": "drop_rate"}
_RESERVED = {"self", "torch", "nn", "F", "OrderedDict", "super"}  # names the file's code uses
_RANK = ["in_channels", "out_channels", "width", "se_channels", "stride", "groups", "dilation", "padding"]


def _typed(value) -> tuple:
    return type(value).__name__, value  # True and 1 are different settings


def _unique(name: str, taken: list[str]) -> str:
    n, candidate = 1, name
    while candidate in taken:
        n += 1
        candidate = f"{name}{n}"
    return candidate


def _rank(name: str) -> int:
    base = name.rstrip("0123456789")
    return _RANK.index(base) if base in _RANK else len(_RANK)


def _merge_order(lists: list[list[str]]) -> list[str]:
    """The union of some lists of names, each list's order kept; _Merge when two orders conflict."""
    merged: list[str] = []
    for names in lists:
        last = -1
        for name in names:
            if name in merged:
                if merged.index(name) < last:
                    raise _Merge
                last = merged.index(name)
            else:
                last += 1
                merged.insert(last, name)
    return merged


def _descendants(node: Node, prefix: str = "", stop: bool = False) -> dict[str, Node]:
    """Each module under `node` by its path; with `stop`, a block (a residual or graph) inside is
    one module, written by its own class."""
    out: dict[str, Node] = {}
    for child in node.children:
        path = prefix + child.name
        out[path] = child
        if not (stop and child.kind in BLOCK_CONTAINERS):
            out.update(_descendants(child, path + ".", stop))
    return out


def _layout(block: Node) -> str:
    """A block's modules, their kinds and their wiring, without their arguments."""
    return repr([(p, n.kind) for p, n in _descendants(block).items()] +
                [block.args.get(k) for k in ("pre", "main", "shortcut", "post", "inputs", "wiring", "outputs")])


def _tree(block: Node) -> str:
    return repr([(p, n.kind, n.args) for p, n in _descendants(block).items()] + [block.args])


def _grouped(found: list[tuple[Node, int]], key) -> dict[str, list[tuple[Node, int]]]:
    groups: dict[str, list[tuple[Node, int]]] = {}
    for block, c in found:
        groups.setdefault(key(block), []).append((block, c))
    return groups


class _Merge(Exception):
    """The instances of a block kind do not share one template: they get a class each."""


class BlockTemplate:
    """The union of some blocks' module trees: each module path with its kind, and each
    constructor argument as a literal (the same in every block) or a parameter."""

    def __init__(self, name: str, blocks: list[Node], in_channels: list[int],
                 nested: dict[int, BlockTemplate] | None = None):
        self.name, self.blocks = name, blocks
        trees = [_descendants(b, stop=True) for b in blocks]
        self.paths = _merge_order([list(t) for t in trees])
        self.kinds: dict[str, str] = {}
        self.nested: dict[str, BlockTemplate] = {}  # the class of each block inside, by path
        for tree in trees:
            for path, node in tree.items():
                kind = "block" if node.kind in BLOCK_CONTAINERS else node.kind
                if self.kinds.setdefault(path, kind) != kind:
                    raise _Merge
                if kind == "block":
                    inner = (nested or {}).get(id(node))
                    if inner is None:
                        raise EjectError(f"eject found no class for the block {path!r} inside {name}; please report it")
                    if self.nested.setdefault(path, inner) is not inner:
                        raise _Merge  # blocks of different classes at one place
        self.lists = {key: _merge_order([b.args.get(key, []) for b in blocks]) for key in ("pre", "main", "post")}
        if len({repr([b.args.get(k) for k in ("inputs", "wiring", "outputs")]) for b in blocks}) > 1:
            raise _Merge  # graphs wired differently (a node left out by its `if:`)
        self.columns: dict[tuple[str, str], object] = {}
        self.keys: dict[str, list[str]] = {}
        self.flags: dict[str, Param] = {}
        self.family: dict[str, str] = {}
        values = self._parameters(trees, in_channels)
        values += self._flags(trees, values)
        adds = [bool(b.args.get("add")) for b in blocks]
        self.add: bool | str = adds[0]  # whether the blocks add their shortcut, or the parameter that says
        if len(set(adds)) > 1:  # MobileNet and EfficientNet add only where the shape is kept
            self.add = _unique("add", [n for n, _ in values])
            self.family[self.add] = "flag"
            values.append((self.add, adds))
        values.sort(key=lambda v: _rank(v[0]))
        self.params = [n for n, _ in values]
        self.values = [{n: v[i] for n, v in values} for i in range(len(blocks))]  # per block
        self.index = {id(b): i for i, b in enumerate(blocks)}

    def children(self, path: str) -> list[str]:
        depth = path.count(".") + 1 if path else 0
        prefix = path + "." if path else ""
        return [p for p in self.paths if p.startswith(prefix) and p.count(".") == depth]

    def _parameters(self, trees: list[dict[str, Node]], in_channels: list[int]) -> list[tuple[str, list]]:
        columns = []
        for path in self.paths:
            kind = self.kinds[path]
            if kind == "sequential":
                continue
            nodes = [t.get(path) for t in trees]
            if kind == "block":  # a block inside: its class's parameters, as its instance sets them
                inner = self.nested[path]
                self.keys[path] = list(inner.params)
                for key in inner.params:
                    columns.append(((path, key), [None if n is None else inner.values[inner.index[id(n)]][key]
                                                  for n in nodes]))
                continue
            prim = _code(kind, f"{self.name}, {path}")
            self.keys[path] = list(dict.fromkeys(k for n in nodes if n for k in {**n.args, **prim.fixed}))
            for key in self.keys[path]:
                column = [None if n is None else {**n.args, **prim.fixed}.get(key, prim.defaults.get(key, _MISSING))
                          for n in nodes]
                if _MISSING in column:
                    raise _Merge
                columns.append(((path, key), column))
        columns.sort(key=lambda c: None in c[1])  # a group's values are then known for every block
        groups: list[tuple[list, list]] = []  # values, the (path, key) of the columns merged into it
        for where, column in columns:
            if len({_typed(v) for v in column if v is not None}) == 1:
                self.columns[where] = next(v for v in column if v is not None)
                continue
            for merged, members in groups:
                if all(a is None or b is None or _typed(a) == _typed(b) for a, b in zip(merged, column)):
                    merged[:] = [b if a is None else a for a, b in zip(merged, column)]
                    members.append(where)
                    break
            else:
                groups.append((list(column), [where]))
        named: list[tuple[str, list]] = []
        for merged, members in groups:
            keys = [key for _, key in members]
            family = _FAMILIES.get(keys[0], keys[0])
            outs = [b.shape[0] for b in self.blocks]
            if family == "channels" and all(v in (None, c) for v, c in zip(merged, in_channels)):
                name, merged[:] = "in_channels", in_channels  # where the module is absent, any value does
            elif family == "channels" and all(v in (None, c) for v, c in zip(merged, outs)):
                name, merged[:] = "out_channels", outs
            else:
                name = _NAMES.get(keys[0], _NAMES.get(family, keys[0]))
                tops = {path.split(".")[0] for path, _ in members}
                top = next(iter(tops))
                alone = len(tops) == 1 and len(set(keys)) == 1 and top in self.kinds
                if family == "channels" and self.blocks[0].kind == "graph" and alone and \
                        _identifier(f"{top}_{keys[0]}"):  # one node's channels in a graph: named by the node
                    name = f"{top}_{keys[0]}"
            name = _unique(name, [n for n, _ in named])
            self.family[name] = family
            named.append((name, merged))
            for where in members:
                self.columns[where] = Param(name)
        return named

    def _flags(self, trees: list[dict[str, Node]], params: list[tuple[str, list]]) -> list[tuple[str, list]]:
        """A flag for each module absent from some blocks whose parent module they have; or,
        where one of the module's own parameters is None exactly where it is absent (a drop
        path's rate), the test of that parameter."""
        flags = []
        taken = [n for n, _ in params]
        for path in self.paths:
            parent = path.rpartition(".")[0]
            present = [path in t for t in trees]
            if not any(not here and (not parent or parent in t) for here, t in zip(present, trees)):
                continue
            own = {v.name for (where, _), v in self.columns.items() if isinstance(v, Param)
                   and (where == path or where.startswith(path + "."))}
            elsewhere = {v.name for (where, _), v in self.columns.items() if isinstance(v, Param)
                         and not (where == path or where.startswith(path + "."))}
            tested = [n for n, values in params if n in own - elsewhere
                      and [v is not None for v in values] == present]
            if tested:
                self.flags[path] = Param(f"{tested[0]} is not None")
                continue
            same = next((n for n, values in flags if values == present), None)
            if same:  # modules present together (an expansion's conv, norm and act): one flag
                self.flags[path] = Param(same)
                continue
            top = path.split(".")[0]
            name = top if top == path else f"{top}_{self.kinds[path]}"
            name = _unique(name if _identifier(name) and name not in _RESERVED else "has_module",
                           taken + [n for n, _ in flags])
            self.flags[path] = Param(name)
            self.family[name] = "flag"
            flags.append((name, present))
        return flags


class _Writer:
    def __init__(self, p: Plan):
        self.plan = p
        self.helpers: list[str] = []  # the helper classes used, in order of first use
        self.ordered_dict = False

    # -- finding the blocks and their classes ----------------------------------

    def stage_indices(self) -> list[int]:
        """The root's children that are stages: sequentials of blocks, perhaps after modules
        that are not blocks (ConvNeXt's downsampling between stages)."""
        return [i for i, c in enumerate(self.plan.root.children)
                if c.kind == "sequential" and any(b.kind in BLOCK_CONTAINERS for b in c.children)]

    def templates(self) -> dict[int, BlockTemplate]:
        """The class of each block, by id(block node): the blocks of the stages, a block written
        as the head, and the blocks inside these (a graph's nested blocks), each kind's classes
        made after those of the blocks inside it."""
        found: dict[str, list[tuple[Node, int]]] = {}
        inside: dict[str, set[str]] = {}  # the kinds of blocks inside each kind's blocks

        def kind_of(node: Node) -> str:
            return node.label or node.kind

        def walk(node: Node, channels: int, within: list[str], top: bool = False) -> None:
            """`node`'s blocks, each with the channels it takes (as best known: they name parameters)."""
            if node.kind in BLOCK_CONTAINERS and not top:
                kind = kind_of(node)
                found.setdefault(kind, []).append((node, channels))
                for outer in within:
                    inside.setdefault(outer, set()).add(kind)
                within = [*within, kind]
            if node.kind == "graph":
                a = node.args
                shapes = {n: channels for n in a["inputs"][:1]}
                for child in node.children:
                    shapes[child.name] = child.shape[0]
                refs = dict(a["wiring"])
                for child in node.children:
                    first = (refs.get(child.name) or [""])[0].partition(".")[0]
                    walk(child, shapes.get(first, channels), within)
            else:  # sequential, residual, features: the children in a chain
                for child in node.children:
                    walk(child, channels, within)
                    channels = child.shape[0] if child.shape else channels

        root = self.plan.root
        channels = self.plan.input_shape[0]
        if root.kind == "graph":  # a `block` head: the network is a graph of its modules
            walk(root, channels, [], top=True)
        else:
            for child in root.children:
                walk(child, channels, [])
                channels = child.shape[0]

        def height(kind: str, seen: tuple = ()) -> int:
            kids = [k for k in inside.get(kind, ()) if k not in seen and k != kind]
            return 1 + max((height(k, (*seen, kind)) for k in kids), default=0)

        out: dict[int, BlockTemplate] = {}
        taken = {camel(self.plan.spec.name)}
        for kind in sorted(found, key=height):  # the blocks inside first; else in order of first use
            blocks = found[kind]
            name = _unique(camel(kind) + ("" if kind.endswith("block") else "Block"), list(taken))
            taken.add(name)
            try:
                templates = [BlockTemplate(name, [b for b, _ in blocks], [c for _, c in blocks], out)]
            except _Merge:  # one class per module tree (and wiring), else per distinct module tree and arguments
                templates = []
                for group in _grouped(blocks, _layout).values():
                    try:
                        templates.append(BlockTemplate(name, [b for b, _ in group], [c for _, c in group], out))
                    except _Merge:
                        templates += [BlockTemplate(name, [b for b, _ in same], [c for _, c in same], out)
                                      for same in _grouped(group, _tree).values()]
                for n, template in enumerate(templates, 1):
                    template.name = f"{name}{n}"
                    taken.add(template.name)
            for template in templates:
                out.update({id(b): template for b in template.blocks})
        return out

    # -- writing ------------------------------------------------------------------

    def call(self, kind: str, args: dict) -> str:
        """`Class(positional, key=value)` for a primitive; args are literals or Params."""
        prim = _code(kind, "")
        for helper in prim.helpers:
            if helper not in self.helpers:
                self.helpers.append(helper)
        parts = [_literal(args[k]) for k in prim.positional]
        for key, value in args.items():
            default = prim.defaults.get(key, _MISSING)
            if key in prim.positional or (default is not _MISSING and not isinstance(value, Param)
                                          and _typed(default) == _typed(value)):
                continue
            parts.append(f"{key}={_literal(value)}")
        return f"{prim.cls}({', '.join(parts)})"

    def expression(self, template: BlockTemplate, path: str, indent: str) -> str:
        """The constructor of module `path` of a template: a primitive, or a sequential of them."""
        kind = template.kinds[path]
        if kind == "block":  # a block inside: its own class, its parameters by name
            inner = template.nested[path]
            args = [f"{k}={_literal(template.columns[(path, k)])}" for k in template.keys[path]]
            return _wrap(f"{inner.name}(", args, ")", indent)
        if kind != "sequential":
            return self.call(kind, {k: template.columns[(path, k)] for k in template.keys[path]})
        inner = indent + "    "
        kids = template.children(path)
        items = []
        for kid in kids:
            text = self.expression(template, kid, inner)
            flag = template.flags.get(kid)
            items.append(f"{text} if {flag} else nn.Identity()" if flag else text)  # keeps the others' indices
        return self.sequential([k.rpartition(".")[2] for k in kids], items, indent)

    def sequential(self, names: list[str], items: list[str], indent: str) -> str:
        """`nn.Sequential(...)` of some constructor expressions: by position where the names are
        0, 1, 2…, else through an OrderedDict that keeps the names."""
        inner = indent + "    "
        if names == [str(i) for i in range(len(names))]:
            return "nn.Sequential(\n" + "".join(f"{inner}{item},\n" for item in items) + f"{indent})"
        self.ordered_dict = True
        pairs = "".join(f"{inner}({n!r}, {item}),\n" for n, item in zip(names, items))
        return f"nn.Sequential(OrderedDict([\n{pairs}{indent}]))"

    def init_lines(self, template: BlockTemplate) -> list[str]:
        lines = []
        for path in template.children(""):
            expr = self.expression(template, path, "        ")
            if path in template.flags:
                expr = f"{expr} if {template.flags[path]} else None"
            lines.append(f"        self.{path} = {expr}" if _identifier(path)
                         else f"        self.add_module({path!r}, {expr})")
        return lines

    def stages(self, nodes: list[Node], templates: dict[int, BlockTemplate]) -> tuple[list[str], tuple[str, str] | None, dict]:
        """The stage functions, the stage table and the loop over it (None when the stages do not
        each fit one row), and the lines of `__init__` that build stages one by one otherwise."""
        rules = _stage_rules(nodes, templates)
        contiguous = [c.name for c in self.plan.root.children if c in nodes] == [n.name for n in nodes]
        if rules is None or not contiguous or not nodes:
            return [], None, {s.name: f"        self.{s.name} = {self.unrolled(s, templates)}" for s in nodes}
        functions, rows, made = [], [], {}
        for template, first_rule, rule, by_stage, keys, indexed in rules.values():
            block = template.blocks[0]
            kind = block.label or block.kind
            name = f"{kind}_stage{template.name.removeprefix(camel(kind) + 'Block')}"
            firsts = list(by_stage.values())
            varying = [k for k in keys if k.endswith("s") and k[:-1] in template.params and k not in template.params
                       or len({_typed(f[k]) for f in firsts}) > 1]

            def fill(expr):  # a Param that every row sets alike becomes its value
                if not isinstance(expr, Param) or "[" in expr.name or expr.name in varying:
                    return expr
                return firsts[0][expr.name]

            first = {k: fill(v) for k, v in first_rule.items()}
            rest = {k: fill(v) for k, v in rule.items()}
            args = ["depth: int"] + [f"{k}: {_annotation([f[k] for f in firsts])}" for k in varying]
            functions.append(
                _wrap(f"def {name}(", args, ") -> nn.Sequential:", "") + "\n"
                f'    """`depth` {kind} blocks: the first one changes the shape, the others keep it."""\n'
                f"    blocks = [{_block_call(template, first, '    ')}]\n"
                f"    for {'i in range(1, depth)' if indexed else '_ in range(depth - 1)'}:\n"
                f"        blocks.append({_block_call(template, rest, '        ')})\n"
                f"    return nn.Sequential(*blocks)\n")
            made[id(template)] = (name, varying, by_stage)
        several = len(made) > 1
        numbered = [n.name for n in nodes] == [stage_name(i) for i in range(len(nodes))]
        for stage in nodes:
            template = templates[id(stage.children[0])]
            name, varying, by_stage = made[id(template)]
            first = by_stage[id(stage)]
            cells = ([] if numbered else [repr(stage.name)]) + ([name] if several else []) + \
                [str(len(stage.children))] + [_literal(first[k]) for k in varying]
            rows.append(f"    ({', '.join(cells)}{',' if len(cells) == 1 else ''}),")  # (2,): a tuple of one
        columns = ([] if numbered else ["name"]) + (["the function that builds it", "depth", "its arguments"] if several
                                                    else ["depth", *made[id(templates[id(nodes[0].children[0])])][1]])
        table = f"# One row per stage: {', '.join(columns)}\nSTAGES = [\n" + "\n".join(rows) + "\n]\n"
        target = "i" if numbered else "name"
        unpack = f"{target}, " + ("(make_stage, *row)" if several else "row") if numbered else \
            ("name, make_stage, *row" if several else "name, *row")
        module = 'f"layer{i}"' if numbered else "name"  # numbered: the names are stage_name's
        builder = "make_stage" if several else next(iter(made.values()))[0]
        loop = (f"        for {unpack} in {'enumerate(STAGES, 1)' if numbered else 'STAGES'}:\n"
                f"            self.add_module({module}, {builder}(*row))")
        return functions, (table, loop), {}

    def unrolled(self, stage: Node, templates: dict[int, BlockTemplate]) -> str:
        """A stage written block by block, for stages that do not fit a row of the table."""
        items, indent = [], " " * 12
        for child in stage.children:
            if child.kind in BLOCK_CONTAINERS:
                template = templates[id(child)]
                values = template.values[template.index[id(child)]]
                items.append(_wrap(f"{template.name}(", [f"{k}={_literal(v)}" for k, v in values.items()], ")", indent))
            else:  # a module between stages: its arguments as they are
                alone = BlockTemplate("", [Node("", "sequential", child.shape, children=[child])], [0], templates)
                items.append(self.expression(alone, child.name, indent))
        return self.sequential([c.name for c in stage.children], items, " " * 8)

    def block_class(self, template: BlockTemplate) -> str:
        block = template.blocks[0]
        annotations = [f"{n}: {_annotation([v[n] for v in template.values])}" for n in template.params]
        label = block.label if _identifier(block.label) else ""  # a name from `blocks:`, checked as such
        what = f"The {label or block.kind} block" + (" (one template of it)" if template.name[-1].isdigit() else "")
        lines = [f"class {template.name}(nn.Module):", f'    """{what}."""', "",
                 _wrap("    def __init__(", ["self", *annotations], "):", "    "), "        super().__init__()",
                 *self.init_lines(template), *([f"        self.{template.add} = {template.add}"] if template.add is not True
                                             and template.add else []), "",
                 *(_graph_forward(block) if block.kind == "graph" else
                   ["    def forward(self, x: torch.Tensor) -> torch.Tensor:", *_residual_forward(template)])]
        return "\n".join(lines) + "\n"

    def source(self) -> str:
        p, root = self.plan, self.plan.root
        stages = self.stage_indices()
        templates = self.templates()
        classes = list({id(template): template for template in templates.values()}.values())
        network = BlockTemplate(camel(p.spec.name), [_without(root, stages)], [p.input_shape[0]], templates)
        stage_functions, table, built = self.stages([root.children[i] for i in stages], templates)
        blocks = [self.block_class(template) for template in classes]
        init = dict(zip([c.name for c in network.blocks[0].children], self.init_lines(network)))
        init.update(built)
        lines = [init[c.name] for c in root.children if c.name in init]
        if table:  # one loop builds the stages, where the first one was
            lines.insert(stages[0], table[1])
        forward, returns = _network_forward(root)
        imports = ["import torch", "from torch import nn"]
        helpers = [_definitions()[name] for name in self.helpers]
        if any("F." in text for text in helpers):
            imports.insert(1, "import torch.nn.functional as F")
        if self.ordered_dict:
            imports.insert(0, "from collections import OrderedDict\n")
        # Text from the spec enters only as string literals (repr), never inside the docstring.
        header = (f'"""Written by `archspec eject` from the spec named in SPEC_NAME; needs only PyTorch.\n'
                  f"For an input of {dims(p.input_shape)}: {count(p.params)} parameters, "
                  f'{count(p.macs)} multiply-adds.\n"""\n')
        about = f"SPEC_NAME = {p.spec.name!r}\nSPEC_DESCRIPTION = {p.spec.description!r}\n"
        parts = [header + "\n" + "\n".join(imports) + "\n\n" + about, *helpers, *blocks, *stage_functions]
        if table:
            parts.append(table[0])
        parts.append(f"class {network.name}(nn.Module):\n"
                     "    def __init__(self):\n        super().__init__()\n" + "\n".join(lines) + "\n\n"
                     f"    def forward(self, x: torch.Tensor) -> {returns}:\n" + "\n".join(forward) + "\n")
        parts.append(f"def build() -> nn.Module:\n"
                     f'    """The network with PyTorch\'s default initialisation; load trained weights with '
                     f'load_state_dict."""\n    return {network.name}()\n')
        return "\n\n".join(part.strip("\n") + "\n" for part in parts)


def _identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _attribute(name: str) -> str:
    """`self.name`, or `getattr(self, "0")` for a name that is not an identifier."""
    return f"self.{name}" if _identifier(name) else f"getattr(self, {name!r})"


def _without(root: Node, stages: list[int]) -> Node:
    """The root with its stages left out: the network's own modules."""
    return Node(root.name, root.kind, root.shape,
                children=[c for i, c in enumerate(root.children) if i not in stages])


def _stage_rules(nodes: list[Node], templates: dict[int, BlockTemplate]) -> dict | None:
    """For each class: how a stage's blocks follow from its row of the table, and each stage's
    row. The first block takes the row's values; a later block takes the first's value, another
    of the first's values (`in_channels=out_channels`), a literal, or a `<param>_rest` column; a
    value that differs from block to block (a drop-path rate) is a `<param>s` column of one
    value per block. None when a stage does not fit (several classes, modules between stages)."""
    by_class: dict[int, tuple[BlockTemplate, list]] = {}
    for stage in nodes:
        if any(b.kind not in BLOCK_CONTAINERS for b in stage.children):
            return None  # modules between stages: written out stage by stage
        template = templates[id(stage.children[0])]
        if any(templates[id(b)] is not template for b in stage.children):
            return None
        values = [template.values[template.index[id(b)]] for b in stage.children]
        by_class.setdefault(id(template), (template, []))[1].append((stage, values))
    rules = {}
    for key, (template, found) in by_class.items():
        per_block = [k for k in template.params
                     if any(len({_typed(v[k]) for v in values[1:]}) > 1 for _, values in found)]
        pairs = [(values[0], values[1]) for _, values in found if len(values) > 1]
        first: dict[str, object] = {k: Param(f"{k}s[0]" if k in per_block else k) for k in template.params}
        rule: dict[str, object] = {}
        for k in template.params:
            same = [k2 for k2 in [k] + template.params if template.family[k2] == template.family[k]
                    and k2 not in per_block and all(_typed(r[k]) == _typed(f[k2]) for f, r in pairs)]
            constants = {_typed(r[k]) for _, r in pairs}
            if k in per_block:
                rule[k] = Param(f"{k}s[i]")
            elif same and (same[0] == k or template.family[k] == "channels" or len(constants) > 1):
                rule[k] = Param(same[0])  # channels follow the first block's; other settings are literals
            elif len(constants) == 1:
                rule[k] = pairs[0][1][k]
            else:
                rule[k] = Param(f"{k}_rest")
        extra = [k for k, v in rule.items() if isinstance(v, Param) and v.name == f"{k}_rest"]
        rows = {id(stage): {**values[0], **{f"{k}_rest": values[1:2][0][k] if len(values) > 1 else values[0][k]
                                            for k in extra},
                            **{f"{k}s": tuple(v[k] for v in values) for k in per_block}}
                for stage, values in found}
        keys = [k for k in template.params if k not in per_block] + [f"{k}_rest" for k in extra] + \
            [f"{k}s" for k in per_block]
        rules[key] = (template, first, rule, rows, keys, bool(per_block))
    return rules


def _block_call(template: BlockTemplate, args: dict, indent: str) -> str:
    """`Block(a, b, key=value)`: parameters by position, from the first literal on by name."""
    parts, by_name = [], False
    for k in template.params:
        value = args[k]
        by_name = by_name or not isinstance(value, Param)
        parts.append(f"{k}={_literal(value)}" if by_name else _literal(value))
    return _wrap(f"{template.name}(", parts, ")", indent)


def _wrap(start: str, items: list[str], end: str, indent: str, width: int = 100) -> str:
    """`start` + items + `end` on one line, or one item a line when that is wider than `width`."""
    line = start + ", ".join(items) + end
    if len(indent) + len(line.lstrip()) <= width:
        return line
    return start + "\n" + "".join(f"{indent}    {item},\n" for item in items) + indent + end


def _network_forward(root: Node) -> tuple[list[str], str]:
    """The network's forward: its modules in order, returning the last output, or with a
    `features` head the maps of the modules it names, in its order."""
    if root.kind == "graph":  # a `block` head: the modules' maps by name, as in a graph block
        forward = _graph_forward(root)
        return forward[1:], forward[0].rpartition("-> ")[2].rstrip(":")
    lines = [f"        x = {_attribute(c.name)}(x)" for c in root.children]
    if root.kind != "features":
        lines[-1:] = [lines[-1].replace("x = ", "return ", 1)] if lines else ["        return x"]
        return lines, "torch.Tensor"
    outputs = root.args["outputs"]
    out: list[str] = ["        features = {}"]
    for child, line in zip(root.children, lines):
        out.append(line)
        if child.name in outputs:
            out.append(f"        features[{child.name!r}] = x")
    return out + [f"        return [{', '.join(f'features[{n!r}]' for n in outputs)}]"], "list[torch.Tensor]"


def _residual_forward(template: BlockTemplate) -> list[str]:
    """The forward of a residual block, as compile.Residual runs it: post(main(pre(x)) + shortcut)."""
    lines: list[str] = []
    current = "x"

    def run(name: str) -> None:
        nonlocal current
        flag = name in template.flags
        if flag and current == "x":
            lines.append("        out = x")
            current = "out"
        call = f"self.{name}({current})"
        if flag:
            lines.extend([f"        if self.{name} is not None:", f"            out = {call}"])
        else:
            lines.append(f"        out = {call}")
        current = "out"

    shortcut = next((b.args["shortcut"] for b in template.blocks if b.args.get("shortcut")), None)
    optional = shortcut in template.flags
    for name in template.lists["pre"]:
        run(name)
    add = template.add
    if add and shortcut and template.lists["pre"]:  # a shortcut module takes the pre-activated input
        module = f"self.{shortcut}({current})"
        lines.append(f"        shortcut = x if self.{shortcut} is None else {module}" if optional
                     else f"        shortcut = {module}")
        added = "shortcut"
    elif add and shortcut:
        added = f"(x if self.{shortcut} is None else self.{shortcut}(x))" if optional else f"self.{shortcut}(x)"
    else:
        added = "x"
    for name in template.lists["main"]:
        run(name)
    if add is True:
        lines.append(f"        out = {current} + {added}")
        current = "out"
    elif add:
        lines += [f"        if self.{add}:", f"            {current} = {current} + {added}"]
    for name in template.lists["post"]:
        run(name)
    lines.append(f"        return {current}")
    return lines


def _graph_forward(block: Node) -> list[str]:
    """The forward of a graph block, as compile.Graph runs it: one line per module, each output a
    variable of the module's name."""
    a = block.args
    taken = ["self", "torch", "nn", "F", "OrderedDict", *a["inputs"]]
    variables = dict(zip(a["inputs"], a["inputs"]))
    for name, _ in a["wiring"]:
        variables[name] = _unique(name if _identifier(name) and name not in taken else f"out_{name}", taken)
        taken.append(variables[name])

    def value(ref: str) -> str:
        name, _, k = ref.partition(".")
        return f"{variables[name]}[{k}]" if k else variables[name]

    several = len(a["outputs"]) > 1
    returns = f"tuple[{', '.join(['torch.Tensor'] * len(a['outputs']))}]" if several else "torch.Tensor"
    inputs = [f"{n}: torch.Tensor" for n in a["inputs"]]
    lines = [_wrap("    def forward(", ["self", *inputs], f") -> {returns}:", "    ")]
    for name, refs in a["wiring"]:
        lines.append(f"        {variables[name]} = {_attribute(name)}({', '.join(value(r) for r in refs)})")
    last = block.children[-1] if block.children else None
    if last is not None and a["wiring"] and a["wiring"][-1][0] == last.name and a["outputs"] in (
            [last.name], [f"{last.name}.{k}" for k in range(len(last.args.get("outputs", [])))] or None):
        lines[-1] = lines[-1].replace(f"{variables[last.name]} = ", "return ", 1)  # returns what the last returns
    else:
        lines.append(f"        return {', '.join(value(r) for r in a['outputs'])}")
    return lines


def _annotation(values: list) -> str:
    """'int', or 'float | None' for a setting of a module that some blocks lack."""
    if values and all(isinstance(v, tuple) for v in values):  # one value per block
        return f"tuple[{_annotation([x for v in values for x in v])}, ...]"
    names = list(dict.fromkeys(type(v).__name__ for v in values if v is not None))
    return " | ".join(names + ["None"] * (None in values))


def _literal(value) -> str:
    """Python source for a value: floats to 12 digits (0.02, not 0.020000000000000004)."""
    if isinstance(value, float):
        return repr(float(f"{value:.12g}"))
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_literal, value)) + ("," if len(value) == 1 else "") + ")"
    return repr(value)
