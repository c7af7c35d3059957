"""Activation memory of a training step, from the plan alone (no torch).

What is counted: the bytes of every tensor that autograd saves for backward during
one forward pass in training mode, parameters and buffers excluded (they are the
weights), each storage once. That includes the input batch (the first conv keeps
it). `dtype` is the dtype of the whole model and its input (`model.to(dtype)`, as
pure bfloat16 or float16 training does), not autocast, which would also keep
low-precision copies of the weights and run some ops in float32.

Each primitive's record says what it keeps (`saves`), as PyTorch's autograd
formulas do (see `derivatives.yaml`); the walk follows storages through the network, so a tensor
that two layers keep (a ReLU's output, in place on a norm's output, which the next
conv keeps as its input) is counted once, at the first layer that keeps it.
`tests/test_memory.py` proves every figure equal to a `saved_tensors_hooks`
measurement on CPU.
"""

from __future__ import annotations

from itertools import count

from .nodes import Node, Shape, pick
from .primitives import PRIMITIVES

ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2}


class _Storage:
    """One allocation; layers that keep it share it."""

    __slots__ = ("key", "nbytes")

    def __init__(self, key: int, nbytes: int):
        self.key, self.nbytes = key, nbytes


class _Walk:
    """Runs the plan's forward order, recording which layer first keeps each storage."""

    def __init__(self, batch: int, itemsize: int):
        self.batch, self.itemsize = batch, itemsize
        self.ids = count()
        self.kept: set[int] = set()
        self.bytes: dict[str, int] = {}  # qualified primitive name → bytes it keeps first
        self.layer = ""  # the primitive running now

    def new(self, shape: Shape, itemsize: int | None = None, per_sample: bool = True) -> _Storage:
        """A fresh storage of `shape` (per sample unless `per_sample` is false)."""
        n = self.batch if per_sample else 1
        for d in shape:
            n *= d
        return _Storage(next(self.ids), n * (itemsize or self.itemsize))

    def keep(self, *storages: _Storage) -> None:
        for s in storages:
            if s.key not in self.kept:
                self.kept.add(s.key)
                self.bytes[self.layer] = self.bytes.get(self.layer, 0) + s.nbytes

    def run(self, node: Node, x, name: str):
        """The storage of the output of `node` (qualified name `name`), given that of its input (a
        list of them for a node of several inputs; a tuple comes back from one of several outputs)."""
        if node.kind == "graph":
            return self.graph(node, x if isinstance(x, list) else [x], name)
        record = PRIMITIVES.get(node.kind)
        if record is not None and record.merges:
            x = x if isinstance(x, list) else [x]
        elif isinstance(x, list):
            x = x[0]
        if node.kind in ("sequential", "features"):  # children in order (a features head returns some maps too)
            for child in node.children:
                x = self.run(child, x, _join(name, child.name))
            return x
        if node.kind == "residual":
            return self.residual(node, x, name)
        self.layer = name
        self.bytes.setdefault(name, 0)
        out = record.saves(self, node, x)
        return (out,) * node.args[record.outputs] if record.outputs else out  # a split's outputs: views

    def graph(self, node: Node, xs: list[_Storage], name: str):
        """Each child on the maps its wiring names, in the order compile's `Graph` runs them."""
        children, a = {c.name: c for c in node.children}, node.args
        values = dict(zip(a["inputs"], xs))
        for child, refs in a["wiring"]:
            values[child] = self.run(children[child], [pick(values, r) for r in refs], _join(name, child))
        outputs = [pick(values, r) for r in a["outputs"]]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def residual(self, node: Node, x: _Storage, name: str) -> _Storage:
        """`post(main(pre(x)) + shortcut(x))`, in the order compile's `Residual` runs it."""
        children, a = {c.name: c for c in node.children}, node.args

        def run(names: list[str], out: _Storage) -> _Storage:
            for child in names:
                out = self.run(children[child], out, _join(name, child))
            return out

        branch_input = run(a["pre"], x)
        out = run(a["main"], branch_input)
        if a["shortcut"]:
            run([a["shortcut"]], branch_input)
        if a["add"]:
            out = self.new(node.shape)  # the sum is a new tensor; an add keeps nothing
        return run(a["post"], out)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def itemsize(dtype: str) -> int:
    if dtype not in ITEMSIZE:
        raise ValueError(f"dtype must be one of {', '.join(ITEMSIZE)}, not {dtype!r}")
    return ITEMSIZE[dtype]


def layer_memory(plan, batch: int = 1, dtype: str = "float32") -> dict[str, int]:
    """Bytes saved for backward by each layer of `plan.layers` (a container: its children's sum),
    counting a storage at the first layer that keeps it; the network input counts at its first user."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    walk = _Walk(batch, itemsize(dtype))
    walk.run(plan.root, walk.new(plan.input_shape), "")
    totals = dict.fromkeys((l.name for l in plan.layers), 0)
    for name, n in walk.bytes.items():
        parts = name.split(".")
        for k in range(1, len(parts) + 1):  # the layer and each container above it
            totals[".".join(parts[:k])] += n
    return totals


def activation_memory(plan, batch: int = 1, dtype: str = "float32") -> int:
    """Bytes saved for backward by one training step of `plan` on `batch` inputs of `dtype`."""
    per_layer = layer_memory(plan, batch, dtype)
    return sum(per_layer[l.name] for l in plan.layers if l.depth == 1)
