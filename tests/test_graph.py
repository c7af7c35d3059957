"""Blocks written in the spec, planned (planning/graph.py): the same plan nodes as a built-in
kind, so that every tool reads them; ResNet-18 written in YAML is ResNet-18."""

from __future__ import annotations

import pytest

import archspec
from archspec.errors import SpecError
from archspec.planning.tensors import state_dict_of
from archspec.reading.source import parse_source
from conftest import ROOT, SPECS, run_cli

YAML_RESNET18 = SPECS / "examples" / "resnet18_yaml_blocks.yaml"


def rows(p):
    return [(l.name, l.shape, l.params, l.macs, l.depth) for l in p.layers]


def test_resnet18_written_in_yaml_has_resnet18s_plan():
    written, built_in = archspec.plan(YAML_RESNET18), archspec.plan("resnet18")
    assert (written.params, written.macs, written.output_shape) == (11_689_512, 1_814_073_344, (1000,))
    assert rows(written) == rows(built_in)
    assert [l.kind for l in written.blocks() if l.name.startswith("layer")] == ["two_convs"] * 8  # its label
    assert written.activation_memory(batch=8) == built_in.activation_memory(batch=8) == 177_477_120
    assert [(k, t.shape) for k, t in state_dict_of(written).items()] == \
        [(k, t.shape) for k, t in state_dict_of(built_in).items()]
    # the condition: layer1's blocks and layer2's second keep their input, so no downsample
    names = {l.name for l in written.layers}
    assert "layer2.0.downsample.0" in names and "layer1.0.downsample" not in names and "layer2.1.downsample" not in names


def test_resnet18_written_in_yaml_is_resnet18_module_for_module():
    torch = pytest.importorskip("torch")
    written = archspec.build(YAML_RESNET18, seed=3).eval()
    built_in = archspec.build("resnet18", seed=3).eval()
    assert {k: v.shape for k, v in written.state_dict().items()} == {k: v.shape for k, v in built_in.state_dict().items()}
    assert list(written.state_dict()) == list(built_in.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(written.state_dict().values(), built_in.state_dict().values()))
    generator = torch.Generator().manual_seed(0)
    for module in built_in.modules():  # norm statistics that are not 0 and 1
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator))
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    written.load_state_dict(built_in.state_dict(), strict=True)
    x = torch.randn(2, 3, 96, 96, generator=generator)
    with torch.no_grad():
        assert torch.equal(written(x), built_in(x))


def test_the_written_block_ejects_to_source_that_builds_the_same_modules():
    pytest.importorskip("torch")
    from archspec.commands.eject import eject

    source = eject(archspec.plan(YAML_RESNET18))
    assert "class TwoConvsBlock(nn.Module):" in source
    namespace: dict = {}
    exec(compile(source, "resnet18_yaml_blocks.py", "exec"), namespace)  # the source archspec wrote, not the spec's
    ejected = namespace["build"]()
    assert list(ejected.state_dict()) == list(archspec.build("resnet18", device="meta").state_dict())


CHAIN = """\
archspec: 1
name: plain
input: {channels: 3, size: 32}
blocks:
  conv_bn_relu:
    params: {channels: int, stride: int, wide: {type: bool, default: false}}
    let:
      width: channels * 2 if wide else channels
    nodes:
      - {name: conv, op: conv, channels: width, kernel: 3, stride: stride, bias: true}
      - {name: bn, op: batchnorm}
      - {name: relu, op: relu}
      - {name: pool, op: maxpool, kernel: 2, if: stride == 1}
defaults: {block: conv_bn_relu}
stem: {type: none}
stages:
  - {depth: 1, channels: 16}
  - {depth: 1, channels: 16, stride: 2, wide: true}
head: {type: classifier, classes: 10}
"""


def test_a_chain_of_nodes_plans_as_a_sequential_with_its_names():
    p = archspec.plan(parse_source(CHAIN, "net.yaml"))
    assert [(l.name, l.kind, l.shape, l.params) for l in p.layers if l.name.startswith("layer")] == [
        ("layer1", "sequential", (16, 16, 16), 480),
        ("layer1.0", "conv_bn_relu", (16, 16, 16), 480),
        ("layer1.0.conv", "conv", (16, 32, 32), 448),
        ("layer1.0.bn", "batchnorm", (16, 32, 32), 32),
        ("layer1.0.relu", "relu", (16, 32, 32), 0),
        ("layer1.0.pool", "maxpool", (16, 16, 16), 0),
        ("layer2", "sequential", (32, 8, 8), 4_704),
        ("layer2.0", "conv_bn_relu", (32, 8, 8), 4_704),  # wide: 2 × 16 channels; stride 2: no pool
        ("layer2.0.conv", "conv", (32, 8, 8), 4_640),
        ("layer2.0.bn", "batchnorm", (32, 8, 8), 64),
        ("layer2.0.relu", "relu", (32, 8, 8), 0)]


def test_a_block_that_gives_other_channels_than_its_stage_says_is_told_at_the_stage():
    text = CHAIN.replace("- {depth: 1, channels: 16, stride: 2, wide: true}",
                         "- {depth: 1, channels: 16, stride: 2, wide: true}\n  - {depth: 1, channels: 24}").replace(
        "params: {channels: int, stride: int,", "params: {stride: int, channels_: {type: int, default: 16},").replace(
        "channels * 2 if wide else channels", "channels_ * 2 if wide else channels_")
    with pytest.raises(SpecError) as info:
        archspec.plan(parse_source(text, "net.yaml"))
    messages = [(i.line, i.message) for i in info.value.issues]
    assert messages == [(18, "layer2.0: a conv_bn_relu block gives 32 channels, but the stage's `channels:` is 16"),
                        (19, "layer3.0: a conv_bn_relu block gives 16 channels, but the stage's `channels:` is 24")]


@pytest.mark.parametrize("old, new, expected", [
    ("width: channels * 2 if wide else channels", "width: channels * 1.5",
     "10:42 AS902 blocks.conv_bn_relu.nodes.0.channels: `width` gives 24.0, not a whole number (in layer1.0)"),
    ("width: channels * 2 if wide else channels", "width: channels - 16",
     "10:42 AS902 blocks.conv_bn_relu.nodes.0.channels: `width` gives 0; it must be at least 1 (in layer1.0)"),
    ("{name: pool, op: maxpool, kernel: 2, if: stride == 1}", "{name: pool, op: maxpool, kernel: 64}",
     "13:9 AS302 layer1.0.pool: max pool 64×64, stride 64, padding 0 reduces 32×32 to 0×0"),
    ("{name: pool, op: maxpool, kernel: 2, if: stride == 1}", "{name: pool, op: upsample}",
     "13:9 AS301 layer1.0.pool: upsample needs `scale:` or a second input whose size to take"),
    ("{name: pool, op: maxpool, kernel: 2, if: stride == 1}", "{name: add, op: add, in: [x, relu]}",
     "13:9 AS301 layer1.0.add: add of 3×32×32 and 16×32×32: an add takes maps of one shape"),
    # the errors of the graph's primitives, each one line at the node, naming the module where it is used
    ("{name: pool, op: maxpool, kernel: 2, if: stride == 1}",
     "{name: smaller, op: maxpool, kernel: 2}\n      - {name: cat, op: concat, in: [relu, smaller]}",
     "14:9 AS301 layer1.0.cat: concat of 16×32×32 and 16×16×16: maps of different sizes"),
    ("{name: pool, op: maxpool, kernel: 2, if: stride == 1}", "{name: split, op: split, chunks: 3}",
     "13:9 AS303 layer1.0.split: split of 16 channels into 3 equal chunks: 3 does not divide 16"),
    ("{name: pool, op: maxpool, kernel: 2, if: stride == 1}", "{name: shuffle, op: channel_shuffle, groups: 3}",
     "13:9 AS303 layer1.0.shuffle: channel shuffle of 16 channels in 3 groups: 3 does not divide 16"),
    ("{name: pool, op: maxpool, kernel: 2, if: stride == 1}",
     "{name: split, op: split, chunks: 2}\n      - {name: cat, op: concat, in: [split.0, split.2]}",
     "14:47 AS911 layer1.0.cat: 'split.2' is not an output: 'split' gives 2, split.0 to split.1"),
])
def test_a_mistake_found_when_planning_is_told_at_its_definition_and_its_use(old, new, expected):
    assert old in CHAIN
    with pytest.raises(SpecError) as info:
        archspec.plan(parse_source(CHAIN.replace(old, new), "net.yaml"))
    found = [f"{i.line}:{i.column} {i.code} {i.message}" for i in info.value.issues]
    assert [f[:len(expected)] for f in found][:1] == [expected]


def test_a_graph_that_is_neither_a_chain_nor_a_residual_plans_as_a_graph():
    text = CHAIN.replace("{name: pool, op: maxpool, kernel: 2, if: stride == 1}",
                         "{name: other, op: relu, in: bn}\n      - {name: add, op: add, in: [relu, other]}")
    p = archspec.plan(parse_source(text, "net.yaml"))
    block = next(c for c in p.root.children if c.name == "layer1").children[0]
    assert (block.kind, block.label) == ("graph", "conv_bn_relu")
    assert block.args["wiring"] == [("conv", ["x"]), ("bn", ["conv"]), ("relu", ["bn"]), ("other", ["bn"]),
                                    ("add", ["relu", "other"])]
    assert [c.args for c in block.children if c.kind == "relu"] == [{}, {}]  # bn feeds two: neither in place


def test_the_docs_block_example_is_the_shipped_spec_with_its_real_output():
    page = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    spec = (SPECS / "examples" / "wide_kernel_net.yaml").read_text(encoding="utf-8")
    assert spec.split("input: {channels: 3, size: 32}\n", 1)[1] in page
    command = "archspec build specs/examples/wide_kernel_net.yaml"
    shown = page.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    result = run_cli(*command.split()[1:])
    assert shown == result.stdout + result.stderr
    assert "total: 68,170 parameters, 30.84 M MACs" in shown  # 1×1, 7×7 depthwise and 1×1 convs, counted by plan


# ---- graphs: branches, merges, a split feeding two branches ------------------------------------

FIRE_NET = SPECS / "examples" / "fire_net.yaml"
SHUFFLE = """\
archspec: 1
name: shuffle
input: {channels: 3, size: 32}
blocks:
  shuffle_unit:
    description: ShuffleNetV2's unit of stride 1 (Ma et al. 2018)
    params: {channels: int}
    let: {half: channels // 2}
    nodes:
      - {name: split, op: split, chunks: 2}
      - {name: conv1, op: conv, in: split.1, channels: half, kernel: 1}
      - {name: bn1, op: batchnorm}
      - {name: relu1, op: relu}
      - {name: conv2, op: conv, channels: half, kernel: 3, groups: half}
      - {name: bn2, op: batchnorm}
      - {name: conv3, op: conv, channels: half, kernel: 1}
      - {name: bn3, op: batchnorm}
      - {name: relu3, op: relu}
      - {name: cat, op: concat, in: [split.0, relu3]}
      - {name: shuffle, op: channel_shuffle, groups: 2}
  gated:
    description: a gate (mul of a C×1×1 map), an upsample to the input's size, an add of three maps
    params: {channels: int}
    nodes:
      - {name: pool, op: global_avgpool}
      - {name: fc, op: conv, channels: channels, kernel: 1, bias: true}
      - {name: gate, op: sigmoid}
      - {name: scaled, op: mul, in: [x, gate]}
      - {name: down, op: avgpool, in: x, kernel: 2, ceil_mode: true}
      - {name: conv, op: conv, channels: channels, kernel: 3}
      - {name: up, op: upsample, in: [conv, x], mode: bilinear}
      - {name: up2, op: upsample, in: down, scale: 2}
      - {name: same, op: identity, in: x}
      - {name: drop, op: dropout, p: 0.1}
      - {name: sum, op: add, in: [scaled, up, up2]}
      - {name: both, op: concat, in: [sum, drop]}
      - {name: project, op: conv, channels: channels, kernel: 1}
defaults: {block: shuffle_unit}
stem: {type: conv, channels: 24, kernel: 3, stride: 1, pool: none}
stages:
  - {depth: 2, channels: 24}
  - {depth: 1, channels: 24, block: gated}
head: {type: classifier, classes: 10}
"""


def test_fire_net_has_exact_figures():
    p = archspec.plan(FIRE_NET)
    assert (p.params, p.macs, p.output_shape) == (122_986, 13_830_656, (10,))
    # a squeeze 64→16, expands 16→64 (1×1 and 3×3, with biases): a fire block of 11,408 parameters
    assert [(l.name, l.params, l.macs) for l in p.blocks() if l.name.startswith("layer")] == [
        ("layer1.0", 11_408, 2_883_584), ("layer1.1", 12_432, 3_145_728),
        ("layer2.0", 45_344, 2_883_584), ("layer2.1", 49_440, 3_145_728)]
    assert [k for k in state_dict_of(p) if k.startswith("layer1.0.")] == [
        f"layer1.0.{m}.{t}" for m in ("squeeze", "expand1x1", "expand3x3") for t in ("weight", "bias")]


def _forward_matches_plan(p, seed=0):
    torch = pytest.importorskip("torch")
    from test_memory import measured, planned

    model = archspec.build(p, seed=seed)
    assert sum(t.numel() for t in model.parameters()) == p.params
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == \
        [(k, t.shape) for k, t in state_dict_of(p).items()]
    with torch.no_grad():
        assert tuple(model(torch.randn(2, *p.input_shape)).shape[1:]) == p.output_shape
    assert planned(p, 2, "float32") == measured(p, 2, "float32")  # every layer's saved bytes
    return model


def test_fire_net_plan_equals_its_forward():
    _forward_matches_plan(archspec.plan(FIRE_NET))


def test_a_shufflenet_unit_and_a_gated_block_plan_as_their_forward():
    p = archspec.plan(parse_source(SHUFFLE, "shuffle.yaml"))
    unit = next(c for c in p.root.children if c.name == "layer1").children[0]
    assert unit.kind == "graph" and unit.args["wiring"][0] == ("split", ["x"])
    assert ("conv1", ["split.1"]) in unit.args["wiring"] and ("cat", ["split.0", "relu3"]) in unit.args["wiring"]
    assert unit.params == 12 * 12 + 12 * 9 + 12 * 12 + 3 * 2 * 12
    _forward_matches_plan(p)


def test_a_shufflenet_unit_computes_what_torchvisions_does():
    torch = pytest.importorskip("torch")
    from torch import nn

    def channel_shuffle(x, groups):  # torchvision.models.shufflenetv2.channel_shuffle
        n, c, h, w = x.size()
        x = x.view(n, groups, c // groups, h, w)
        x = torch.transpose(x, 1, 2).contiguous()
        return x.view(n, -1, h, w)

    class InvertedResidual(nn.Module):  # torchvision's, stride 1
        def __init__(self, c):
            super().__init__()
            self.branch2 = nn.Sequential(
                nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False), nn.BatchNorm2d(c),
                nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))

        def forward(self, x):
            x1, x2 = x.chunk(2, dim=1)
            return channel_shuffle(torch.cat((x1, self.branch2(x2)), dim=1), 2)

    ours = archspec.build(parse_source(SHUFFLE, "shuffle.yaml"), seed=0).layer1[0].eval()
    reference = InvertedResidual(12).eval()
    reference.load_state_dict(dict(zip(reference.state_dict(), ours.state_dict().values())))
    x = torch.randn(2, 24, 8, 8)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


def test_graph_blocks_eject_fuse_export_and_diagram():
    torch = pytest.importorskip("torch")
    from archspec.commands.eject import eject

    p = archspec.plan(parse_source(SHUFFLE, "shuffle.yaml"))
    source = eject(p)
    assert "        cat = self.cat(split[0], relu3)\n" in source and "class ChannelShuffle(nn.Module):" in source
    namespace: dict = {}
    exec(compile(source, "shuffle.py", "exec"), namespace)
    ejected, built = namespace["build"](), archspec.build(p, seed=0).eval()
    ejected.load_state_dict(built.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(ejected.eval()(x), built(x))
        fused = archspec.fuse(built)
        assert "layer1.0.bn1" in {n for n, m in fused.named_modules() if isinstance(m, torch.nn.Identity)}
        assert torch.allclose(fused(x), built(x), atol=1e-5)
    exported = torch.export.export(built, (x,))
    with torch.no_grad():
        assert torch.allclose(exported.module()(x), built(x), atol=1e-6)
    assert run_cli("diagram", str(FIRE_NET), "-o", "-").returncode == 0
