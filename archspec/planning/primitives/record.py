"""What a primitive is, declared once: the `Primitive` record.

Every tool asks the record, never a kind's name: the planner its shape rule,
parameters and MACs; `tensors.py` its `state_dict`; `memory.py` what it saves for
backward; `compile.py` its torch module and, by its role, how a scheme initialises
it; `fuse.py` whether a BatchNorm folds into it; `eject` the source that builds it; the reader of
blocks written in a spec (reading/blockdefs.py) what a node naming it may write (`written`).
No torch here: the module is made by a method that imports torch when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..nodes import Node, Shape, ShapeError, got_past

# What a primitive does in a network. Blocks and tools ask this, never the kind's name:
# a residual block zeroes its last `conv` or `norm`; a scheme initialises `conv`, `norm` and
# `linear` modules; a summary may group by it.
Role = Literal["conv", "norm", "act", "pool", "linear", "attention", "scale", "reshape", "regularizer", "shortcut",
               "merge", "resample"]
ROLES: tuple[str, ...] = Role.__args__
INDEX_BYTES = 8  # a max pool saves the int64 position of each maximum


@dataclass(frozen=True)
class Tensor:
    """One entry of a module's `state_dict`."""

    shape: Shape
    parameter: bool  # False for buffers (a norm's running statistics)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class Code:
    """How the module is written in source, and so built: `cls(positional..., key=value...)`, keywords
    at their default left out; `fixed` arguments are added to the node's. `cls` is `nn.<Name>` or a
    class of archspec/building/modules.py, whose text `eject` copies (with the definitions in `needs`
    before it)."""

    cls: str
    positional: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)
    needs: tuple[str, ...] = ()

    @property
    def helpers(self) -> tuple[str, ...]:
        """The definitions of building/modules.py that the ejected source needs, in order."""
        return () if self.cls.startswith("nn.") else (*self.needs, self.cls)


@dataclass(frozen=True)
class Arg:
    """An argument a node of a spec's block may write: "int", "float", "bool" (a value or an
    expression), or a tuple of the words it may be; `default` None and `required` False: the
    primitive's own."""

    type: str | tuple[str, ...]
    default: Any = None
    required: bool = False


@dataclass(frozen=True)
class Op:
    """What a node of a spec's block that names a primitive may write: its arguments, how many
    inputs it takes, and the argument that says how many outputs it gives (split)."""

    summary: str
    args: dict[str, Arg]
    inputs: tuple[int, int] = (1, 1)  # least and most
    outputs: str | None = None


MANY = (1, 10**9)  # inputs of a merge: bounded by limits.MAX_NODE_INPUTS


def no_tensors(args: dict) -> list[tuple[str, Tensor]]:
    return []


Cost = tuple[Shape, int, int]  # output shape, parameters, multiply-adds


def free(x: Shape, args: dict) -> Cost:
    """The rule of a primitive that keeps its input's shape and has no parameters or MACs."""
    return x, 0, 0


@dataclass(frozen=True)
class Primitive:
    """One primitive, declared once. Its rule gives the output shape, parameters and MACs (the
    reference counting: Conv2d and Linear layers only) from the input shape and the node's
    arguments, and raises a `ShapeError` where the layer cannot apply; `check`, where there is
    one, returns the error of a layer that applies but wrongly (channels that groups do not
    divide), so that planning goes on and reports every such mistake in one run."""

    kind: str  # the node kind
    role: Role
    summary: str  # one line: what it is
    code: Code
    saves: Callable[[Any, Node, Any], Any]  # (memory walk, node, input storage) → output storage
    rule: Callable[[Shape, dict], Cost] = free  # (input shape, args) → (output shape, params, MACs)
    tensors: Callable[[dict], list[tuple[str, Tensor]]] = no_tensors  # its state_dict, in order
    check: Callable[[Shape, dict], ShapeError | None] | None = None
    absorbs_norm: bool = False  # a BatchNorm right after it folds into it (w·γ/σ, a bias)
    folds: bool = False  # in eval it is a per-channel affine map that folds into the conv before it
    init_parts: tuple[tuple[str, Role], ...] = ()  # submodules an init scheme treats by their role
    # Several inputs (concat, add, upsample to another map's size): the rule and `saves` get lists of
    # shapes and storages, the module is called with them all, and `node` takes a list.
    merges: bool = False
    # Several outputs (split): `args[outputs]` of them, each of the node's shape, read as `name.0`, `name.1` ...
    outputs: str | None = None
    # What a node of a block written in a spec may write to name it (`op: kind`); None: no spec
    # names it. Planned from the spec's arguments as written (`node`), unless graph.py translates them.
    written: Op | None = None

    def node(self, name: str, x: Shape | list[Shape], args: dict) -> Node:
        """The plan node of this primitive named `name` on input `x` (a list of inputs where it merges)."""
        try:
            shape, params, macs = self.rule(x, args)
        except ShapeError as e:
            e.layer = e.layer or name
            raise
        node = Node(name, self.kind, shape, params, macs, args)
        problem = self.check(x, args) if self.check is not None else None
        if problem is not None:
            problem.layer = problem.layer or name
            return got_past(problem, node)
        return node

    def build(self, node: Node) -> Any:
        """The torch module of `node` (imports torch)."""
        from torch import nn

        if self.code.cls.startswith("nn."):
            cls = getattr(nn, self.code.cls[3:])
        else:
            from ...building import modules

            cls = getattr(modules, self.code.cls)
        return cls(**node.args, **self.code.fixed)


# What a primitive saves for backward (PyTorch's autograd formulas, `derivatives.yaml`); `w` is
# memory.py's walk: `w.keep(storage, ...)` counts storages once, `w.new(shape)` makes one.

def keeps_input(w, node: Node, x):
    """conv, linear, avgpool, gelu, layer scale: the input (for the weight's gradient, or the local
    derivative)."""
    w.keep(x)
    return w.new(node.shape)


def keeps_nothing(w, node: Node, x):
    """The gradient needs only sizes (a mean, a slice, a pad)."""
    return w.new(node.shape)


def view(w, node: Node, x):
    """A view of its input (identity, split, flatten): in place on its output would change its input."""
    return x
