"""Activation memory of a training step, from the plan alone (no torch).

What is counted: the bytes of every tensor that autograd saves for backward during
one forward pass in training mode, parameters and buffers excluded (they are the
weights), each storage once. That includes the input batch (the first conv keeps
it). `dtype` is the dtype of the whole model and its input (`model.to(dtype)`, as
pure bfloat16 or float16 training does), not autocast, which would also keep
low-precision copies of the weights and run some ops in float32.

Each primitive says what it keeps, as PyTorch's autograd formulas do (see
`derivatives.yaml`); the walk follows storages through the network, so a tensor
that two layers keep (a ReLU's output, in place on a norm's output, which the next
conv keeps as its input) is counted once, at the first layer that keeps it.
`tests/test_memory.py` proves every figure equal to a `saved_tensors_hooks`
measurement on CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

from .layers import Node, Shape

ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2}
INDEX_BYTES = 8  # max pools keep the int64 position of each maximum


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

    def run(self, node: Node, x: _Storage, name: str) -> _Storage:
        """The storage of the output of `node` (qualified name `name`), given that of its input."""
        if node.kind in ("sequential", "features"):  # children in order (a features head returns some maps too)
            for child in node.children:
                x = self.run(child, x, _join(name, child.name))
            return x
        if node.kind == "residual":
            return self.residual(node, x, name)
        self.layer = name
        self.bytes.setdefault(name, 0)
        return PRIMITIVES[node.kind](self, node, x)

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


# What each primitive keeps, and the storage of its output.

def _keeps_input(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """conv, linear, avgpool, gelu, layer scale: the input (for the weight's gradient, or the
    local derivative)."""
    w.keep(x)
    return w.new(node.shape)


def _batchnorm(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """The input, and the batch's mean and inverse std per channel (in the model's dtype)."""
    c = node.shape[0]
    w.keep(x, w.new((c,), per_sample=False), w.new((c,), per_sample=False))
    return w.new(node.shape)


def _groupnorm(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """The input, and the mean and inverse std of each sample's groups."""
    groups = node.args["num_groups"]
    w.keep(x, w.new((groups,)), w.new((groups,)))
    return w.new(node.shape)


def _keeps_output(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """ReLU, sigmoid: the output; LeakyReLU keeps it in place (where it is the input's storage),
    and its input out of place."""
    if node.args.get("inplace"):
        w.keep(x)
        return x
    out = w.new(node.shape)
    w.keep(out if node.kind in ("relu", "sigmoid") else x)
    return out


def _keeps_original_input(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """SiLU, Hardswish, Hardsigmoid, ReLU6: the derivative needs the input, so in place autograd
    keeps a copy of it."""
    if node.args.get("inplace"):
        w.keep(w.new(node.shape))
        return x
    w.keep(x)
    return w.new(node.shape)


def _maxpool(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """The input and the int64 index of each maximum."""
    w.keep(x, w.new(node.shape, INDEX_BYTES))
    return w.new(node.shape)


def _keeps_nothing(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """Global average pool (a mean), zero-pad shortcut (slice, pad): the gradient needs only sizes."""
    return w.new(node.shape)


def _view(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """flatten, permute: a view of its input."""
    return x


def _mask(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """Dropout on CPU: the scaled mask, in the model's dtype (CUDA's fused kernel keeps a 1-byte mask)."""
    w.keep(w.new(node.shape))
    return w.new(node.shape)


def _drop_path(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """One keep-or-drop value per sample."""
    w.keep(w.new((1,)))
    return w.new(node.shape)


def _layernorm(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """The input, and the mean and inverse std of each normalised vector (of each pixel, for a map)."""
    vectors = node.shape[1:] if node.kind == "layernorm2d" else node.shape[:-1]
    w.keep(x, w.new(vectors), w.new(vectors))
    return w.new(node.shape)


def _squeeze_excite(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """Its layers in turn on 1×1 maps: the pooled input (a mean: free) into fc1, the act (in
    place), fc2, the gate; then the product keeps both its factors, the input and the gate."""
    c, reduced = node.args["channels"], node.args["reduced"]
    act, gate = node.args.get("act", "relu"), node.args.get("gate", "sigmoid")
    hidden = _keeps_input(w, Node("fc1", "conv", (reduced, 1, 1)), w.new((c, 1, 1)))
    hidden = PRIMITIVES[act](w, Node("act", act, (reduced, 1, 1), args={"inplace": True}), hidden)
    scale = _keeps_input(w, Node("fc2", "conv", (c, 1, 1)), hidden)
    w.keep(x, PRIMITIVES[gate](w, Node("gate", gate, (c, 1, 1)), scale))
    return w.new(node.shape)


def _channel_attention(w: _Walk, node: Node, x: _Storage) -> _Storage:
    """ECA: the pooled input (the 1-D conv's input), the sigmoid gate, and the input (the product)."""
    c = node.shape[0]
    w.keep(w.new((c,)), w.new((c,)), x)
    return w.new(node.shape)


PRIMITIVES: dict[str, Callable[[_Walk, Node, _Storage], _Storage]] = {
    "conv": _keeps_input,
    "linear": _keeps_input,
    "avgpool": _keeps_input,
    "gelu": _keeps_input,
    "batchnorm": _batchnorm,
    "groupnorm": _groupnorm,
    "relu": _keeps_output,
    "leaky_relu": _keeps_output,
    "sigmoid": _keeps_output,
    "silu": _keeps_original_input,
    "hardswish": _keeps_original_input,
    "hardsigmoid": _keeps_original_input,
    "relu6": _keeps_original_input,  # hardtanh's derivative reads its input
    "layernorm": _layernorm,
    "layernorm2d": _layernorm,
    "layer_scale": _keeps_input,
    "permute": _view,
    "eca": _channel_attention,
    "maxpool": _maxpool,
    "global_maxpool": _maxpool,
    "global_avgpool": _keeps_nothing,
    "zeropad": _keeps_nothing,
    "flatten": _view,
    "dropout": _mask,
    "drop_path": _drop_path,
    "se": _squeeze_excite,
}


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
