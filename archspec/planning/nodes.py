"""Plan nodes: what every primitive record and block layout returns. No torch here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

Shape = tuple[int, ...]  # (C, H, W) for feature maps, (F,) after flatten

# The kinds of node that hold other nodes; every other kind is a primitive (primitives/).
CONTAINERS = ("sequential", "residual", "features", "graph")


@dataclass
class Node:
    """One module of the network to be: a primitive layer or a container of nodes."""

    name: str  # the module's attribute name in its parent
    kind: str  # a primitive's kind ("conv", "batchnorm", ...) or a container's ("sequential", "residual", ...)
    shape: Shape  # output shape, without the batch dimension
    params: int = 0
    macs: int = 0
    args: dict = field(default_factory=dict)  # a primitive's constructor arguments; a container's wiring
    children: list[Node] = field(default_factory=list)
    label: str = ""  # what the summary calls it, when not `kind` (e.g. "bottleneck")


class ShapeError(Exception):
    """A layer cannot be applied to its input; the planner adds where in the spec.

    `layer` names the failing primitive within what is being planned (e.g. "conv2"),
    when one does. `shape` is the output the network would have had, when planning can
    go on past this mistake to find the next one. `key` names the block setting at
    fault (e.g. "groups"), so that the error can point at it.
    """

    def __init__(self, message: str, hint: str = "", code: str = "AS301", shape: Shape | None = None,
                 key: str | None = None, layer: str = ""):
        super().__init__(message)
        self.message, self.hint, self.code, self.shape, self.key, self.layer = message, hint, code, shape, key, layer
        self.node: Node | None = None  # the layer as planned anyway, for an error that planning got past
        self.at: tuple = ()  # the key under a stem or head that holds the layer at fault (its `conv`)


_found: ContextVar[list[ShapeError] | None] = ContextVar("found", default=None)


@contextmanager
def collecting() -> Iterator[list[ShapeError]]:
    """Collect, instead of raising, the errors after which a layer's output is still known
    (channels that do not divide): the planner goes on and reports every one in one run."""
    found: list[ShapeError] = []
    token = _found.set(found)
    try:
        yield found
    finally:
        _found.reset(token)


def got_past(error: ShapeError, node: Node) -> Node:
    """`node` as if it were valid, with `error` collected; raised when nothing collects."""
    found = _found.get()
    if found is None:
        raise error
    error.node = node
    found.append(error)
    return node


def container(name: str, kind: str, children: list[Node | None], **args) -> Node:
    kids = [c for c in children if c is not None]
    label = args.pop("label", "")
    return Node(name, kind, kids[-1].shape, sum(c.params for c in kids), sum(c.macs for c in kids), args, kids, label)


def sequential(name: str, children: list[Node | None], label: str = "") -> Node:
    return container(name, "sequential", children, label=label)


def graph(name: str, children: list[Node], inputs: list[str], wiring: list[tuple[str, list[str]]],
          outputs: list[str], shapes: list[Shape], label: str = "") -> Node:
    """A block of any acyclic graph: each child (in an order where it follows its inputs) takes the
    maps that `wiring` names: an input's name, a child's, or `child.k`, the k-th output of one that
    gives several (a split). It gives the maps `outputs` names, of `shapes`."""
    return Node(name, "graph", shapes[0], sum(c.params for c in children), sum(c.macs for c in children),
                dict(inputs=list(inputs), wiring=[(n, list(refs)) for n, refs in wiring], outputs=list(outputs),
                     shapes=list(shapes)), children, label)


def pick(values: dict, ref: str):
    """The value of `ref` ("name" or "name.k", the k-th output of a node that gives several) in a
    graph's values by name: what compile, memory and eject share."""
    name, _, k = ref.partition(".")
    return values[name][int(k)] if k else values[name]
