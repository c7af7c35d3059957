"""The block vocabulary: each option's structure, shapes and counts, and the example
variants that no reference table names."""


import pytest
import torch
from torch import nn

import archspec
from archspec.reading import regnet

TINY = """\
archspec: 1
name: tiny
input: {{channels: 3, size: 33}}
defaults: {{{defaults}}}
stem: {stem}
stages:
  - {{depth: 2, channels: 32, stride: 1}}
  - {{depth: 2, channels: 64, stride: 2}}
head: {{type: classifier, pool: avg, classes: 10}}
"""
CONV_STEM = "{type: conv, channels: 16, kernel: 3, stride: 1, pool: none}"


def tiny(write_spec, defaults: str, stem: str = CONV_STEM, stages: str | None = None) -> archspec.Plan:
    text = TINY.format(defaults=defaults, stem=stem)
    if stages is not None:
        text = text.split("stages:\n")[0] + "stages:\n" + stages + "head: {type: classifier, pool: avg, classes: 10}\n"
    return archspec.plan(write_spec(text))


def layer(p: archspec.Plan, name: str):
    return next(l for l in p.layers if l.name == name)


# ---- the example variants: figures measured on timm 1.0.31 / torchvision 0.29.1 (see the report) ---------

EXAMPLES = {  # spec: (params, MACs, reference it equals)
    "examples/resnet34d": (21_816_904, 3_903_401_984, "timm resnet34d"),
    "examples/seresnext50_32x4d": (27_559_896, 4_232_994_816, "timm seresnext50_32x4d"),
    "examples/resnet50_os8": (25_557_032, 19_079_364_608, "torchvision resnet50(replace_stride_with_dilation=[F, T, T])"),
    "examples/resnetv2_18": (11_687_720, 1_814_073_344, "timm resnetv2_18"),
    "examples/resnetv2_50d": (25_568_584, 4_328_824_832, "timm resnetv2_50d"),
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_variants_equal_their_reference_counts(name):
    p = archspec.plan(f"specs/{name}.yaml")
    assert (p.params, p.macs) == EXAMPLES[name][:2]
    model = archspec.build(p, device="meta")
    assert sum(t.numel() for t in model.parameters()) == p.params


def test_resnet34d_has_a_deep_stem_and_avgpool_shortcuts():
    p = archspec.plan("specs/examples/resnet34d.yaml")
    assert [l.name for l in p.layers if l.name.startswith("conv1.")] == [f"conv1.{i}" for i in range(7)]
    assert layer(p, "conv1").shape == (64, 112, 112)
    assert [l.kind for l in p.layers if l.name.startswith("layer2.0.downsample.")] == ["avgpool", "conv", "batchnorm"]


def test_seresnext_reduces_the_output_channels_by_16():
    p = archspec.plan("specs/examples/seresnext50_32x4d.yaml")
    model = archspec.build(p, device="meta")
    block = model.layer4[0]
    assert block.conv2.groups == 32 and block.conv2.in_channels == 1024
    assert block.se.fc1.weight.shape == (128, 2048, 1, 1)


def test_output_stride_8_keeps_28_by_28_and_dilates_from_the_second_block():
    p = archspec.plan("specs/examples/resnet50_os8.yaml")
    assert layer(p, "layer4").shape == (2048, 28, 28)
    model = archspec.build(p, device="meta")
    # as torchvision: a stage's first block keeps the previous stage's dilation
    assert [model.layer3[b].conv2.dilation for b in (0, 1)] == [(1, 1), (2, 2)]
    assert [model.layer4[b].conv2.dilation for b in (0, 1)] == [(2, 2), (4, 4)]
    assert model.layer4[1].conv2.padding == (4, 4)


def test_variant_without_reference_builds_as_written():
    p = archspec.plan("specs/examples/resnet50_v1_gn.yaml")
    model = archspec.build(p, device="meta")
    block = model.layer2[0]
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)  # stride on the first 1×1
    assert isinstance(block.bn1, nn.GroupNorm) and block.bn1.num_groups == 8
    assert isinstance(model.conv1[2], nn.SiLU) and [model.conv1[i].out_channels for i in (0, 3, 6)] == [24, 32, 64]
    rates = [m.p for m in model.modules() if type(m).__name__ == "DropPath"]
    assert len(rates) == 15 and rates[-1] == pytest.approx(0.1)  # the first block's rate is 0: no module
    assert rates == pytest.approx([0.1 * i / 15 for i in range(1, 16)])


# ---- each option -------------------------------------------------------------------------------------


def test_groups_and_width_make_resnext_and_wide_bottlenecks(write_spec):
    p = tiny(write_spec, "block: bottleneck, groups: 4, width: 16")
    model = archspec.build(p, device="meta")
    assert model.layer1[0].conv2.groups == 4 and model.layer1[0].conv2.weight.shape == (16, 4, 3, 3)
    assert tiny(write_spec, "block: bottleneck, group_width: 4, width: 16").params == p.params


def test_stride_on_the_first_1x1_or_the_3x3(write_spec):
    v15 = archspec.build(tiny(write_spec, "block: bottleneck"), device="meta")
    v1 = archspec.build(tiny(write_spec, "block: bottleneck, stride_on: 1x1"), device="meta")
    assert (v15.layer2[0].conv1.stride, v15.layer2[0].conv2.stride) == ((1, 1), (2, 2))
    assert (v1.layer2[0].conv1.stride, v1.layer2[0].conv2.stride) == ((2, 2), (1, 1))


def test_avgpool_shortcut_pools_with_ceil_mode_and_only_where_strided(write_spec):
    p = tiny(write_spec, "block: basic, shortcut: avgpool", stages="""\
  - {depth: 1, channels: 32, stride: 1}
  - {depth: 1, channels: 64, stride: 2}
""")
    model = archspec.build(p, device="meta")
    stride1, stride2 = model.layer1[0].downsample, model.layer2[0].downsample
    assert list(stride1._modules) == ["1", "2"]  # timm's names: no pool at stride 1
    pool = stride2[0]
    assert (pool.kernel_size, pool.stride, pool.ceil_mode, pool.count_include_pad) == (2, 2, True, False)
    assert layer(p, "layer2.0.downsample.0").shape == (32, 17, 17)  # 33 → 17: ceil mode
    x = torch.randn(1, 32, 33, 33)
    assert torch.equal(pool(x)[..., -1, -1], x[..., -1, -1])  # the last window holds one value: padding not counted


def test_squeeze_excitation_ratio_base_and_rounding(write_spec):
    def model(defaults):
        return archspec.build(tiny(write_spec, defaults), device="meta")

    out = model("block: basic, se: 0.25")
    assert out.layer2[0].se.fc1.out_channels == 16  # 0.25 × 64 outputs
    inp = model("block: basic, se: 0.25, se_base: in")
    assert inp.layer2[0].se.fc1.out_channels == 8 and inp.layer2[1].se.fc1.out_channels == 16  # 0.25 × 32, × 64
    div = model("block: basic, se: 0.125, se_divisor: 8")
    assert div.layer1[0].se.fc1.out_channels == 8  # 0.125 × 32 = 4: to the nearest multiple of 8, halves up
    assert not hasattr(model("block: basic, se: 0").layer1[0], "se")


def test_squeeze_excitation_costs_its_convs_only(write_spec):
    p = tiny(write_spec, "block: basic, se: 0.25")
    se = layer(p, "layer2.0.se")
    assert (se.params, se.macs) == (2 * 64 * 16 + 16 + 64, 2 * 64 * 16)


def test_se_sits_after_the_3x3_in_regnet_blocks_and_before_the_add_elsewhere(write_spec):
    order = lambda p: [l.name.split(".")[-1] for l in p.layers if l.name.startswith("layer1.0.") and l.depth == 3]
    assert order(tiny(write_spec, "block: regnet, se: 0.25, group_width: 8"))[:7] == [
        "conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "se"]
    assert order(tiny(write_spec, "block: bottleneck, se: 0.25"))[8] == "se"  # after bn3


def test_squeeze_excite_module_gates_channels():
    from archspec.building.modules import SqueezeExcite

    se = SqueezeExcite(8, 2)
    x = torch.randn(2, 8, 5, 5)
    gate = torch.sigmoid(se.fc2(torch.relu(se.fc1(x.mean((2, 3), keepdim=True)))))
    assert torch.equal(se(x), x * gate)


def test_preact_network_has_a_bare_stem_and_a_final_norm(write_spec):
    p = tiny(write_spec, "block: preact_bottleneck")
    top = [l.name for l in p.layers if l.depth == 1]
    assert top == ["conv1", "layer1", "layer2", "norm", "act", "avgpool", "flatten", "fc"]
    model = archspec.build(p, device="meta")
    block = model.layer2[0]
    assert list(block.downsample._modules) == ["0"]  # the shortcut conv has no norm of its own
    assert list(block._modules)[:2] == ["bn1", "relu1"]


def test_preact_projection_shortcut_takes_the_preactivated_input(write_spec):
    model = archspec.build(tiny(write_spec, "block: preact_basic"), seed=0).eval()
    block = model.layer2[0]
    with torch.no_grad():
        for bn in (block.bn1, block.bn2):
            bn.running_mean.uniform_(-1, 1)
        x = torch.randn(2, 32, 9, 9)
        pre = block.relu1(block.bn1(x))
        expected = block.conv2(block.relu2(block.bn2(block.conv1(pre)))) + block.downsample(pre)
        assert torch.allclose(block(x), expected)
        identity = model.layer2[1]
        y = torch.randn(2, 64, 5, 5)
        assert torch.allclose(identity(y) - y, identity.conv2(identity.relu2(identity.bn2(
            identity.conv1(identity.relu1(identity.bn1(y)))))), atol=1e-6)


@pytest.mark.parametrize("block,zeroed", [("basic", "bn2"), ("bottleneck", "bn3"), ("regnet", "bn3"),
                                          ("preact_basic", "conv2"), ("preact_bottleneck", "conv3")])
def test_zero_init_residual_for_every_block_kind(write_spec, block, zeroed):
    model = archspec.build(tiny(write_spec, f"block: {block}, zero_init_residual: true"), seed=0)
    for stage in (model.layer1, model.layer2):
        for b in stage:
            assert not getattr(b, zeroed).weight.any()
    x = torch.randn(1, 64, 5, 5)
    if block.startswith("preact"):  # zero branch: each identity block passes its input on
        assert torch.equal(model.layer2[1](x), x)


@pytest.mark.parametrize("norm, block, zeroed", [("layernorm", "bottleneck", "bn3"), ("layernorm", "basic", "bn2"),
                                                  ("groupnorm", "bottleneck", "bn3"), ("none", "bottleneck", "conv3")])
def test_zero_init_residual_zeroes_the_last_norm_whatever_its_kind(write_spec, norm, block, zeroed):
    """The node of `norm: layernorm` is a LayerNorm2d: the block asks each node's role, not its kind's name."""
    model = archspec.build(tiny(write_spec, f"block: {block}, norm: {norm}, norm_groups: 8, zero_init_residual: true"),
                           seed=0)
    for b in (*model.layer1, *model.layer2):
        assert not getattr(b, zeroed).weight.any()
        assert all(getattr(b, f"conv{k}").weight.any() for k in (1, 2, 3)[:3 if block == "bottleneck" else 2]
                   if f"conv{k}" != zeroed)


def test_drop_path_rises_linearly_and_is_the_identity_in_eval(write_spec):
    p = tiny(write_spec, "block: basic, drop_path: 0.3")
    assert [l.name for l in p.layers if l.kind == "drop_path"] == ["layer1.1.drop_path", "layer2.0.drop_path",
                                                                    "layer2.1.drop_path"]
    model = archspec.build(p, seed=0)
    assert [b.drop_path.p for b in (model.layer1[1], model.layer2[0], model.layer2[1])] == pytest.approx([0.1, 0.2, 0.3])
    drop = model.layer2[1].drop_path
    x = torch.ones(1000, 4, 2, 2)
    assert torch.equal(drop.eval()(x), x)
    kept = drop.train()(x)[:, 0, 0, 0]
    assert kept.unique().tolist() == [0.0, pytest.approx(1 / 0.7)]
    assert 0.2 < (kept == 0).float().mean() < 0.4


@pytest.mark.parametrize("norm,cls", [("batchnorm", nn.BatchNorm2d), ("groupnorm", nn.GroupNorm)])
@pytest.mark.parametrize("act,act_cls", [("relu", nn.ReLU), ("silu", nn.SiLU), ("gelu", nn.GELU),
                                         ("leaky_relu", nn.LeakyReLU), ("hardswish", nn.Hardswish)])
def test_norm_and_activation_kinds(write_spec, norm, cls, act, act_cls):
    p = tiny(write_spec, f"block: basic, norm: {norm}, norm_groups: 8, act: {act}")
    model = archspec.build(p, seed=0)
    assert isinstance(model.layer1[0].bn1, cls) and isinstance(getattr(model.layer1[0], f"{act}1"), act_cls)
    if norm == "groupnorm":
        assert model.bn1.num_groups == 8
    assert model(torch.randn(2, 3, 33, 33)).shape == (2, 10)


def test_no_norm_and_no_activation(write_spec):
    p = tiny(write_spec, "block: bottleneck, norm: none, act: none")
    assert {l.kind for l in p.layers if l.depth == 3 and "downsample" not in l.name} == {"conv"}
    model = archspec.build(p, device="meta")
    assert model.layer1[0].conv1.bias is not None  # no norm follows: the conv has a bias


def test_every_option_at_once_trains_on_cpu(write_spec):
    p = tiny(write_spec, "block: bottleneck, groups: 2, se: 0.25, shortcut: avgpool, drop_path: 0.2, "
                         "norm: groupnorm, norm_groups: 4, act: silu, stride_on: 1x1",
             stem="{type: deep, channels: [8, 8, 16], stride: 1, pool: max}")
    model = archspec.build(p, seed=0)
    generator = torch.Generator().manual_seed(0)
    x, target = torch.randn(4, 3, 33, 33, generator=generator), torch.tensor([0, 1, 2, 3])

    def loss() -> torch.Tensor:
        return nn.functional.cross_entropy(model(x), target)

    model.eval()  # no drop-path: the loss of the network itself
    before = loss().item()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with torch.random.fork_rng(devices=[]):  # drop-path draws
        torch.manual_seed(0)
        for _ in range(20):
            optimizer.zero_grad()
            loss().backward()
            optimizer.step()
    model.eval()
    assert loss().item() < before / 2  # it learns the fixed batch


# ---- RegNet ------------------------------------------------------------------------------------------

# torchvision 0.29.1 BlockParams.from_init_params(...): (depth, w0, wa, wm, group_width) → depths, widths
TORCHVISION_REGNETS = {
    "regnet_x_400mf": ((22, 24, 24.48, 2.54, 16), [1, 2, 7, 12], [32, 64, 160, 400]),
    "regnet_x_1_6gf": ((18, 80, 34.01, 2.25, 24), [2, 4, 10, 2], [72, 168, 408, 912]),
    "regnet_x_8gf": ((23, 80, 49.56, 2.88, 120), [2, 5, 15, 1], [80, 240, 720, 1920]),
    "regnet_y_400mf": ((16, 48, 27.89, 2.09, 8), [1, 3, 6, 6], [48, 104, 208, 440]),
    "regnet_y_1_6gf": ((27, 48, 20.71, 2.65, 24), [2, 6, 17, 2], [48, 120, 336, 888]),
    "regnet_y_32gf": ((20, 232, 115.89, 2.53, 232), [2, 5, 12, 1], [232, 696, 1392, 3712]),
}


@pytest.mark.parametrize("name", TORCHVISION_REGNETS)
def test_regnet_design_space_gives_torchvision_stages(name):
    args, depths, widths = TORCHVISION_REGNETS[name]
    stages = regnet.stages(*args)
    assert [s["depth"] for s in stages] == depths and [s["channels"] for s in stages] == widths


@pytest.mark.parametrize("name", ["regnet_x_400mf", "regnet_x_1_6gf"])
def test_written_out_regnet_equals_the_generated_one(write_spec, name):
    args = TORCHVISION_REGNETS[name][0]
    text = open(f"specs/{name}.yaml").read()
    generated = text.split("stages:\n")[0] + (
        f"stages: {{type: regnet, depth: {args[0]}, w0: {args[1]}, wa: {args[2]}, wm: {args[3]}, "
        f"group_width: {args[4]}}}\nhead: {{type: classifier, pool: avg, classes: 1000}}\n")
    a, b = archspec.plan(f"specs/{name}.yaml"), archspec.plan(write_spec(generated))
    assert [(l.name, l.shape, l.params, l.macs) for l in a.layers] == [(l.name, l.shape, l.params, l.macs) for l in b.layers]


def test_regnet_y_block_uses_group_width_and_se_of_the_input_width():
    model = archspec.build("specs/regnet_y_400mf.yaml", device="meta")
    block = model.layer2[0]  # 48 → 104 channels, groups of 8
    assert block.conv2.groups == 13 and block.se.fc1.weight.shape == (12, 104, 1, 1)  # 0.25 × 48 inputs


def test_every_new_setting_is_described_in_the_json_schema():
    schema = archspec.Spec.model_json_schema()["$defs"]
    for model, fields in [("Defaults", ["groups", "group_width", "width", "bottleneck_ratio", "stride_on", "se",
                                        "se_base", "se_divisor", "norm_groups", "drop_path", "zero_init_residual"]),
                          ("Stage", ["dilation"]), ("DeepStem", ["channels"]),
                          ("RegNetStages", ["depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio"])]:
        for field in fields:
            assert schema[model]["properties"][field].get("description"), (model, field)
