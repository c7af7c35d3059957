"""Each primitive is declared once, as a record (archspec/planning/primitives/): every record is
complete, and for each its plan equals what torch does — output shape, parameters and MACs of a
forward pass, `state_dict` keys and shapes, and the bytes autograd saves for backward."""

import shutil
import subprocess
import sys

import pytest
import torch

import archspec
from archspec.building.compile import init_weights, to_module
from archspec.commands.eject import _definitions
from archspec.planning.memory import _Walk, layer_memory
from archspec.planning.nodes import CONTAINERS, sequential
from archspec.planning.plan import Plan
from archspec.planning.primitives import PRIMITIVES, ROLES, Primitive
from archspec.planning.tensors import state_dict_of
from conftest import ROOT

# Inputs (C×H×W maps; H×W×C for the channels-last layer norm and linear) and arguments that
# exercise each primitive: strides, padding, groups, ceil mode, in place or not.
EXAMPLES = {
    "conv": [((6, 9, 11), dict(in_channels=6, out_channels=8, kernel_size=3, stride=2, padding=1, dilation=1,
                                groups=2, bias=True)),
             ((4, 9, 9), dict(in_channels=4, out_channels=4, kernel_size=3, stride=1, padding=2, dilation=2,
                              groups=4, bias=False))],
    "batchnorm": [((6, 5, 7), dict(num_features=6, eps=1e-5, momentum=0.1))],
    "groupnorm": [((6, 5, 7), dict(num_groups=3, num_channels=6, eps=1e-5))],
    "layernorm": [((5, 7, 6), dict(normalized_shape=6, eps=1e-6)), ((6,), dict(normalized_shape=6, eps=1e-6))],
    "layernorm2d": [((6, 5, 7), dict(normalized_shape=6, eps=1e-6))],
    **{act: [((4, 5, 6), dict(inplace=True)), ((4, 5, 6), {})]
       for act in ("relu", "relu6", "silu", "leaky_relu", "hardswish", "hardsigmoid")},
    "gelu": [((4, 5, 6), {})],
    "sigmoid": [((4, 5, 6), {})],
    "maxpool": [((4, 9, 10), dict(kernel_size=3, stride=2, padding=1)),
                ((4, 9, 10), dict(kernel_size=3, stride=2, padding=0, ceil_mode=True))],
    "avgpool": [((4, 9, 10), dict(kernel_size=3, stride=2, padding=1)),
                ((4, 7, 7), dict(kernel_size=2, stride=2, padding=0, ceil_mode=True, count_include_pad=False))],
    "global_avgpool": [((4, 5, 6), {})],
    "global_maxpool": [((4, 5, 6), {})],
    "adaptive_avgpool": [((4, 14, 14), {"output_size": (7, 7)}), ((4, 5, 3), {"output_size": (2, 7)})],
    "adaptive_maxpool": [((4, 14, 14), {"output_size": (7, 7)}), ((4, 5, 3), {"output_size": (2, 7)})],
    "linear": [((12,), dict(in_features=12, out_features=10)), ((5, 7, 12), dict(in_features=12, out_features=9))],
    "flatten": [((4, 3, 5), {})],
    "permute": [((4, 3, 5), dict(dims=(1, 2, 0)))],
    "se": [((8, 5, 5), dict(channels=8, reduced=2, act="relu", gate="sigmoid")),
           ((8, 5, 5), dict(channels=8, reduced=4, act="silu", gate="hardsigmoid"))],
    "eca": [((16, 5, 5), dict(kernel_size=3))],
    "dropout": [((4, 5, 6), dict(p=0.2))],
    "drop_path": [((4, 5, 6), dict(p=0.2))],
    "layer_scale": [((4, 5, 6), dict(channels=4, init=1e-6))],
    "zeropad": [((4, 9, 9), dict(stride=2, channels=4)), ((4, 8, 8), dict(stride=1, channels=2))],
    "identity": [((4, 5, 6), {})],
    "split": [((6, 5, 7), dict(chunks=2)), ((6, 5, 7), dict(chunks=3))],
    "channel_shuffle": [((6, 5, 7), dict(groups=2)), ((6, 5, 7), dict(groups=3))],
    # several inputs: a list of shapes
    "add": [([(4, 5, 6), (4, 5, 6)], {}), ([(4, 5, 6)] * 3, {}), ([(4, 5, 6)], {})],
    "mul": [([(4, 5, 6), (4, 5, 6)], {}), ([(4, 5, 6), (4, 1, 1)], {}), ([(4, 1, 1), (4, 5, 6), (4, 5, 6)], {})],
    "concat": [([(4, 5, 6), (2, 5, 6)], {}), ([(4, 5, 6)], {}), ([(1, 3, 3), (2, 3, 3), (3, 3, 3)], {})],
    "upsample": [([(4, 5, 6)], dict(scale=2, mode="nearest")), ([(4, 5, 6)], dict(scale=3, mode="bilinear")),
                 ([(4, 5, 6), (2, 10, 12)], dict(scale=None, mode="nearest")),
                 ([(4, 5, 6), (2, 9, 13)], dict(scale=None, mode="bilinear"))],
}
CASES = [(kind, x, args) for kind, examples in EXAMPLES.items() for x, args in examples]
BATCH = 2
SPEC = archspec.load("specs/cifar/resnet20.yaml")


def test_every_primitive_has_a_complete_record_and_examples():
    assert set(EXAMPLES) == set(PRIMITIVES)
    definitions = _definitions()
    for kind, record in PRIMITIVES.items():
        assert isinstance(record, Primitive) and record.kind == kind and kind not in CONTAINERS
        assert record.role in ROLES and record.summary
        assert all(callable(f) for f in (record.rule, record.tensors, record.saves))
        assert record.check is None or callable(record.check)
        assert all(role in ROLES for _, role in record.init_parts)
        cls = record.code.cls
        assert hasattr(torch.nn, cls[3:]) if cls.startswith("nn.") else cls in definitions, kind
        assert all(name in definitions for name in record.code.helpers), kind
        for _, args in EXAMPLES[kind]:  # the source names only arguments the node has
            assert set(record.code.positional) <= {*args, *record.code.fixed}, kind


def test_roles_and_folding_are_what_the_tools_rely_on():
    by_role = {role: sorted(k for k, r in PRIMITIVES.items() if r.role == role) for role in ROLES}
    assert by_role["conv"] == ["conv"] and by_role["linear"] == ["linear"]
    assert by_role["norm"] == ["batchnorm", "groupnorm", "layernorm", "layernorm2d"]
    assert [k for k, r in PRIMITIVES.items() if r.folds] == ["batchnorm"]
    assert [k for k, r in PRIMITIVES.items() if r.absorbs_norm] == ["conv"]


def _plan(kind: str, x: tuple, args: dict) -> Plan:
    node = PRIMITIVES[kind].node("layer", x, dict(args))
    return Plan(SPEC, x, sequential("", [node]))


def _macs(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Conv2d and Linear multiply-adds per sample, as the reference counts them."""
    total = []

    def hook(module, inputs, out):
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total.append(out.numel() // BATCH * module.in_channels // module.groups * k)
        elif isinstance(module, torch.nn.Linear):
            total.append(out.numel() // BATCH * module.in_features)

    for m in model.modules():
        m.register_forward_hook(hook)
    with torch.no_grad():
        model(x)
    return sum(total)


def _saved_bytes(model: torch.nn.Module, *x: torch.Tensor) -> int:
    """Bytes of the storages autograd saves in a training forward, weights left out, each once."""
    weights = {t.untyped_storage()._cdata for t in [*model.parameters(), *model.buffers()]}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage._cdata not in weights:
            seen.setdefault(storage._cdata, storage.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(*x)
    return sum(seen.values())


@pytest.mark.parametrize("kind, x, args", CASES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(CASES)])
def test_the_plan_of_each_primitive_equals_its_module(kind, x, args):
    if isinstance(x, list):
        return _check_a_merge(kind, x, args)
    p = _plan(kind, x, args)
    (node,) = p.root.children
    torch.manual_seed(0)
    model = to_module(p.root).train()
    init_weights(model, p.root)
    assert sum(t.numel() for t in model.parameters()) == node.params == p.params
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == \
        [(k, t.shape) for k, t in state_dict_of(p).items()]
    assert {k for k, v in model.named_parameters()} == {k for k, t in state_dict_of(p).items() if t.parameter}
    # the input of a layer inside a network: it needs its gradient, and is no leaf (in place ops)
    inputs = torch.randn(BATCH, *x, generator=torch.Generator().manual_seed(0), requires_grad=True) * 1.0
    assert _shapes(model(inputs)) == _shapes_of(node)
    assert _macs(model, inputs) == node.macs
    assert _saved_bytes(model, inputs) == layer_memory(p, BATCH)["layer"]


def _shapes(out) -> list[tuple]:
    return [tuple(t.shape[1:]) for t in (out if isinstance(out, tuple) else [out])]


def _shapes_of(node) -> list[tuple]:
    """The shape of each output: a split gives `args[outputs]` maps of the node's shape."""
    outputs = PRIMITIVES[node.kind].outputs
    return [node.shape] * (node.args[outputs] if outputs else 1)


def _check_a_merge(kind: str, xs: list, args: dict) -> None:
    """A primitive of several inputs, its module called with them all; its memory by its record's walk."""
    record = PRIMITIVES[kind]
    node = record.node("layer", xs, dict(args))
    model = record.build(node).train()
    assert not list(model.state_dict()) and node.params == node.macs == 0 and record.tensors(node.args) == []
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(BATCH, *x, generator=generator, requires_grad=True) * 1.0 for x in xs]
    assert _shapes(model(*inputs)) == _shapes_of(node)
    walk = _Walk(BATCH, 4)
    walk.layer = "layer"
    record.saves(walk, node, [walk.new(x) for x in xs])
    assert _saved_bytes(model, *inputs) == walk.bytes.get("layer", 0)


def test_on_the_meta_device_too():
    """What `archspec.build(device='meta')` makes: every primitive's module, without memory."""
    for kind, x, args in CASES:
        if isinstance(x, list):
            node = PRIMITIVES[kind].node("layer", x, dict(args))
            with torch.device("meta"):
                out = PRIMITIVES[kind].build(node)(*(torch.empty(BATCH, *s) for s in x))
            assert _shapes(out) == _shapes_of(node), kind
            continue
        p = _plan(kind, x, args)
        with torch.device("meta"):
            model = to_module(p.root)
            assert _shapes(model(torch.empty(BATCH, *x))) == _shapes_of(p.root.children[0]), kind


NEW_PRIMITIVE = '''\\
"""tanh: an activation that no block uses yet."""

from .record import Code, Op, Primitive


def _keeps_output(w, node, x):
    out = w.new(node.shape)
    w.keep(out)
    return out


RECORDS = (Primitive("tanh", "act", "hyperbolic tangent", Code("nn.Tanh"), _keeps_output,
                     written=Op("hyperbolic tangent", {})),)
'''
SPEC_NAMES_IT = """\
archspec: 1
name: tanh_net
input: {channels: 3, size: 32}
blocks:
  conv_tanh:
    params: {channels: int, stride: int}
    nodes:
      - {name: conv, op: conv, channels: channels, kernel: 3, stride: stride}
      - {name: squash, op: tanh}
defaults: {block: conv_tanh}
stem: {type: conv, channels: 4, kernel: 3}
stages:
  - {depth: 1, channels: 4, stride: 2}
head: {type: classifier, classes: 10}
"""
USE_IT = """\\
import sys
import archspec
from archspec.errors import SpecError
from archspec.commands.eject import eject
from archspec.planning.memory import _Walk, layer_memory
from archspec.planning.nodes import sequential
from archspec.planning.plan import Plan
from archspec.planning.primitives import PRIMITIVES
from archspec.planning.tensors import state_dict_of

p = archspec.plan("specs/cifar/resnet20.yaml")
node = PRIMITIVES["tanh"].node("tanh", p.output_shape, {})
q = Plan(p.spec, p.input_shape, sequential("", [*p.root.children, node]))
ejected = eject(q)
assert "torch" not in sys.modules  # planning, memory, tensors and eject: no torch
memory = layer_memory(q, 2)["tanh"]
written = archspec.plan("tanh_net.yaml")  # a spec's block names it: read, checked, planned
print([(l.name, l.kind, l.shape) for l in written.layers if l.kind == "tanh"])
with open("tanh_net.yaml") as f, open("wrong.yaml", "w") as g:
    g.write(f.read().replace("op: tanh}", "op: tanh, scale: 2}"))
try:
    archspec.plan("wrong.yaml")
except SpecError as e:
    print(e.issues[0].message)
assert "torch" not in sys.modules  # planning, memory, tensors and eject: no torch
import torch
m = archspec.build(q)
print(q.output_shape, memory, len(state_dict_of(q)) == len(m.state_dict()), "nn.Tanh()" in ejected, m.tanh)
n = archspec.build("tanh_net.yaml")
print(n.layer1[0].squash, tuple(n(torch.randn(2, 3, 32, 32)).shape))
"""


def test_adding_a_primitive_is_one_record(tmp_path):
    """A copy of archspec plus one file in primitives/: the new primitive plans, counts its memory,
    ejects and builds, and a block written in a spec may name it (its `written`), with no other
    change: no table of ops elsewhere."""
    shutil.copytree(ROOT / "archspec", tmp_path / "archspec", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    (tmp_path / "archspec" / "planning" / "primitives" / "tanh.py").write_text(NEW_PRIMITIVE, encoding="utf-8")
    (tmp_path / "tanh_net.yaml").write_text(SPEC_NAMES_IT, encoding="utf-8")
    r = subprocess.run([sys.executable, "-c", USE_IT], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "[('layer1.0.squash', 'tanh', (4, 4, 4))]",
        "blocks.conv_tanh.nodes.1: tanh has no argument 'scale'",
        "(10,) 80 True True Tanh()",  # it keeps its output: 2 × 10 float32 values
        "Tanh() (2, 10)"]
